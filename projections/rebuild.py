"""Rebuild any read model from scratch by replaying the streams, while its projector runs.

A rebuild of projection P:

1. creates a shadow copy of each of P's tables (its ``schema.sql`` with every table and index
   name given the suffix ``_rebuild``), and replays every source stream of P into the shadow
   through P's own handler, whose SQL is redirected to the shadow tables
   (:class:`ShadowConnection`); its positions are kept under ``<P>@rebuild``;
2. then, in one transaction, locks the live projector out (the timeline's advisory lock, and
   the live ``consumer_positions`` rows of P, which the live projector locks first in every
   transaction), lets the shadow catch up to where the live model is, and puts the shadow's
   tables and positions in place of the live ones (``projections.swap``: a table nothing
   else depends on is renamed in, in milliseconds; one the indicators' triggers or views
   read is copied, ``DELETE`` + ``INSERT ... SELECT``). Either way a reader sees the old
   model until the commit and the new one after it, never an empty or a partial one.

The live projector's next transaction then finds the rebuilt positions and treats what it
had fetched as duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from contracts import CloudEvent, Payload, stream_name
from projections.pathway import projector as pathway
from projections.pipeline import PipelinedTracker
from projections.runner import PROJECTIONS, Projection, source_services
from projections.schema import PENDING, ensure, pending_rebuilds
from projections.swap import LOCK_TIMEOUT, Rename, lock_for_rename, rename_in, rename_plan
from projections.timeline import projector as timeline
from services.runtime.consumer import ConsumerLoop, positions
from services.runtime.memory import objects_frozen_while
from services.runtime.projection_base import Handler

log = logging.getLogger(__name__)

SCHEMA = "projections"
SUFFIX = "_rebuild"
#: events per transaction of a replay
BATCH_SIZE = 2000
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
    #: how long the switch took: the live projector waits for it
    switch_s: float = 0.0


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
        self._last: tuple[asyncpg.Connection, asyncpg.Connection] | None = None

    def _shadow(self, conn: asyncpg.Connection) -> asyncpg.Connection:
        """``conn`` redirected to the shadow tables (one wrapper per connection in a row)."""
        if self._last is None or self._last[0] is not conn:
            self._last = (conn, cast(asyncpg.Connection, ShadowConnection(conn, self.names)))
        return self._last[1]

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

    def forget(self) -> None:
        forget = getattr(self.inner, "forget", None)
        if forget is not None:
            forget()


class ReplayLoop(ConsumerLoop):
    """The rebuild's consumer: the projector's loop with a cheaper way to read the stream.

    - no acks: its consumer has ``AckPolicy.NONE`` (the shadow's positions in the database
      are its cursor, as they are the live projector's; after a transient failure or a
      stalled fetch it recreates the consumer after the committed sequence);
    - no waiting for new messages: its pull window (``services.runtime.pull.PullWindow``,
      shared with the live projector) asks only for messages the consumer has pending, up to
      ``window`` outstanding, so each request is filled at once and the server delivers the
      next batches while the current one is applied; a request that ends short (expired,
      the consumer went away) makes it start over at the cursor;
    - each message is decoded as it arrives (while the loop waits for the database to write
      the batch before), not when its batch is applied;
    - no tracing span per event (a replay of history continues no caller's trace, and a
      span per replayed event costs more than applying it).
    """

    acks = False
    follow = False
    #: how long a pull request may wait on the server (it is filled at once unless the
    #: stream lost messages in between; then the loop resets at the cursor)
    request_expires = 30.0

    def _span(self, msg: Msg, event: CloudEvent) -> contextlib.nullcontext[None]:
        return _NO_SPAN


#: the replay's span for every event: none (reusable, and cheaper than a generator's)
_NO_SPAN: contextlib.nullcontext[None] = contextlib.nullcontext()


#: persons whose pathway rows a replay keeps across its batches (about 2 kB each)
PATHWAY_KEPT = 10_000


def _handler(projection: Projection) -> Handler:
    if projection.name == timeline.NAME:
        # the live projector's lock is taken once, by the swap, not by every replayed batch
        return timeline.TimelineProjection(lock=False)
    if projection.name == pathway.NAME:
        # the replay is the only writer of the (new, empty) shadow tables: what it wrote stands
        # in for what it would read back (projections/pipeline.py)
        return pathway.PathwayProjection(keep=PATHWAY_KEPT, fresh=True)
    return cast(Handler, projection.handler())


class SharedReplayFailed(Exception):
    """A handler rejected an event of a replay shared by several read models: the shared
    replay cannot dead-letter it for one of them alone, so the models are rebuilt one by one."""


class FanOutHandler:
    """Several read models' shadow handlers fed by one replay of a stream: each event is
    fetched and decoded once and applied to every model in the same transaction."""

    def __init__(self, handlers: list[Handler]) -> None:
        self.handlers = handlers

    async def begin(self, conn: asyncpg.Connection) -> None:
        for handler in self.handlers:
            await handler.begin(conn)

    async def prepare(
        self, conn: asyncpg.Connection, events: list[tuple[CloudEvent, Payload]]
    ) -> None:
        for handler in self.handlers:
            prepare = getattr(handler, "prepare", None)
            if prepare is not None:
                await prepare(conn, events)

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        for handler in self.handlers:
            await handler.apply(conn, event, payload)

    async def flush(self, conn: asyncpg.Connection) -> None:
        for handler in self.handlers:
            await handler.flush(conn)

    async def committed(self, events: list[CloudEvent]) -> None:
        for handler in self.handlers:
            await handler.committed(events)

    def forget(self) -> None:
        for handler in self.handlers:
            forget = getattr(handler, "forget", None)
            if forget is not None:
                forget()


class SharedReplayLoop(ReplayLoop):
    """A :class:`ReplayLoop` feeding several read models (:class:`FanOutHandler`): an event a
    handler rejects raises :class:`SharedReplayFailed` instead of going to the dead letters
    (the other models would lose it; undecodable events are poison for all of them alike)."""

    def _reason(self, event: CloudEvent, error: Exception) -> str:
        raise SharedReplayFailed(
            f"{self.durable}: a handler rejected event {event.id}: {type(error).__name__}"
        ) from error


def _positions_name(names: list[str]) -> str:
    """The consumer the shadow positions of a rebuild of ``names`` are kept under."""
    return f"{'+'.join(names)}@rebuild"


async def rebuild(
    js: JetStreamContext,
    pool: asyncpg.Pool,
    name: str,
    *,
    batch_size: int = BATCH_SIZE,
    before_switch: Callable[[], Awaitable[None]] | None = None,
) -> RebuildReport:
    """Rebuild the read model ``name`` beside the live one and switch over (module doc).

    ``before_switch`` runs after the replay, before the switch (tests: the live model gets
    ahead of the shadow there)."""
    (report,) = await rebuild_many(
        js, pool, [name], batch_size=batch_size, before_switch=before_switch
    )
    return report


async def rebuild_many(
    js: JetStreamContext,
    pool: asyncpg.Pool,
    names: list[str],
    *,
    batch_size: int = BATCH_SIZE,
    before_switch: Callable[[], Awaitable[None]] | None = None,
) -> list[RebuildReport]:
    """Rebuild the read models ``names`` together: each stream is replayed once, into every
    one of them that reads it (:class:`FanOutHandler`), and they switch over in one
    transaction. Should a handler reject an event, they are rebuilt one after the other
    instead (each dead-letters what it cannot apply, as its live projector does)."""
    projections = [projection_named(name) for name in dict.fromkeys(names)]
    keys = sorted(zlib.crc32(f"hub-rebuild:{p.name}".encode()) for p in projections)
    async with pool.acquire() as held:
        # one rebuild of a read model at a time (they would share shadow tables and consumers)
        locked = []
        try:
            for key in keys:
                if not await held.fetchval("SELECT pg_try_advisory_lock($1)", key):
                    busy = ", ".join(p.name for p in projections)
                    raise RuntimeError(f"a rebuild of {busy} is already running")
                locked.append(key)
            await ensure(pool)
            # a schema upgrade waiting for this rebuild: done once the rows are rebuilt
            waiting = await pending_rebuilds(pool)
            with objects_frozen_while():
                try:
                    reports = await _rebuild(js, pool, projections, batch_size, before_switch)
                except SharedReplayFailed as error:
                    log.warning("%s; rebuilding the read models one by one", error)
                    reports = []
                    for projection in projections:
                        reports += await _rebuild(js, pool, [projection], batch_size, before_switch)
            for projection in projections:
                if projection.name in waiting:
                    await pool.execute(
                        f"DELETE FROM {PENDING} WHERE projection = $1 AND to_version <= $2",
                        projection.name,
                        waiting[projection.name],
                    )
            return reports
        finally:
            for key in locked:
                await held.execute("SELECT pg_advisory_unlock($1)", key)


async def rebuild_pending(js: JetStreamContext, pool: asyncpg.Pool) -> list[RebuildReport]:
    """Rebuild every read model whose schema version rose since its rows were projected
    (``projections.rebuild_pending``, recorded by :func:`projections.schema.ensure`), together
    (:func:`rebuild_many`), and clear each record: what ``hub up`` runs once the processes are
    up, so an upgrade needs no ``hub projections rebuild``. Read models no longer known are
    skipped."""
    known = {projection.name for projection in PROJECTIONS}
    names = []
    for name in await pending_rebuilds(pool):
        if name not in known:
            log.warning("a rebuild of %s is pending, but no such read model exists", name)
            continue
        log.info("the schema of %s changed: rebuilding it", name)
        names.append(name)
    return await rebuild_many(js, pool, names) if names else []


async def _rebuild(
    js: JetStreamContext,
    pool: asyncpg.Pool,
    projections: list[Projection],
    batch_size: int,
    before_switch: Callable[[], Awaitable[None]] | None,
) -> list[RebuildReport]:
    shadows = {p.name: shadow_names(p.name) for p in projections}
    shadow_positions = _positions_name([p.name for p in projections])
    started = time.perf_counter()
    await ensure(pool)
    for projection in projections:
        await _drop_shadow(pool, shadows[projection.name])
        await pool.execute(shadow_ddl(projection.name))
    await pool.execute(
        f"DELETE FROM {SCHEMA}.consumer_positions WHERE consumer = $1", shadow_positions
    )
    sources = list(dict.fromkeys(s for p in projections for s in p.sources()))
    loops: list[ConsumerLoop] = []
    try:
        for service in sources:
            readers = [p for p in projections if service in p.sources()]
            handlers: list[Handler] = [
                cast(Handler, ShadowHandler(_handler(p), shadows[p.name])) for p in readers
            ]
            durable = rebuild_durable(service, readers[0].name)
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream_name(service), durable)
            kind = SharedReplayLoop if len(readers) > 1 else ReplayLoop
            tracker = PipelinedTracker(
                js=js,
                stream=stream_name(service),
                pool=pool,
                schema=SCHEMA,
                handler=handlers[0] if len(handlers) == 1 else FanOutHandler(handlers),
                position_name=shadow_positions,
                source=service,
                consumer=durable,
            )
            replay = kind(
                js=js,
                stream=stream_name(service),
                source=service,
                durable=durable,
                tracker=tracker,
                batch_size=batch_size,
            )
            await replay.setup()
            loops.append(replay)
        ready = time.perf_counter()
        await _drain(loops)
        replayed = time.perf_counter()
        if before_switch is not None:
            await before_switch()
        switching = time.perf_counter()
        rows, catch_ups = await _switch(pool, projections, shadows, loops, shadow_positions)
        switch_s = time.perf_counter() - switching
        log.info(
            "rebuild of %s: set up in %.2f s, replayed %s events in %.2f s, switched in %.2f s",
            "+".join(shadows),
            ready - started,
            sum(loop.stats.applied + loop.stats.duplicates - _rolled_back(loop) for loop in loops),
            replayed - ready,
            time.perf_counter() - replayed,
        )
    finally:
        for loop in loops:
            if isinstance(loop.tracker, PipelinedTracker):
                with contextlib.suppress(Exception):
                    await loop.tracker.finish()
            with contextlib.suppress(Exception):
                await js.delete_consumer(loop.stream, loop.durable)
        for projection in projections:
            with contextlib.suppress(Exception):
                await _drop_shadow(pool, shadows[projection.name])
        with contextlib.suppress(Exception):  # left behind by a replay that failed
            await pool.execute(
                f"DELETE FROM {SCHEMA}.consumer_positions WHERE consumer = $1", shadow_positions
            )
    reports = []
    for projection in projections:
        name = projection.name
        report = RebuildReport(
            name, rows[name], await positions(pool, SCHEMA, name), catch_ups, switch_s
        )
        log.info("rebuilt %s: %s rows, positions %s", name, report.rows, report.positions)
        reports.append(report)
    return reports


async def rebuild_all(js: JetStreamContext, pool: asyncpg.Pool) -> list[RebuildReport]:
    """Rebuild every read model, together (:func:`rebuild_many`)."""
    return await rebuild_many(js, pool, [projection.name for projection in PROJECTIONS])


async def rebuild_timeline(js: JetStreamContext, pool: asyncpg.Pool) -> RebuildReport:
    return await rebuild(js, pool, timeline.NAME)


async def _switch(
    pool: asyncpg.Pool,
    projections: list[Projection],
    shadows: dict[str, dict[str, str]],
    loops: list[ConsumerLoop],
    shadow_positions: str,
) -> tuple[dict[str, int], int]:
    """Catch up with the live models while they are locked out, then swap; returns the rows
    of each projection's first table and how many catch-up rounds it took."""
    names = [p.name for p in projections]
    # a live row per source to lock: an absent row would let the live projector insert one
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.consumer_positions (consumer, source, position, stream_seq)"
        " VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING",
        [(p.name, source) for p in projections for source in p.sources()],
    )
    # first planner statistics for the tables that may be renamed in (the copied ones keep
    # theirs): from a small sample, so it takes milliseconds, not a second of a large
    # model; the autovacuum analyses them in full later
    every_shadow = [f"{SCHEMA}.{s}" for names in shadows.values() for s in names.values()]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL default_statistics_target = 10")
        await conn.execute("ANALYZE " + ", ".join(every_shadow))
    catch_ups = 0
    rows: dict[str, int] = {}
    async with pool.acquire() as conn, conn.transaction():
        if timeline.NAME in names:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", timeline.LOCK_KEY)
        # the live projector locks these rows first in each transaction: it now waits
        live: dict[str, int] = {}
        for row in await conn.fetch(
            f"SELECT source, stream_seq FROM {SCHEMA}.consumer_positions"
            " WHERE consumer = ANY($1::text[]) ORDER BY consumer, source FOR UPDATE",
            names,
        ):
            live[row["source"]] = max(live.get(row["source"], 0), int(row["stream_seq"]))
        for loop in loops:
            while await _shadow_seq(pool, shadow_positions, loop.source) < live.get(loop.source, 0):
                catch_ups += 1
                if await loop.poll(timeout=0.5) == 0:
                    await asyncio.sleep(0.02)
        # the copies replace whole tables: the indicators' triggers then recompute the
        # families they feed at the commit instead of marking every person
        await conn.execute("SELECT set_config('hub.indicators_whole', 'on', true)")
        renames: list[Rename] = []
        for projection in projections:
            name = projection.name
            first = next(iter(shadows[name].values()))  # the shadow of the first table
            rows[name] = int(await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.{first}"))
            for table, shadow in shadows[name].items():
                plan = await rename_plan(conn, SCHEMA, table, shadow)
                if plan is None:
                    await _copy(conn, table, shadow)
                else:
                    renames.append(plan)
            await conn.execute(
                f"INSERT INTO {SCHEMA}.consumer_positions (consumer, source, position, stream_seq)"
                " SELECT $1, source, position, stream_seq FROM"
                f" {SCHEMA}.consumer_positions WHERE consumer = $2 AND source = ANY($3::text[])"
                " ON CONFLICT (consumer, source) DO UPDATE SET position = EXCLUDED.position,"
                " stream_seq = EXCLUDED.stream_seq, updated_at = now()",
                name,
                shadow_positions,
                projection.sources(),
            )
            # the rows locked above for sources with no event yet: no row means the same
            await conn.execute(
                f"DELETE FROM {SCHEMA}.consumer_positions"
                " WHERE consumer = $1 AND position = 0 AND stream_seq = 0",
                name,
            )
        await conn.execute(
            f"DELETE FROM {SCHEMA}.consumer_positions WHERE consumer = $1", shadow_positions
        )
        # what the copies' triggers deferred (the indicators' refresh) runs now, so that the
        # renamed tables are locked only for the renames and the commit
        await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if await lock_for_rename(conn, renames):
            for plan in renames:
                await rename_in(conn, plan)
        else:
            log.warning(
                "rebuild: a reader held %s longer than %s: copying their rows instead",
                ", ".join(plan.live for plan in renames),
                LOCK_TIMEOUT,
            )
            for plan in renames:
                await _copy(conn, plan.live, plan.shadow)
    return rows, catch_ups


async def _shadow_seq(pool: asyncpg.Pool, consumer: str, source: str) -> int:
    value = await pool.fetchval(
        f"SELECT stream_seq FROM {SCHEMA}.consumer_positions WHERE consumer = $1 AND source = $2",
        consumer,
        source,
    )
    return int(value or 0)


async def _copy(conn: asyncpg.Connection, table: str, shadow: str) -> None:
    """Replace the live table's rows with the shadow's (``DELETE`` rather than ``TRUNCATE``:
    MVCC-safe, a reader sees the old rows until the commit and is never blocked)."""
    columns = ", ".join(await _columns(conn, shadow))
    await conn.execute(f"DELETE FROM {SCHEMA}.{table}")
    await conn.execute(
        f"INSERT INTO {SCHEMA}.{table} ({columns}) SELECT {columns} FROM {SCHEMA}.{shadow}"
    )


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
    """Replay each stream to its end, then wait for its last batch to commit (a batch whose
    write failed is applied again from the cursor); the switch's catch-up then applies each
    batch in its own transaction, without the pipeline."""
    for loop in loops:
        while True:
            while await loop.num_pending() > 0:
                if await loop.poll(timeout=0.5) == 0:
                    await asyncio.sleep(0.05)
            tracker = loop.tracker
            if not isinstance(tracker, PipelinedTracker):
                break
            if await tracker.finish():
                tracker.pipelined = False
                break
            loop._needs_reset = True  # start over at the committed cursor


def _rolled_back(loop: ConsumerLoop) -> int:
    tracker = loop.tracker
    return tracker.rolled_back if isinstance(tracker, PipelinedTracker) else 0


__all__ = [
    "SHADOW",
    "SHADOW_POSITIONS",
    "FanOutHandler",
    "RebuildReport",
    "ShadowConnection",
    "ShadowHandler",
    "projection_named",
    "rebuild",
    "rebuild_all",
    "rebuild_durable",
    "rebuild_durables",
    "rebuild_many",
    "rebuild_pending",
    "shadow_ddl",
    "source_services",
    "tables",
]
