"""The replay's apply side: a batch is applied in Python while PostgreSQL writes the one before.

A replay (``projections.rebuild``) is the only writer of its shadow tables, and its cursor is
the shadow's position row, written in the same transaction as the batch. So the loop need not
wait for a batch's commit before it applies the next one: :class:`PipelinedTracker` applies a
batch through a :class:`DeferredConnection`, which keeps the handler's statements instead of
running them, and hands them, with the position, to a writer task that runs them in one
transaction on a connection of its own, in order, while the loop fetches and applies the next
batch. One batch is in flight at a time: a batch applied while the one before is still being
written waits for it before its own statements go.

A handler that reads (``fetch``, ``fetchrow``, ``fetchval``) makes its batch synchronous: the
read waits for the batch in flight, then the batch's statements so far run in a transaction
and the rest of the batch runs there as the live projector's would (so a read sees every
write before it). The pathway reads nothing once its persons are known: it keeps the persons'
rows and periods it wrote across a replay's batches (``PathwayProjection(keep=...)``).

A deferred ``execute`` returns ``""``: its status is not known yet (no handler uses it).

Failures: an exception while a batch is applied is raised as before, once the batch in flight
is written (and everything the handlers kept across batches is forgotten). A batch whose write
fails is found when the next batch is applied (or the replay settles): the tracker then
forgets what it kept, and reports the batch it was applying as not handled, so the loop starts
over at the committed cursor; the messages up to the last one it had applied are then applied
one transaction at a time as before (the live projector's path), where the failure shows
itself again and is handled as it always was (backoff, isolation, dead letter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any, cast

import asyncpg

from contracts import CloudEvent
from services.runtime.consumer import Delivery, SpanFactory
from services.runtime.projection_base import ReadModelTracker, stream_sequence

log = logging.getLogger(__name__)

#: a statement kept for the writer: (executemany?, query, args, kwargs)
Statement = tuple[bool, str, tuple[Any, ...], dict[str, Any]]


class BatchInFlightFailed(Exception):
    """The batch before failed to commit: the one being applied is given up too."""


class DeferredConnection:
    """What a handler sees of the database while its batch is applied in a pipelined replay:
    ``execute`` and ``executemany`` are kept in order for the writer; a read first makes the
    batch synchronous (:meth:`PipelinedTracker._go_live`) and runs everything from then on."""

    def __init__(self, tracker: PipelinedTracker) -> None:
        self._tracker = tracker
        self.statements: list[Statement] = []
        self.live: asyncpg.Connection | None = None

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        if self.live is not None:
            return str(await self.live.execute(query, *args, **kwargs))
        self.statements.append((False, query, args, kwargs))
        return ""

    async def executemany(self, query: str, args: Iterable[Any], **kwargs: Any) -> None:
        if self.live is not None:
            await self.live.executemany(query, args, **kwargs)
            return
        self.statements.append((True, query, (list(args),), kwargs))

    async def _conn(self) -> asyncpg.Connection:
        if self.live is None:
            self.live = await self._tracker._go_live(self.statements)
            self.statements = []
        return self.live

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        return list(await (await self._conn()).fetch(query, *args, **kwargs))

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> asyncpg.Record | None:
        return await (await self._conn()).fetchrow(query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await (await self._conn()).fetchval(query, *args, **kwargs)


async def run_statements(conn: asyncpg.Connection, statements: list[Statement]) -> None:
    for many, query, args, kwargs in statements:
        if many:
            await conn.executemany(query, args[0], **kwargs)
        else:
            await conn.execute(query, *args, **kwargs)


class PipelinedTracker(ReadModelTracker):
    """A :class:`ReadModelTracker` for a replay (module doc): each batch's statements and
    position are written by a writer task while the next batch is applied; the committed
    position is kept in memory between batches. ``pipelined = False`` (after :meth:`settle`)
    makes it the plain tracker again (the switch's catch-up)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipelined = True
        #: events applied in batches whose write failed (counted as applied by the loop)
        self.rolled_back = 0
        self._conn: asyncpg.Connection | None = None
        self._inflight: asyncio.Task[None] | None = None
        self._inflight_events = 0
        self._inflight_last = 0
        #: (position, stream sequence) after the last batch handed to the writer
        self._known: tuple[int, int] | None = None
        #: messages up to this stream sequence are applied one transaction at a time (they
        #: are being applied again after a failed write)
        self._sync_until = 0
        self._live_tx: Any = None

    # -- the writer ------------------------------------------------------------------------

    async def _writer_conn(self) -> asyncpg.Connection:
        if self._conn is None:
            conn = await self.pool.acquire()
            try:
                if not self.synchronous_commit:  # the pool's reset (RESET ALL) undoes it
                    await conn.execute("SET synchronous_commit TO off")
            except BaseException:
                await self.pool.release(conn)
                raise
            self._conn = conn
        return self._conn

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await self.pool.release(conn)

    async def _write(self, statements: list[Statement], events: list[CloudEvent]) -> None:
        conn = await self._writer_conn()
        async with conn.transaction():
            await run_statements(conn, statements)
        if events:
            await self.handler.committed(events)

    async def settle(self) -> bool:
        """Wait for the batch in flight; False if its write failed (what was kept is then
        forgotten and the messages up to the last one applied are to be applied again)."""
        task, self._inflight = self._inflight, None
        if task is None:
            return True
        try:
            await task
        except Exception as error:
            self._failed(error, self._inflight_last, self._inflight_events)
            await self._release()
            return False
        return True

    def _failed(self, error: BaseException, last_seq: int, events: int) -> None:
        log.warning(
            "%s: a batch of the replay failed to commit (%s: %s); applying again from the"
            " committed position",
            self.consumer,
            type(error).__name__,
            error,
        )
        self.rolled_back += events
        self._sync_until = max(self._sync_until, last_seq)
        self._forget()

    def _forget(self) -> None:
        """What the handlers and the tracker kept across batches may not be committed."""
        self._known = None
        forget = getattr(self.handler, "forget", None)
        if forget is not None:
            forget()

    async def finish(self) -> bool:
        """Settle and give the writer's connection back (see :meth:`settle`)."""
        ok = await self.settle()
        await self._release()
        return ok

    # -- the tracker's interface -----------------------------------------------------------

    async def committed_seq(self) -> int:
        await self.settle()  # a failed batch in flight: the database says where it stands
        return await super().committed_seq()

    async def skip(self, msg: Any) -> None:
        await self.settle()
        self._known = None
        await super().skip(msg)

    async def _go_live(self, statements: list[Statement]) -> asyncpg.Connection:
        """A read in the batch being applied: wait for the batch in flight, then open this
        batch's transaction and run its statements so far."""
        if not await self.settle():
            raise BatchInFlightFailed
        conn = await self._writer_conn()
        tx = conn.transaction()
        await tx.start()
        self._live_tx = tx
        await run_statements(conn, statements)
        return conn

    async def apply(self, batch: list[Delivery], span: SpanFactory) -> tuple[int, int]:
        if not self.pipelined or stream_sequence(batch[0][0]) <= self._sync_until:
            if not await self.settle():
                return 0, 0
            await self._release()
            self._known = None
            try:
                return await super().apply(batch, span)
            except BaseException:
                self._forget()
                raise
        conn = DeferredConnection(self)
        try:
            return await self._apply(conn, batch, span)
        except BatchInFlightFailed:
            await self._end_live(commit=False)
            self._forget()
            self._sync_until = max(self._sync_until, stream_sequence(batch[-1][0]))
            return 0, 0
        except BaseException:
            await self._end_live(commit=False)
            if not await self.settle():
                self._sync_until = max(self._sync_until, stream_sequence(batch[-1][0]))
                return 0, 0
            self._forget()
            raise

    async def _end_live(self, *, commit: bool) -> None:
        """Commit or roll back the transaction a read opened (see :meth:`_go_live`)."""
        tx, self._live_tx = self._live_tx, None
        if tx is None:
            return
        try:
            if commit:
                await tx.commit()
            else:
                await tx.rollback()
        except BaseException:
            await self._release()  # it may be broken
            if commit:
                raise

    def _busy(self) -> bool:
        return self._inflight is not None and not self._inflight.done()

    async def _between_events(self) -> None:
        if self._busy():
            await asyncio.sleep(0)  # the writer's next round trip

    async def _apply(
        self, conn: DeferredConnection, batch: list[Delivery], span: SpanFactory
    ) -> tuple[int, int]:
        if self._known is None:
            if not await self.settle():
                raise BatchInFlightFailed
            self._known = await self._read_committed()
        position, committed_seq = self._known
        applied: list[CloudEvent] = []
        db = cast(asyncpg.Connection, conn)
        await self.handler.begin(db)
        position, committed_seq, handled = await self._apply_run(
            db, batch, span, position, committed_seq, applied
        )
        if applied:
            await self.handler.flush(db)
        if handled:
            await self._save(db, position, committed_seq)
        if conn.live is not None:  # a read made this batch synchronous
            await self._end_live(commit=True)
            self._known = (position, committed_seq)
            if applied:
                await self.handler.committed(applied)
            return handled, len(applied)
        if not await self.settle():
            raise BatchInFlightFailed
        self._known = (position, committed_seq)
        if conn.statements:
            self._inflight = asyncio.create_task(self._write(conn.statements, applied))
            self._inflight_events = len(applied)
            self._inflight_last = committed_seq
        return handled, len(applied)

    async def _read_committed(self) -> tuple[int, int]:
        row = await self.pool.fetchrow(
            f"SELECT position, stream_seq FROM {self.schema}.consumer_positions"
            " WHERE consumer = $1 AND source = $2",
            self.position_name,
            self.source,
        )
        return (int(row["position"]), int(row["stream_seq"])) if row else (0, 0)
