"""Position tokens: read-your-writes across services without a global order.

A mutation returns an opaque token naming the owning service and the position (notification
id) of its last event. A query given the token waits, bounded, until the read model has read
that service's log at least that far.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from dataclasses import dataclass

import asyncpg

_PREFIX = "p1."
_SERVICE = re.compile(r"^[a-z][a-z0-9_]*$")


class BadToken(ValueError):
    """The string is not a position token."""


class NotCaughtUp(TimeoutError):
    """The read model did not reach the position in time."""


@dataclass(frozen=True)
class Position:
    service: str
    position: int

    def token(self) -> str:
        raw = f"{self.service}:{self.position}".encode()
        return _PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def parse(cls, token: str) -> Position:
        if not token.startswith(_PREFIX):
            raise BadToken("not a position token")
        body = token[len(_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
            service, _, number = raw.partition(":")
            position = int(number)
        except (ValueError, UnicodeDecodeError):
            raise BadToken("not a position token") from None
        if not _SERVICE.match(service) or position < 0:
            raise BadToken("not a position token")
        return cls(service, position)


async def wait_for(
    pool: asyncpg.Pool,
    *,
    consumer: str,
    position: Position,
    timeout: float,
    schema: str = "projections",
) -> None:
    """Return once ``consumer`` has read ``position``; raise NotCaughtUp after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        reached = await pool.fetchval(
            f"SELECT position FROM {schema}.consumer_positions WHERE consumer = $1 AND source = $2",
            consumer,
            position.service,
        )
        if reached is not None and reached >= position.position:
            return
        if time.monotonic() >= deadline:
            raise NotCaughtUp(
                f"the read model has not yet caught up with {position.service} "
                f"(at {reached or 0}, need {position.position}); retry shortly"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
