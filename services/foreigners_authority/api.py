"""The foreigners authority's command endpoints (served over NATS request/reply)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.foreigners_authority.application import (
    CommandResult,
    ForeignersAuthority,
    GrantResidenceTitle,
    RegisterArrival,
    today_in_germany,
)
from services.foreigners_authority.domain import EntryMode, TitleKind
from services.runtime.commands import CommandServer
from services.runtime.context import CommandContext

WRITE_ROLES = frozenset({"abh_officer", "admin"})


class RegisterArrivalBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    given_names: str = Field(alias="givenNames", max_length=200)
    family_name: str = Field(alias="familyName", min_length=1, max_length=200)
    birth_date: date = Field(alias="birthDate")
    azr_number: str = Field(alias="azrNumber", max_length=20)
    nationalities: list[str] = Field(max_length=10)
    entry_date: date = Field(alias="entryDate")
    entry_mode: EntryMode = Field(alias="entryMode")
    municipality_key: str = Field(alias="municipalityKey", max_length=8)
    registered_on: date | None = Field(default=None, alias="registeredOn")
    abh_id: str = Field(alias="abhId", min_length=1, max_length=64)


class GrantResidenceTitleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    person_id: UUID = Field(alias="personId")
    title: TitleKind
    paragraph: str = Field(max_length=80)
    valid_from: date = Field(alias="validFrom")
    valid_until: date | None = Field(default=None, alias="validUntil")
    granted_on: date | None = Field(default=None, alias="grantedOn")
    conditions: list[str] = Field(default_factory=list, max_length=20)


def _result(result: CommandResult) -> dict[str, Any]:
    return {
        "position": result.position,
        "person_id": str(result.person_id) if result.person_id else None,
    }


def _require_writer(context: CommandContext) -> None:
    from services.runtime.commands import CommandRejected

    if context.role not in WRITE_ROLES:
        raise CommandRejected("forbidden", f"role {context.role!r} may not change residence files")


def register_routes(server: CommandServer, app: ForeignersAuthority) -> None:
    async def register_arrival(
        body: RegisterArrivalBody, context: CommandContext
    ) -> dict[str, Any]:
        _require_writer(context)
        command = RegisterArrival(
            given_names=body.given_names,
            family_name=body.family_name,
            birth_date=body.birth_date,
            azr_number=body.azr_number,
            nationalities=[n.strip().upper() for n in body.nationalities],
            entry_date=body.entry_date,
            entry_mode=body.entry_mode,
            municipality_key=body.municipality_key,
            registered_on=body.registered_on or body.entry_date,
            abh_id=body.abh_id,
        )

        return _result(await server.execute(lambda: app.register_arrival(command), context))

    async def grant_residence_title(
        body: GrantResidenceTitleBody, context: CommandContext
    ) -> dict[str, Any]:
        _require_writer(context)
        command = GrantResidenceTitle(
            person_id=body.person_id,
            title=body.title,
            paragraph=body.paragraph,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            granted_on=body.granted_on or min(body.valid_from, today_in_germany()),
            conditions=body.conditions,
        )

        return _result(await server.execute(lambda: app.grant_residence_title(command), context))

    server.route("register_arrival", RegisterArrivalBody, register_arrival)
    server.route("grant_residence_title", GrantResidenceTitleBody, grant_residence_title)
