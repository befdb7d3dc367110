"""Readiness (``GET /readyz``): the database answers, the bus is connected, and no read model
lags behind its stream by more than ``HUB_READY_MAX_LAG`` events.

The lag of a read model on a source stream is the stream's last sequence minus the sequence
the projection has committed (``projections.consumer_positions``, the projector's cursor). The
gateway asks the server for each service stream's info (``$JS.API.STREAM.INFO.<stream>``, the
only JetStream call its NATS user may make); it reads no event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from nats.aio.client import Client

from contracts import REGISTRY, stream_name
from services.runtime.database import CONNECTION_LOST

TIMEOUT = 2.0


@dataclass
class Readiness:
    """What is not ready (empty: ready), and the lags found."""

    failing: dict[str, Any] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.failing

    def body(self) -> dict[str, Any]:
        if self.ready:
            return {"status": "ready", "lag": self.lag}
        return {"status": "unready", "failing": self.failing, "lag": self.lag}


async def check(pool: asyncpg.Pool | None, nc: Client | None, max_lag: int) -> Readiness:
    found = Readiness()
    committed: list[asyncpg.Record] = []
    if pool is None:
        found.failing["database"] = "no connection pool"
    else:
        try:
            committed = await asyncio.wait_for(
                pool.fetch(
                    "SELECT consumer, source, stream_seq FROM projections.consumer_positions"
                    " WHERE consumer NOT LIKE '%@%'"
                ),
                TIMEOUT,
            )
        except (*CONNECTION_LOST, asyncpg.PostgresError) as error:
            found.failing["database"] = f"unavailable ({type(error).__name__})"
    if nc is None or not nc.is_connected:
        found.failing["nats"] = "not connected"
        return found
    last: dict[str, int] = {}
    js = nc.jetstream()
    try:
        for service in REGISTRY.services():
            info = await asyncio.wait_for(js.stream_info(stream_name(service)), TIMEOUT)
            last[service] = int(info.state.last_seq)
    except Exception as error:  # no answer, not permitted, no stream: not ready either way
        found.failing["nats"] = f"stream info unavailable ({type(error).__name__})"
        return found
    for row in committed:
        if row["source"] in last:
            lag = max(0, last[row["source"]] - int(row["stream_seq"]))
            found.lag[f"{row['consumer']}/{row['source']}"] = lag
    behind = {name: lag for name, lag in found.lag.items() if lag > max_lag}
    if behind:
        found.failing["projections"] = {"max_lag": max_lag, "behind": behind}
    return found
