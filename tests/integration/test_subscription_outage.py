"""Live subscriptions outlast their database's connections being cut (as a PostgreSQL
restart cuts them): the listening connection comes back, and a subscription keeps its cursor
and delivers what followed instead of ending."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import asyncpg
import pytest
import uvicorn

from gateway.subscriptions import Notifier
from tests.integration.case_flow import CASE_MANAGER, consent_for_awo, open_case
from tests.integration.conftest import InProcessHub
from tests.integration.test_subscriptions import EVENTS, Subscriber, token_for


async def cut_connections(database_url: str) -> int:
    """Terminate every other session on the database; how many there were."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return len(rows)
    finally:
        await conn.close()


async def test_the_notifier_listens_again_after_its_connection_was_cut(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given a listening notifier whose connection the server then cuts
    notifier = Notifier(database_url)
    await notifier.start()
    try:
        assert await cut_connections(database_url) >= 1
        for _ in range(50):
            await asyncio.sleep(0.1)
            if notifier._conn is not None and not notifier._conn.is_closed():
                break

        # when the timeline notifies
        async with notifier.subscribe("hub_timeline") as waiter:
            waiter.clear()
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("NOTIFY hub_timeline")
            finally:
                await conn.close()

            # then the subscriber is woken at once, not only by its periodic look
            await asyncio.wait_for(waiter.wait(), 2)
        assert "listening connection was lost" in caplog.text
    finally:
        await notifier.close()


@pytest.fixture
async def ws_url(hub: InProcessHub) -> AsyncIterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(hub.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"ws://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await asyncio.wait_for(task, 10)


async def test_a_case_events_subscription_outlasts_cut_database_connections(
    hub: InProcessHub, ws_url: str, database_url: str
) -> None:
    """(Cut connections alone the pool replaces; a server that is away for seconds, where a
    read fails and the subscription must wait instead of ending, is the chaos run's
    PostgreSQL restart: tests/chaos.)"""
    # given a case manager subscribed to a person's events
    opened = await open_case(hub)
    token = token_for(hub, CASE_MANAGER)
    async with Subscriber.connect(ws_url, token) as manager:
        await manager.acked()
        await manager.subscribe("events", EVENTS, {"person": opened["personId"]})
        await asyncio.sleep(0.3)

        # when every database connection is cut, and then a consent is granted
        assert await cut_connections(database_url) >= 1
        await asyncio.sleep(0.5)
        await consent_for_awo(hub, opened["caseId"])

        # then the same subscription delivers it (after the case's own events)
        delivered: list[str] = []
        while "consent_granted" not in delivered:
            event = await manager.next(timeout=30)
            delivered.append(event["caseEvents"]["eventType"].split(".")[2])
        assert delivered[-1] == "consent_granted"
