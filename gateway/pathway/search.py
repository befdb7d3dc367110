"""``personSearch``: the foreigners authority finds persons among the files it holds, by what
the read models keep (no name, birth date or AZR number is kept there): the pseudonymous id,
the municipality key, the stage and the entry date. Authorised (the authority's officers and
admin), the reader's visibility rule applied, and audited with the request's purpose."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from contracts.roles import AUTHORITY
from gateway import audit
from gateway.context import HubContext, HubError, ctx, read_after
from gateway.pathway.queries import CONSUMER, VISIBILITY
from gateway.pathway.types import PersonAtStage
from projections.pathway.search import search_persons

_AGS = re.compile(r"^\d{8}$")
_STAGE = re.compile(r"^[a-z_]{1,40}$")


@strawberry.type
class PersonSearchQueries:
    @strawberry.field(
        description="Persons whose residence files the caller's authority holds, by pseudonymous "
        "id, municipality key (AGS), stage and entry date (every criterion given must match; at "
        "least one); newest entry first. No search by name, birth date or AZR number: the read "
        "models keep none"
    )
    async def person_search(
        self,
        info: Info[HubContext, None],
        person_id: strawberry.ID | None = None,
        municipality_key: str | None = None,
        stage: str | None = None,
        entered_from: dt.date | None = None,
        entered_to: dt.date | None = None,
        first: Annotated[int, strawberry.argument(description="At most, 1 to 200")] = 50,
        at_least: str | None = None,
    ) -> list[PersonAtStage]:
        context = ctx(info)
        principal = context.require(AUTHORITY, "search persons")
        person: UUID | None = None
        if person_id:
            try:
                person = UUID(str(person_id))
            except ValueError:
                raise HubError("personId is not a person id", "invalid_input", "personId") from None
        if municipality_key and not _AGS.match(municipality_key):
            raise HubError(
                "municipalityKey is the 8-digit municipality key",
                "invalid_input",
                "municipalityKey",
            )
        if stage and not _STAGE.match(stage):
            raise HubError("stage is a stage code", "invalid_input", "stage")
        if entered_from and entered_to and entered_from > entered_to:
            raise HubError("enteredFrom lies after enteredTo", "invalid_input", "enteredFrom")
        if not 1 <= first <= 200:
            raise HubError("first must be between 1 and 200", "invalid_input", "first")
        criteria = {
            "personId": person,
            "municipalityKey": municipality_key or None,
            "stage": stage or None,
            "enteredFrom": entered_from,
            "enteredTo": entered_to,
        }
        named = [name for name, value in criteria.items() if value is not None]
        if not named:
            raise HubError("name at least one search criterion", "invalid_input", "personId")
        await read_after(context, at_least, CONSUMER, VISIBILITY)
        rows = await search_persons(
            context.pool,
            context.reader(principal),
            person_id=person,
            municipality_key=municipality_key or None,
            stage=stage or None,
            entered_from=entered_from,
            entered_to=entered_to,
            limit=first,
        )
        await audit.record_read(
            context.pool,
            principal,
            action="person_search",
            person_id=person,
            purpose=context.audit_purpose("residence_administration"),
            detail=f"by {','.join(named)}: {len(rows)} persons",
        )
        found: list[Any] = [
            PersonAtStage(
                person_id=strawberry.ID(str(r["person_id"])),
                stage=r["stage"],
                stage_since=r["stage_since"],
                municipality_key=r["municipality_key"],
                entry_date=r["entry_date"],
            )
            for r in rows
        ]
        return found
