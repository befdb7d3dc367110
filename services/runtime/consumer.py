"""The consumer loop: durable pull consumer, explicit ack, effect + position in one transaction.

A handler applies contract events to its own tables inside a transaction the loop opens; the
loop records, in the same transaction, how far it has read each source service's log (the
``sourceposition`` of the envelope), so a redelivered message changes nothing. Messages that
cannot be decoded or that the handler rejects as invalid are published to the dead-letter
subject with the reason and ``term()``ed; transient failures are ``nak``ed with a delay.
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
        " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, source))"
    )


class ConsumerLoop:
    """Runs one durable pull consumer for one handler on one stream."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        stream: str,
        durable: str,
        handler: Handler,
        schema: str,
        position_name: str | None = None,
        filter_subject: str | None = None,
        batch_size: int = 500,
        nak_delay: float = 2.0,
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
    ) -> None:
        self.js = js
        self.pool = pool
        self.stream = stream
        self.durable = check_identifier(durable)
        self.handler = handler
        self.schema = check_identifier(schema)
        self.position_name = position_name or durable
        self.filter_subject = filter_subject
        self.batch_size = batch_size
        self.nak_delay = nak_delay
        self.deliver_policy = deliver_policy
        self.stats = ConsumerStats()
        self._tracer = telemetry.tracer("hub.consumer")
        self._sub: Any = None

    async def setup(self) -> None:
        await ensure_dead_letter_stream(self.js)
        await ensure_positions_table(self.pool, self.schema)
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=self.deliver_policy,
            ack_wait=60,
            max_deliver=-1,
            max_ack_pending=20_000,
            filter_subject=self.filter_subject,
        )
        self._sub = await self.js.pull_subscribe(
            self.filter_subject or "", durable=self.durable, stream=self.stream, config=config
        )

    async def num_pending(self) -> int:
        info = await self._sub.consumer_info()
        return int(info.num_pending) + int(info.num_ack_pending)

    async def run(self, stop: asyncio.Event) -> None:
        if self._sub is None:
            await self.setup()
        while not stop.is_set():
            await self.poll(timeout=1.0)

    async def poll(self, timeout: float = 1.0) -> int:
        """Fetch and process one batch; returns how many messages it handled."""
        try:
            msgs = await self._sub.fetch(self.batch_size, timeout=timeout)
        except (NatsTimeoutError, asyncio.TimeoutError):
            return 0
        await self.process(msgs)
        return len(msgs)

    async def process(self, msgs: list[Msg]) -> None:
        decoded: list[tuple[Msg, CloudEvent, Payload]] = []
        for msg in msgs:
            try:
                event, payload = REGISTRY.decode(msg.data)
            except ContractError as error:
                await self.dead_letter(msg, error.reason)
                continue
            decoded.append((msg, event, payload))
        if not decoded:
            return
        try:
            await self._apply_batch(decoded)
        except TRANSIENT_ERRORS as error:
            log.warning("%s: transient failure, redelivering in %ss: %s", self.durable,
                        self.nak_delay, error)
            for msg, _, _ in decoded:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=self.nak_delay)
            self.stats.naked += len(decoded)
            # Redeliveries come before new messages once their delay is over: pausing for it
            # keeps each source's events in order.
            await asyncio.sleep(self.nak_delay)
            return
        except Exception:
            # Some event in the batch cannot be applied: isolate it, one per transaction.
            for item in decoded:
                await self._apply_one(item)
            return
        for msg, _, _ in decoded:
            await msg.ack()

    async def _apply_one(self, item: tuple[Msg, CloudEvent, Payload]) -> None:
        msg = item[0]
        try:
            await self._apply_batch([item])
        except TRANSIENT_ERRORS:
            await msg.nak(delay=self.nak_delay)
            self.stats.naked += 1
        except PoisonMessage as error:
            await self.dead_letter(msg, str(error))
        except Exception as error:
            log.exception("%s: event %s cannot be applied", self.durable, item[1].id)
            await self.dead_letter(msg, f"handler failed: {type(error).__name__}: {error}")
        else:
            await msg.ack()

    async def _apply_batch(self, items: list[tuple[Msg, CloudEvent, Payload]]) -> None:
        applied: list[CloudEvent] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await self.handler.begin(conn)
            sources = sorted({source_key(event) for _, event, _ in items})
            rows = await conn.fetch(
                f"SELECT source, position FROM {self.schema}.consumer_positions"
                " WHERE consumer = $1 AND source = ANY($2::text[]) FOR UPDATE",
                self.position_name,
                sources,
            )
            positions = {row["source"]: int(row["position"]) for row in rows}
            for msg, event, payload in items:
                source = source_key(event)
                if event.sourceposition <= positions.get(source, 0):
                    self.stats.duplicates += 1
                    continue
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
                positions[source] = event.sourceposition
                applied.append(event)
            if applied:
                await conn.executemany(
                    f"INSERT INTO {self.schema}.consumer_positions (consumer, source, position)"
                    " VALUES ($1, $2, $3) ON CONFLICT (consumer, source) DO UPDATE"
                    " SET position = EXCLUDED.position, updated_at = now()",
                    [(self.position_name, s, p) for s, p in positions.items()],
                )
        self.stats.applied += len(applied)
        if applied:
            await self.handler.committed(applied)

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
        log.warning("%s: dead-lettered stream seq %s: %s", self.durable, meta.sequence.stream,
                    reason)


async def positions(pool: asyncpg.Pool, schema: str, consumer: str) -> dict[str, int]:
    rows = await pool.fetch(
        f"SELECT source, position FROM {check_identifier(schema)}.consumer_positions"
        " WHERE consumer = $1",
        consumer,
    )
    return {row["source"]: int(row["position"]) for row in rows}
