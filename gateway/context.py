"""What every resolver shares: the request context, client errors, commands, consistency."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from contracts.roles import WITH_CONSENT
from gateway.auth import AuthError, Principal
from gateway.consistency import BadToken, NotCaughtUp, Position, wait_for
from kernel.clock import today_in_germany
from kernel.purposes import PURPOSES
from projections.timeline.visibility import Reader
from services.runtime.commands import CommandClient

#: the request header naming the purpose of a read (also a key of a WebSocket's
#: ``connection_init`` payload)
PURPOSE_HEADER = "Hub-Purpose"
#: what a response carries (``extensions.notices``) when a consent-based read named no purpose
NO_PURPOSE = {
    "code": "purpose_missing",
    "message": "Kein Zweck angegeben: Sie sehen nur die Daten Ihrer eigenen Stelle. Daten, "
    "die andere Stellen mit Einwilligung der Person freigeben, erscheinen erst, wenn die "
    "Anfrage einen Zweck nennt (Hub-Purpose), den die Einwilligung abdeckt.",
}


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
    #: the secret of the steering indicators' cell keys (kernel/disclosure.py)
    indicator_key: str = ""


#: the purposes a refusal names (built once, not per request)
_KNOWN_PURPOSES = ", ".join(sorted(PURPOSES))


class BadPurpose(Exception):
    """The request names a purpose that is not in the vocabulary, or two that contradict."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def request_purpose(named: str | None, principal: Principal | None) -> str | None:
    """The purpose of a request: the one it names (``Hub-Purpose``), else the one its token is
    bound to (the ``purpose`` claim), else ``None``. Both may be given only when they agree:
    a token bound to a purpose cannot be used for another one. Raises :class:`BadPurpose` for
    a purpose outside kernel.purposes (without quoting it) or a contradiction."""
    known = _KNOWN_PURPOSES
    claimed = principal.purpose if principal is not None else None
    if claimed is not None and claimed not in PURPOSES:
        raise BadPurpose(f"the bearer token's purpose claim names no known purpose ({known})")
    if named is None:
        return claimed
    named = named.strip()
    if named not in PURPOSES:
        raise BadPurpose(f"the {PURPOSE_HEADER} header names no known purpose; send one of {known}")
    if claimed is not None and named != claimed:
        raise BadPurpose(
            f"the {PURPOSE_HEADER} header contradicts the purpose the bearer token is bound to "
            f"({claimed}); leave the header out or name the same purpose"
        )
    return named


def connection_purpose(params: object) -> str | None:
    """The purpose a WebSocket's ``connection_init`` payload names, if any."""
    if not isinstance(params, dict):
        return None
    for key in (PURPOSE_HEADER, PURPOSE_HEADER.lower()):
        if key in params:
            value = params[key]
            return value if isinstance(value, str) else ""
    return None


class HubContext(BaseContext):
    """Per request (or per WebSocket connection): the caller, the purpose of the request
    (``None``: it named none), the gateway's resources and the notices for the response."""

    def __init__(
        self,
        *,
        principal: Principal | None,
        pool: asyncpg.Pool,
        commands: CommandClient,
        settings: GatewaySettings,
        authenticate: Callable[[str | None], Principal] | None = None,
        notifier: Any = None,
        purpose: str | None = None,
        rate_limit: Callable[[str], Awaitable[float]] | None = None,
    ) -> None:
        super().__init__()
        self.principal = principal
        self.pool = pool
        self.commands = commands
        self.settings = settings
        self.authenticate = authenticate
        self.notifier = notifier
        self.purpose = purpose
        #: the API's rate limit (a subject -> seconds to wait, 0 when admitted): what a
        #: WebSocket takes for each operation it starts (an HTTP request takes it on arrival)
        self.rate_limit = rate_limit
        #: shown to the client in ``extensions.notices`` (by code, once each)
        self.notices: dict[str, dict[str, str]] = {}

    def require(self, roles: frozenset[str], what: str) -> Principal:
        if self.principal is None and self.authenticate is not None:
            params = self.connection_params if isinstance(self.connection_params, dict) else {}
            header = params.get("Authorization") or params.get("authorization")
            try:
                self.principal = self.authenticate(header)
                self.purpose = request_purpose(connection_purpose(params), self.principal)
            except AuthError as error:
                raise HubError(str(error), "unauthenticated") from None
            except BadPurpose as error:
                self.principal = None
                raise HubError(error.message, "bad_purpose") from None
        if self.principal is None:
            raise HubError("authentication required", "unauthenticated")
        if self.principal.role not in roles:
            raise HubError(f"role '{self.principal.role}' may not {what}", "forbidden")
        return self.principal

    def reader(self, principal: Principal) -> Reader:
        """The reader the visibility rule decides for: agency, role, today and the request's
        purpose. A consent-based reader (case manager, partner agency) without a purpose is
        released nothing by any consent; the response then says so (``purpose_missing``)."""
        if self.purpose is None and principal.role in WITH_CONSENT:
            self.notices[NO_PURPOSE["code"]] = NO_PURPOSE
        return Reader(principal.agency, principal.role, today_in_germany(), self.purpose)

    def audit_purpose(self, own: str) -> str:
        """The purpose an audit entry records: the request's, or, when it named none, ``own``
        (the reader's own processing, e.g. ``case_processing``)."""
        return self.purpose or own


class VerifiedTokens:
    """Bearer tokens verified in the last ``ttl`` seconds, by their SHA-256 digest (the tokens
    themselves are not kept): a client's next request with the same token is not verified
    again (a signature check and claim parsing cost as much CPU as a small read). A token
    is accepted from here only until its own ``exp`` as well, and at most ``size`` are kept.
    An identity provider's revoked key or token is therefore refused within ``ttl`` seconds
    (the hub's own HS256 tokens cannot be revoked before they expire anyway). Only
    successful verifications are kept: a bad token is checked, and refused, every time."""

    def __init__(
        self, ttl: float = 30.0, size: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: dict[bytes, tuple[Principal, float]] = {}

    @staticmethod
    def _key(authorization: str) -> bytes:
        return hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).digest()

    def get(self, authorization: str | None) -> Principal | None:
        if not authorization or self.ttl <= 0:
            return None
        key = self._key(authorization)
        found = self._entries.get(key)
        if found is None:
            return None
        principal, until = found
        if self.clock() >= until:
            del self._entries[key]
            return None
        return principal

    def put(self, authorization: str | None, principal: Principal) -> None:
        if not authorization or self.ttl <= 0:
            return
        now = self.clock()
        until = now + self.ttl
        if principal.exp is not None:
            until = min(until, float(principal.exp))
        if until <= now:
            return
        if len(self._entries) >= self.size:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= self.size:
                self._entries.clear()
        self._entries[self._key(authorization)] = (principal, until)


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
