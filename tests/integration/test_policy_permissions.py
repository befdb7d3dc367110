"""A policy's consumer loop stays within its service's NATS permissions (deploy/nats/hub.conf):
it waits for the provisioned streams, creates and reads its filtered consumer, acks, naks and
dead-letters, and never needs to delete a consumer or create a stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from contracts import DEAD_LETTER_STREAM, CloudEvent, Payload, encode_event
from services.runtime.consumer import TransientFailure
from services.runtime.context import CommandContext
from services.runtime.policy import PolicyLoop
from tests.integration import test_nats_permissions as deployed
from tests.integration.test_policy import CM_GAP, gap

# the deployment's nats-server and its users (module fixtures of the permission tests)
bus = deployed.bus
connect = deployed.connect
streams = deployed.streams

T = TypeVar("T")


async def run_now(fn: Callable[[], T], context: CommandContext) -> T:
    return fn()


@pytest.mark.usefixtures("streams")
async def test_a_policy_consumes_retries_and_dead_letters_within_its_permissions(
    connect: Any,
) -> None:
    # Given the provisioned streams, and on the case-management stream a poison gap report
    # and a good one, whose first reaction fails transiently
    relay = await connect("case_management_relay")
    await relay.nc.jetstream(timeout=2).publish(CM_GAP, b"\x00\xffnot json")
    good = gap(2)
    await relay.nc.jetstream(timeout=2).publish(CM_GAP, encode_event(good))
    reacted: list[str] = []

    def react(event: CloudEvent, payload: Payload, tracking: Any) -> bool:
        reacted.append(event.id)
        if len(reacted) == 1:
            raise TransientFailure("the event store is restarting")
        return True

    # When the steering group's gap policy runs as the steering group's user
    steering = await connect("steering_group")
    loop = PolicyLoop(
        js=steering.nc.jetstream(timeout=2),
        source="case_management",
        event_type=CM_GAP,
        durable="steering_gaps",
        react=react,
        execute=run_now,
        nak_delay=0.1,
        fetch_timeout=0.5,
    )
    stop = asyncio.Event()
    await loop.setup()
    task = asyncio.create_task(loop.run(stop))
    deadline = time.monotonic() + 15
    while loop.stats.applied < 1 or await loop.num_pending():
        assert time.monotonic() < deadline, loop.stats
        await asyncio.sleep(0.05)
    stop.set()
    await task

    # Then the poison was parked, the good one applied after one retry, and the server
    # refused nothing
    parked = await steering.nc.jetstream(timeout=2).stream_info(
        DEAD_LETTER_STREAM, subjects_filter="hub.dlq.steering_gaps"
    )
    assert parked.state.subjects == {"hub.dlq.steering_gaps": 1}
    assert reacted == [good.id, good.id]
    assert (loop.stats.applied, loop.stats.naked, loop.stats.dead_lettered) == (1, 1, 1)
    assert steering.violations() == []
