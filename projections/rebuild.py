"""Rebuild a read model from scratch by replaying the streams, while its projector runs.

The rebuild replays every source stream into a shadow table, then, holding the projector's
advisory lock, checks that the shadow has read at least as far as the live table (catching up
if not) and replaces the live rows and positions with the shadow's in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts import stream_name
from projections.runner import source_services
from projections.schema import ensure
from projections.timeline.projector import LOCK_KEY, NAME, SCHEMA, TABLE, TimelineProjection, ddl
from services.runtime.consumer import ConsumerLoop, positions

log = logging.getLogger(__name__)

SHADOW = f"{TABLE}_rebuild"
SHADOW_POSITIONS = f"{NAME}@rebuild"
SUFFIXES = (
    "",
    "_consents",
    "_refs",
    "_confirmations",
    "_holders",
    "_erased",
)  # the timeline and the tables it keeps beside it


@dataclass(frozen=True)
class RebuildReport:
    rows: int
    positions: dict[str, int]


def rebuild_durable(service: str) -> str:
    """The rebuild's durable consumer on ``service``'s stream (a name of the projector's user,
    deploy/nats/hub.conf)."""
    return f"{NAME}_rebuild_{service}"


async def rebuild_timeline(js: JetStreamContext, pool: asyncpg.Pool) -> RebuildReport:
    await ensure(pool)
    for suffix in SUFFIXES:
        await pool.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{SHADOW}{suffix}")
    await pool.execute(ddl(SHADOW))
    await pool.execute(
        f"DELETE FROM {SCHEMA}.consumer_positions WHERE consumer = $1", SHADOW_POSITIONS
    )
    loops: list[ConsumerLoop] = []
    for service in source_services():
        durable = rebuild_durable(service)
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream_name(service), durable)
        loop = ConsumerLoop(
            js=js,
            pool=pool,
            stream=stream_name(service),
            source=service,
            durable=durable,
            position_name=SHADOW_POSITIONS,
            handler=TimelineProjection(SHADOW, lock=False),
            schema=SCHEMA,
            batch_size=1000,
        )
        await loop.setup()
        loops.append(loop)
    try:
        await _drain(loops)
        while True:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
                live = await _positions(conn, NAME)
                shadow = await _positions(conn, SHADOW_POSITIONS)
                behind = [s for s, p in live.items() if shadow.get(s, 0) < p]
                if not behind:
                    for suffix in SUFFIXES:
                        await conn.execute(f"TRUNCATE {SCHEMA}.{TABLE}{suffix}")
                        await conn.execute(
                            f"INSERT INTO {SCHEMA}.{TABLE}{suffix}"
                            f" SELECT * FROM {SCHEMA}.{SHADOW}{suffix}"
                        )
                    await conn.execute(
                        f"DELETE FROM {SCHEMA}.consumer_positions WHERE consumer = $1", NAME
                    )
                    await conn.execute(
                        f"UPDATE {SCHEMA}.consumer_positions SET consumer = $1 WHERE consumer = $2",
                        NAME,
                        SHADOW_POSITIONS,
                    )
                    for suffix in SUFFIXES:
                        await conn.execute(f"DROP TABLE {SCHEMA}.{SHADOW}{suffix}")
                    rows = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.{TABLE}")
                    break
            log.info("rebuild: live projector is ahead on %s; catching up", behind)
            await _drain(loops)
    finally:
        for loop, service in zip(loops, source_services(), strict=False):
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream_name(service), loop.durable)
    return RebuildReport(rows=int(rows), positions=await positions(pool, SCHEMA, NAME))


async def _drain(loops: list[ConsumerLoop]) -> None:
    for loop in loops:
        while await loop.num_pending() > 0:
            if await loop.poll(timeout=0.5) == 0:
                await asyncio.sleep(0.05)


async def _positions(conn: asyncpg.Connection, consumer: str) -> dict[str, int]:
    rows = await conn.fetch(
        f"SELECT source, position FROM {SCHEMA}.consumer_positions WHERE consumer = $1",
        consumer,
    )
    return {row["source"]: int(row["position"]) for row in rows}
