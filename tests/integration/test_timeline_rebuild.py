"""Rebuilding the timeline from the streams ends with the same rows, even while it is live."""

from __future__ import annotations

import asyncio
from typing import Any

from projections.rebuild import rebuild_timeline
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub
from tests.integration.test_gateway import REGISTER, TIMELINE

SNAPSHOT = (
    "SELECT source, position, event_id, person_id, event_type, occurred_at, recorded_at,"
    " summary, trace_id FROM projections.timeline_events ORDER BY source, position"
)


async def register_many(hub: InProcessHub, count: int) -> str:
    position = ""
    for _ in range(count):
        body = await hub.graphql(REGISTER, {"input": arrival_input()})
        position = body["data"]["registerArrival"]["position"]
        person = body["data"]["registerArrival"]["personId"]
    await hub.graphql(TIMELINE, {"id": person, "atLeast": position})  # wait for projection
    return position


async def test_a_rebuild_replays_the_stream_into_the_same_rows(hub: InProcessHub) -> None:
    await register_many(hub, 10)
    before = [tuple(r) for r in await hub.pool.fetch(SNAPSHOT)]
    await hub.pool.execute("DELETE FROM projections.timeline_events WHERE position % 2 = 0")

    report = await rebuild_timeline(hub.js, hub.pool)

    after = [tuple(r) for r in await hub.pool.fetch(SNAPSHOT)]
    assert after == before
    assert report.rows == 30
    assert report.positions == {"foreigners_authority": 30}


async def test_a_rebuild_while_events_keep_arriving_loses_none(hub: InProcessHub) -> None:
    await register_many(hub, 5)

    async def keep_writing() -> Any:
        return await register_many(hub, 10)

    writer = asyncio.create_task(keep_writing())
    await rebuild_timeline(hub.js, hub.pool)
    await writer
    await register_many(hub, 1)

    rows = await hub.pool.fetch(SNAPSHOT)
    assert [r["position"] for r in rows] == list(range(1, 49))
    positions = await hub.pool.fetch(
        "SELECT consumer, source, position FROM projections.consumer_positions"
        " WHERE consumer = 'timeline'"
    )
    assert [(r["source"], r["position"]) for r in positions] == [("foreigners_authority", 48)]
