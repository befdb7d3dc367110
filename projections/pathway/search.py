"""The foreigners authority's person search over the pathway read model: by the pseudonymous
id, the municipality, the stage and the entry date, among the persons whose residence data the
reader may see (for an authority's officers, the files it holds). The read model holds no name,
birth date or AZR number: a search by them narrows to the person ids the foreigners-authority
service's blind index found (``person_ids``)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from projections.pathway.queries import Fetch
from projections.timeline.visibility import Fact, Reader, may_see


async def search_persons(
    conn: Fetch,
    reader: Reader,
    *,
    person_id: UUID | None = None,
    municipality_key: str | None = None,
    stage: str | None = None,
    entered_from: date | None = None,
    entered_to: date | None = None,
    person_ids: list[UUID] | None = None,
    limit: int = 50,
) -> list[Any]:
    """Up to ``limit`` persons matching every criterion given, newest entry first;
    ``person_ids`` (the foreigners authority's search by identity) narrows to those persons."""
    visible = may_see(
        Fact.residence_file("p.person_id", "residence"),
        agency="$1",
        role="$2",
        today="$3",
        purpose="$4",
    )
    return await conn.fetch(
        "SELECT person_id, stage, stage_since, municipality_key, entry_date"
        " FROM projections.pathway_persons p WHERE NOT erased"
        " AND ($5::uuid IS NULL OR person_id = $5)"
        " AND ($6::text IS NULL OR municipality_key = $6)"
        " AND ($7::text IS NULL OR stage = $7)"
        " AND ($8::date IS NULL OR entry_date >= $8)"
        " AND ($9::date IS NULL OR entry_date <= $9)"
        " AND ($11::uuid[] IS NULL OR person_id = ANY($11::uuid[]))"
        f" AND {visible}"
        " ORDER BY entry_date DESC NULLS LAST, person_id LIMIT $10",
        reader.agency,
        reader.role,
        reader.today,
        reader.purpose,
        person_id,
        municipality_key,
        stage,
        entered_from,
        entered_to,
        limit,
        person_ids,
    )
