"""The consumer loop: durable pull consumer, explicit ack, effect + position in one transaction.

A handler applies contract events to its own tables inside a transaction the loop opens; the
loop records, in the same transaction, how far it has read the stream (stream sequence) and
the source service's log (the envelope's ``sourceposition``), so a redelivered message changes
nothing. Messages that cannot be decoded or that the handler rejects as invalid are published
to the dead-letter subject with the reason and ``term()``ed; transient failures are ``nak``ed
with a delay.

Order matters to read models, and JetStream redelivers an unacked message only after its ack
wait, possibly after newer ones. So the database, not the server, is the cursor: on start the
loop recreates its durable consumer at the sequence after the last one it committed, and if a
message ever arrives past a gap, it applies nothing beyond the gap and resets the cursor the
same way. Events are therefore applied exactly once and in stream order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace

from contracts import REGISTRY, CloudEvent, ContractError, Payload, dead_letter_subject
from services.runtime import telemetry
from services.runtime.database import check_identifier
from services.runtime.messaging import ensure_dead_letter_stream

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.InterfaceError,
)


class PoisonMessage(Exception):
    """Raised by a handler for an event it can never apply; goes to the dead-letter subject."""


class Handler(Protocol):
    """Applies contract events to a read model or reacts to them."""

    async def begin(self, conn: asyncpg.Connection) -> None:
        """Called first in every transaction (e.g. to take a lock)."""

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        """Apply one event. Runs inside the loop's transaction."""

    async def flush(self, conn: asyncpg.Connection) -> None:
        """Write what ``apply`` buffered; called before the transaction commits."""

    async def committed(self, events: list[CloudEvent]) -> None:
        """Called after a transaction with these (new) events committed."""


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    naked: int = 0
    last_reason: str | None = None
    reasons: list[str] = field(default_factory=list)


def source_key(event: CloudEvent) -> str:
    """``/hub/foreigners_authority`` -> ``foreigners_authority``."""
    return event.source.rsplit("/", 1)[-1]


async def ensure_positions_table(conn: asyncpg.Connection | asyncpg.Pool, schema: str) -> None:
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {check_identifier(schema)}.consumer_positions ("
        " consumer text NOT NULL, source text NOT NULL, position bigint NOT NULL,"
        " stream_seq bigint NOT NULL DEFAULT 0,"
        " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, source))"
    )


class ConsumerLoop:
    """Runs one durable pull consumer for one handler on one source service's stream."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        stream: str,
        source: str,
        durable: str,
        handler: Handler,
        schema: str,
        position_name: str | None = None,
        batch_size: int = 500,
        nak_delay: float = 2.0,
        fetch_timeout: float = 2.0,
    ) -> None:
        self.js = js
        self.pool = pool
        self.stream = stream
        self.source = source
        self.durable = check_identifier(durable)
        self.handler = handler
        self.schema = check_identifier(schema)
        self.position_name = position_name or durable
        self.batch_size = batch_size
        self.nak_delay = nak_delay
        self.fetch_timeout = fetch_timeout
        self.stats = ConsumerStats()
        self._tracer = telemetry.tracer("hub.consumer")
        self._sub: Any = None
        self._needs_reset = False

    async def setup(self) -> None:
        """Create the tables, and the durable consumer at the committed stream position."""
        await ensure_dead_letter_stream(self.js)
        await ensure_positions_table(self.pool, self.schema)
        await self.reset_cursor()

    async def committed_stream_seq(self) -> int:
        value = await self.pool.fetchval(
            f"SELECT stream_seq FROM {self.schema}.consumer_positions"
            " WHERE consumer = $1 AND source = $2",
            self.position_name,
            self.source,
        )
        return int(value or 0)

    async def reset_cursor(self) -> None:
        """(Re)create the durable consumer right after the last committed stream sequence."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.stream, self.durable)
        committed = await self.committed_stream_seq()
        start = (
            {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": committed + 1}
            if committed
            else {"deliver_policy": DeliverPolicy.ALL}
        )
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=60,
            max_deliver=-1,
            max_ack_pending=max(self.batch_size * 4, 1000),
            **start,
        )
        self._sub = await self.js.pull_subscribe(
            "", durable=self.durable, stream=self.stream, config=config
        )
        self._needs_reset = False

    async def num_pending(self) -> int:
        info = await self._sub.consumer_info()
        return int(info.num_pending) + int(info.num_ack_pending)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; a fetch in progress is abandoned at once."""
        if self._sub is None:
            await self.setup()
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.create_task(self.fetch(self.fetch_timeout))
                done, _ = await asyncio.wait({fetch, stopper}, return_when="FIRST_COMPLETED")
                if fetch not in done:
                    fetch.cancel()  # what it got is redelivered: the next start resets
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await fetch
                    break
                try:
                    await self.process(fetch.result())
                except TRANSIENT_ERRORS as error:
                    log.warning("%s: %s; retrying", self.durable, error)
                    await asyncio.sleep(self.nak_delay)
                    self._needs_reset = True
        finally:
            stopper.cancel()

    async def fetch(self, timeout: float) -> list[Msg]:
        if self._needs_reset:
            await self.reset_cursor()
        try:
            msgs: list[Msg] = await self._sub.fetch(self.batch_size, timeout=timeout)
        except (TimeoutError, NatsTimeoutError):
            return []
        return msgs

    async def poll(self, timeout: float = 1.0) -> int:
        """Fetch and process one batch; returns how many messages it handled."""
        msgs = await self.fetch(timeout)
        await self.process(msgs)
        return len(msgs)

    async def process(self, msgs: list[Msg]) -> None:
        if not msgs:
            return
        decoded: list[tuple[Msg, CloudEvent, Payload]] = []
        dead: list[tuple[Msg, str]] = []
        for msg in msgs:
            try:
                event, payload = REGISTRY.decode(msg.data)
            except ContractError as error:
                dead.append((msg, error.reason))
                continue
            if source_key(event) != self.source:
                dead.append((msg, f"event of {event.source} on the stream of {self.source}"))
                continue
            decoded.append((msg, event, payload))
        if dead:
            # Poison still moves the cursor: record its sequence before dead-lettering it.
            await self._advance_over([m for m, _ in dead])
            for msg, reason in dead:
                await self.dead_letter(msg, reason)
        if not decoded:
            return
        try:
            done = await self._apply_batch(decoded)
        except TRANSIENT_ERRORS as error:
            log.warning(
                "%s: transient failure, redelivering in %ss: %s",
                self.durable,
                self.nak_delay,
                error,
            )
            await self._nak(decoded)
            return
        except Exception:
            # Some event in the batch cannot be applied: isolate it, one per transaction.
            for item in decoded:
                if not await self._apply_one(item):
                    await self._nak(decoded[decoded.index(item) + 1 :])
                    return
            return
        for msg, _, _ in decoded[:done]:
            await msg.ack()
        if done < len(decoded):
            await self._nak(decoded[done:], delay=0.0)

    async def _nak(
        self, items: list[tuple[Msg, CloudEvent, Payload]], delay: float | None = None
    ) -> None:
        """Hand messages back and restart the cursor after the committed position."""
        for msg, _, _ in items:
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.nak_delay if delay is None else delay)
        self.stats.naked += len(items)
        if delay is None:
            await asyncio.sleep(self.nak_delay)
        self._needs_reset = True

    async def _apply_one(self, item: tuple[Msg, CloudEvent, Payload]) -> bool:
        """Apply one event alone; False when it must be retried later (transient failure)."""
        msg = item[0]
        try:
            done = await self._apply_batch([item])
        except TRANSIENT_ERRORS:
            return False
        except PoisonMessage as error:
            await self._advance_over([msg])
            await self.dead_letter(msg, str(error))
        except Exception as error:
            log.exception("%s: event %s cannot be applied", self.durable, item[1].id)
            await self._advance_over([msg])
            await self.dead_letter(msg, f"handler failed: {type(error).__name__}: {error}")
        else:
            if done == 0:
                return False
            await msg.ack()
        return True

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
        if committed_seq == 0 or seq == committed_seq + 1:
            return True
        info = await self.js.stream_info(self.stream)
        return bool(info.state.first_seq > committed_seq + 1 or info.state.num_deleted)

    async def _advance_over(self, msgs: list[Msg]) -> None:
        """Record that the cursor has passed messages that are dead-lettered, not applied."""
        async with self.pool.acquire() as conn, conn.transaction():
            position, committed_seq = await self._committed(conn)
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                if seq == committed_seq + 1 or committed_seq == 0:
                    committed_seq = seq
            await self._save(conn, position, committed_seq)

    async def _apply_batch(self, items: list[tuple[Msg, CloudEvent, Payload]]) -> int:
        """Apply the batch in one transaction; returns how many leading items were handled."""
        applied: list[CloudEvent] = []
        handled = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await self.handler.begin(conn)
            position, committed_seq = await self._committed(conn)
            for msg, event, payload in items:
                seq = msg.metadata.sequence.stream
                if seq <= committed_seq or event.sourceposition <= position:
                    self.stats.duplicates += 1
                    committed_seq = max(committed_seq, seq)
                    handled += 1
                    continue
                if not await self._in_order(seq, committed_seq):
                    log.warning(
                        "%s: stream seq %s arrived after %s; resetting the cursor",
                        self.durable,
                        seq,
                        committed_seq,
                    )
                    self._needs_reset = True
                    break
                parent = telemetry.extract(msg.headers)
                with self._tracer.start_as_current_span(
                    f"consume {self.durable}",
                    context=parent,
                    kind=trace.SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "nats",
                        "messaging.destination.name": event.type,
                        "hub.source_position": event.sourceposition,
                    },
                ):
                    await self.handler.apply(conn, event, payload)
                position, committed_seq = event.sourceposition, seq
                applied.append(event)
                handled += 1
            if applied:
                await self.handler.flush(conn)
            if handled:
                await self._save(conn, position, committed_seq)
        self.stats.applied += len(applied)
        if applied:
            await self.handler.committed(applied)
        return handled

    async def dead_letter(self, msg: Msg, reason: str) -> None:
        """Publish ``msg`` with ``reason`` to the dead-letter subject, then ``term()`` it."""
        meta = msg.metadata
        headers = {
            "Hub-Dead-Letter-Reason": reason[:1000],
            "Hub-Consumer": self.durable,
            "Hub-Original-Subject": msg.subject,
            "Hub-Original-Stream": meta.stream,
            "Hub-Original-Sequence": str(meta.sequence.stream),
            "Nats-Msg-Id": f"dlq:{self.durable}:{meta.stream}:{meta.sequence.stream}",
        }
        await self.js.publish(dead_letter_subject(self.durable), msg.data, headers=headers)
        await msg.term()
        self.stats.dead_lettered += 1
        self.stats.last_reason = reason
        self.stats.reasons.append(reason)
        log.warning(
            "%s: dead-lettered stream seq %s: %s", self.durable, meta.sequence.stream, reason
        )


async def positions(pool: asyncpg.Pool, schema: str, consumer: str) -> dict[str, int]:
    rows = await pool.fetch(
        f"SELECT source, position FROM {check_identifier(schema)}.consumer_positions"
        " WHERE consumer = $1",
        consumer,
    )
    return {row["source"]: int(row["position"]) for row in rows}
