"""A subscription's WebSocket: it lives no longer than the bearer token that opened it (4401
at its expiry), and a message the protocol does not define closes it with 4400 and a reason."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from services.runtime.settings import HubSettings
from services.runtime.tokens import issue_token
from tests.integration.gateway_only import bearer, running_gateway
from tests.integration.live_hub import served

EVENTS = "subscription { caseEvents { eventType } }"


@pytest.fixture
async def ws_url(settings: HubSettings, database_url: str, nats_client: Any) -> AsyncIterator[str]:
    async with serving(settings, database_url, nats_client) as url:
        yield url


@contextlib.asynccontextmanager
async def serving(settings: HubSettings, database_url: str, nats_client: Any) -> AsyncIterator[str]:
    """The gateway of ``settings`` on a real port, served as ``hub up`` serves it (its
    lifespan already running): its WebSocket URL."""
    async with (
        running_gateway(settings, database_url, nats_client) as (app, _),
        served(app, settings) as address,
    ):
        yield f"ws://{address}/graphql"


async def subscribed(url: str, authorization: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await started(ws, authorization)
    subscribe = {"id": "events", "type": "subscribe", "payload": {"query": EVENTS}}
    await ws.send(json.dumps(subscribe))
    return ws


async def test_a_subscription_is_closed_with_4401_when_its_token_expires(
    ws_url: str, settings: HubSettings
) -> None:
    short = bearer(settings, "case_manager", ttl_seconds=2)["Authorization"]
    long = bearer(settings, "case_manager", ttl_seconds=3600)["Authorization"]
    expiring, lasting = await subscribed(ws_url, short), await subscribed(ws_url, long)
    try:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(expiring.recv(), 6)

        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
        await lasting.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(lasting.recv(), 5))["type"] == "pong"
    finally:
        await expiring.close()
        await lasting.close()


MALFORMED = {
    "a list": [1, 2],
    "a string": "subscribe",
    "a number": 42,
    "a subscribe whose payload is a string": {"id": "1", "type": "subscribe", "payload": "x"},
    "a subscribe without a query": {"id": "1", "type": "subscribe", "payload": {}},
    "a subscribe whose query is a number": {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": 5},
    },
    "a subscribe whose variables are a list": {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": EVENTS, "variables": [1]},
    },
    "a subscribe whose id is a number": {
        "id": 1,
        "type": "subscribe",
        "payload": {"query": EVENTS},
    },
    "a subscribe without an id": {"type": "subscribe", "payload": {"query": EVENTS}},
    "a complete whose id is a list": {"id": ["1"], "type": "complete"},
    "an object without a type": {},
}


async def closed_with(ws: Any) -> Any:
    """The close frame the server sent after the last message."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd


@pytest.mark.parametrize("message", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_message_the_protocol_does_not_define_closes_the_socket_with_4400(
    ws_url: str, settings: HubSettings, message: Any
) -> None:
    authorization = bearer(settings, "case_manager")["Authorization"]
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await started(ws, authorization)
        await ws.send(json.dumps(message))
        close = await closed_with(ws)

    assert close.code == 4400
    assert close.reason
    # the gateway serves the next subscriber as before
    ws = await subscribed(ws_url, authorization)
    try:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
    finally:
        await ws.close()


async def test_a_message_that_is_no_object_before_the_init_closes_the_socket_with_4400(
    ws_url: str,
) -> None:
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send("[]")
        close = await closed_with(ws)

    assert close.code == 4400


async def started(ws: Any, authorization: str) -> None:
    init = {"type": "connection_init", "payload": {"Authorization": authorization}}
    await ws.send(json.dumps(init))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"


async def subscribe(ws: Any, id_: str) -> list[str]:
    """Starts subscription ``id_``; the error codes the gateway answers it with within a
    second, up to its end (none: it runs)."""
    await ws.send(json.dumps({"id": id_, "type": "subscribe", "payload": {"query": EVENTS}}))
    codes: list[str] = []
    with contextlib.suppress(TimeoutError):
        while True:
            answer = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            if answer.get("id") != id_:
                continue
            if answer["type"] == "complete":
                break
            payload = answer["payload"]
            errors = payload if answer["type"] == "error" else payload.get("errors") or []
            codes += [error["extensions"]["code"] for error in errors]
            if answer["type"] == "error":
                break
    return codes


async def test_a_user_holds_a_limited_number_of_live_subscriptions_across_sockets(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    """Each subscriber reads the read model at every commit: 2,000 subscriptions of one token
    took half a core of the gateway at 5 arrivals a second before there was a limit."""
    limited = settings.model_copy(update={"subscriptions_per_subject": 3})
    manager = bearer(settings, "case_manager")["Authorization"]
    officer = bearer(settings, "abh_officer")["Authorization"]
    async with serving(limited, database_url, nats_client) as url:
        connect = functools.partial(websockets.connect, url, subprotocols=["graphql-transport-ws"])
        async with connect() as first, connect() as second, connect() as other:
            await started(first, manager)
            await started(second, manager)
            await started(other, officer)
            assert await subscribe(first, "a") == []
            assert await subscribe(first, "b") == []
            assert await subscribe(second, "c") == []

            assert await subscribe(first, "d") == ["too_many_subscriptions"]
            assert await subscribe(second, "e") == ["too_many_subscriptions"]
            assert await subscribe(other, "f") == []  # another user is not affected

            await first.send(json.dumps({"id": "a", "type": "complete"}))
            await asyncio.sleep(0.3)
            assert await subscribe(second, "g") == []
            assert await subscribe(second, "h") == ["too_many_subscriptions"]
            await first.close()
            await asyncio.sleep(0.3)  # a closed socket gives its subscriptions back
            assert await subscribe(second, "i") == []


async def test_operations_over_a_socket_take_the_token_subjects_rate_limit(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    """graphql-transport-ws runs queries and mutations too: they took nothing from the rate
    limit of ``/graphql``, so a socket sent any number of them."""
    limited = settings.model_copy(update={"rate_limit_per_second": 1.0, "rate_limit_burst": 5})
    manager = bearer(settings, "case_manager")["Authorization"]
    async with (
        serving(limited, database_url, nats_client) as url,
        websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await started(ws, manager)
        answers = []
        for n in range(12):
            query = {"query": "{ __typename }"}
            await ws.send(json.dumps({"id": f"q{n}", "type": "subscribe", "payload": query}))
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            if answers[-1]["type"] == "next":
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "complete"

    ran = [a for a in answers if a["type"] == "next"]
    refused = [a for a in answers if a["type"] == "error"]
    assert 5 <= len(ran) <= 7  # the burst, and what a second or two of the rate adds
    assert len(refused) == 12 - len(ran)
    (error,) = refused[0]["payload"]
    assert error["extensions"]["code"] == "rate_limited"
    assert error["extensions"]["retryAfter"] >= 1


async def test_a_websocket_message_larger_than_the_body_limit_closes_the_socket_with_1009(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    """uvicorn's default let one message be 16 MiB, all of it decoded as JSON; an HTTP body
    stops at ``HUB_MAX_BODY_BYTES``, and a message now does too."""
    small = settings.model_copy(update={"max_body_bytes": 64 * 1024})
    authorization = bearer(settings, "case_manager")["Authorization"]
    async with (
        serving(small, database_url, nats_client) as url,
        websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await started(ws, authorization)
        within = {"type": "ping", "payload": {"note": "x" * (60 * 1024)}}
        await ws.send(json.dumps(within))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
        await ws.send(json.dumps({"type": "ping", "payload": {"note": "x" * (65 * 1024)}}))
        close = await closed_with(ws)

    assert close.code == 1009


async def test_the_workspaces_live_inbox_answers_429_when_its_user_has_no_room_left(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    """The live inbox's stream was answered 200 and ended at once when its subscription was
    refused, so the page reconnected, and read its list again, every second."""
    limited = settings.model_copy(update={"subscriptions_per_subject": 1})
    awo = issue_token(
        settings.resolved_jwt_secret(),
        subject="demo-awo",  # the workspace's demo user of the AWO
        agency="awo-05315",
        role="partner_agency",
        issuer=settings.jwt_issuer,
    )
    inbox = "subscription { referralInbox { id } }"
    async with (
        running_gateway(limited, database_url, nats_client) as (app, client),
        served(app, limited) as address,
        websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await started(ws, f"Bearer {awo}")
        await ws.send(json.dumps({"id": "a", "type": "subscribe", "payload": {"query": inbox}}))
        await asyncio.sleep(0.3)  # it runs: the user's one place is taken
        assert (await client.post("/anmelden", data={"benutzer": "awo"})).status_code == 303

        live = await client.get("/eingang/live")

    assert live.status_code == 429
    assert int(live.headers["retry-after"]) > 0
