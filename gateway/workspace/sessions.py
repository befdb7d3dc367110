"""Server-side sessions of the workspace: a random id in an HttpOnly, SameSite=Lax cookie
(Secure outside development), the signed-in principal, a CSRF token for every form, and the
one-time form tokens that keep a double submit from sending a command twice."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.auth import Principal

#: idle time after which a session ends (the user signs in again)
IDLE_SECONDS = 30 * 60
#: the longest a session lives, however active
MAX_SECONDS = 10 * 3600
#: form tokens a session remembers (the oldest are forgotten first)
MAX_FORM_TOKENS = 200


@dataclass
class Submission:
    """What one form token did: running (``lock`` held) or done, with the page to go to."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    redirect: str | None = None


@dataclass
class Session:
    id: str
    principal: Principal
    csrf: str
    created: float
    seen: float
    display: str = ""
    submissions: dict[str, Submission] = field(default_factory=dict)

    def form_token(self) -> str:
        """A fresh token for one form (hidden field ``formular``)."""
        return secrets.token_urlsafe(18)

    def submission(self, token: str) -> Submission:
        """The submission of a form token: the same object for a repeated submit."""
        found = self.submissions.get(token)
        if found is None:
            if len(self.submissions) >= MAX_FORM_TOKENS:
                oldest = next(iter(self.submissions))
                del self.submissions[oldest]
            found = self.submissions[token] = Submission()
        return found

    def csrf_ok(self, sent: Any) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(sent, self.csrf)


class SessionStore:
    """Sessions in the gateway's memory (one gateway process per deployment in development;
    several replicas need sticky sessions or a shared store)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self, principal: Principal, display: str = "") -> Session:
        self._expire()
        now = self.clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            principal=principal,
            csrf=secrets.token_urlsafe(32),
            created=now,
            seen=now,
            display=display,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self.clock()
        if now - session.seen > IDLE_SECONDS or now - session.created > MAX_SECONDS:
            del self._sessions[session_id]
            return None
        session.seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def _expire(self) -> None:
        now = self.clock()
        for key, session in list(self._sessions.items()):
            if now - session.seen > IDLE_SECONDS or now - session.created > MAX_SECONDS:
                del self._sessions[key]
