"""Reading the pathway: what of a person's path a reader may see, by the one visibility rule.

The pathway is the foreigners authority's data: residence data throughout, and language data
where it records an integration course or a language level. A reader sees the pathway when
the rule lets them see the person's residence data, and its language facts only when it lets
them see language data too (as the same facts are shown, or not, on the timeline).

Beside that check: a person's pathway rows, and the foreigners authority's worklist of
persons at a stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from projections.timeline.visibility import Fact, Reader, may_see


class Fetch(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


class FetchRow(Protocol):
    async def fetchrow(self, query: str, *args: Any) -> Any: ...


#: The reader's parameters, typed once (the rule may leave some of them unused)
READER = {"agency": "p.agency", "role": "p.role", "today": "p.today", "purpose": "p.purpose"}


@dataclass(frozen=True)
class PathwayAccess:
    """Which parts of a person's pathway a reader may see."""

    residence: bool
    language: bool


async def pathway_access(conn: FetchRow, person: UUID, reader: Reader) -> PathwayAccess:
    residence = may_see(Fact.residence_file("p.person_id", "residence"), **READER)
    language = may_see(Fact.residence_file("p.person_id", "language"), **READER)
    row = await conn.fetchrow(
        f"SELECT {residence} AS residence, {language} AS language"
        " FROM (SELECT $1::uuid AS person_id, $2::text AS agency, $3::text AS role,"
        " $4::date AS today, $5::text AS purpose) p",
        person,
        reader.agency,
        reader.role,
        reader.today,
        reader.purpose,
    )
    return PathwayAccess(residence=bool(row["residence"]), language=bool(row["language"]))


async def person(conn: FetchRow, person_id: UUID) -> Any:
    """The person's pathway row (stage, dates, the facts readiness needs), or None."""
    return await conn.fetchrow(
        "SELECT * FROM projections.pathway_persons WHERE person_id = $1 AND NOT erased",
        person_id,
    )


async def periods(conn: Fetch, person_id: UUID) -> list[Any]:
    """The person's status periods, in the order they began."""
    return await conn.fetch(
        "SELECT kind, start_on, end_on, paragraph FROM projections.pathway_periods"
        " WHERE person_id = $1 ORDER BY start_on, position",
        person_id,
    )


async def milestones(conn: Fetch, person_id: UUID) -> list[Any]:
    """The milestones the person reached, in the order reached."""
    return await conn.fetch(
        "SELECT milestone, reached_on FROM projections.pathway_milestones WHERE person_id = $1"
        " ORDER BY reached_on, milestone",
        person_id,
    )


async def persons_at_stage(
    conn: Fetch, stage: str, reader: Reader, *, after: UUID, limit: int
) -> list[Any]:
    """Up to ``limit`` persons at a stage whose id comes after ``after``, by id: those whose
    residence data the reader may see (for an authority's officers, the files it holds)."""
    visible = may_see(
        Fact.residence_file("p.person_id", "residence"),
        agency="$4",
        role="$5",
        today="$6",
        purpose="$7",
    )
    return await conn.fetch(
        "SELECT person_id, stage, stage_since, municipality_key, entry_date"
        f" FROM projections.pathway_persons p WHERE stage = $1 AND person_id > $2 AND NOT erased"
        f" AND {visible}"
        " ORDER BY person_id LIMIT $3",
        stage,
        after,
        limit,
        reader.agency,
        reader.role,
        reader.today,
        reader.purpose,
    )
