"""What every resolver shares: the request context, client errors, commands, consistency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from gateway.auth import AuthError, Principal
from gateway.consistency import BadToken, NotCaughtUp, Position, wait_for
from kernel.clock import today_in_germany
from services.runtime.commands import CommandClient


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
    #: the secret of the steering indicators' record keys (kernel/disclosure.py)
    indicator_key: str = ""


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


#: Today's date in Germany, for resolvers (the kernel's Berlin-date clock).
today = today_in_germany


async def read_after(context: HubContext, token: str | None, *consumers: str) -> None:
    """Wait (bounded) until each of ``consumers`` has read as far as the position token names
    (a read whose visibility another read model decides waits for that one too)."""
    if not token:
        return
    try:
        position = Position.parse(token)
    except BadToken:
        raise HubError("atLeast is not a position token", "invalid_input", "atLeast") from None
    try:
        for consumer in consumers:
            await wait_for(
                context.pool,
                consumer=consumer,
                position=position,
                timeout=context.settings.consistency_wait_seconds,
            )
    except NotCaughtUp as error:
        raise HubError(str(error), "not_caught_up", "atLeast") from None
