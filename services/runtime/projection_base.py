"""What a projection brings to the consumer loop: its handler, the dispatch of events to that
handler's functions, and the tracker that writes the handler's effects and the projection's
position in one asyncpg transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts import CloudEvent, Payload
from services.runtime.database import check_identifier

if TYPE_CHECKING:
    from services.runtime.consumer import Delivery, SpanFactory

log = logging.getLogger(__name__)

#: applied events between two calls of ``ReadModelTracker._between_events``
YIELD_EVERY = 16

C = TypeVar("C")
R = TypeVar("R")
P = TypeVar("P", bound=Payload)
P2 = TypeVar("P2", bound=Payload)
P3 = TypeVar("P3", bound=Payload)

#: A function that applies one kind of event: to what it works on (a connection, or a
#: projection's view of one), the event, and its payload.
EventHandler = Callable[[C, CloudEvent, P], Awaitable[R]]


class Handler(Protocol):
    """Applies contract events to a read model or reacts to them."""

    async def begin(self, conn: asyncpg.Connection) -> None:
        """Called first in every transaction (e.g. to take a lock)."""

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        """Apply one event. Runs inside the loop's transaction.

        A handler may also have ``prepare(conn, events)`` (events: a list of (event,
        payload)), called after ``begin`` with the batch about to be applied (duplicates
        included), e.g. to read the rows the batch will change in one statement."""

    async def flush(self, conn: asyncpg.Connection) -> None:
        """Write what ``apply`` buffered; called before the transaction commits."""

    async def committed(self, events: list[CloudEvent]) -> None:
        """Called after a transaction with these (new) events committed."""


class Dispatch(Generic[C, R]):
    """A projection's event handlers by payload type: one place that says which function
    applies which event.

    Register a function with ``@dispatch.handles(cm.CaseClosed)``. The decorator binds the
    function's payload parameter to the registered type, so the type checker rejects a
    function registered for a type it does not accept. Name several types to register one
    function for each of them (up to three; its payload parameter is then their union).

    Calling the dispatch runs the function registered for the most specific class of the
    payload (register ``Payload`` itself for a fallback) and returns its result; a payload
    of a type without one is ignored (the result is None).
    """

    def __init__(self) -> None:
        self._handlers: dict[type[Payload], EventHandler[C, Any, R]] = {}
        self._resolved: dict[type[Payload], EventHandler[C, Any, R] | None] = {}

    @overload
    def handles(
        self, kind: type[P], /
    ) -> Callable[[EventHandler[C, P, R]], EventHandler[C, P, R]]: ...

    @overload
    def handles(
        self, kind: type[P], kind2: type[P2], /
    ) -> Callable[[EventHandler[C, P | P2, R]], EventHandler[C, P | P2, R]]: ...

    @overload
    def handles(
        self, kind: type[P], kind2: type[P2], kind3: type[P3], /
    ) -> Callable[[EventHandler[C, P | P2 | P3, R]], EventHandler[C, P | P2 | P3, R]]: ...

    def handles(
        self, *kinds: type[Payload]
    ) -> Callable[[EventHandler[C, Any, R]], EventHandler[C, Any, R]]:
        def register(handler: EventHandler[C, Any, R]) -> EventHandler[C, Any, R]:
            for kind in kinds:
                if kind in self._handlers:
                    raise ValueError(f"{kind.__name__} already has a handler")
            for kind in kinds:
                self._handlers[kind] = handler
            self._resolved.clear()
            return handler

        return register

    @property
    def types(self) -> frozenset[type[Payload]]:
        """The payload types with a handler of their own."""
        return frozenset(self._handlers)

    def handler_for(self, kind: type[Payload]) -> EventHandler[C, Any, R] | None:
        """The handler of the most specific class of ``kind`` that has one."""
        try:
            return self._resolved[kind]
        except KeyError:
            found = next((self._handlers[k] for k in kind.__mro__ if k in self._handlers), None)
            self._resolved[kind] = found
            return found

    async def __call__(self, on: C, event: CloudEvent, payload: Payload) -> R | None:
        handler = self.handler_for(type(payload))
        if handler is None:
            return None
        return await handler(on, event, payload)


class NoHooks:
    """``begin``, ``flush`` and ``committed`` that do nothing (see ``Handler``)."""

    async def begin(self, conn: asyncpg.Connection) -> None:
        return None

    async def flush(self, conn: asyncpg.Connection) -> None:
        return None

    async def committed(self, events: list[CloudEvent]) -> None:
        return None


async def ensure_positions_table(conn: asyncpg.Connection | asyncpg.Pool, schema: str) -> None:
    """Create ``<schema>.consumer_positions`` unless it exists (a process's role may create
    nothing: after the provisioning this only looks)."""
    table = f"{check_identifier(schema)}.consumer_positions"
    if await conn.fetchval("SELECT to_regclass($1)", table) is not None:
        return
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {check_identifier(schema)}.consumer_positions ("
        " consumer text NOT NULL, source text NOT NULL, position bigint NOT NULL,"
        " stream_seq bigint NOT NULL DEFAULT 0,"
        " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, source))"
    )


def stream_sequence(msg: Msg) -> int:
    """The stream sequence of a JetStream message, from its reply subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``,
    or the form with domain and account hash): what ``msg.metadata`` gives, without parsing
    the rest of it for every message."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5])
    return int(msg.metadata.sequence.stream)


def _follows(seq: int, committed_seq: int) -> bool:
    """Is stream message ``seq`` the next one after ``committed_seq`` (or the first ever)?"""
    return seq == committed_seq + 1 or committed_seq == 0


class ReadModelTracker:
    """A projection's effect and position: the handler's writes and its ``consumer_positions``
    row (stream sequence and source position) in one asyncpg transaction.

    The database is the cursor: an event at or before the committed position is a duplicate,
    and one that arrives past a gap in the stream sequence stops the batch (the consumer loop
    then recreates its consumer after the committed sequence).
    """

    database_cursor = True
    #: Whether a batch's commit waits for its WAL flush. It need not: the stream keeps every
    #: message (limits retention) and the database is the cursor, so a batch that a crash of
    #: PostgreSQL loses after its commit (at most the WAL writer's last fraction of a second)
    #: is applied again from the stream: the consumer finds the next message past the
    #: committed sequence and recreates itself there. No handler has an effect outside the
    #: transaction. This spares an fsync per batch, which live (small batches) is most of
    #: the projector's database time.
    synchronous_commit = False

    def __init__(
        self,
        *,
        js: JetStreamContext,
        stream: str,
        pool: asyncpg.Pool,
        schema: str,
        handler: Handler,
        position_name: str,
        source: str,
        consumer: str,
    ) -> None:
        self.js = js
        self.stream = stream
        self.pool = pool
        self.schema = check_identifier(schema)
        self.handler = handler
        self.position_name = position_name
        self.source = source
        self.consumer = consumer

    async def setup(self) -> None:
        await ensure_positions_table(self.pool, self.schema)

    async def committed_seq(self) -> int:
        value = await self.pool.fetchval(
            f"SELECT stream_seq FROM {self.schema}.consumer_positions"
            " WHERE consumer = $1 AND source = $2",
            self.position_name,
            self.source,
        )
        return int(value or 0)

    async def _committed(self, conn: asyncpg.Connection) -> tuple[int, int]:
        row = await conn.fetchrow(
            f"SELECT position, stream_seq FROM {self.schema}.consumer_positions"
            " WHERE consumer = $1 AND source = $2 FOR UPDATE",
            self.position_name,
            self.source,
        )
        return (int(row["position"]), int(row["stream_seq"])) if row else (0, 0)

    async def _save(self, conn: asyncpg.Connection, position: int, stream_seq: int) -> None:
        await conn.execute(
            f"INSERT INTO {self.schema}.consumer_positions"
            " (consumer, source, position, stream_seq) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (consumer, source) DO UPDATE SET position = EXCLUDED.position,"
            " stream_seq = EXCLUDED.stream_seq, updated_at = now()",
            self.position_name,
            self.source,
            position,
            stream_seq,
        )

    async def _in_order(self, seq: int, committed_seq: int) -> bool:
        """Is ``seq`` the next message? A gap is fine only where the stream lost messages."""
        if _follows(seq, committed_seq):
            return True
        info = await self.js.stream_info(self.stream)
        return bool(info.state.first_seq > committed_seq + 1 or info.state.num_deleted)

    async def skip(self, msg: Msg) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            position, committed_seq = await self._committed(conn)
            seq = msg.metadata.sequence.stream
            if _follows(seq, committed_seq):
                await self._save(conn, position, seq)

    async def _apply_run(
        self,
        conn: asyncpg.Connection,
        batch: list[Delivery],
        span: SpanFactory,
        position: int,
        committed_seq: int,
        applied: list[CloudEvent],
    ) -> tuple[int, int, int]:
        """Apply ``batch`` on ``conn`` after (``position``, ``committed_seq``): what was
        applied before is skipped, a gap ends the run. Appends what it applied to
        ``applied``; returns the new position, committed sequence and how many leading
        deliveries are handled. Flushing and saving the position are the caller's."""
        handled = 0
        prepare = getattr(self.handler, "prepare", None)
        if prepare is not None:
            await prepare(conn, [(event, payload) for _, event, payload in batch])
        for n, (msg, event, payload) in enumerate(batch):
            seq = stream_sequence(msg)
            if seq <= committed_seq or event.sourceposition <= position:
                committed_seq = max(committed_seq, seq)
                handled += 1
                continue
            # (the usual case, the next message, without a coroutine)
            if not _follows(seq, committed_seq) and not await self._in_order(seq, committed_seq):
                log.warning(
                    "%s: stream seq %s arrived after %s; resetting the cursor",
                    self.consumer,
                    seq,
                    committed_seq,
                )
                break
            with span(msg, event):
                await self.handler.apply(conn, event, payload)
            position, committed_seq = event.sourceposition, seq
            applied.append(event)
            handled += 1
            if n % YIELD_EVERY == YIELD_EVERY - 1:
                await self._between_events()
        return position, committed_seq, handled

    async def _between_events(self) -> None:
        """Called after every ``YIELD_EVERY`` applied events (a pipelined replay lets its
        writer go on here)."""

    async def apply(self, batch: list[Delivery], span: SpanFactory) -> tuple[int, int]:
        applied: list[CloudEvent] = []
        handled = 0
        async with self.pool.acquire() as conn, conn.transaction():
            if not self.synchronous_commit:
                await conn.execute("SET LOCAL synchronous_commit TO off")
            await self.handler.begin(conn)
            position, committed_seq = await self._committed(conn)
            position, committed_seq, handled = await self._apply_run(
                conn, batch, span, position, committed_seq, applied
            )
            if applied:
                await self.handler.flush(conn)
            if handled:
                await self._save(conn, position, committed_seq)
        if applied:
            await self.handler.committed(applied)
        return handled, len(applied)
