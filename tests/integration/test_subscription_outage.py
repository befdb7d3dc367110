"""Live subscriptions outlast their database's connections being cut (as a PostgreSQL
restart cuts them): the listening connection comes back, and a subscription keeps its cursor
and delivers what followed instead of ending."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway import subscriptions
from gateway.subscriptions import Notifier
from tests.integration.case_flow import CASE_MANAGER, consent_for_awo, open_case
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import served
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
        async with notifier.subscribe("hub_timeline", "tester") as waiter:
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
    async with served(hub.app, hub.settings) as address:
        yield f"ws://{address}/graphql"


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


def failing_once(real: Any, error: BaseException) -> Any:
    """``real`` (an async function), raising ``error`` on its first call only."""
    calls = 0

    async def once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise error
        return await real(*args, **kwargs)

    return once


async def test_a_case_events_subscription_outlasts_the_client_library_losing_track_of_a_cut_session(
    hub: InProcessHub, ws_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session the server terminates between two steps of a query leaves asyncpg with an
    InternalClientError (not a connection error): it passes like any lost connection."""
    opened = await open_case(hub)
    async with Subscriber.connect(ws_url, token_for(hub, CASE_MANAGER)) as manager:
        await manager.acked()
        await manager.subscribe("events", EVENTS, {"person": opened["personId"]})
        await asyncio.sleep(0.3)

        # when the next read after a wake-up meets such a session (and no periodic look
        # would come for ten minutes: only reading again at once delivers in time)
        monkeypatch.setattr(subscriptions, "RECHECK_SECONDS", 600.0)
        lost = asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        )
        monkeypatch.setattr(subscriptions, "new_rows", failing_once(subscriptions.new_rows, lost))
        await consent_for_awo(hub, opened["caseId"])

        # then the subscription reads again shortly and delivers, instead of ending with an
        # error or waiting for the next notification
        delivered: list[str] = []
        while "consent_granted" not in delivered:
            event = await manager.next(timeout=30)
            delivered.append(event["caseEvents"]["eventType"].split(".")[2])


async def test_an_unexpected_failure_ends_a_subscription_masked_coded_and_logged(
    hub: InProcessHub,
    ws_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As a query's: the client learns "internal error" (code internal), never the failure's
    own text, which may quote personal data; the operators find it in the log."""
    opened = await open_case(hub)
    async with Subscriber.connect(ws_url, token_for(hub, CASE_MANAGER)) as manager:
        await manager.acked()
        await manager.subscribe("events", EVENTS, {"person": opened["personId"]})
        await asyncio.sleep(0.3)

        # when the subscription fails in a way nobody foresaw
        failure = RuntimeError("no file for Ayşe Öztürk, born 1990-01-01")
        monkeypatch.setattr(
            subscriptions, "new_rows", failing_once(subscriptions.new_rows, failure)
        )
        await consent_for_awo(hub, opened["caseId"])

        # then the client is told so without the failure's text (after what was delivered
        # before it)
        message = json.loads(await asyncio.wait_for(manager.ws.recv(), 30))
        while message["type"] == "next" and message["payload"].get("data"):
            message = json.loads(await asyncio.wait_for(manager.ws.recv(), 30))
        assert message["type"] == "next", message
        assert message["payload"]["data"] is None
        assert message["payload"]["errors"] == [
            {"message": "internal error", "extensions": {"code": "internal"}}
        ]
    assert "Öztürk" not in json.dumps(message)
    assert "unexpected error in a subscription" in caplog.text
