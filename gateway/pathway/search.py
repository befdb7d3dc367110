"""``personSearch``: the foreigners authority finds persons among the files it holds, by what
the read models keep (the pseudonymous id, the municipality key, the stage and the entry date)
and by identity: family and given name, birth date, AZR number. The read models keep no name,
birth date or AZR number; for those the gateway asks the foreigners-authority service, which
keeps a blind index (services/foreigners_authority/search_index.py) and answers the person ids
whose files the caller's authority holds; the terms travel sealed for the service. Authorised
(the authority's officers and admin), the reader's visibility rule applied, and audited with
the request's purpose (the criteria's names, never their values; one entry per person found
by identity)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from contracts.commands.foreigners_authority import SEARCH_PERSONS
from contracts.roles import AUTHORITY
from gateway import audit
from gateway.auth import Principal
from gateway.context import HubContext, HubError, ctx, read_after
from gateway.pathway.queries import CONSUMER, VISIBILITY
from gateway.pathway.types import PersonAtStage
from projections.pathway.search import search_persons
from services.runtime.commands import CommandRejected, ServiceUnavailable
from services.runtime.context import CommandContext

_AGS = re.compile(r"^\d{8}$")
_STAGE = re.compile(r"^[a-z_]{1,40}$")
_AZR = re.compile(r"^\d{12}$")
_NAME_MAX = 200


def _name(value: str | None, field: str) -> str | None:
    text = " ".join((value or "").split())
    if len(text) > _NAME_MAX:
        raise HubError(f"{field} has at most {_NAME_MAX} characters", "invalid_input", field)
    return text or None


async def _found_by_identity(
    context: HubContext, principal: Principal, terms: dict[str, Any]
) -> list[UUID]:
    """The persons whose files the caller's authority holds that match every identity term,
    from the foreigners-authority service's blind index (the terms sealed for it)."""
    command_context = CommandContext(
        agency=principal.agency,
        role=principal.role,
        legal_basis=SEARCH_PERSONS.legal_basis,
        purpose=SEARCH_PERSONS.purpose,
        subject=principal.subject,
    )
    body = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in terms.items() if v}
    try:
        result = await context.commands.send(
            SEARCH_PERSONS.service,
            SEARCH_PERSONS.name,
            body,
            command_context,
            declaration=SEARCH_PERSONS,
        )
    except CommandRejected as error:
        raise HubError(error.message, error.code, error.field) from None
    except ServiceUnavailable as error:
        raise HubError(str(error), "unavailable") from None
    return [UUID(str(p)) for p in result.get("person_ids") or []]


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
        family_name: str | None = None,
        given_name: Annotated[
            str | None,
            strawberry.argument(description="A given name (or all); only with familyName"),
        ] = None,
        birth_date: dt.date | None = None,
        azr_number: Annotated[str | None, strawberry.argument(description="12 digits")] = None,
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
        family = _name(family_name, "familyName")
        given = _name(given_name, "givenName")
        if given and not family:
            raise HubError(
                "a search by given name needs the family name too", "invalid_input", "familyName"
            )
        azr = "".join((azr_number or "").split()) or None
        if azr and not _AZR.match(azr):
            raise HubError("azrNumber is the 12-digit AZR number", "invalid_input", "azrNumber")
        identity = {
            "familyName": family,
            "givenName": given,
            "birthDate": birth_date,
            "azrNumber": azr,
        }
        criteria = {
            "personId": person,
            "municipalityKey": municipality_key or None,
            "stage": stage or None,
            "enteredFrom": entered_from,
            "enteredTo": entered_to,
            **identity,
        }
        named = [name for name, value in criteria.items() if value is not None]
        if not named:
            raise HubError("name at least one search criterion", "invalid_input", "personId")
        purpose = context.audit_purpose("residence_administration")
        by_identity = any(value is not None for value in identity.values())
        await read_after(context, at_least, CONSUMER, VISIBILITY)
        candidates = await _found_by_identity(context, principal, identity) if by_identity else None
        rows = (
            []
            if candidates == []
            else await search_persons(
                context.pool,
                context.reader(principal),
                person_id=person,
                municipality_key=municipality_key or None,
                stage=stage or None,
                entered_from=entered_from,
                entered_to=entered_to,
                person_ids=candidates,
                limit=first,
            )
        )
        await audit.record_read(
            context.pool,
            principal,
            action="person_search",
            person_id=person,
            purpose=purpose,
            detail=f"by {','.join(named)}: {len(rows)} persons",
        )
        if by_identity:  # each person found by who they are: in their own access log
            for entry in audit.record_reads(
                context.pool,
                principal,
                action="person_search",
                person_ids=[r["person_id"] for r in rows],
                purpose=purpose,
            ):
                await entry
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
