"""The one consumer loop: durable pull consumer, explicit ack, effect + position in one transaction.

Projections and policies both consume with :class:`ConsumerLoop`. What differs is only where
the effect and the position are written, together, by the loop's :class:`Tracker`:

- a projection's handler writes its tables inside an asyncpg transaction that also records
  how far it has read the stream (stream sequence) and the source service's log (the
  envelope's ``sourceposition``): ``projection_base.ReadModelTracker``;
- a policy's reaction saves its aggregates together with a tracking record (source, position)
  in one transaction of its eventsourcing process application: ``policy.TrackedReaction``.

Either way a redelivered message changes nothing. Every message is settled the same way:

- applied (or found already applied): ``ack()`` (a projection's consumer, with
  ``AckPolicy.ALL``, acks only the last message of each applied run: see ``ack_all``);
- poison: undecodable, not a known contract, invalid payload, from the wrong source, or
  rejected by the handler (anything raised that is not transient, e.g. a domain error or a
  payload the handler cannot use): published to ``hub.dlq.<consumer>`` with the reason
  (:func:`dead_letter`) and ``term()``ed, so it is never redelivered;
- transient failure (lost connection, timeout, lock or serialization failure, database
  unavailable, or a handler raising :class:`TransientFailure`): ``nak(delay)`` with an
  exponential backoff, and the loop pauses as long before it fetches again. It retries until
  the failure passes: giving up would dead-letter healthy events.

Order matters, and JetStream redelivers a nak'ed message after newer ones. A projection's
cursor is the database: on start, and after a transient failure, the loop recreates its
durable consumer at the sequence after the last one it committed, and if a message ever
arrives past a gap it applies nothing beyond the gap and resets the cursor the same way. A
policy's tracking record only moves forward, so its consumer (filtered to one event type,
whose sequences have gaps by design) keeps one message in flight: the server's cursor then
holds back everything behind a message that is waiting to be retried. Events are therefore
applied exactly once and in stream order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import eventsourcing.persistence
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from contracts import REGISTRY, CloudEvent, ContractError, Payload, dead_letter_subject
from services.runtime import telemetry
from services.runtime.database import CONNECTION_LOST, check_identifier
from services.runtime.messaging import wait_for_dead_letter_stream, wait_for_service_stream
from services.runtime.projection_base import (
    Handler,
    ReadModelTracker,
    ensure_positions_table,
    stream_sequence,
)
from services.runtime.pull import PullWindow

__all__ = [
    "TRANSIENT_ERRORS",
    "Backoff",
    "ConsumerLoop",
    "ConsumerStats",
    "Delivery",
    "Handler",
    "PoisonMessage",
    "SharedDecodes",
    "SpanFactory",
    "Tracker",
    "TransientFailure",
    "dead_letter",
    "ensure_positions_table",
    "is_transient",
    "positions",
    "source_key",
]

log = logging.getLogger(__name__)


class PoisonMessage(Exception):
    """Raised by a handler for an event it can never apply; goes to the dead-letter subject."""


class TransientFailure(Exception):
    """Raised by a handler for a failure that will pass; the event is retried with backoff."""


#: Failures that pass: the message is nak'ed with backoff. Anything else a handler raises is
#: poison, because the same event would fail the same way every time.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientFailure,
    # OSError (TimeoutError, asyncio.TimeoutError and nats.errors.TimeoutError among them),
    # and the read models' connection or server going away mid-transaction: these say
    # nothing about the event
    *CONNECTION_LOST,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.LockNotAvailableError,
    # the event store (psycopg, wrapped by eventsourcing): connection lost or refused, pool
    # exhausted, deadlock, serialization failure, statement timeout
    eventsourcing.persistence.OperationalError,
    eventsourcing.persistence.InterfaceError,
    nats.errors.ConnectionClosedError,
    nats.errors.NoRespondersError,
)


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT_ERRORS)


Delivery = tuple[Msg, CloudEvent, Payload]
SpanFactory = Callable[[Msg, CloudEvent], AbstractContextManager[object]]


class Tracker(Protocol):
    """Writes a consumer's effects together with its position, in one transaction."""

    #: True: the database is the cursor (see the module docstring); the loop recreates its
    #: durable consumer after ``committed_seq()``. False: the durable consumer's ack floor is
    #: the cursor, and the tracker's own position only guards against redelivery.
    database_cursor: bool

    async def setup(self) -> None:
        """Create what the tracker writes to."""

    async def committed_seq(self) -> int:
        """The last stream sequence committed (only asked when ``database_cursor``)."""

    async def apply(self, batch: list[Delivery], span: SpanFactory) -> tuple[int, int]:
        """Apply ``batch`` in order, each effect with its position, each event inside
        ``span(msg, event)``. Returns (handled, applied): how many leading deliveries are
        done (applied, or found applied before) and how many of them were new. Fewer than
        all handled means the rest arrived past a gap and must be redelivered."""

    async def skip(self, msg: Msg) -> None:
        """Record that the cursor passes ``msg``, which is dead-lettered, not applied."""


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    naked: int = 0
    last_reason: str | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Backoff:
    """Delays between retries of a transient failure: ``initial``, doubling, at most ``maximum``."""

    initial: float = 2.0
    maximum: float = 60.0

    def delay(self, attempt: int) -> float:
        """The delay after the ``attempt``-th consecutive failure (1, 2, ...)."""
        return min(self.maximum, self.initial * 2.0 ** max(attempt - 1, 0))


def source_key(event: CloudEvent) -> str:
    """``/hub/foreigners_authority`` -> ``foreigners_authority``."""
    return event.source.rsplit("/", 1)[-1]


async def dead_letter(js: JetStreamContext, msg: Msg, consumer: str, reason: str) -> None:
    """Publish ``msg`` to ``hub.dlq.<consumer>`` with the reason and its origin, then
    ``term()`` it so it is never redelivered.

    ``Nats-Msg-Id`` makes a second attempt (after a crash between publish and term) a
    duplicate the dead-letter stream drops.
    """
    meta = msg.metadata
    headers = {
        "Hub-Dead-Letter-Reason": reason[:1000],
        "Hub-Consumer": consumer,
        "Hub-Original-Subject": msg.subject,
        "Hub-Original-Stream": meta.stream,
        "Hub-Original-Sequence": str(meta.sequence.stream),
        "Nats-Msg-Id": f"dlq:{consumer}:{meta.stream}:{meta.sequence.stream}",
    }
    await js.publish(dead_letter_subject(consumer), msg.data, headers=headers)
    await msg.term()
    log.warning("%s: dead-lettered stream seq %s: %s", consumer, meta.sequence.stream, reason)


#: A message decoded: its envelope and payload, or why it is poison.
Decoded = tuple[CloudEvent, Payload] | str


def _decode(data: bytes) -> Decoded:
    try:
        return REGISTRY.decode(data)
    except ContractError as error:
        return error.reason


class SharedDecodes:
    """Each stream message decoded once per process, for every running loop on its stream.

    The projector reads most streams with two durable consumers (the authority's: timeline
    and pathway; case management's: timeline and case views, ...), each decoding every
    message. Here the first of them to get a message (by stream and sequence) decodes it
    (``REGISTRY.decode``: the envelope and the validated payload, or why it is poison) and
    keeps the result until each other running reader of that stream has taken it, at most
    ``limit`` entries (the oldest go first: a reader far behind decodes for itself). A kept
    result is used only for the same bytes, so a stream deleted and made again (its
    sequences restart) is decoded anew. The results are frozen models, shared read-only.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._readers: Counter[str] = Counter()
        self._kept: OrderedDict[tuple[str, int], tuple[bytes, Decoded, int]] = OrderedDict()

    def join(self, stream: str) -> None:
        self._readers[stream] += 1

    def leave(self, stream: str) -> None:
        self._readers[stream] -= 1
        if self._readers[stream] <= 0:
            del self._readers[stream]
            for key in [key for key in self._kept if key[0] == stream]:
                del self._kept[key]

    def decode(self, stream: str, msg: Msg) -> Decoded:
        others = self._readers[stream] - 1
        if others <= 0:
            return _decode(msg.data)
        key = (stream, stream_sequence(msg))
        kept = self._kept.get(key)
        if kept is not None and kept[0] == msg.data:
            data, decoded, waiting = kept
            if waiting <= 1:
                del self._kept[key]
            else:
                self._kept[key] = (data, decoded, waiting - 1)
            return decoded
        decoded = _decode(msg.data)
        self._kept[key] = (msg.data, decoded, others)
        if len(self._kept) > self.limit:
            self._kept.popitem(last=False)
        return decoded

    def __len__(self) -> int:
        return len(self._kept)


#: The process's shared decodes (every running loop with a pull window uses it).
DECODES = SharedDecodes()


class RunSpans:
    """The consumer spans of one batch (a ``SpanFactory``): one span per run of consecutive
    events that carry the same trace context (the events of one command, or of one inbound
    batch), current while each of them is applied, so what a handler does (a policy's
    command) continues that trace. A run ends when the next event carries another trace
    context, when an event of it fails (recorded on its span, with error status: what
    ``start_as_current_span`` does) or at :meth:`end`, once the batch is applied. A span per
    event cost a fifth of the projector's CPU on a bulk import."""

    __slots__ = ("_count", "_last", "_name", "_span", "_token", "_traceparent", "_tracer")

    def __init__(self, tracer: trace.Tracer, name: str) -> None:
        self._tracer = tracer
        self._name = name
        self._span: trace.Span | None = None
        self._traceparent: str | None = None
        self._token: object = None
        self._count = 0
        self._last = 0

    def __call__(self, msg: Msg, event: CloudEvent) -> RunSpans:
        headers = msg.headers
        traceparent = headers.get("traceparent") if headers else None
        if self._span is None or traceparent != self._traceparent:
            self.end()
            self._span = telemetry.start_run_span(
                self._tracer,
                self._name,
                trace.SpanKind.CONSUMER,
                telemetry.extract(headers),
                event.type,
                event.sourceposition,
            )
            self._traceparent = traceparent
            self._count = 0
        self._count += 1
        self._last = event.sourceposition
        return self

    def __enter__(self) -> trace.Span:
        assert self._span is not None
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
        span = self._span
        if isinstance(error, Exception) and span is not None:
            if span.is_recording():
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            self.end()

    def end(self) -> None:
        """End the open run's span (a batch's last run, once the batch is applied)."""
        if self._span is not None:
            telemetry.end_run_span(self._span, self._count, self._last)
            self._span = None


class ConsumerLoop:
    """Runs one durable pull consumer on one source service's stream (see the module doc).

    A projection passes ``pool``, ``schema`` and its ``handler`` (and ``position_name``, the
    row its positions are kept under); a policy passes its ``tracker`` and the event type it
    reacts to as ``filter_subject`` (``policy.PolicyLoop`` does both).

    A subclass whose consumer needs no acks (``AckPolicy.NONE``, as the rebuild's replay:
    the database is its cursor) sets ``acks = False``: messages are then neither acked nor
    nak'ed, and a transient failure recreates the consumer after the committed sequence.

    When the database is the cursor (a projection), the loop reads its consumer through a
    :class:`~services.runtime.pull.PullWindow` (pull requests for up to ``window`` messages
    kept outstanding on one inbox, each message decoded as it arrives; ``follow``: the
    requests wait on the server for new messages) instead of nats-py's ``fetch``; a window
    that stalls (a request ended by the server, or forgotten by a restarted one) makes the
    loop start over at the cursor. A policy (its consumer's ack floor is its cursor, one
    message in flight) keeps nats-py's ``fetch``.
    """

    #: Whether messages are acked and nak'ed (False for a consumer with ``AckPolicy.NONE``).
    acks = True
    #: Whether the window's requests wait for new messages (live) or ask only for the
    #: messages the consumer has pending (a replay of what is there).
    follow = True
    #: How long a pull request of the window waits on the server (None: ``fetch_timeout``).
    request_expires: float | None = None

    @property
    def ack_all(self) -> bool:
        """Whether the consumer has ``AckPolicy.ALL``: one ack of a batch's last message
        settles the batch. So it is when the database is the cursor: messages are settled in
        stream order (applied, or dead-lettered where they lie, whose ``term()`` acks what
        precedes them, all settled), and the durable consumer is deleted and recreated
        after the committed sequence whenever it starts or resets, so an existing consumer
        with another ack policy is replaced rather than updated (which NATS refuses). A
        policy's consumer keeps ``AckPolicy.EXPLICIT``: its ack floor is its cursor."""
        return self.acks and self.tracker.database_cursor

    def __init__(
        self,
        *,
        js: JetStreamContext,
        stream: str,
        source: str,
        durable: str,
        pool: asyncpg.Pool | None = None,
        handler: Handler | None = None,
        schema: str | None = None,
        position_name: str | None = None,
        tracker: Tracker | None = None,
        filter_subject: str | None = None,
        batch_size: int = 500,
        max_ack_pending: int | None = None,
        nak_delay: float = 2.0,
        max_nak_delay: float = 60.0,
        fetch_timeout: float = 2.0,
        window: int | None = None,
        linger: float = 0.0,
    ) -> None:
        self.js = js
        self.stream = stream
        self.source = source
        self.durable = check_identifier(durable)
        if tracker is None:
            if pool is None or handler is None or schema is None:
                raise TypeError("ConsumerLoop needs a tracker, or pool, handler and schema")
            tracker = ReadModelTracker(
                js=js,
                stream=stream,
                pool=pool,
                schema=schema,
                handler=handler,
                position_name=position_name or durable,
                source=source,
                consumer=self.durable,
            )
        elif pool is not None or handler is not None or schema is not None:
            raise TypeError("ConsumerLoop takes a tracker, or pool, handler and schema")
        self.tracker = tracker
        self.filter_subject = filter_subject
        self.batch_size = batch_size
        self.max_ack_pending = max_ack_pending or max(batch_size * 4, 1000)
        self.backoff = Backoff(nak_delay, max(nak_delay, max_nak_delay))
        self.fetch_timeout = fetch_timeout
        self.stats = ConsumerStats()
        self._tracer = telemetry.tracer("hub.consumer")
        self._span_name = f"consume {self.durable}"
        self._sub: Any = None
        self._needs_reset = False
        self._failures = 0  # consecutive transient failures, for the backoff
        self._stop: asyncio.Event | None = None
        self._window: PullWindow[Delivery | str] | None = None
        if self.tracker.database_cursor:
            self._window = PullWindow(
                js,
                stream,
                self.durable,
                batch_size=batch_size,
                window=window or 4 * batch_size,
                follow=self.follow,
                expires=self.request_expires or fetch_timeout,
                decode=self._decode_now,
                linger=linger,
            )

    @property
    def _decoded(self) -> dict[int, Delivery | str]:
        """The window's messages decoded on arrival and not yet handed out, by ``id()``."""
        return self._window.decoded if self._window is not None else {}

    async def setup(self) -> None:
        """Wait for the streams (provisioned beforehand), create the tracker's tables, and the
        durable consumer at the cursor."""
        await wait_for_service_stream(self.js, self.source)
        await wait_for_dead_letter_stream(self.js)
        await self.tracker.setup()
        await self.reset_cursor()

    async def committed_stream_seq(self) -> int:
        return await self.tracker.committed_seq()

    async def reset_cursor(self) -> None:
        """(Re)create the durable consumer at the cursor: right after the last committed
        stream sequence when the database is the cursor; else where the server has it."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        if self._window is not None:
            await self._window.close()
        start: dict[str, Any] = {"deliver_policy": DeliverPolicy.ALL}
        if self.tracker.database_cursor:
            with contextlib.suppress(NotFoundError):
                await self.js.delete_consumer(self.stream, self.durable)
            committed = await self.tracker.committed_seq()
            if committed:
                start = {
                    "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                    "opt_start_seq": committed + 1,
                }
        acks: dict[str, Any] = {"ack_policy": AckPolicy.NONE}
        if self.acks:
            acks = {
                "ack_policy": AckPolicy.ALL if self.ack_all else AckPolicy.EXPLICIT,
                "ack_wait": 60,
                "max_ack_pending": self.max_ack_pending,
            }
        config = ConsumerConfig(
            name=self.durable,  # a named create carries the filter: NATS can restrict it
            durable_name=self.durable,
            max_deliver=-1,
            filter_subject=self.filter_subject,
            **acks,
            **start,
        )
        info = await self.js.add_consumer(self.stream, config)  # creates it, or updates it
        if self._window is not None:
            await self._window.open(available=int(info.num_pending or 0))
        else:
            self._sub = await self.js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        self._needs_reset = False

    @property
    def _ready(self) -> bool:
        if self._window is not None:
            return self._window.is_open and not self._window.stalled
        return self._sub is not None

    async def num_pending(self) -> int:
        if self._needs_reset or not self._ready:
            await self.reset_cursor()
        window = self._window
        if window is not None and not window.follow:
            if window.queue or window.credit:
                return len(window.queue) + window.credit
            await self._refresh()
            return window.available
        info = await self.js.consumer_info(self.stream, self.durable)
        queued = len(window.queue) if window is not None else 0
        return max(int(info.num_pending) + int(info.num_ack_pending), queued)

    async def _refresh(self) -> None:
        """Learn how many messages the consumer has pending (new ones since it was made)."""
        assert self._window is not None
        info = await self.js.consumer_info(self.stream, self.durable)
        self._window.available = int(info.num_pending or 0)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; a fetch or a backoff pause is abandoned at once."""
        if not self._ready:
            await self.setup()
        self._stop = stop
        stopper = asyncio.create_task(stop.wait())
        if self._window is not None:
            DECODES.join(self.stream)
        try:
            while not stop.is_set():
                fetch = asyncio.create_task(self.fetch(self.fetch_timeout))
                done, _ = await asyncio.wait({fetch, stopper}, return_when="FIRST_COMPLETED")
                if fetch not in done:
                    fetch.cancel()  # what it got is redelivered
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await fetch
                    break
                try:
                    await self.process(fetch.result())
                except Exception as error:
                    # The loop's own I/O failed (fetch, cursor, ack, dead letter): resume at
                    # the cursor after a pause rather than let the consumer die.
                    if is_transient(error):
                        log.warning("%s: %s; retrying", self.durable, error)
                    else:
                        log.exception("%s: consumer failed; retrying", self.durable)
                    await self._pause(self._next_delay())
        finally:
            if self._window is not None:
                DECODES.leave(self.stream)
            stopper.cancel()
            self._stop = None

    async def fetch(self, timeout: float) -> list[Msg]:
        if self._needs_reset or not self._ready:
            await self.reset_cursor()
        window = self._window
        if window is not None:
            if not window.follow and not (window.queue or window.credit or window.available):
                await self._refresh()
            taken = await window.take(timeout)
            if window.stalled:
                self._needs_reset = True
            return taken
        try:
            msgs: list[Msg] = await self._sub.fetch(self.batch_size, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        return msgs

    async def poll(self, timeout: float = 1.0) -> int:
        """Fetch and process one batch; returns how many messages it handled."""
        msgs = await self.fetch(timeout)
        await self.process(msgs)
        return len(msgs)

    def _decode(self, msg: Msg) -> Delivery | str:
        """The delivery, or why it is poison (decoded when it arrived, if it came through
        the window)."""
        if self._window is not None:
            found = self._window.pop_decoded(msg)
            if found is not None:
                return found
        return self._decode_now(msg)

    def _decode_now(self, msg: Msg) -> Delivery | str:
        """The delivery, or why it is poison (decoded once for all running loops on the
        stream: :class:`SharedDecodes`)."""
        decoded = (
            DECODES.decode(self.stream, msg) if self._window is not None else _decode(msg.data)
        )
        if isinstance(decoded, str):
            return decoded
        event, payload = decoded
        if source_key(event) != self.source:
            return f"event of {event.source} on the stream of {self.source}"
        return msg, event, payload

    async def process(self, msgs: list[Msg]) -> None:
        """Settle a fetched batch in stream order: runs of good events are applied in one
        transaction each, poison is dead-lettered where it lies, and on a transient failure
        everything not yet settled is nak'ed."""
        items = [self._decode(msg) for msg in msgs]
        done = 0  # msgs[:done] are acked or dead-lettered
        isolate = False  # a batch failed: one event per transaction, to find the poison
        try:
            while done < len(items):
                first = items[done]
                if isinstance(first, str):
                    await self._reject(msgs[done], first)
                    done += 1
                    continue
                batch = [first]
                for item in items[done + 1 :] if not isolate else []:
                    if isinstance(item, str):
                        break  # the run of good events ends at the next poison
                    batch.append(item)
                try:
                    handled = await self._apply_batch(batch)
                except TRANSIENT_ERRORS:
                    raise
                except Exception as error:
                    if len(batch) > 1:
                        isolate = True
                        continue
                    await self._reject(msgs[done], self._reason(first[1], error))
                    done += 1
                    continue
                if self.ack_all:
                    if handled:  # acks every message before it too
                        await batch[handled - 1][0].ack()
                elif self.acks:
                    for msg, _, _ in batch[:handled]:
                        await msg.ack()
                done += handled
                self._failures = 0
                if handled < len(batch):  # past a gap: redeliver the rest after the reset
                    await self._nak(msgs[done:], delay=0.0)
                    self._needs_reset = True
                    return
        except TRANSIENT_ERRORS as error:
            delay = self._next_delay()
            log.warning(
                "%s: transient failure, redelivering in %ss: %s: %s",
                self.durable,
                delay,
                type(error).__name__,
                error,
            )
            await self._nak(msgs[done:], delay=delay)
            await self._pause(delay)

    def _reason(self, event: CloudEvent, error: Exception) -> str:
        if isinstance(error, PoisonMessage):
            return str(error)
        log.exception("%s: event %s cannot be applied", self.durable, event.id)
        return f"handler failed: {type(error).__name__}: {error}"

    def _next_delay(self) -> float:
        """Count a transient failure; the database cursor restarts after the committed one."""
        self._failures += 1
        if self.tracker.database_cursor:
            self._needs_reset = True
        return self.backoff.delay(self._failures)

    async def _pause(self, delay: float) -> None:
        if self._stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    async def _nak(self, msgs: list[Msg], delay: float) -> None:
        if not self.acks:  # nothing is redelivered: the cursor is reset instead
            self._needs_reset = self._needs_reset or self.tracker.database_cursor
            self.stats.naked += len(msgs)
            return
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.nak(delay=delay)
        self.stats.naked += len(msgs)

    async def _reject(self, msg: Msg, reason: str) -> None:
        # Poison still moves the cursor: record its sequence before dead-lettering it.
        await self.tracker.skip(msg)
        await self.dead_letter(msg, reason)

    async def _apply_batch(self, batch: list[Delivery]) -> int:
        """Apply the batch through the tracker; returns how many leading items were handled."""
        spans = RunSpans(self._tracer, self._span_name)
        try:
            handled, applied = await self.tracker.apply(batch, spans)
        finally:
            spans.end()
        self.stats.applied += applied
        self.stats.duplicates += handled - applied
        return handled

    async def dead_letter(self, msg: Msg, reason: str) -> None:
        """Dead-letter ``msg`` (see :func:`dead_letter`) and count it."""
        await dead_letter(self.js, msg, self.durable, reason)
        self.stats.dead_lettered += 1
        self.stats.last_reason = reason
        self.stats.reasons.append(reason)


async def positions(pool: asyncpg.Pool, schema: str, consumer: str) -> dict[str, int]:
    rows = await pool.fetch(
        f"SELECT source, position FROM {check_identifier(schema)}.consumer_positions"
        " WHERE consumer = $1",
        consumer,
    )
    return {row["source"]: int(row["position"]) for row in rows}
