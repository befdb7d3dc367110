"""Rebuild any read model from scratch by replaying the streams, while its projector runs.

A rebuild of projection P:

1. creates a shadow copy of each of P's tables (its ``schema.sql`` with every table and index
   name given the suffix ``_rebuild``), and replays every source stream of P into the shadow
   through P's own handler, whose SQL is redirected to the shadow tables
   (:class:`ShadowConnection`); its positions are kept under ``<P>@rebuild``;
2. then, in one transaction, locks the live projector out (the timeline's advisory lock, and
   the live ``consumer_positions`` rows of P, which the live projector locks first in every
   transaction), lets the shadow catch up to where the live model is, and replaces the live
   rows and positions with the shadow's (``DELETE`` + ``INSERT ... SELECT``: MVCC-safe, so a
   reader sees the old model until the commit and the new one after it, never an empty or a
   partial one).

The live projector's next transaction then finds the rebuilt positions and treats what it
had fetched as duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from contracts import CloudEvent, Payload, stream_name
from projections.runner import PROJECTIONS, Projection, source_services
from projections.schema import PENDING, ensure, pending_rebuilds
from projections.timeline import projector as timeline
from services.runtime.consumer import ConsumerLoop, positions
from services.runtime.projection_base import Handler

log = logging.getLogger(__name__)

SCHEMA = "projections"
SUFFIX = "_rebuild"
#: kept for callers of the timeline-only rebuild
SHADOW = f"{timeline.TABLE}{SUFFIX}"
SHADOW_POSITIONS = f"{timeline.NAME}@rebuild"

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS projections\.(\w+)", re.IGNORECASE)
_INDEX = re.compile(r"(CREATE (?:UNIQUE )?INDEX IF NOT EXISTS )(\w+)", re.IGNORECASE)
_QUALIFIED = re.compile(r"\bprojections\.(\w+)")


@dataclass(frozen=True)
class RebuildReport:
    projection: str
    rows: int
    positions: dict[str, int]
    catch_ups: int = 0


def projection_named(name: str) -> Projection:
    for projection in PROJECTIONS:
        if projection.name == name:
            return projection
    known = ", ".join(p.name for p in PROJECTIONS)
    raise ValueError(f"no read model {name!r} (known: {known})")


def rebuild_durable(service: str, projection: str = timeline.NAME) -> str:
    """The rebuild's durable consumer of ``projection`` on ``service``'s stream (a name of
    the projector's user, deploy/nats/hub.conf)."""
    return f"{projection}{SUFFIX}_{service}"


def rebuild_durables() -> list[tuple[str, str]]:
    """Every (stream, durable consumer) a rebuild of any read model creates."""
    return [
        (stream_name(service), rebuild_durable(service, projection.name))
        for projection in PROJECTIONS
        for service in projection.sources()
    ]


def schema_sql(projection: str) -> str:
    return resources.files(__package__).joinpath(projection, "schema.sql").read_text()


def tables(projection: str) -> list[str]:
    """The live tables of ``projection``, in the order its ``schema.sql`` creates them."""
    return list(dict.fromkeys(_TABLE.findall(schema_sql(projection))))


def shadow_names(projection: str) -> dict[str, str]:
    return {table: f"{table}{SUFFIX}" for table in tables(projection)}


def rewrite(sql: str, names: dict[str, str]) -> str:
    """``sql`` with every ``projections.<table>`` of ``names`` replaced by its shadow."""
    return _QUALIFIED.sub(lambda m: f"{SCHEMA}.{names.get(m.group(1), m.group(1))}", sql)


def shadow_ddl(projection: str) -> str:
    """The projection's DDL for its shadow tables (index names get the suffix too)."""
    sql = rewrite(schema_sql(projection), shadow_names(projection))
    return _INDEX.sub(lambda m: f"{m.group(1)}{m.group(2)}{SUFFIX}", sql)


class ShadowConnection:
    """An asyncpg connection whose statements name the shadow tables instead of the live ones
    (the handlers' SQL names its tables as ``projections.<table>``)."""

    def __init__(self, conn: asyncpg.Connection, names: dict[str, str]) -> None:
        self._conn = conn
        self._names = names

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        return cast(str, await self._conn.execute(rewrite(query, self._names), *args, **kwargs))

    async def executemany(self, query: str, args: Iterable[Any], **kwargs: Any) -> None:
        await self._conn.executemany(rewrite(query, self._names), args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        return cast(
            "list[asyncpg.Record]",
            await self._conn.fetch(rewrite(query, self._names), *args, **kwargs),
        )

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> asyncpg.Record | None:
        return await self._conn.fetchrow(rewrite(query, self._names), *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._conn.fetchval(rewrite(query, self._names), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("copy_"):
            raise AttributeError(f"{name} is not redirected to the shadow tables")
        return getattr(self._conn, name)


class ShadowHandler:
    """A projection's handler writing to its shadow tables."""

    def __init__(self, inner: Handler, names: dict[str, str]) -> None:
        self.inner = inner
        self.names = names

    def _shadow(self, conn: asyncpg.Connection) -> asyncpg.Connection:
        return cast(asyncpg.Connection, ShadowConnection(conn, self.names))

    async def begin(self, conn: asyncpg.Connection) -> None:
        await self.inner.begin(self._shadow(conn))

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        await self.inner.apply(self._shadow(conn), event, payload)

    async def prepare(
        self, conn: asyncpg.Connection, events: list[tuple[CloudEvent, Payload]]
    ) -> None:
        prepare = getattr(self.inner, "prepare", None)
        if prepare is not None:
            await prepare(self._shadow(conn), events)

    async def flush(self, conn: asyncpg.Connection) -> None:
        await self.inner.flush(self._shadow(conn))

    async def committed(self, events: list[CloudEvent]) -> None:
        await self.inner.committed(events)


class ReplayLoop(ConsumerLoop):
    """The rebuild's consumer: the projector's loop with a cheaper way to read the stream.

    - no acks: its consumer has ``AckPolicy.NONE`` (the shadow's positions in the database
      are its cursor, as they are the live projector's; after a transient failure or a
      stalled fetch it recreates the consumer after the committed sequence);
    - a stream, not a fetch per batch: it keeps pull requests for up to ``window`` messages
      outstanding on one inbox, so the server delivers the next batches while the current
      one is applied; it asks only for messages the consumer has pending (each request is
      filled at once), and a status message (a request that expired, a consumer that went
      away) makes it start over at the cursor;
    - no tracing span per event (a replay of history continues no caller's trace, and a
      span per replayed event costs more than applying it).
    """

    acks = False
    #: how long a pull request may wait on the server (it is filled at once unless the
    #: stream lost messages in between; then the loop resets at the cursor)
    request_expires = 30.0

    def __init__(self, *, window: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window = window or 4 * self.batch_size
        self._queue: deque[Msg] = deque()
        self._arrived = asyncio.Event()
        self._credit = 0  # messages asked for and not yet received
        self._available = 0  # messages pending on the consumer not yet asked for
        self._stalled = False
        self._inbox = ""

    @property
    def _next_subject(self) -> str:
        prefix = getattr(self.js, "_prefix", "$JS.API")
        return f"{prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}"

    async def reset_cursor(self) -> None:
        """(Re)create the consumer (``AckPolicy.NONE``) right after the committed sequence
        and a subscription to a new inbox for its messages."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        self._queue.clear()
        self._credit = self._available = 0
        self._stalled = False
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.stream, self.durable)
        committed = await self.tracker.committed_seq()
        start: dict[str, Any] = {"deliver_policy": DeliverPolicy.ALL}
        if committed:
            start = {
                "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                "opt_start_seq": committed + 1,
            }
        config = ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            ack_policy=AckPolicy.NONE,
            max_deliver=-1,
            filter_subject=self.filter_subject,
            **start,
        )
        info = await self.js.add_consumer(self.stream, config)
        self._available = int(info.num_pending or 0)
        nc = self.js._nc
        self._inbox = nc.new_inbox()
        self._sub = await nc.subscribe(self._inbox, cb=self._received)
        self._needs_reset = False

    async def _received(self, msg: Msg) -> None:
        if not msg.data and msg.headers and msg.headers.get("Status"):
            # a request ended short (expired, consumer deleted, ...): start over at the cursor
            log.warning(
                "%s: pull request ended: %s %s",
                self.durable,
                msg.headers.get("Status"),
                msg.headers.get("Description", ""),
            )
            self._stalled = True
        else:
            self._credit -= 1
            self._queue.append(msg)
        self._arrived.set()

    async def _request(self) -> None:
        """Ask for pending messages until ``window`` are outstanding."""
        want = min(self.window - self._credit - len(self._queue), self._available)
        if want < min(self.batch_size, self._available) or want <= 0:
            return
        self._available -= want
        self._credit += want
        body = json.dumps({"batch": want, "expires": int(self.request_expires * 1e9)})
        await self.js._nc.publish(self._next_subject, body.encode(), reply=self._inbox)

    async def _refresh(self) -> None:
        """Learn how many messages the consumer has pending (new ones since it was made)."""
        info = await self.js.consumer_info(self.stream, self.durable)
        self._available = int(info.num_pending or 0)

    async def num_pending(self) -> int:
        if self._sub is None or self._needs_reset:
            await self.reset_cursor()
        if self._queue or self._credit:
            return len(self._queue) + self._credit
        await self._refresh()
        return self._available

    async def fetch(self, timeout: float) -> list[Msg]:
        if self._needs_reset or self._sub is None:
            await self.reset_cursor()
        if not self._queue and not self._credit and not self._available:
            await self._refresh()
        await self._request()
        if not self._queue:
            if self._stalled or not self._credit:
                self._needs_reset = self._stalled
                return []
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
            if not self._queue:
                return []  # still asked for: a request that cannot be filled ends in a status
        n = min(self.batch_size, len(self._queue))
        msgs = [self._queue.popleft() for _ in range(n)]
        await self._request()
        return msgs

    @contextlib.contextmanager
    def _span(self, msg: Msg, event: CloudEvent) -> Iterator[object]:
        yield None


def _handler(projection: Projection) -> Handler:
    if projection.name == timeline.NAME:
        # the live projector's lock is taken once, by the swap, not by every replayed batch
        return timeline.TimelineProjection(lock=False)
    return cast(Handler, projection.handler())


async def rebuild(
    js: JetStreamContext,
    pool: asyncpg.Pool,
    name: str,
    *,
    batch_size: int = 1000,
    before_switch: Callable[[], Awaitable[None]] | None = None,
) -> RebuildReport:
    """Rebuild the read model ``name`` beside the live one and switch over (module doc).

    ``before_switch`` runs after the replay, before the switch (tests: the live model gets
    ahead of the shadow there)."""
    projection = projection_named(name)
    async with pool.acquire() as held:
        # one rebuild of a read model at a time (they would share shadow tables and consumers)
        key = zlib.crc32(f"hub-rebuild:{name}".encode())
        if not await held.fetchval("SELECT pg_try_advisory_lock($1)", key):
            raise RuntimeError(f"a rebuild of {name} is already running")
        try:
            await ensure(pool)
            # a schema upgrade waiting for this rebuild: done once the rows are rebuilt
            waiting = (await pending_rebuilds(pool)).get(name)
            report = await _rebuild(js, pool, projection, batch_size, before_switch)
            if waiting is not None:
                await pool.execute(
                    f"DELETE FROM {PENDING} WHERE projection = $1 AND to_version <= $2",
                    name,
                    waiting,
                )
            return report
        finally:
            await held.execute("SELECT pg_advisory_unlock($1)", key)


async def rebuild_pending(js: JetStreamContext, pool: asyncpg.Pool) -> list[RebuildReport]:
    """Rebuild every read model whose schema version rose since its rows were projected
    (``projections.rebuild_pending``, recorded by :func:`projections.schema.ensure`), one after
    the other, and clear each record: what ``hub up`` runs once the processes are up, so an
    upgrade needs no ``hub projections rebuild``. Read models no longer known are skipped."""
    known = {projection.name for projection in PROJECTIONS}
    reports = []
    for name in await pending_rebuilds(pool):
        if name not in known:
            log.warning("a rebuild of %s is pending, but no such read model exists", name)
            continue
        log.info("the schema of %s changed: rebuilding it", name)
        reports.append(await rebuild(js, pool, name))
    return reports


async def _rebuild(
    js: JetStreamContext,
    pool: asyncpg.Pool,
    projection: Projection,
    batch_size: int,
    before_switch: Callable[[], Awaitable[None]] | None,
) -> RebuildReport:
    name = projection.name
    names = shadow_names(name)
    shadow_positions = f"{name}@rebuild"
    await ensure(pool)
    await _drop_shadow(pool, names)
    await pool.execute(shadow_ddl(name))
    await pool.execute(
        f"DELETE FROM {SCHEMA}.consumer_positions WHERE consumer = $1", shadow_positions
    )
    sources = projection.sources()
    loops: list[ConsumerLoop] = []
    try:
        for service in sources:
            durable = rebuild_durable(service, name)
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream_name(service), durable)
            replay = ReplayLoop(
                js=js,
                pool=pool,
                stream=stream_name(service),
                source=service,
                durable=durable,
                position_name=shadow_positions,
                handler=ShadowHandler(_handler(projection), names),
                schema=SCHEMA,
                batch_size=batch_size,
            )
            await replay.setup()
            loops.append(replay)
        await _drain(loops)
        if before_switch is not None:
            await before_switch()
        rows, catch_ups = await _switch(pool, name, names, sources, loops, shadow_positions)
    finally:
        for loop in loops:
            with contextlib.suppress(Exception):
                await js.delete_consumer(loop.stream, loop.durable)
        with contextlib.suppress(Exception):
            await _drop_shadow(pool, names)
    report = RebuildReport(name, rows, await positions(pool, SCHEMA, name), catch_ups)
    log.info("rebuilt %s: %s rows, positions %s", name, rows, report.positions)
    return report


async def rebuild_all(js: JetStreamContext, pool: asyncpg.Pool) -> list[RebuildReport]:
    """Rebuild every read model, one after the other."""
    return [await rebuild(js, pool, projection.name) for projection in PROJECTIONS]


async def rebuild_timeline(js: JetStreamContext, pool: asyncpg.Pool) -> RebuildReport:
    return await rebuild(js, pool, timeline.NAME)


async def _switch(
    pool: asyncpg.Pool,
    name: str,
    names: dict[str, str],
    sources: list[str],
    loops: list[ConsumerLoop],
    shadow_positions: str,
) -> tuple[int, int]:
    """Catch up with the live model while it is locked out, then swap; returns the rows of the
    projection's first table and how many catch-up rounds it took."""
    # a live row per source to lock: an absent row would let the live projector insert one
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.consumer_positions (consumer, source, position, stream_seq)"
        " VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING",
        [(name, source) for source in sources],
    )
    catch_ups = 0
    async with pool.acquire() as conn, conn.transaction():
        if name == timeline.NAME:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", timeline.LOCK_KEY)
        # the live projector locks these rows first in each transaction: it now waits
        live = {
            row["source"]: int(row["stream_seq"])
            for row in await conn.fetch(
                f"SELECT source, stream_seq FROM {SCHEMA}.consumer_positions"
                " WHERE consumer = $1 ORDER BY source FOR UPDATE",
                name,
            )
        }
        for loop in loops:
            while await _shadow_seq(pool, shadow_positions, loop.source) < live.get(loop.source, 0):
                catch_ups += 1
                if await loop.poll(timeout=0.5) == 0:
                    await asyncio.sleep(0.02)
        for table, shadow in names.items():
            columns = ", ".join(await _columns(conn, shadow))
            await conn.execute(f"DELETE FROM {SCHEMA}.{table}")
            await conn.execute(
                f"INSERT INTO {SCHEMA}.{table} ({columns}) SELECT {columns} FROM {SCHEMA}.{shadow}"
            )
        await conn.execute(
            f"INSERT INTO {SCHEMA}.consumer_positions (consumer, source, position, stream_seq)"
            " SELECT $1, source, position, stream_seq FROM"
            f" {SCHEMA}.consumer_positions WHERE consumer = $2"
            " ON CONFLICT (consumer, source) DO UPDATE SET position = EXCLUDED.position,"
            " stream_seq = EXCLUDED.stream_seq, updated_at = now()",
            name,
            shadow_positions,
        )
        await conn.execute(
            f"DELETE FROM {SCHEMA}.consumer_positions WHERE consumer = $1", shadow_positions
        )
        # the rows locked above for sources with no event yet: no row means the same
        await conn.execute(
            f"DELETE FROM {SCHEMA}.consumer_positions"
            " WHERE consumer = $1 AND position = 0 AND stream_seq = 0",
            name,
        )
        first = next(iter(names))
        rows = int(await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.{first}"))
    return rows, catch_ups


async def _shadow_seq(pool: asyncpg.Pool, consumer: str, source: str) -> int:
    value = await pool.fetchval(
        f"SELECT stream_seq FROM {SCHEMA}.consumer_positions WHERE consumer = $1 AND source = $2",
        consumer,
        source,
    )
    return int(value or 0)


async def _columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        SCHEMA,
        table,
    )
    return [f'"{row["column_name"]}"' for row in rows]


async def _drop_shadow(pool: asyncpg.Pool, names: dict[str, str]) -> None:
    for shadow in names.values():
        await pool.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{shadow}")


async def _drain(loops: list[ConsumerLoop]) -> None:
    for loop in loops:
        while await loop.num_pending() > 0:
            if await loop.poll(timeout=0.5) == 0:
                await asyncio.sleep(0.05)


__all__ = [
    "SHADOW",
    "SHADOW_POSITIONS",
    "RebuildReport",
    "ShadowConnection",
    "ShadowHandler",
    "projection_named",
    "rebuild",
    "rebuild_all",
    "rebuild_durable",
    "rebuild_durables",
    "rebuild_pending",
    "shadow_ddl",
    "source_services",
    "tables",
]
