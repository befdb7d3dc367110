"""Position tokens: read-your-writes across services without a global order.

A mutation returns an opaque token naming the owning service and the position (notification
id) of its last event. A query given the token waits, bounded, until the read model has read
that service's log at least that far.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from contracts.positions import BadToken as BadToken
from contracts.positions import Position as Position


class NotCaughtUp(TimeoutError):
    """The read model did not reach the position in time."""


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
