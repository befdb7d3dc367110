"""The consumer loop: redeliveries change nothing; poison goes to the dead-letter subject."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from contracts import DEAD_LETTER_STREAM, REGISTRY, CloudEvent, Payload, encode_event
from projections.schema import ensure
from projections.timeline.projector import SCHEMA, TimelineProjection
from services.runtime.consumer import ConsumerLoop, PoisonMessage
from services.runtime.messaging import ensure_service_stream

SUBJECT = "hub.foreigners_authority.entry_recorded.v1"


def entry_event(position: int, person: str | None = None, **data: Any) -> CloudEvent:
    person = person or str(uuid.uuid4())
    payload = {"person_id": person, "entry_date": "2022-03-09", "entry_mode": "asylum", **data}
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/hub/foreigners_authority",
        type=SUBJECT,
        subject=person,
        time=datetime(2022, 3, 9, tzinfo=UTC),
        dataschema=f"urn:hub:schema:{SUBJECT}",
        data=payload,
        personid=person,
        correlationid=str(uuid.uuid4()),
        legalbasis="§ 86 AufenthG",
        purpose="residence_administration",
        sourceagency="abh-05315",
        actingrole="abh_officer",
        recordedtime=datetime.now(UTC),
        sourceposition=position,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    await ensure(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def js(nats_client: Any) -> Any:
    js = nats_client.jetstream()
    await ensure_service_stream(js, "foreigners_authority")
    return js


def timeline_loop(js: Any, pool: asyncpg.Pool, handler: Any = None, **options: Any) -> ConsumerLoop:
    """The timeline's loop on the test stream. It lingers 0.2 s after the first message of
    a fetch (unless told otherwise), so what the test published beforehand comes as one
    batch: the pull window hands over what has arrived, which may be a part of it."""
    return ConsumerLoop(
        js=js,
        pool=pool,
        stream="HUB_FOREIGNERS_AUTHORITY",
        source="foreigners_authority",
        durable="timeline_test",
        position_name="timeline",
        handler=handler or TimelineProjection(),
        schema=SCHEMA,
        nak_delay=0.2,
        **({"linger": 0.2} | options),
    )


async def drain(loop: ConsumerLoop) -> None:
    for _ in range(50):
        if await loop.num_pending() == 0:
            return
        await loop.poll(timeout=0.3)
    raise AssertionError("consumer did not drain")


async def rows(pool: asyncpg.Pool) -> list[tuple[str, int, str]]:
    records = await pool.fetch(
        "SELECT source, position, summary FROM projections.timeline_events ORDER BY position"
    )
    return [(r["source"], r["position"], r["summary"]) for r in records]


async def test_the_same_event_delivered_twice_is_applied_once(js: Any, pool: asyncpg.Pool) -> None:
    event = entry_event(1)
    await js.publish(SUBJECT, encode_event(event))
    await js.publish(SUBJECT, encode_event(event))  # a redelivery the dedupe window missed
    loop = timeline_loop(js, pool)
    await loop.setup()

    await drain(loop)

    assert len(await rows(pool)) == 1
    assert loop.stats.applied == 1
    assert loop.stats.duplicates == 1
    positions = await pool.fetch("SELECT source, position FROM projections.consumer_positions")
    assert [(r["source"], r["position"]) for r in positions] == [("foreigners_authority", 1)]


async def test_a_message_redelivered_after_its_ack_was_lost_changes_nothing(
    js: Any, pool: asyncpg.Pool
) -> None:
    for position in (1, 2, 3):
        await js.publish(SUBJECT, encode_event(entry_event(position)))
    loop = timeline_loop(js, pool)
    await loop.setup()
    msgs = await loop.fetch(timeout=2)

    await loop._apply_batch([(m, *REGISTRY.decode(m.data)) for m in msgs])
    # the process dies before acking: the server redelivers everything
    for msg in msgs:
        await msg.nak()
    await drain(loop)

    assert [p for _, p, _ in await rows(pool)] == [1, 2, 3]
    assert loop.stats.duplicates == 3


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\xffnot json", "JSON"),
        (json.dumps({"specversion": "1.0"}).encode(), "id"),
        (
            encode_event(entry_event(1).model_copy(update={"type": "hub.nobody.thing.v1"})),
            "unknown event type",
        ),
        (encode_event(entry_event(1, entry_date="yesterday")), "entry_date"),
    ],
)
async def test_a_poison_message_goes_to_the_dead_letter_subject_with_its_reason(
    js: Any, pool: asyncpg.Pool, raw: bytes, reason: str
) -> None:
    await js.publish(SUBJECT, raw)
    await js.publish(SUBJECT, encode_event(entry_event(2)))
    loop = timeline_loop(js, pool)
    await loop.setup()

    await drain(loop)

    assert [p for _, p, _ in await rows(pool)] == [2]  # the good one still got through
    dead = await js.get_last_msg(DEAD_LETTER_STREAM, "hub.dlq.timeline_test")
    assert reason.lower() in dead.headers["Hub-Dead-Letter-Reason"].lower()
    assert dead.headers["Hub-Original-Sequence"] == "1"
    assert dead.data == raw
    assert await loop.num_pending() == 0  # term()ed: never redelivered


class FailsOnce(TimelineProjection):
    """A handler whose database is briefly unreachable."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("database went away")
        await super().apply(conn, event, payload)


async def test_a_transient_failure_is_retried_in_order(js: Any, pool: asyncpg.Pool) -> None:
    for position in (1, 2, 3):
        await js.publish(SUBJECT, encode_event(entry_event(position)))
    loop = timeline_loop(js, pool, FailsOnce())
    await loop.setup()

    await loop.poll(timeout=1)
    assert await rows(pool) == []
    assert loop.stats.naked == 3
    await drain(loop)

    assert [p for _, p, _ in await rows(pool)] == [1, 2, 3]
    assert loop.stats.dead_lettered == 0


class RejectsPosition2(TimelineProjection):
    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        if event.sourceposition == 2:
            raise PoisonMessage("position 2 can never be applied")
        await super().apply(conn, event, payload)


async def test_an_event_the_handler_rejects_is_isolated_from_its_batch(
    js: Any, pool: asyncpg.Pool
) -> None:
    for position in (1, 2, 3):
        await js.publish(SUBJECT, encode_event(entry_event(position)))
    loop = timeline_loop(js, pool, RejectsPosition2())
    await loop.setup()

    await drain(loop)

    assert [p for _, p, _ in await rows(pool)] == [1, 3]
    assert loop.stats.dead_lettered == 1
    dead = await js.get_last_msg(DEAD_LETTER_STREAM, "hub.dlq.timeline_test")
    assert "position 2" in dead.headers["Hub-Dead-Letter-Reason"]


async def test_summaries_carry_no_personal_data(js: Any, pool: asyncpg.Pool) -> None:
    await js.publish(SUBJECT, encode_event(entry_event(1)))
    loop = timeline_loop(js, pool)
    await loop.setup()

    await drain(loop)

    ((_, _, summary),) = await rows(pool)
    assert summary == "Entered Germany on 2022-03-09 seeking asylum"


async def test_a_consumer_that_died_holding_a_batch_loses_nothing_and_keeps_order(
    js: Any, pool: asyncpg.Pool
) -> None:
    for position in (1, 2, 3):
        await js.publish(SUBJECT, encode_event(entry_event(position)))
    crashed = timeline_loop(js, pool, linger=0.5)  # the three arrive before it takes a batch
    await crashed.setup()
    held = await crashed.fetch(timeout=2)  # fetched, never acked: the process dies here
    assert len(held) == 3
    for position in (4, 5, 6):
        await js.publish(SUBJECT, encode_event(entry_event(position)))

    restarted = timeline_loop(js, pool)
    await restarted.setup()
    await drain(restarted)

    assert [p for _, p, _ in await rows(pool)] == [1, 2, 3, 4, 5, 6]
    assert restarted.stats.duplicates == 0


async def test_a_poison_message_between_good_ones_loses_none_of_them(
    js: Any, pool: asyncpg.Pool
) -> None:
    # Given a fresh projection and, in one batch, a good event, a poison one and a good one
    await js.publish(SUBJECT, encode_event(entry_event(1)))
    await js.publish(SUBJECT, b"\x00\xffnot json")
    await js.publish(SUBJECT, encode_event(entry_event(2)))
    loop = timeline_loop(js, pool)
    await loop.setup()

    # When it consumes them
    await drain(loop)

    # Then both good events are applied and the poison one is dead-lettered
    assert [p for _, p, _ in await rows(pool)] == [1, 2]
    assert (loop.stats.applied, loop.stats.duplicates, loop.stats.dead_lettered) == (2, 0, 1)
    dead = await js.get_last_msg(DEAD_LETTER_STREAM, "hub.dlq.timeline_test")
    assert dead.headers["Hub-Original-Sequence"] == "2"


class Unreachable(TimelineProjection):
    """A handler whose database is unreachable for its first ``failures`` transactions."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts: list[float] = []

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        if event.sourceposition == 1:
            self.attempts.append(time.monotonic())
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("database unreachable")
        await super().apply(conn, event, payload)


async def test_a_failure_that_persists_is_retried_with_growing_delays(
    js: Any, pool: asyncpg.Pool
) -> None:
    # Given two events and a database that is unreachable three times in a row
    for position in (1, 2):
        await js.publish(SUBJECT, encode_event(entry_event(position)))
    handler = Unreachable(failures=3)
    loop = timeline_loop(js, pool, handler, linger=0.3)  # both events in every attempt
    await loop.setup()

    # When the loop runs until they are applied
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        for _ in range(100):
            if len(await rows(pool)) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task

    # Then each retry waited twice as long as the one before, and both were applied in order
    waits = [b - a for a, b in itertools.pairwise(handler.attempts)]
    assert len(waits) == 3
    for wait, expected in zip(waits, (0.2, 0.4, 0.8), strict=True):
        assert wait >= expected * 0.9, waits
    assert [p for _, p, _ in await rows(pool)] == [1, 2]
    assert (loop.stats.naked, loop.stats.dead_lettered) == (6, 0)


class CommitMode(TimelineProjection):
    """The timeline projection, noting how its transactions commit."""

    def __init__(self) -> None:
        super().__init__()
        self.modes: list[str] = []

    async def begin(self, conn: asyncpg.Connection) -> None:
        self.modes.append(await conn.fetchval("SELECT current_setting('synchronous_commit')"))
        await super().begin(conn)


async def test_a_projection_commits_without_waiting_for_the_wal_flush(
    js: Any, pool: asyncpg.Pool, database_url: str
) -> None:
    await js.publish(SUBJECT, encode_event(entry_event(1)))
    handler = CommitMode()
    synchronous = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, server_settings={"synchronous_commit": "on"}
    )
    try:
        loop = timeline_loop(js, synchronous, handler)
        await loop.setup()

        await drain(loop)

        assert handler.modes == ["off"]  # its own transactions only: the session is unchanged
        assert await synchronous.fetchval("SELECT current_setting('synchronous_commit')") == "on"
    finally:
        await synchronous.close()
    assert [p for _, p, _ in await rows(pool)] == [1]


async def test_a_batch_lost_by_a_database_crash_after_its_commit_is_applied_again(
    js: Any, pool: asyncpg.Pool
) -> None:
    for position in (1, 2, 3):
        await js.publish(SUBJECT, encode_event(entry_event(position)))
    loop = timeline_loop(js, pool)
    await loop.setup()
    await drain(loop)
    # PostgreSQL crashes before the WAL of the last batches reached the disk: the read
    # model and the position are back at event 1, though the messages were acked
    await pool.execute("DELETE FROM projections.timeline_events WHERE position > 1")
    await pool.execute(
        "UPDATE projections.consumer_positions SET position = 1, stream_seq = 1"
        " WHERE consumer = 'timeline'"
    )
    await js.publish(SUBJECT, encode_event(entry_event(4)))

    await drain(loop)
    await drain(loop)

    assert [p for _, p, _ in await rows(pool)] == [1, 2, 3, 4]


async def test_a_projection_acks_a_batch_with_one_ack_of_its_last_message(
    js: Any, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a durable consumer left by an older projector, with explicit acks
    await js.add_consumer(
        "HUB_FOREIGNERS_AUTHORITY",
        ConsumerConfig(durable_name="timeline_test", ack_policy=AckPolicy.EXPLICIT),
    )
    for position in (1, 2, 3, 4):
        await js.publish(SUBJECT, encode_event(entry_event(position)))
    acked: list[int] = []
    ack = Msg.ack

    async def counted(msg: Msg) -> None:
        acked.append(msg.metadata.sequence.stream)
        await ack(msg)

    monkeypatch.setattr(Msg, "ack", counted)
    # (it lingers after the first message, so the four arrive before it applies a batch)
    loop = timeline_loop(js, pool, linger=0.5)

    # When the projection starts and consumes the four events in one batch
    await loop.setup()
    await drain(loop)

    # Then its consumer acks all (recreated with AckPolicy.ALL) and one ack settled them
    info = await js.consumer_info("HUB_FOREIGNERS_AUTHORITY", "timeline_test")
    assert info.config.ack_policy == AckPolicy.ALL
    assert acked == [4]
    assert (info.num_ack_pending, info.num_pending, info.ack_floor.stream_seq) == (0, 0, 4)
    assert [p for _, p, _ in await rows(pool)] == [1, 2, 3, 4]
