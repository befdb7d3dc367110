"""The live projector's pull window (services/runtime/pull.py): requests kept outstanding on
one inbox instead of nats-py's fetch, with every guarantee of the consumer loop kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from contracts import DEAD_LETTER_STREAM, REGISTRY, CloudEvent, Payload, encode_event
from projections.timeline.projector import SCHEMA, TimelineProjection
from services.runtime.consumer import DECODES, ConsumerLoop
from services.runtime.embedded import EmbeddedNats
from services.runtime.messaging import close, connect_admin, provision_streams
from services.runtime.settings import HubSettings
from tests.integration.test_consumer import SUBJECT, entry_event, js, pool, rows

__all__ = ["js", "pool"]  # the fixtures, shared with test_consumer.py

STREAM = "HUB_FOREIGNERS_AUTHORITY"


def live_loop(js: Any, pool: asyncpg.Pool, handler: Any = None, **options: Any) -> ConsumerLoop:
    return ConsumerLoop(
        js=js,
        pool=pool,
        stream=STREAM,
        source="foreigners_authority",
        durable="timeline_test",
        position_name="timeline",
        handler=handler or TimelineProjection(),
        schema=SCHEMA,
        nak_delay=0.2,
        **options,
    )


@contextlib.asynccontextmanager
async def running(loop: ConsumerLoop) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def positions_applied(pool: asyncpg.Pool) -> list[int]:
    return [p for _, p, _ in await rows(pool)]


async def publish(js: Any, *positions: int) -> None:
    for position in positions:
        await js.publish(SUBJECT, encode_event(entry_event(position)))


async def test_a_live_consumer_waits_for_new_messages_and_stops_at_once(
    js: Any, pool: asyncpg.Pool
) -> None:
    # Given a loop whose waits (fetch timeout, pull request expiry) are far longer than the test
    loop = live_loop(js, pool, fetch_timeout=60.0)
    await loop.setup()
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(0.3)

    # When events are published while it waits, they are applied without a new request
    await publish(js, 1, 2)
    await until(lambda: _equals(positions_applied(pool), [1, 2]))

    # And a stop set while it waits ends it at once, not at the end of its wait
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 5
    assert loop.stats.applied == 2


async def _equals(got: Awaitable[Any], expected: Any) -> bool:
    return bool((await got) == expected)


async def test_an_expired_request_is_asked_again(js: Any, pool: asyncpg.Pool) -> None:
    # Given pull requests that expire on the server every 0.3 s
    loop = live_loop(js, pool, fetch_timeout=0.3)
    await loop.setup()
    async with running(loop):
        await asyncio.sleep(1.2)  # several expired (408) in between
        # When an event comes after they expired, it is still delivered
        await publish(js, 1)
        await until(lambda: _equals(positions_applied(pool), [1]))
    assert loop._window is not None
    assert not loop._window.stalled
    assert loop.stats.dead_lettered == 0


async def test_a_consumer_deleted_under_the_window_starts_over_at_the_cursor(
    js: Any, pool: asyncpg.Pool
) -> None:
    loop = live_loop(js, pool)
    await loop.setup()
    async with running(loop):
        await publish(js, 1)
        await until(lambda: _equals(positions_applied(pool), [1]))
        # When the server ends the window's requests (409 Consumer Deleted)
        await js.delete_consumer(STREAM, "timeline_test")
        await publish(js, 2, 3)
        # Then the loop recreates its consumer after the committed sequence and goes on
        await until(lambda: _equals(positions_applied(pool), [1, 2, 3]))
    assert (loop.stats.applied, loop.stats.duplicates) == (3, 0)


class FailsAtPosition3Once(TimelineProjection):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        if event.sourceposition == 3 and not self.failed:
            self.failed = True
            raise ConnectionResetError("database went away mid-batch")
        await super().apply(conn, event, payload)


async def test_a_transient_failure_in_the_middle_of_a_batch_applies_each_event_once(
    js: Any, pool: asyncpg.Pool
) -> None:
    # Given five events that arrive in one batch, the third failing once (transient)
    await publish(js, 1, 2, 3, 4, 5)
    handler = FailsAtPosition3Once()
    loop = live_loop(js, pool, handler)
    await loop.setup()

    # When the live loop consumes them
    async with running(loop):
        await until(lambda: _equals(positions_applied(pool), [1, 2, 3, 4, 5]))

    # Then the batch was retried from the cursor: every event once, in order, none dead
    assert handler.failed
    # the batch holding the failure is handed back whole: the failing event and those after
    # it at least (whether the first ones came in the same batch depends on their arrival)
    assert loop.stats.naked >= 3
    assert (loop.stats.applied, loop.stats.dead_lettered) == (5, 0)


async def test_poison_in_the_middle_of_a_live_batch_is_dead_lettered_and_the_rest_applied(
    js: Any, pool: asyncpg.Pool
) -> None:
    loop = live_loop(js, pool)
    await loop.setup()
    async with running(loop):
        await asyncio.sleep(0.2)  # the loop waits; then all five come at once
        await publish(js, 1, 2)
        await js.publish(SUBJECT, b"\x00\xffnot json")
        await publish(js, 3, 4)
        await until(lambda: _equals(positions_applied(pool), [1, 2, 3, 4]))

    dead = await js.get_last_msg(DEAD_LETTER_STREAM, "hub.dlq.timeline_test")
    assert dead.headers["Hub-Original-Sequence"] == "3"
    assert "json" in dead.headers["Hub-Dead-Letter-Reason"].lower()
    assert (loop.stats.applied, loop.stats.dead_lettered) == (4, 1)
    info = await js.consumer_info(STREAM, "timeline_test")
    assert (info.num_pending, info.num_ack_pending, info.ack_floor.stream_seq) == (0, 0, 5)


async def test_acks_settle_each_batch_so_a_restart_redelivers_nothing_into_the_model(
    js: Any, pool: asyncpg.Pool
) -> None:
    # Given a live loop that applied a few batches and acked each (AckPolicy.ALL)
    loop = live_loop(js, pool, batch_size=3)
    await loop.setup()
    async with running(loop):
        await publish(js, *range(1, 8))
        await until(lambda: _equals(positions_applied(pool), list(range(1, 8))))
        await until(lambda: _acked_to(js, 7))

    # When the projector restarts (a new loop on the same durable) and more events come
    restarted = live_loop(js, pool, batch_size=3)
    await restarted.setup()
    async with running(restarted):
        await publish(js, 8, 9)
        await until(lambda: _equals(positions_applied(pool), list(range(1, 10))))

    # Then nothing was delivered twice into the read model: no duplicate to skip even
    assert (restarted.stats.applied, restarted.stats.duplicates) == (2, 0)
    assert loop.stats.duplicates == 0


async def _acked_to(js: Any, seq: int) -> bool:
    info = await js.consumer_info(STREAM, "timeline_test")
    return bool(info.ack_floor.stream_seq == seq and info.num_ack_pending == 0)


async def test_forgotten_requests_make_the_window_start_over(
    js: Any, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a window whose requests the server forgets (as after its restart): here they
    # are never sent at all, so neither messages nor their expiry come back
    loop = live_loop(js, pool, fetch_timeout=0.2)
    await loop.setup()
    window = loop._window
    assert window is not None
    window.grace = 0.2
    publish_request = window.js._nc.publish
    forgotten = {"n": 0}

    async def lost(subject: str, payload: bytes = b"", **kwargs: Any) -> None:
        if ".CONSUMER.MSG.NEXT." in subject and forgotten["n"] < 2:
            forgotten["n"] += 1
            return
        await publish_request(subject, payload, **kwargs)

    monkeypatch.setattr(window.js._nc, "publish", lost)
    await publish(js, 1, 2)

    # When the loop runs, it notices the silence after the requests' expiry and grace
    async with running(loop):
        await until(lambda: _equals(positions_applied(pool), [1, 2]))

    # Then it started over at the cursor and applied each event once
    assert forgotten["n"] == 2
    assert (loop.stats.applied, loop.stats.duplicates, loop.stats.dead_lettered) == (2, 0, 0)


class Recorder:
    """A second reader of the authority's stream, noting what it was given."""

    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    async def begin(self, conn: asyncpg.Connection) -> None:
        return None

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        self.events.append(event)

    async def flush(self, conn: asyncpg.Connection) -> None:
        return None

    async def committed(self, events: list[CloudEvent]) -> None:
        return None


async def test_two_running_consumers_of_a_stream_decode_each_message_once(
    js: Any, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []
    decode = REGISTRY.decode

    def counted(raw: bytes) -> Any:
        calls.append(raw)
        return decode(raw)

    monkeypatch.setattr(REGISTRY, "decode", counted)
    recorder = Recorder()
    timeline = live_loop(js, pool)
    other = ConsumerLoop(
        js=js,
        pool=pool,
        stream=STREAM,
        source="foreigners_authority",
        durable="pathway_test",
        position_name="pathway_test",
        handler=recorder,
        schema=SCHEMA,
    )
    await timeline.setup()
    await other.setup()
    async with running(timeline), running(other):
        await asyncio.sleep(0.2)
        await publish(js, 1, 2, 3)
        await until(lambda: _equals(positions_applied(pool), [1, 2, 3]))
        await until(lambda: _true(len(recorder.events) == 3))

    assert [e.sourceposition for e in recorder.events] == [1, 2, 3]
    assert len(calls) == 3  # not six
    assert len(DECODES) == 0


async def _true(value: bool) -> bool:
    return value


async def test_a_lingering_loop_applies_what_arrives_just_after_the_first_message_together(
    js: Any, pool: asyncpg.Pool
) -> None:
    # Given an idle loop that lingers after the first message of a wait
    loop = live_loop(js, pool, linger=0.5)
    await loop.setup()
    fetched = asyncio.create_task(loop.fetch(10.0))
    await asyncio.sleep(0.2)

    # When one event comes, and two more shortly after it
    await publish(js, 1)
    await asyncio.sleep(0.05)
    await publish(js, 2, 3)

    # Then the fetch hands out all three as one batch
    msgs = await asyncio.wait_for(fetched, 10)
    assert len(msgs) == 3
    await loop.process(msgs)
    assert await positions_applied(pool) == [1, 2, 3]


async def test_a_live_consumer_resumes_by_itself_after_the_nats_server_restarts(
    tmp_path: Path, servers: Any, pool: asyncpg.Pool
) -> None:
    # Given a live loop on a NATS server of its own, whose silent requests it would otherwise
    # give up on only after an hour (grace): only the reconnect can tell it they are lost
    server = EmbeddedNats(tmp_path / "nats" / "js", secrets_dir=servers.nats_secrets)
    server.start()
    settings = HubSettings(nats_url=server.url, nats_dev_secrets=servers.nats_secrets)
    nc = await connect_admin(settings, "test-restart")
    try:
        js = nc.jetstream()
        await provision_streams(js)
        loop = live_loop(js, pool, fetch_timeout=1.0)
        await loop.setup()
        assert loop._window is not None
        loop._window.grace = 3600.0
        async with running(loop):
            await publish(js, 1)
            await until(lambda: _equals(positions_applied(pool), [1]))

            # When the server is killed (kill -9: it tells nobody) and restarted with its store,
            # and an event is published after it
            await asyncio.to_thread(_kill_and_restart, server)
            await until(lambda: _published_after_restart(js, 2), seconds=30)

            # Then the loop noticed the reconnect, started over at its cursor and applied it
            await until(lambda: _equals(positions_applied(pool), [1, 2]), seconds=30)
        assert nc.stats["reconnects"] >= 1
        assert (loop.stats.applied, loop.stats.duplicates, loop.stats.dead_lettered) == (2, 0, 0)
    finally:
        await close(nc)
        server.stop()


def _kill_and_restart(server: EmbeddedNats) -> None:
    proc = server._proc
    assert proc is not None
    proc.kill()
    proc.wait(10)
    server.stop()  # the log file; the process is gone already
    server.start()


async def _published_after_restart(js: Any, position: int) -> bool:
    try:  # a retry of a publish whose ack was lost is dropped by the stream (Nats-Msg-Id)
        await js.publish(
            SUBJECT,
            encode_event(entry_event(position)),
            headers={"Nats-Msg-Id": f"after-restart-{position}"},
        )
    except Exception:  # not reconnected yet, or JetStream not ready yet
        await asyncio.sleep(0.2)
        return False
    return True


async def test_a_lone_message_is_applied_at_once_and_a_flowing_stream_in_larger_batches(
    js: Any, pool: asyncpg.Pool
) -> None:
    # Given a live loop that lingers (far longer than the test's other waits, so that
    # whether it lingered is plain to see)
    loop = live_loop(js, pool, linger=1.5, fetch_timeout=30.0)
    await loop.setup()

    async def applied(n: int) -> bool:
        return len(await positions_applied(pool)) >= n

    async with running(loop):
        # when a message comes after a quiet spell (the loop waited longer than the linger)
        await asyncio.sleep(2.0)
        sent = time.monotonic()
        await publish(js, 1)
        await until(lambda: applied(1))
        # then it is applied at once
        assert time.monotonic() - sent < 1.0

        # when messages follow one another (the next arrives while the loop has only just
        # begun to wait again)
        await publish(js, 2)
        await asyncio.sleep(0.3)
        await publish(js, 3)
        await until(lambda: applied(3))

    # then the loop waited for more and applied them together, in one transaction
    commits = await pool.fetch(
        "SELECT position, xmin::text AS tx FROM projections.timeline_events ORDER BY position"
    )
    tx = {row["position"]: row["tx"] for row in commits}
    assert tx[2] == tx[3] != tx[1]
