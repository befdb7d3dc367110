"""What every resolver shares: the request context, client errors, commands, consistency."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import strawberry
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from gateway.auth import AuthError, Principal
from gateway.consistency import BadToken, NotCaughtUp, Position, wait_for
from services.runtime.commands import CommandClient, CommandRejected, ServiceUnavailable
from services.runtime.context import CommandContext
from services.runtime.telemetry import current_trace_id

BERLIN = ZoneInfo("Europe/Berlin")


class HubError(Exception):
    """An error meant for the client: a message, a code and the input field at fault."""

    def __init__(
        self, message: str, code: str, field: str | None = None, missing: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": code}
        if field:
            self.extensions["field"] = field
        if missing:
            self.extensions["missing"] = missing


@dataclass
class GatewaySettings:
    consistency_wait_seconds: float = 5.0


class HubContext(BaseContext):
    """Per request (or per WebSocket connection): the caller and the gateway's resources."""

    def __init__(
        self,
        *,
        principal: Principal | None,
        pool: asyncpg.Pool,
        commands: CommandClient,
        settings: GatewaySettings,
        authenticate: Callable[[str | None], Principal] | None = None,
        notifier: Any = None,
    ) -> None:
        super().__init__()
        self.principal = principal
        self.pool = pool
        self.commands = commands
        self.settings = settings
        self.authenticate = authenticate
        self.notifier = notifier

    def require(self, roles: frozenset[str], what: str) -> Principal:
        if self.principal is None and self.authenticate is not None:
            params = self.connection_params if isinstance(self.connection_params, dict) else {}
            header = params.get("Authorization") or params.get("authorization")
            try:
                self.principal = self.authenticate(header)
            except AuthError as error:
                raise HubError(str(error), "unauthenticated") from None
        if self.principal is None:
            raise HubError("authentication required", "unauthenticated")
        if self.principal.role not in roles:
            raise HubError(f"role '{self.principal.role}' may not {what}", "forbidden")
        return self.principal


def ctx(info: Info[HubContext, None]) -> HubContext:
    return info.context


def today() -> dt.date:
    return dt.datetime.now(BERLIN).date()


@strawberry.type(description="Result of a command: the ids it created and a position token")
class CommandPayload:
    position: str = strawberry.field(description="Pass as atLeast to read this write")
    trace_id: str | None
    person_id: strawberry.ID | None = None
    case_id: strawberry.ID | None = None
    consent_id: strawberry.ID | None = None
    referral_id: strawberry.ID | None = None
    goal_id: strawberry.ID | None = None
    request_id: strawberry.ID | None = None
    mediator_id: strawberry.ID | None = None
    gap_id: strawberry.ID | None = None
    conflict_id: strawberry.ID | None = None
    intervention_id: strawberry.ID | None = None
    entry_id: strawberry.ID | None = None
    measure_id: strawberry.ID | None = None
    escalation_id: strawberry.ID | None = None


_ID_FIELDS = (
    "person_id",
    "case_id",
    "consent_id",
    "referral_id",
    "goal_id",
    "request_id",
    "mediator_id",
    "gap_id",
    "conflict_id",
    "intervention_id",
    "entry_id",
    "measure_id",
    "goal_id",
    "escalation_id",
)


def command_context(principal: Principal, legal_basis: str, purpose: str) -> CommandContext:
    return CommandContext(
        agency=principal.agency,
        role=principal.role,
        legal_basis=legal_basis,
        purpose=purpose,
        subject=principal.subject,
    )


async def send(
    context: HubContext,
    service: str,
    command: str,
    body: dict[str, Any],
    command_ctx: CommandContext,
) -> CommandPayload:
    """Forward a command to its service; map its refusal to a client error."""
    try:
        result = await context.commands.send(service, command, body, command_ctx)
    except CommandRejected as error:
        raise HubError(error.message, error.code, error.field, error.missing) from None
    except ServiceUnavailable as error:
        raise HubError(str(error), "unavailable") from None
    ids = {name: strawberry.ID(str(result[name])) for name in _ID_FIELDS if result.get(name)}
    return CommandPayload(
        position=Position(service, int(result["position"])).token(),
        trace_id=current_trace_id(),
        **ids,
    )


async def forward(
    info: Info[HubContext, None],
    *,
    service: str,
    command: str,
    payload: dict[str, Any],
    roles: frozenset[str],
    legal_basis: str,
    purpose: str,
) -> CommandPayload:
    """Check the caller's role and send the command with its legal basis and purpose."""
    context = ctx(info)
    principal = context.require(roles, command.replace("_", " "))
    return await send(
        context, service, command, payload, command_context(principal, legal_basis, purpose)
    )


def body(value: Any) -> dict[str, Any]:
    """A strawberry input as the JSON body a service expects (camelCase keys)."""
    out: dict[str, Any] = {}
    for key, item in vars(value).items():
        camel = key.split("_")[0] + "".join(p.title() for p in key.split("_")[1:])
        if isinstance(item, enum.Enum):
            item = item.value
        elif isinstance(item, dt.datetime | dt.date):
            item = item.isoformat()
        elif isinstance(item, list):
            item = [v.value if isinstance(v, enum.Enum) else v for v in item]
        if item is not None:
            out[camel] = item
    return out


async def read_after(context: HubContext, token: str | None, consumer: str) -> None:
    """Wait (bounded) until ``consumer`` has read as far as the position token names."""
    if not token:
        return
    try:
        position = Position.parse(token)
    except BadToken:
        raise HubError("atLeast is not a position token", "invalid_input", "atLeast") from None
    try:
        await wait_for(
            context.pool,
            consumer=consumer,
            position=position,
            timeout=context.settings.consistency_wait_seconds,
        )
    except NotCaughtUp as error:
        raise HubError(str(error), "not_caught_up", "atLeast") from None
