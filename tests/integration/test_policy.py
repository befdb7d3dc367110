"""Policies run on the one consumer loop: poison is dead-lettered like a projection's, a
transient failure is retried with backoff and then applied exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import eventsourcing.persistence
import pytest
from eventsourcing.persistence import Tracking

from contracts import DEAD_LETTER_STREAM, CloudEvent, Payload, encode_event
from projections.schema import ensure
from projections.timeline.projector import SCHEMA, TimelineProjection
from services.runtime.commands import CommandServer
from services.runtime.consumer import ConsumerLoop
from services.runtime.messaging import ensure_dead_letter_stream, ensure_service_stream
from services.runtime.policy import PolicyLoop
from services.runtime.service import build_application
from services.runtime.settings import HubSettings
from services.steering_group import SPEC
from services.steering_group.application import SteeringGroup
from services.steering_group.policies import on_gap_reported, policies
from tests.helpers import close_app

CM_GAP = "hub.case_management.systemic_gap_reported.v1"
BOARD_GAP = "hub.conflict_management.systemic_gap_reported.v1"
ESCALATED = "hub.conflict_management.conflict_escalated.v1"
NAK_DELAY = 0.2


def contract_event(type_: str, position: int, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/hub/{type_.split('.')[1]}",
        type=type_,
        time=datetime(2026, 1, 12, tzinfo=UTC),
        dataschema=f"urn:hub:schema:{type_}",
        data=data,
        correlationid=str(uuid.uuid4()),
        legalbasis="§ 45 SGB VIII",
        purpose="steering",
        sourceagency="kim-05315",
        actingrole="case_manager",
        recordedtime=datetime.now(UTC),
        sourceposition=position,
    )


def gap(position: int, **data: Any) -> CloudEvent:
    payload = {
        "gap_id": str(uuid.uuid4()),
        "category": "waiting_times",
        "description": "Wartezeiten auf Sprachkurse verhindern die Arbeitsaufnahme.",
        "agency": "kim-05315",
        "reported_on": "2026-01-12",
        **data,
    }
    return contract_event(CM_GAP, position, payload)


def board_gap(position: int) -> CloudEvent:
    payload = {
        "gap_id": str(uuid.uuid4()),
        "category": "social_cohesion",
        "description": "Fehlende Treffpunkte für Jugendliche in mehreren Stadtteilen.",
        "reported_on": "2026-01-12",
    }
    return contract_event(BOARD_GAP, position, payload)


def escalation(position: int) -> CloudEvent:
    payload = {
        "conflict_id": str(uuid.uuid4()),
        "district": "Innenstadt",
        "from_stage": 5,
        "to_stage": 6,
        "to_body": "steering_group",
        "reason": "Die Moderation im Quartier ist gescheitert.",
    }
    return contract_event(ESCALATED, position, payload)


@pytest.fixture
async def js(nats_client: Any) -> Any:
    js = nats_client.jetstream()
    for service in ("case_management", "conflict_management"):
        await ensure_service_stream(js, service)
    await ensure_dead_letter_stream(js)
    return js


@pytest.fixture
def steering(settings: HubSettings) -> Iterator[SteeringGroup]:
    app = build_application(SPEC, settings, pool_size=2)
    assert isinstance(app, SteeringGroup)
    yield app
    close_app(app)


@pytest.fixture
async def execute(nats_client: Any) -> AsyncIterator[Any]:
    """The steering group's writer thread, as its command server runs reactions."""
    server = CommandServer(nats_client, "steering_group")
    yield server.execute
    await server.stop()


@contextlib.asynccontextmanager
async def running(*loops: ConsumerLoop) -> AsyncIterator[None]:
    stop = asyncio.Event()
    for loop in loops:
        await loop.setup()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


def received(app: SteeringGroup) -> list[str]:
    """The steering group's stored events, as ``<originator id>:<event class>``."""
    return [
        f"{n.originator_id}:{n.topic.rsplit(':', 1)[-1]}"
        for n in app.notification_log.select(start=1, limit=10)
    ]


def gap_policy(js: Any, steering: SteeringGroup, execute: Any, react: Any = None) -> PolicyLoop:
    return PolicyLoop(
        js=js,
        source="case_management",
        event_type=CM_GAP,
        durable="steering_gaps",
        react=react or on_gap_reported(steering),
        execute=execute,
        nak_delay=NAK_DELAY,
        fetch_timeout=0.5,
    )


async def drained(loop: ConsumerLoop) -> bool:
    return await loop.num_pending() == 0


# ------------------------------------------------------------------------------ poison


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\xffnot json", "JSON"),
        (encode_event(gap(1, description=None)), "description"),
        # the contract takes any non-empty id; the steering group needs a UUID
        (encode_event(gap(1, gap_id="GAP-17")), "badly formed hexadecimal UUID"),
    ],
    ids=["undecodable", "invalid-payload", "rejected-by-the-reaction"],
)
async def test_a_poison_message_to_a_policy_is_dead_lettered_and_the_next_one_applied(
    js: Any, steering: SteeringGroup, execute: Any, raw: bytes, reason: str
) -> None:
    # Given a poison message and then a good gap report on the case-management stream
    await js.publish(CM_GAP, raw)
    good = gap(2)
    await js.publish(CM_GAP, encode_event(good))
    loop = gap_policy(js, steering, execute)

    # When the steering group's gap policy runs
    async with running(loop):
        await until(lambda: drained(loop))

    # Then the poison is parked with its reason and never redelivered, and the good one arrived
    dead = await js.get_last_msg(DEAD_LETTER_STREAM, "hub.dlq.steering_gaps")
    assert reason.lower() in dead.headers["Hub-Dead-Letter-Reason"].lower()
    assert dead.headers["Hub-Original-Sequence"] == "1"
    assert dead.data == raw
    assert received(steering) == [f"{good.data['gap_id']}:Gap.Received"]
    assert (loop.stats.dead_lettered, loop.stats.applied, loop.stats.naked) == (1, 1, 0)


async def test_a_policy_dead_letters_with_the_same_headers_as_a_projection(
    js: Any, steering: SteeringGroup, execute: Any, database_url: str
) -> None:
    # Given an undecodable message on the gap subject, read by the steering group's policy and
    # by a projection of the case-management stream
    await js.publish(CM_GAP, b"\x00\xffnot json")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await ensure(pool)
    projection = ConsumerLoop(
        js=js,
        pool=pool,
        stream="HUB_CASE_MANAGEMENT",
        source="case_management",
        durable="timeline_cm_test",
        position_name="timeline",
        handler=TimelineProjection(),
        schema=SCHEMA,
    )
    policy = gap_policy(js, steering, execute)

    # When both consume it
    try:
        async with running(policy, projection):
            await until(lambda: drained(policy))
            await until(lambda: drained(projection))
    finally:
        await pool.close()

    # Then both dead-lettered it the same way: same headers, only the consumer differs
    by_policy = await js.get_last_msg(DEAD_LETTER_STREAM, "hub.dlq.steering_gaps")
    by_projection = await js.get_last_msg(DEAD_LETTER_STREAM, "hub.dlq.timeline_cm_test")
    assert set(by_policy.headers) == set(by_projection.headers)
    assert set(by_policy.headers) >= {
        "Hub-Dead-Letter-Reason",
        "Hub-Consumer",
        "Hub-Original-Subject",
        "Hub-Original-Stream",
        "Hub-Original-Sequence",
        "Nats-Msg-Id",
    }
    differing = {k for k in by_policy.headers if by_policy.headers[k] != by_projection.headers[k]}
    assert differing == {"Hub-Consumer", "Nats-Msg-Id"}
    assert by_policy.headers["Hub-Consumer"] == "steering_gaps"
    assert by_policy.headers["Hub-Original-Stream"] == "HUB_CASE_MANAGEMENT"


# ---------------------------------------------------------------------------- transient


class Unreachable:
    """Wraps a reaction: the event store is unreachable for its first ``failures`` calls."""

    def __init__(self, react: Callable[[CloudEvent, Payload, Tracking], bool], failures: int):
        self.react = react
        self.failures = failures
        self.calls: list[tuple[int, float]] = []  # (source position, when)

    def __call__(self, event: CloudEvent, payload: Payload, tracking: Tracking) -> bool:
        self.calls.append((event.sourceposition, time.monotonic()))
        if self.failures:
            self.failures -= 1
            raise eventsourcing.persistence.OperationalError("connection refused")
        return self.react(event, payload, tracking)


async def test_a_transient_policy_failure_is_retried_with_backoff_then_applied_once(
    js: Any, steering: SteeringGroup, execute: Any
) -> None:
    # Given two gap reports, the first also delivered twice (a redelivery), and an event store
    # that is unreachable for the first three attempts
    first, second = gap(1), gap(2)
    for event in (first, second, first):
        await js.publish(CM_GAP, encode_event(event))
    react = Unreachable(on_gap_reported(steering), failures=3)
    loop = gap_policy(js, steering, execute, react)

    # When the policy runs until both have arrived
    async with running(loop):
        await until(lambda: drained(loop))

    # Then the first was retried with growing delays and never overtaken by the second,
    # each was applied exactly once, and nothing was dead-lettered
    assert [position for position, _ in react.calls] == [1, 1, 1, 1, 2, 1]
    waits = [b - a for (_, a), (_, b) in zip(react.calls, react.calls[1:4], strict=False)]
    assert waits[0] >= NAK_DELAY * 0.9
    assert waits[1] >= 2 * NAK_DELAY * 0.9
    assert waits[2] >= 4 * NAK_DELAY * 0.9
    assert received(steering) == [
        f"{first.data['gap_id']}:Gap.Received",
        f"{second.data['gap_id']}:Gap.Received",
    ]
    assert (loop.stats.applied, loop.stats.duplicates) == (2, 1)
    assert (loop.stats.naked, loop.stats.dead_lettered) == (3, 0)


async def test_a_policy_restarted_after_a_crash_applies_nothing_twice(
    js: Any, steering: SteeringGroup, execute: Any
) -> None:
    # Given a gap report the policy applied, whose ack was lost in a crash
    report = gap(1)
    await js.publish(CM_GAP, encode_event(report))
    crashed = gap_policy(js, steering, execute)
    await crashed.setup()
    [msg] = await crashed.fetch(timeout=2)
    await crashed._apply_batch([crashed._decode(msg)])  # type: ignore[list-item]
    await msg.nak()  # never acked: the server redelivers it

    # When a new policy loop takes over
    restarted = gap_policy(js, steering, execute)
    async with running(restarted):
        await until(lambda: drained(restarted))

    # Then the redelivered report changed nothing
    assert received(steering) == [f"{report.data['gap_id']}:Gap.Received"]
    assert (restarted.stats.applied, restarted.stats.duplicates) == (0, 1)


async def test_two_policies_on_one_source_do_not_take_each_others_events_for_duplicates(
    js: Any, steering: SteeringGroup, execute: Any
) -> None:
    # Given a board gap report and then an escalation to the steering group, both on the
    # conflict-management stream
    reported, escalated = board_gap(1), escalation(2)
    await js.publish(BOARD_GAP, encode_event(reported))
    await js.publish(ESCALATED, encode_event(escalated))

    # When the escalation policy has read its event before the board-gap policy starts
    loops = {
        loop.durable: loop
        for loop in policies(steering, js, execute)
        if loop.source == "conflict_management"
    }
    async with running(loops["steering_escalations"]):
        await until(lambda: drained(loops["steering_escalations"]))
    async with running(loops["steering_board_gaps"]):
        await until(lambda: drained(loops["steering_board_gaps"]))

    # Then the board's gap reached the steering group too
    assert f"{reported.data['gap_id']}:Gap.Received" in received(steering)
    assert len(received(steering)) == 2
    assert loops["steering_board_gaps"].stats.applied == 1
