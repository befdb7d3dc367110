"""The GraphQL schema: person timelines, and the foreigners authority's mutations."""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from contracts import foreigners_authority as contract_types
from gateway import audit
from gateway.auth import Principal
from gateway.consistency import BadToken, NotCaughtUp, Position, wait_for
from services.runtime.commands import CommandClient, CommandRejected, ServiceUnavailable
from services.runtime.context import CommandContext
from services.runtime.telemetry import current_trace_id

log = logging.getLogger(__name__)

TIMELINE_READERS = frozenset({"abh_officer", "case_manager", "admin"})
RESIDENCE_WRITERS = frozenset({"abh_officer", "admin"})


class HubError(Exception):
    """An error meant for the client: a message, a code and the input field at fault."""

    def __init__(self, message: str, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": code}
        if field:
            self.extensions["field"] = field


@dataclass
class GatewaySettings:
    consistency_wait_seconds: float = 5.0


class HubContext(BaseContext):
    def __init__(
        self,
        *,
        principal: Principal | None,
        pool: asyncpg.Pool,
        commands: CommandClient,
        settings: GatewaySettings,
    ) -> None:
        super().__init__()
        self.principal = principal
        self.pool = pool
        self.commands = commands
        self.settings = settings

    def require(self, roles: frozenset[str], what: str) -> Principal:
        if self.principal is None:
            raise HubError("authentication required", "unauthenticated")
        if self.principal.role not in roles:
            raise HubError(f"role '{self.principal.role}' may not {what}", "forbidden")
        return self.principal


def _context(info: Info[HubContext, None]) -> HubContext:
    return info.context


# -- types ------------------------------------------------------------------------------


@strawberry.type(description="One event in a person's process, from any service.")
class TimelineEntry:
    occurred_at: dt.datetime = strawberry.field(description="Business time: when it happened")
    recorded_at: dt.datetime = strawberry.field(description="When the owning service recorded it")
    service: str
    event_type: str
    summary: str = strawberry.field(description="What happened, without personal data")
    trace_id: str | None
    position: int = strawberry.field(description="Position in the owning service's log")


@strawberry.type(description="A person, known by a pseudonymous id only.")
class Person:
    id: strawberry.ID

    @strawberry.field(description="The person's process across services, oldest first.")
    async def timeline(
        self,
        info: Info[HubContext, None],
        at_least: Annotated[
            str | None,
            strawberry.argument(description="A position token from a mutation: read your writes"),
        ] = None,
        limit: int = 500,
    ) -> list[TimelineEntry]:
        ctx = _context(info)
        principal = ctx.require(TIMELINE_READERS, "read person timelines")
        if not 1 <= limit <= 5000:
            raise HubError("limit must be between 1 and 5000", "invalid_input", "limit")
        person_id = UUID(str(self.id))
        if at_least:
            try:
                position = Position.parse(at_least)
            except BadToken:
                raise HubError(
                    "atLeast is not a position token", "invalid_input", "atLeast"
                ) from None
            try:
                await wait_for(
                    ctx.pool,
                    consumer="timeline",
                    position=position,
                    timeout=ctx.settings.consistency_wait_seconds,
                )
            except NotCaughtUp as error:
                raise HubError(str(error), "not_caught_up", "atLeast") from None
        rows = await ctx.pool.fetch(
            "SELECT occurred_at, recorded_at, source, event_type, summary, trace_id, position"
            " FROM projections.timeline_events WHERE person_id = $1"
            " ORDER BY occurred_at, recorded_at, source, position LIMIT $2",
            person_id,
            limit,
        )
        await audit.record_read(
            ctx.pool,
            principal,
            action="timeline",
            person_id=person_id,
            purpose="case_processing",
            detail=f"{len(rows)} entries",
        )
        return [
            TimelineEntry(
                occurred_at=r["occurred_at"],
                recorded_at=r["recorded_at"],
                service=r["source"],
                event_type=r["event_type"],
                summary=r["summary"],
                trace_id=r["trace_id"],
                position=r["position"],
            )
            for r in rows
        ]


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


@strawberry.type(description="Result of a command")
class CommandPayload:
    person_id: strawberry.ID | None
    position: str = strawberry.field(description="Pass as atLeast to read this write")
    trace_id: str | None


def _command_context(principal: Principal, legal_basis: str, purpose: str) -> CommandContext:
    return CommandContext(
        agency=principal.agency,
        role=principal.role,
        legal_basis=legal_basis,
        purpose=purpose,
        subject=principal.subject,
    )


async def _send(
    ctx: HubContext, service: str, command: str, body: dict[str, Any], context: CommandContext
) -> CommandPayload:
    try:
        result = await ctx.commands.send(service, command, body, context)
    except CommandRejected as error:
        raise HubError(error.message, error.code, error.field) from None
    except ServiceUnavailable as error:
        raise HubError(str(error), "unavailable") from None
    person_id = result.get("person_id")
    return CommandPayload(
        person_id=strawberry.ID(person_id) if person_id else None,
        position=Position(service, int(result["position"])).token(),
        trace_id=current_trace_id(),
    )


def _body(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in vars(value).items():
        camel = key.split("_")[0] + "".join(p.title() for p in key.split("_")[1:])
        if isinstance(item, enum.Enum):
            item = item.value
        elif isinstance(item, dt.date):
            item = item.isoformat()
        if item is not None:
            out[camel] = item
    return out


@strawberry.type
class Query:
    @strawberry.field(description="A person by pseudonymous id")
    def person(self, info: Info[HubContext, None], id: strawberry.ID) -> Person:
        _context(info).require(TIMELINE_READERS, "read person data")
        try:
            UUID(str(id))
        except ValueError:
            raise HubError("id is not a person id", "invalid_input", "id") from None
        return Person(id=id)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Register a person's arrival (Ausländerbehörde)")
    async def register_arrival(
        self, info: Info[HubContext, None], input: RegisterArrivalInput
    ) -> CommandPayload:
        ctx = _context(info)
        principal = ctx.require(RESIDENCE_WRITERS, "register arrivals")
        context = _command_context(principal, "§ 86 AufenthG", "residence_administration")
        return await _send(ctx, "foreigners_authority", "register_arrival", _body(input), context)

    @strawberry.mutation(description="Grant a residence title (Aufenthaltstitel)")
    async def grant_residence_title(
        self, info: Info[HubContext, None], input: GrantResidenceTitleInput
    ) -> CommandPayload:
        ctx = _context(info)
        principal = ctx.require(RESIDENCE_WRITERS, "grant residence titles")
        context = _command_context(principal, "§ 86 AufenthG", "residence_administration")
        body = _body(input)
        return await _send(ctx, "foreigners_authority", "grant_residence_title", body, context)


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, HubError) or not error.path:
        return False  # our own errors, and validation/coercion of the request itself
    log.error("unexpected error in %s", error.path, exc_info=original)
    return True


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    extensions=[
        ParserCache,
        ValidationCache,
        partial(MaskErrors, should_mask_error=_should_mask, error_message="internal error"),
    ],
)
