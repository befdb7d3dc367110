"""Reading the pathway: what of a person's path a reader may see, by the one visibility rule.

The pathway is the foreigners authority's data: residence data throughout, and language data
where it records an integration course or a language level. A reader sees the pathway when
the rule lets them see the person's residence data, and its language facts only when it lets
them see language data too (as the same facts are shown, or not, on the timeline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from projections.timeline.visibility import Fact, Reader, may_see


class FetchRow(Protocol):
    async def fetchrow(self, query: str, *args: Any) -> Any: ...


@dataclass(frozen=True)
class PathwayAccess:
    """Which parts of a person's pathway a reader may see."""

    residence: bool
    language: bool


async def pathway_access(conn: FetchRow, person: UUID, reader: Reader) -> PathwayAccess:
    residence = may_see(Fact.residence_file("$1", "residence"))
    language = may_see(Fact.residence_file("$1", "language"))
    row = await conn.fetchrow(
        f"SELECT {residence} AS residence, {language} AS language",
        person,
        reader.agency,
        reader.role,
        reader.today,
    )
    return PathwayAccess(residence=bool(row["residence"]), language=bool(row["language"]))
