"""The foreigners authority's mutations (Ausländerbehörde)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from contracts import foreigners_authority as contract_types
from gateway.context import CommandPayload, HubContext, body, forward

RESIDENCE_WRITERS = frozenset({"abh_officer", "admin"})
SERVICE = "foreigners_authority"
LEGAL_BASIS = "§ 86 AufenthG"

# The GraphQL enums are the contract enums (strawberry.enum registers them in place).
EntryMode = contract_types.EntryMode
TitleKind = contract_types.ResidenceTitleKind
strawberry.enum(EntryMode, description="How the person entered Germany")
strawberry.enum(TitleKind, name="TitleKind", description="Kind of residence title (§ 4 AufenthG)")


@strawberry.input(description="An arrival, as the foreigners authority registers it")
class RegisterArrivalInput:
    given_names: str
    family_name: str
    birth_date: dt.date
    azr_number: str = strawberry.field(description="AZR number, 12 digits (held encrypted)")
    nationalities: list[str] = strawberry.field(description="ISO 3166-1 alpha-3 codes")
    entry_date: dt.date
    entry_mode: EntryMode
    municipality_key: str = strawberry.field(description="Official municipality key (AGS)")
    abh_id: str = strawberry.field(description="The responsible foreigners authority")
    registered_on: dt.date | None = strawberry.field(
        default=None, description="Date of registration (Anmeldung); defaults to entry date"
    )


@strawberry.input(description="A residence title decision")
class GrantResidenceTitleInput:
    person_id: strawberry.ID
    title: TitleKind
    paragraph: str = strawberry.field(description="Legal basis, e.g. '§ 25 Abs. 2 AufenthG'")
    valid_from: dt.date
    valid_until: dt.date | None = None
    granted_on: dt.date | None = strawberry.field(
        default=None, description="Decision date; defaults to validFrom (or today)"
    )
    conditions: list[str] = strawberry.field(default_factory=list)


async def _command(info: Info[HubContext, None], command: str, value: Any) -> CommandPayload:
    return await forward(
        info,
        service=SERVICE,
        command=command,
        payload=body(value),
        roles=RESIDENCE_WRITERS,
        legal_basis=LEGAL_BASIS,
        purpose="residence_administration",
    )


@strawberry.type
class ResidenceMutations:
    @strawberry.mutation(description="Register a person's arrival (Ausländerbehörde)")
    async def register_arrival(
        self,
        info: Info[HubContext, None],
        input: RegisterArrivalInput,
    ) -> CommandPayload:
        return await _command(info, "register_arrival", input)

    @strawberry.mutation(description="Grant a residence title (Aufenthaltstitel)")
    async def grant_residence_title(
        self,
        info: Info[HubContext, None],
        input: GrantResidenceTitleInput,
    ) -> CommandPayload:
        return await _command(info, "grant_residence_title", input)
