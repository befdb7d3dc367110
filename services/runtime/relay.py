"""The outbox relay: a service's notification log -> JetStream, exactly once, in order.

The relay follows the service's application sequence: it LISTENs for the event store's
NOTIFY on its lock's connection and, woken, reads every stored event after the last one it saw
(asyncpg, in the event loop: no reader threads, no polling; the notifications that arrive while
it publishes, or, while events are flowing, within ``coalesce`` seconds of the first, are
served by one read; after a quiet spell the first one is read at once), maps each
domain event to its contract event and publishes it with
``Nats-Msg-Id = <service>:<notification id>``. Every publish also names the message id it
must follow (``Nats-Expected-Last-Msg-Id``), so the stream holds the service's events in log
order and a publish after a gap is refused rather than stored out of order. The relay records
its position only after the PubAcks, and lazily (at most once every ``position_interval``
seconds, when idle, and when it stops): on (re)start it resumes from the later of its recorded
position and the last event already on the stream, so a crash between PubAck and position
record neither loses nor duplicates an event, however long the relay was down. The recorded
position is a lower bound for ``hub status``, not what the relay relies on.

Only one relay per service publishes: it holds the service's relay lock (a PostgreSQL session
advisory lock) for as long as it runs. Any other relay of the service waits for the lock and
takes over when the holder stops or dies (its session ends, and the lock with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
import zlib
from dataclasses import dataclass
from typing import Any

import asyncpg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from opentelemetry import trace
from opentelemetry.context import Context

from contracts import stream_name
from services.runtime import telemetry
from services.runtime.database import check_identifier, quote_identifier
from services.runtime.messaging import wait_for_service_stream
from services.runtime.outbox import IntegrationMapper, encode, to_cloud_event

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"


def relay_lock_key(service: str) -> int:
    """The advisory lock a service's publishing relay holds."""
    return zlib.crc32(f"hub-relay:{service}".encode())


def relay_position_ddl(schema: str) -> str:
    """The relay's position table in the service's schema."""
    return (
        f"CREATE TABLE IF NOT EXISTS {check_identifier(schema)}.relay_position ("
        " stream text PRIMARY KEY, notification_id bigint NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())"
    )


def ensure_relay_position_table(url: str, schema: str) -> None:
    """Create the relay's position table (the provisioning does, as the administrator)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(relay_position_ddl(schema).encode())


def message_id(service: str, notification_id: int) -> str:
    return f"{service}:{notification_id}"


def notification_id_of(msg_id: str | None, service: str) -> int:
    if not msg_id or not msg_id.startswith(f"{service}:"):
        return 0
    try:
        return int(msg_id.split(":", 1)[1])
    except ValueError:
        return 0


class _Run:
    """The span of a run of consecutive events that share a trace context (:meth:`publish`)."""

    __slots__ = ("count", "headers", "last_position", "span", "traceparent")

    def __init__(self) -> None:
        self.span: trace.Span | None = None
        self.traceparent: str | None = None
        self.headers: dict[str, str] = {}
        self.count = 0
        self.last_position = 0

    def start(self, tracer: trace.Tracer, parent: Context, first: Any) -> None:
        self.span = telemetry.start_run_span(
            tracer,
            "relay publish",
            trace.SpanKind.PRODUCER,
            parent,
            first.type,
            first.sourceposition,
        )
        self.traceparent = first.traceparent
        self.headers = telemetry.inject({}, trace.set_span_in_context(self.span))
        self.count = 0

    def end(self) -> None:
        if self.span is not None:
            telemetry.end_run_span(self.span, self.count, self.last_position)
            self.span = None


@dataclass
class InFlight:
    futures: list[asyncio.Future[Any]]
    last_notification_id: int


class Wakeup:
    """A flag the log's NOTIFY raises, awaited by the relay's loop without a task per wait.

    ``set`` may be called any number of times before the loop looks: the notifications that
    arrive meanwhile wake it once (they are coalesced into the next read)."""

    def __init__(self) -> None:
        self.flag = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self, *_: object) -> None:
        self.flag = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        """Return once the flag is raised, or after ``timeout`` seconds."""
        if self.flag:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass
class RelayStats:
    published: int = 0
    skipped: int = 0
    position: int = 0
    missed: int = 0  # idle reads that found events no notification had announced
    leading: bool = False  # holds the relay lock


class OutboxRelay:
    """Publishes one service's events while it holds the service's relay lock.

    A second relay of the same service waits for the lock (trying every ``lock_retry``
    seconds) and takes over when the first stops or dies. The holder checks its lock's
    session every ``lock_check`` seconds and steps down if it was lost.
    """

    def __init__(
        self,
        *,
        service: str,
        app: Application[Any],
        mapper: IntegrationMapper,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        batch_size: int = 500,
        ack_timeout: float = 10.0,
        idle_check: float = 1.0,
        lock_retry: float = 1.0,
        lock_check: float = 5.0,
        position_interval: float = 1.0,
        coalesce: float = 0.002,
        coalesce_within: float = 0.01,
    ) -> None:
        self.service = service
        self.app = app
        self.mapper = mapper
        self.js = fail_refused_publishes(js)
        self.pool = pool
        self.schema = check_identifier(service)
        self.stream = stream_name(service)
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self.idle_check = idle_check
        self.lock_retry = lock_retry
        self.lock_check = lock_check
        self.lock_key = relay_lock_key(service)
        self.position_interval = position_interval
        self.coalesce = coalesce
        #: the coalescing wait only applies to a notification heard within this many seconds
        #: of the last publish (events are flowing); after a quieter spell the waiting buys
        #: nothing but the delay
        self.coalesce_within = coalesce_within
        self.stats = RelayStats()
        self._acked = 0  # the last notification id the stream has acknowledged
        self._recorded = 0  # the last one written to relay_position by this relay
        # never yet, so the first batch is recorded at once (not 0.0: the monotonic clock
        # may itself be near 0 shortly after the machine booted)
        self._recorded_at = -math.inf
        self._seen = 0
        self._last_msg_id: str | None = None
        self._tracer = telemetry.tracer("hub.relay")
        self._parent_of: tuple[str | None, Context] = (None, Context())
        self._reader: asyncpg.Connection | None = None

    @functools.cached_property
    def channel(self) -> str:
        """The event store's NOTIFY channel."""
        return str(self.app.recorder.channel_name)  # type: ignore[attr-defined]

    @functools.cached_property
    def _select(self) -> str:
        recorder: Any = self.app.recorder
        table = quote_identifier(recorder.events_table_name)
        if recorder.datastore.schema:
            table = f"{quote_identifier(recorder.datastore.schema)}.{table}"
        return (
            "SELECT notification_id, originator_id, originator_version, topic, state"
            f" FROM {table} WHERE notification_id > $1 ORDER BY notification_id LIMIT $2"
        )

    # -- position -----------------------------------------------------------------------
    async def setup(self) -> None:
        await wait_for_service_stream(self.js, self.service)
        table = f"{self.schema}.relay_position"
        if await self.pool.fetchval("SELECT to_regclass($1)", table) is None:
            await self.pool.execute(relay_position_ddl(self.schema))  # not yet provisioned

    @property
    def _db(self) -> asyncpg.Connection | asyncpg.Pool:
        """The run's own connection while it runs (only the run's task writes through it),
        else the pool."""
        return self._reader if self._reader is not None else self.pool

    async def recorded_position(self) -> int:
        value = await self.pool.fetchval(
            f"SELECT notification_id FROM {self.schema}.relay_position WHERE stream = $1",
            self.stream,
        )
        return int(value or 0)

    async def record_position(self, notification_id: int) -> None:
        await self._db.execute(
            f"INSERT INTO {self.schema}.relay_position (stream, notification_id) VALUES ($1, $2)"
            " ON CONFLICT (stream) DO UPDATE SET notification_id = EXCLUDED.notification_id,"
            " updated_at = now()"
            f" WHERE {self.schema}.relay_position.notification_id < EXCLUDED.notification_id",
            self.stream,
            notification_id,
        )
        self.stats.position = max(self.stats.position, notification_id)

    async def last_on_stream(self) -> tuple[int, str | None]:
        """Notification id and message id of the newest message on the stream."""
        info = await self.js.stream_info(self.stream)
        if not info.state.last_seq:
            return 0, None
        try:
            msg = await self.js.get_msg(self.stream, seq=info.state.last_seq)
        except NotFoundError:
            return 0, None
        msg_id = (msg.headers or {}).get(MSG_ID)
        return notification_id_of(msg_id, self.service), msg_id

    async def resume_position(self) -> int:
        """The later of the recorded position, the last of this service's events on the
        stream and what this relay saw acknowledged (the recorded position lags, and the last
        message on the stream may be one the relay did not publish)."""
        recorded = await self.recorded_position()
        self._recorded = recorded
        known = max(recorded, self._acked)
        on_stream, msg_id = await self.last_on_stream()
        self._last_msg_id = msg_id
        if on_stream > known:
            log.info(
                "%s relay: stream is ahead of recorded position (%s > %s); fast-forwarding",
                self.service,
                on_stream,
                known,
            )
            await self.record_position(on_stream)
            self._recorded = on_stream
        self.stats.position = max(known, on_stream)
        self._acked = self.stats.position
        return self.stats.position

    # -- running ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, while holding the relay lock (waiting for it first)."""
        await self.setup()
        backoff = 0.2
        while not stop.is_set():
            try:
                async with self.pool.acquire() as lock:
                    if not await self._take_lock(lock, stop):
                        return
                    try:
                        await self._lead(lock, stop)
                    finally:
                        with contextlib.suppress(Exception):
                            await lock.execute("SELECT pg_advisory_unlock($1)", self.lock_key)
                backoff = 0.2
                # stepped down (its lock's session was lost): let a waiting relay take over
                # before trying again, rather than racing it for the lock at once
                await _wait_any(self.lock_retry, stop)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("%s relay: %s; retrying in %.1fs", self.service, error, backoff)
                await _wait_any(backoff, stop)
                backoff = min(backoff * 2, 5.0)

    async def _take_lock(self, lock: asyncpg.Connection, stop: asyncio.Event) -> bool:
        """Wait until this relay holds the lock (True) or ``stop`` is set (False)."""
        waited = False
        while not stop.is_set():
            if await lock.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                if waited:
                    log.info("%s relay: took over", self.service)
                return True
            if not waited:
                log.info("%s relay: another relay is publishing; waiting", self.service)
                waited = True
            await _wait_any(self.lock_retry, stop)
        return False

    async def _lead(self, lock: asyncpg.Connection, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set or the lock's session is lost; restarts from a fresh
        resume point after errors."""
        leave = asyncio.Event()

        async def watch_lock() -> None:
            try:
                while True:
                    await _wait_any(self.lock_check, stop, leave)
                    if stop.is_set() or leave.is_set():
                        return
                    await lock.fetchval("SELECT 1")
            except Exception as error:
                if not leave.is_set():
                    log.warning("%s relay: lost its lock (%s); stepping down", self.service, error)
            finally:
                leave.set()

        def session_ended(_conn: object) -> None:
            # heard at once, so the relay never publishes on without its lock until the next
            # periodic look (which remains for a session that hangs rather than ends)
            if not leave.is_set():
                log.warning("%s relay: its lock's session ended; stepping down", self.service)
                leave.set()

        lock.add_termination_listener(session_ended)
        watcher = asyncio.create_task(watch_lock())
        self.stats.leading = True
        backoff = 0.2
        try:
            while not leave.is_set():
                try:
                    await self._run_once(lock, leave)
                    backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log.warning("%s relay: %s; resuming in %.1fs", self.service, error, backoff)
                    await _wait_any(backoff, leave)
                    backoff = min(backoff * 2, 5.0)
        finally:
            self.stats.leading = False
            leave.set()
            await watcher
            with contextlib.suppress(Exception):  # the pool may have taken it back already
                lock.remove_termination_listener(session_ended)

    async def _run_once(self, listener: asyncpg.Connection, stop: asyncio.Event) -> None:
        """Publish from the resume position on, woken by the log's NOTIFY (heard on the
        lock's connection): each wake-up reads everything that is there (in batches of
        ``batch_size``, the next one published while the previous one's PubAcks arrive)."""
        # reads and position records on a connection of their own for the run: through the
        # pool, each query would cost a second round trip (the pool's reset on release)
        async with self.pool.acquire() as reader:
            self._reader = reader
            try:
                await self._relay(listener, stop)
            finally:
                self._reader = None

    async def _relay(self, listener: asyncpg.Connection, stop: asyncio.Event) -> None:
        start = await self.resume_position()
        self._seen = start
        wakeup = Wakeup()
        wakeup.flag = True  # read what is already there
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(wakeup.set)
        await listener.add_listener(self.channel, wakeup.set)
        in_flight: InFlight | None = None
        last_published = -math.inf  # monotonic time of the last read that found events
        try:
            while not stop.is_set():
                if not wakeup.flag:
                    if in_flight is not None:
                        # nothing new yet: settle the acks, then look again
                        await self.settle(in_flight)
                        in_flight = None
                        continue
                    await wakeup.wait(self.idle_check)
                    if stop.is_set():
                        break
                    if not wakeup.flag:
                        # idle: bring the recorded position up to date, and read anyway (a
                        # notification sent while the connection was busy or down is lost)
                        await self.record_acked()
                        seen = self._seen
                        in_flight = await self._read_and_publish(wakeup)
                        if in_flight is not None:
                            log.info(
                                "%s relay: the log went past %s without a notification heard",
                                self.service,
                                seen,
                            )
                            self.stats.missed += 1
                            wakeup.flag = True  # read on at once: more may follow
                        continue
                    if (
                        self.coalesce > 0
                        and time.monotonic() - last_published < self.coalesce_within
                    ):
                        # events are flowing: let the notifications that follow closely join
                        # this read (after a quiet spell the first is read at once)
                        await asyncio.sleep(self.coalesce)
                        if stop.is_set():
                            break
                published = await self._read_and_publish(wakeup)
                if published is None:
                    continue
                last_published = time.monotonic()
                if in_flight is not None:
                    await self.settle(in_flight)
                in_flight = published
            if in_flight is not None:
                await self.settle(in_flight)
            await self.record_acked()
        finally:
            stopping.remove_done_callback(wakeup.set)
            stopping.cancel()
            with contextlib.suppress(Exception):
                await listener.remove_listener(self.channel, wakeup.set)

    async def _read_and_publish(self, wakeup: Wakeup) -> InFlight | None:
        """Read the next batch after the last seen notification and publish it; returns its
        PubAcks to settle, or None when there was nothing to read."""
        wakeup.flag = False  # a notification from here on wakes the loop again
        batch = await self.read(self._seen, self.batch_size)
        if not batch:
            return None
        if len(batch) >= self.batch_size:
            wakeup.flag = True  # there may be more
        self._seen = batch[-1][1]
        return await self.publish(batch)

    async def read(self, after: int, limit: int) -> list[tuple[Any, int]]:
        """The next ``limit`` stored events after notification ``after``, decoded, with
        their notification ids. Reading past an id is safe because ids commit in order: every
        insert into an event store takes the table's lock (``HubApplicationRecorder``'s insert
        function as the library's plain path does; docs/architecture.md, "The relay's reading
        order")."""
        rows = await self._db.fetch(self._select, after, limit)
        to_domain_event = self.app.mapper.to_domain_event
        return [
            (
                to_domain_event(
                    Notification(
                        id=row[0],
                        originator_id=row[1],
                        originator_version=row[2],
                        topic=row[3],
                        state=row[4],
                    )
                ),
                row[0],
            )
            for row in rows
        ]

    async def publish(self, batch: list[tuple[Any, int]]) -> InFlight:
        """Publish a batch pipelined; returns the PubAck futures to settle.

        One "relay publish" span per run of consecutive events with the same trace context
        (the events of one command, or of one inbound batch), not one per event: each
        message carries that span's context, so the trace still follows every event from
        the command to its consumers, at a fraction of the cost of a span per event."""
        futures = []
        run = _Run()
        try:
            for domain_event, notification_id in batch:
                outgoing = self.mapper(domain_event)
                if outgoing is None:
                    self.stats.skipped += 1
                    continue
                cloud_event = to_cloud_event(self.service, domain_event, outgoing, notification_id)
                msg_id = message_id(self.service, notification_id)
                if run.span is None or cloud_event.traceparent != run.traceparent:
                    run.end()
                    run.start(self._tracer, self._parent(cloud_event.traceparent), cloud_event)
                run.last_position = notification_id
                run.count += 1
                headers = {**run.headers, MSG_ID: msg_id}
                if self._last_msg_id is not None:
                    headers[EXPECTED_LAST_MSG_ID] = self._last_msg_id
                futures.append(
                    await self.js.publish_async(
                        cloud_event.type, encode(cloud_event), headers=headers
                    )
                )
                self._last_msg_id = msg_id
        finally:
            run.end()
        return InFlight(futures, batch[-1][1])

    def _parent(self, traceparent: str | None) -> Context:
        """The stored trace context as a parent; the last one is kept, since the events of
        one command or one inbound batch follow each other with the same context."""
        if traceparent != self._parent_of[0]:
            self._parent_of = (traceparent, telemetry.context_from_traceparent(traceparent))
        return self._parent_of[1]

    async def settle(self, in_flight: InFlight) -> None:
        """Wait for every PubAck of a batch, then record the position."""
        if in_flight.futures:
            acks = await asyncio.wait_for(asyncio.gather(*in_flight.futures), self.ack_timeout)
            self.stats.published += sum(1 for ack in acks if not ack.duplicate)
        await self.after_publish(in_flight.last_notification_id)

    async def publish_batch(self, batch: list[tuple[Any, int]]) -> None:
        await self.settle(await self.publish(batch))

    async def after_publish(self, notification_id: int) -> None:
        """Called once every PubAck of a batch is in: records the position, unless it was
        recorded less than ``position_interval`` seconds ago (then later: :meth:`record_acked`)."""
        self._acked = max(self._acked, notification_id)
        self.stats.position = max(self.stats.position, notification_id)
        if time.monotonic() - self._recorded_at >= self.position_interval:
            await self.record_acked()

    async def record_acked(self) -> None:
        """Record the last acknowledged position, if it is not recorded yet."""
        if self._acked > self._recorded:
            acked = self._acked
            await self.record_position(acked)
            self._recorded = max(self._recorded, acked)
            self._recorded_at = time.monotonic()


def fail_refused_publishes(js: JetStreamContext) -> JetStreamContext:
    """Make a refused asynchronous publish fail its pending acknowledgement at once.

    nats-py's reply handler for ``publish_async`` raises the server's refusal (for example a
    failed ``Nats-Expected-Last-Msg-Id`` check, when a message the relay did not publish is
    on the stream) out of the subscription callback, to the connection's error callback, and
    leaves the acknowledgement pending until the relay's timeout. This wraps the handler (it
    is subscribed at the first ``publish_async``) so that the refusal settles the pending
    acknowledgement instead; the relay then resumes from the stream's last message."""
    original = getattr(js, "_handle_async_reply", None)
    if original is None or getattr(js, "_hub_fails_refused", False):
        return js

    async def handle(msg: Any) -> None:
        try:
            await original(msg)
        except APIError as error:
            futures = getattr(js, "_publish_async_futures", {})
            for token, future in list(futures.items()):
                if msg.subject.endswith(token) and not future.done():
                    future.set_exception(error)

    js._handle_async_reply = handle  # type: ignore[method-assign]
    js._hub_fails_refused = True  # type: ignore[attr-defined]
    return js


async def _wait_any(timeout: float, *events: asyncio.Event) -> None:
    """Return when one of ``events`` is set, or after ``timeout`` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
