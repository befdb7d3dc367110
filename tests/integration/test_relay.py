"""The outbox relay: every event on the stream exactly once, in log order, whatever crashes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, TypeVar, overload

import asyncpg
import pytest

from contracts import REGISTRY, stream_name
from services.foreigners_authority import SPEC
from services.runtime import relay as relay_module
from services.runtime.context import SYSTEM_CONTEXT, use_context
from services.runtime.relay import MSG_ID, OutboxRelay
from services.runtime.settings import HubSettings
from services.runtime.telemetry import setup_tracing
from tests.helpers import arrival, close_app, foreigners_authority
from tests.integration.conftest import EXPORTER

STREAM = stream_name("foreigners_authority")


class SimulatedCrash(BaseException):
    """Ends the relay the way a killed process would: nothing after it runs."""


class CrashAfterPubAck(OutboxRelay):
    """Dies once, after the PubAcks of a batch and before recording the position."""

    crashed = False

    async def after_publish(self, notification_id: int) -> None:
        if not CrashAfterPubAck.crashed:
            CrashAfterPubAck.crashed = True
            raise SimulatedCrash
        await super().after_publish(notification_id)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def stream_msg_ids(js: Any) -> list[str]:
    info = await js.stream_info(STREAM)
    ids = []
    for seq in range(info.state.first_seq or 1, info.state.last_seq + 1):
        msg = await js.get_msg(STREAM, seq=seq)
        ids.append(msg.headers[MSG_ID])
    return ids


def expected_ids(count: int) -> list[str]:
    return [f"foreigners_authority:{n}" for n in range(1, count + 1)]


async def run_until(relay: OutboxRelay, position: int, timeout: float = 30) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    deadline = time.monotonic() + timeout
    try:
        while relay.stats.position < position:
            if task.done():
                task.result()
            assert time.monotonic() < deadline, f"relay stuck at {relay.stats.position}"
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def register(app: Any, count: int) -> int:
    for _ in range(count):
        position = app.register_arrival(arrival()).position
    return int(position)


async def test_the_relay_publishes_each_event_once_in_log_order(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    app = foreigners_authority(settings)
    try:
        last = await asyncio.to_thread(register, app, 20)
        js = nats_client.jetstream()
        relay = OutboxRelay(
            service="foreigners_authority", app=app, mapper=SPEC.integration(app), js=js, pool=pool
        )

        await run_until(relay, last)

        assert await stream_msg_ids(js) == expected_ids(60)
        assert await relay.recorded_position() == 60
        msg = await js.get_msg(STREAM, seq=1)
        event, _payload = REGISTRY.decode(msg.data)
        assert event.type == "hub.foreigners_authority.person_registered.v1"
        assert event.sourceposition == 1
        assert b"Haddad" not in msg.data
        assert b"Amir" not in msg.data
    finally:
        close_app(app)


async def test_a_crash_between_puback_and_position_record_loses_and_duplicates_nothing(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    app = foreigners_authority(settings)
    try:
        await asyncio.to_thread(register, app, 10)
        js = nats_client.jetstream()
        crashing = CrashAfterPubAck(
            service="foreigners_authority", app=app, mapper=SPEC.integration(app), js=js, pool=pool
        )
        CrashAfterPubAck.crashed = False
        with pytest.raises(SimulatedCrash):
            await crashing.run(asyncio.Event())
        published = await stream_msg_ids(js)
        assert published == expected_ids(len(published))  # on the stream ...
        assert len(published) >= 1
        assert await crashing.recorded_position() == 0  # ... but the position was never recorded

        last = await asyncio.to_thread(register, app, 5)
        restarted = OutboxRelay(
            service="foreigners_authority", app=app, mapper=SPEC.integration(app), js=js, pool=pool
        )
        await run_until(restarted, last)

        assert await stream_msg_ids(js) == expected_ids(45)
        assert await restarted.recorded_position() == 45
    finally:
        close_app(app)


async def test_a_lost_position_does_not_republish_beyond_the_dedupe_window(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    app = foreigners_authority(settings)
    try:
        last = await asyncio.to_thread(register, app, 4)
        js = nats_client.jetstream()
        relay = OutboxRelay(
            service="foreigners_authority", app=app, mapper=SPEC.integration(app), js=js, pool=pool
        )
        await run_until(relay, last)
        await pool.execute("UPDATE foreigners_authority.relay_position SET notification_id = 0")
        await js.purge_stream(STREAM, keep=1)  # the dedupe state no longer helps ...

        again = OutboxRelay(
            service="foreigners_authority", app=app, mapper=SPEC.integration(app), js=js, pool=pool
        )
        assert await again.resume_position() == last  # ... the stream's last message does

        info = await js.stream_info(STREAM)
        assert info.state.messages == 1
    finally:
        close_app(app)


async def test_killing_the_relay_process_mid_burst_loses_and_duplicates_nothing(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool, servers: Any
) -> None:
    app = foreigners_authority(settings)
    count = 150
    env = {
        **os.environ,
        "HUB_POSTGRES_URL": servers.postgres_url,
        "HUB_NATS_URL": servers.nats_url,
        "HUB_NATS_DEV_SECRETS": str(servers.nats_secrets),
        "HUB_DATABASE": settings.database,
        "HUB_HOME": str(settings.home),
        "HUB_VAULT_MASTER_KEY": settings.resolved_vault_master_key(),
        "HUB_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "hub", "run", "relay", "foreigners_authority"]
    rng = random.Random(7)
    js = nats_client.jetstream()
    writer = asyncio.create_task(asyncio.to_thread(register, app, count))
    try:
        for _ in range(3):
            proc = subprocess.Popen(argv, env=env)
            await asyncio.sleep(rng.uniform(1.0, 2.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        await writer
        proc = subprocess.Popen(argv, env=env)
        try:
            last = await asyncio.to_thread(register, app, 10)  # proves the last one runs
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(Exception):
                    info = await js.stream_info(STREAM)
                    if info.state.last_seq >= last:
                        break
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0

        assert await stream_msg_ids(js) == expected_ids(3 * (count + 10))
    finally:
        if not writer.done():
            await writer
        close_app(app)


class DeafRelay(OutboxRelay):
    """Listens on a channel nobody notifies: hears no notification at all (as when one is
    sent while its connection is busy or down)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channel = "nobody_notifies_this"


async def test_events_whose_notification_was_missed_are_still_published(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    app = foreigners_authority(settings)
    try:
        await asyncio.to_thread(register, app, 1)
        js = nats_client.jetstream()
        relay = relay_of(
            app,
            js,
            pool,
            kind=DeafRelay,
            idle_check=0.2,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        while relay.stats.position < 3:
            await asyncio.sleep(0.02)

        last = await asyncio.to_thread(register, app, 1)  # its notification is never heard
        await run_until_position(relay, last)
        stop.set()
        await task

        assert await stream_msg_ids(js) == expected_ids(6)
        assert relay.stats.missed == 1
    finally:
        close_app(app)


async def run_until_position(relay: OutboxRelay, position: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while relay.stats.position < position:
        assert time.monotonic() < deadline, f"relay stuck at {relay.stats.position}"
        await asyncio.sleep(0.02)


R = TypeVar("R", bound=OutboxRelay)


@overload
def relay_of(app: Any, js: Any, pool: asyncpg.Pool, kind: type[R], **options: Any) -> R: ...


@overload
def relay_of(app: Any, js: Any, pool: asyncpg.Pool, **options: Any) -> OutboxRelay: ...


def relay_of(
    app: Any, js: Any, pool: asyncpg.Pool, kind: type[Any] = OutboxRelay, **options: Any
) -> Any:
    """The authority's relay (``kind``: one of the test's subclasses) on ``js`` and ``pool``."""
    return kind(
        service="foreigners_authority",
        app=app,
        mapper=SPEC.integration(app),
        js=js,
        pool=pool,
        **options,
    )


async def eventually(condition: Any, timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_only_one_relay_publishes_and_a_second_takes_over_when_the_first_stops(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    writer, first_app, second_app = (foreigners_authority(settings) for _ in range(3))
    js = nats_client.jetstream()
    first = relay_of(first_app, js, pool, lock_retry=0.05)
    second = relay_of(second_app, js, pool, lock_retry=0.05)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    tasks = []
    try:
        # Given a running relay, and a second one started after it
        last = await asyncio.to_thread(register, writer, 5)
        tasks.append(asyncio.create_task(first.run(stop_first)))
        await eventually(lambda: first.stats.position >= last, what="the first relay")
        tasks.append(asyncio.create_task(second.run(stop_second)))

        # When more events are recorded
        last = await asyncio.to_thread(register, writer, 5)
        await eventually(lambda: first.stats.position >= last, what="the first relay")
        await asyncio.sleep(0.5)

        # Then only the first relay published them; the second waits
        assert first.stats.leading
        assert not second.stats.leading
        assert second.stats.published == 0

        # When the first relay stops, and more events are recorded
        stop_first.set()
        await tasks[0]
        last = await asyncio.to_thread(register, writer, 5)

        # Then the second takes over from where the first left off
        await eventually(lambda: second.stats.position >= last, what="the second relay")
        assert second.stats.leading
        assert second.stats.published == 15
        assert first.stats.published == 30
        assert await stream_msg_ids(js) == expected_ids(45)
    finally:
        stop_first.set()
        stop_second.set()
        for task in tasks:
            await asyncio.wait_for(task, 10)
        for app in (writer, first_app, second_app):
            close_app(app)


async def lock_holder(pool: asyncpg.Pool, relay: OutboxRelay) -> int | None:
    pid = await pool.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = 0 AND objid = $1 AND objsubid = 1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        relay.lock_key,
    )
    return int(pid) if pid is not None else None


async def test_a_relay_that_loses_its_lock_steps_down_and_the_other_takes_over(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    writer, first_app, second_app = (foreigners_authority(settings) for _ in range(3))
    js = nats_client.jetstream()
    # the first, once it has stepped down, waits longer before it tries for the lock again
    first = relay_of(first_app, js, pool, lock_retry=2.0, lock_check=0.1)
    second = relay_of(second_app, js, pool, lock_retry=0.05, lock_check=0.1)
    stop = asyncio.Event()
    tasks = []
    try:
        # Given two relays, the first of which publishes
        last = await asyncio.to_thread(register, writer, 3)
        tasks.append(asyncio.create_task(first.run(stop)))
        await eventually(lambda: first.stats.position >= last, what="the first relay")
        tasks.append(asyncio.create_task(second.run(stop)))
        await asyncio.sleep(0.3)
        assert not second.stats.leading

        # When the first relay's lock session ends (as when its connection breaks)
        holder = await lock_holder(pool, first)
        assert holder is not None
        await pool.execute("SELECT pg_terminate_backend($1)", holder)

        # Then it steps down, the second takes over and publishes what follows, once
        await eventually(lambda: second.stats.leading, what="the take-over")
        await eventually(lambda: not first.stats.leading, what="the step-down")
        published_by_first = first.stats.published
        last = await asyncio.to_thread(register, writer, 3)
        await eventually(lambda: second.stats.position >= last, what="the second relay")
        await asyncio.sleep(0.3)
        assert first.stats.published == published_by_first
        assert await stream_msg_ids(js) == expected_ids(18)
    finally:
        stop.set()
        for task in tasks:
            await asyncio.wait_for(task, 10)
        for app in (writer, first_app, second_app):
            close_app(app)


async def test_the_events_of_one_command_share_one_publish_span_and_each_message_points_at_it(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    setup_tracing("hub-tests", EXPORTER)
    EXPORTER.clear()
    app = foreigners_authority(settings)
    traces = ["0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"]
    try:
        # Given two commands, each with its caller's trace context (three events each)
        for trace_id in traces:
            context = SYSTEM_CONTEXT.with_traceparent(f"00-{trace_id}-b7ad6b7169203331-01")
            with use_context(context):
                last = await asyncio.to_thread(register, app, 1)
        js = nats_client.jetstream()

        # When the relay publishes them (in one batch)
        await run_until(relay_of(app, js, pool), last)

        # Then there is one publish span per command, in the command's trace
        spans = [s for s in EXPORTER.get_finished_spans() if s.name == "relay publish"]
        assert [format(s.context.trace_id, "032x") for s in spans] == traces
        assert [s.attributes["messaging.batch.message_count"] for s in spans] == [3, 3]
        # and every message carries its command's span as the parent of what consumes it
        info = await js.stream_info(STREAM)
        parents = [
            (await js.get_msg(STREAM, seq=seq)).headers["traceparent"].split("-")[2]
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
        assert parents == [format(s.context.span_id, "016x") for s in spans for _ in range(3)]
    finally:
        close_app(app)


async def test_a_lone_relay_whose_lock_session_is_cut_leads_again_without_waiting_for_its_check(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """The lock's connection ending is heard at once (not only at the next periodic check):
    the relay steps down, takes the lock again on a new connection and publishes on."""
    writer, app = foreigners_authority(settings), foreigners_authority(settings)
    js = nats_client.jetstream()
    relay = relay_of(app, js, pool, lock_retry=0.05, lock_check=600)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        # Given the only relay, publishing
        last = await asyncio.to_thread(register, writer, 3)
        await eventually(lambda: relay.stats.position >= last, what="the relay")

        # When its lock session is cut (as a PostgreSQL restart or a broken link cuts it)
        holder = await lock_holder(pool, relay)
        assert holder is not None
        await pool.execute("SELECT pg_terminate_backend($1)", holder)

        # Then it holds the lock again on a new session long before its periodic lock check
        # would run (publishing without it would let a second relay publish beside it), and
        # publishes what follows without stumbling over the connection the pool took back
        deadline = time.monotonic() + 20
        while await lock_holder(pool, relay) in (None, holder):
            assert time.monotonic() < deadline, "the relay did not take its lock again"
            await asyncio.sleep(0.05)
        assert relay.stats.leading
        last = await asyncio.to_thread(register, writer, 3)
        await eventually(lambda: relay.stats.position >= last, what="the relay after the cut")
        assert await stream_msg_ids(js) == expected_ids(18)
        assert "released back to the pool" not in caplog.text
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        for each in (writer, app):
            close_app(each)


async def test_when_the_publishing_relay_process_dies_the_waiting_one_takes_over(
    settings: HubSettings, nats_client: Any, servers: Any, tmp_path: Any
) -> None:
    writer = foreigners_authority(settings)
    env = {
        **os.environ,
        "HUB_POSTGRES_URL": servers.postgres_url,
        "HUB_NATS_URL": servers.nats_url,
        "HUB_NATS_DEV_SECRETS": str(servers.nats_secrets),
        "HUB_DATABASE": settings.database,
        "HUB_HOME": str(settings.home),
        "HUB_VAULT_MASTER_KEY": settings.resolved_vault_master_key(),
        "HUB_LOG_LEVEL": "INFO",
    }
    argv = [sys.executable, "-m", "hub", "run", "relay", "foreigners_authority"]
    js = nats_client.jetstream()

    async def on_stream(count: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(Exception):
                if (await js.stream_info(STREAM)).state.last_seq >= count:
                    return
            assert time.monotonic() < deadline, f"fewer than {count} events on the stream"
            await asyncio.sleep(0.1)

    second_log = tmp_path / "second.log"
    first = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    second = None
    try:
        # Given a relay process that publishes, and a second one that waits
        await on_stream(await asyncio.to_thread(register, writer, 5))
        with second_log.open("wb") as log_file:
            second = subprocess.Popen(argv, env=env, stderr=log_file)
        deadline = time.monotonic() + 30
        while "waiting" not in second_log.read_text():
            assert time.monotonic() < deadline, second_log.read_text()
            await asyncio.sleep(0.1)

        # When the first dies, and more events are recorded
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        await on_stream(await asyncio.to_thread(register, writer, 5))

        # Then the second took over, and every event is on the stream once, in order
        assert "took over" in second_log.read_text()
        assert await stream_msg_ids(js) == expected_ids(30)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
        close_app(writer)


async def test_the_position_is_recorded_lazily_and_when_the_relay_stops(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on a machine booted moments ago, whose monotonic clock is still below the interval
    # (the first batch was once recorded only an interval after the boot)
    booted = time.monotonic() - 1.0
    monkeypatch.setattr(
        relay_module, "time", SimpleNamespace(monotonic=lambda: time.monotonic() - booted)
    )
    app = foreigners_authority(settings)
    js = nats_client.jetstream()
    relay = relay_of(
        app,
        js,
        pool,
        position_interval=3600,
        idle_check=3600,  # no idle moment either: only the stop records it
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        first = await asyncio.to_thread(register, app, 1)
        await eventually(lambda: relay.stats.position >= first, what="the first arrival")
        assert 0 < await relay.recorded_position() <= first  # the first batch at once
        last = await asyncio.to_thread(register, app, 10)
        await eventually(lambda: relay.stats.position >= last, what="all arrivals")

        assert await stream_msg_ids(js) == expected_ids(last)
        assert await relay.recorded_position() < last  # acknowledged, not recorded yet

        stop.set()
        await asyncio.wait_for(task, 10)
        assert await relay.recorded_position() == last
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        close_app(app)


async def test_a_message_the_relay_did_not_publish_does_not_stall_it(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    app = foreigners_authority(settings)
    js = nats_client.jetstream()
    relay = relay_of(
        app,
        js,
        pool,
        ack_timeout=120,  # a refused publish waiting for it would stall the relay this long
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        first = await asyncio.to_thread(register, app, 1)
        await eventually(lambda: relay.stats.position >= first, what="the first arrival")
        # someone else (here the bus's admin) puts a message on the service's stream: the
        # relay's next publish fails its expected-last-message check
        await js.publish(
            "hub.foreigners_authority.entry_recorded.v1", b"{}", headers={MSG_ID: "intruder:1"}
        )
        last = await asyncio.to_thread(register, app, 2)

        await eventually(lambda: relay.stats.position >= last, timeout=20, what="the rest")

        later = [f"foreigners_authority:{n}" for n in range(first + 1, last + 1)]
        assert await stream_msg_ids(js) == [*expected_ids(first), "intruder:1", *later]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        close_app(app)


class CountingRelay(OutboxRelay):
    """Counts its reads of the log and the wake-ups it heard."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reads: list[int] = []  # how many events each non-empty read found

    async def read(self, after: int, limit: int) -> list[tuple[Any, int]]:
        batch = await super().read(after, limit)
        if batch:
            self.reads.append(len(batch))
        return batch


async def test_a_burst_arriving_while_the_relay_waits_is_published_once_in_order_in_few_reads(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    app = foreigners_authority(settings)
    js = nats_client.jetstream()
    relay = relay_of(
        app,
        js,
        pool,
        kind=CountingRelay,
        coalesce=0.3,  # long, so that the whole burst arrives within the first wait
        coalesce_within=3600,  # and it waits after a quiet spell too
        idle_check=3600,  # only notifications wake it
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await eventually(lambda: relay.stats.leading, what="the relay to lead")
        await asyncio.sleep(0.2)  # it waits for a notification

        def burst() -> int:
            with ThreadPoolExecutor(4) as pool_:
                return max(pool_.map(lambda _: register(app, 5), range(4)))

        last = await asyncio.to_thread(burst)  # 20 commands, 20 commits, 20 notifications
        await eventually(lambda: relay.stats.position >= last, what="the burst")

        assert await stream_msg_ids(js) == expected_ids(60)
        assert relay.stats.published == 60
        assert sum(relay.reads) == 60
        assert len(relay.reads) < 20  # the notifications were served by fewer reads
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        close_app(app)


async def test_a_stop_during_the_coalescing_wait_loses_and_duplicates_nothing(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    app = foreigners_authority(settings)
    js = nats_client.jetstream()
    options: dict[str, Any] = {"coalesce": 1.0, "coalesce_within": 3600, "idle_check": 3600}
    relay = relay_of(
        app,
        js,
        pool,
        kind=CountingRelay,
        **options,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        first = await asyncio.to_thread(register, app, 1)
        await eventually(lambda: relay.stats.position >= first, what="the first arrival")
        last = await asyncio.to_thread(register, app, 3)
        await asyncio.sleep(0.3)  # heard, and waiting for more before it reads
        stop.set()
        await asyncio.wait_for(task, 10)

        assert await stream_msg_ids(js) == expected_ids(first)  # the rest was not read yet
        assert await relay.recorded_position() == first

        successor = relay_of(
            app,
            js,
            pool,
            kind=CountingRelay,
            **options,
        )
        await run_until(successor, last)
        assert await stream_msg_ids(js) == expected_ids(last)
        assert successor.stats.published == last - first
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 10)
        close_app(app)


async def test_after_a_quiet_spell_the_first_notification_is_read_at_once(
    settings: HubSettings, nats_client: Any, pool: asyncpg.Pool
) -> None:
    """The coalescing wait is for events that flow: an arrival after a quiet spell is
    published without it (the wait is long here, so that it would show)."""
    app = foreigners_authority(settings)
    js = nats_client.jetstream()
    relay = relay_of(
        app, js, pool, kind=CountingRelay, coalesce=2.0, coalesce_within=0.05, idle_check=3600
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await eventually(lambda: relay.stats.leading, what="the relay to lead")
        await asyncio.sleep(0.2)  # quiet: longer than coalesce_within
        last = await asyncio.to_thread(register, app, 1)
        heard = time.monotonic()
        await eventually(lambda: relay.stats.position >= last, timeout=10, what="the arrival")

        assert time.monotonic() - heard < 1.5  # not behind the 2 s wait
        assert await stream_msg_ids(js) == expected_ids(last)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        close_app(app)
