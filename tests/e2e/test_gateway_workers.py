"""Several gateway processes on one port (``HUB_GATEWAY_WORKERS``): ``hub up`` runs them with
``SO_REUSEPORT``, each answers, each is restarted on its own, the audit log they write
together stays one chain, and a subscription on either sees what the projector commits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from gateway.audit import verify_chain
from services.runtime.database import with_database
from tests.conftest import Servers
from tests.e2e.test_hub_up import (
    REGISTER,
    TIMELINE,
    RunningHub,
    module_bus,
    module_hub_up,
)
from tests.helpers import arrival_input

pytestmark = pytest.mark.e2e

WORKERS = 2
EVENTS = "subscription { caseEvents { service eventType personId } }"


__all__ = ["module_bus"]  # the fixture, shared with test_hub_up.py


@pytest.fixture(scope="module")
def hub_with_two_gateways(
    tmp_path_factory: pytest.TempPathFactory, servers: Servers, module_bus: None
) -> Iterator[RunningHub]:
    """One ``hub up`` with two gateway processes for the module's tests (starting it is most
    of their time; each test's data is its own). After them it must still stop cleanly on
    Ctrl-C, the restarted gateway process included."""
    yield from module_hub_up(
        tmp_path_factory.mktemp("two-gateways"), servers, HUB_GATEWAY_WORKERS=str(WORKERS)
    )


def gateways(hub: RunningHub) -> list[psutil.Process]:
    """The hub's gateway processes (children of its own ``hub up``, never found by name)."""
    found = []
    for child in psutil.Process(hub.proc.pid).children():
        try:
            if child.cmdline()[-2:] == ["run", "gateway"]:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def connections(process: psutil.Process, port: int, status: str) -> int:
    try:
        return sum(
            1
            for c in process.net_connections(kind="tcp")
            if c.status == status and c.laddr and c.laddr.port == port
        )
    except psutil.NoSuchProcess:
        return 0


def wait_for_gateways(hub: RunningHub, port: int, timeout: float = 90) -> list[psutil.Process]:
    """Each of the WORKERS gateway processes, once it listens on the port."""
    deadline = time.monotonic() + timeout
    while True:
        found = gateways(hub)
        if len(found) == WORKERS and all(connections(p, port, psutil.CONN_LISTEN) for p in found):
            return found
        assert time.monotonic() < deadline, hub.log.read_text()[-3000:]
        time.sleep(0.2)


def port_of(hub: RunningHub) -> int:
    return int(hub.base_url.rsplit(":", 1)[1])


def read_timeline(
    client: httpx.Client, hub: RunningHub, person: str, position: str
) -> list[dict[str, Any]]:
    response = client.post(
        "/graphql",
        json={"query": TIMELINE, "variables": {"id": person, "atLeast": position}},
        headers={"Authorization": f"Bearer {hub.token()}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    timeline: list[dict[str, Any]] = body["data"]["person"]["timeline"]
    return timeline


def test_two_gateway_processes_answer_on_one_port_and_write_one_audit_chain(
    hub_with_two_gateways: RunningHub,
) -> None:
    hub = hub_with_two_gateways
    hub.wait_until_up()
    port = port_of(hub)
    first, second = wait_for_gateways(hub, port)
    assert first.pid != second.pid

    registered = hub.graphql(REGISTER, {"input": arrival_input()})["registerArrival"]
    person, position = registered["personId"], registered["position"]
    # keep-alive connections, one client each: the kernel spreads them over both processes
    clients = [httpx.Client(base_url=hub.base_url, timeout=30) for _ in range(16)]
    try:
        deadline = time.monotonic() + 30
        while True:
            timelines = [read_timeline(client, hub, person, position) for client in clients]
            served = [connections(p, port, psutil.CONN_ESTABLISHED) for p in (first, second)]
            if all(served) or time.monotonic() > deadline:
                break
            clients.append(httpx.Client(base_url=hub.base_url, timeout=30))
        assert all(served), f"connections per gateway process: {served}"
        assert all(t == timelines[0] and len(t) == 3 for t in timelines)
    finally:
        for client in clients:
            client.close()

    async def chain() -> tuple[bool, int]:
        conn = await asyncpg.connect(
            with_database(hub.env["HUB_POSTGRES_URL"], hub.env["HUB_DATABASE"])
        )
        try:
            report = await verify_chain(conn)
            readers = await conn.fetchval(
                "SELECT count(*) FROM gateway.audit_log WHERE action = 'timeline'"
                " AND person_id = $1::uuid",
                person,
            )
        finally:
            await conn.close()
        return report.intact, int(readers)

    intact, entries = asyncio.run(chain())
    assert intact
    assert entries >= len(timelines)  # every read audited, whichever process answered it


def test_a_subscription_on_either_gateway_sees_events_and_a_killed_one_is_restarted(
    hub_with_two_gateways: RunningHub,
) -> None:
    hub = hub_with_two_gateways
    hub.wait_until_up()
    port = port_of(hub)
    first, second = wait_for_gateways(hub, port)
    asyncio.run(subscriptions_on_both(hub, port, first, second))

    # kill -9 the second: the first answers on, and the supervisor starts it again
    os.kill(second.pid, signal.SIGKILL)
    second.wait(10)
    for _ in range(20):  # new connections, each to whichever process still listens
        with httpx.Client(base_url=hub.base_url, timeout=30) as client:
            response = client.get("/healthz")
            assert response.status_code == 200
    restarted = wait_for_gateways(hub, port)
    assert first.pid in {p.pid for p in restarted}
    assert second.pid not in {p.pid for p in restarted}
    assert "gateway-2 exited with -9; restarting" in hub.log.read_text()


async def subscriptions_on_both(
    hub: RunningHub, port: int, first: psutil.Process, second: psutil.Process
) -> None:
    """Subscriptions on both processes (opened until each holds one); each receives the
    events of an arrival registered after they started."""
    import websockets

    url = hub.base_url.replace("http", "ws", 1) + "/graphql"
    sockets: list[Any] = []
    try:
        while not all(connections(p, port, psutil.CONN_ESTABLISHED) for p in (first, second)):
            assert len(sockets) < 30, "every subscription landed on one gateway process"
            ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
            sockets.append(ws)
            init = {
                "type": "connection_init",
                "payload": {"Authorization": f"Bearer {hub.token()}"},
            }
            await ws.send(json.dumps(init))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ack["type"] == "connection_ack", ack
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
            )
        await asyncio.sleep(1.0)  # every subscription has read its starting position
        person = (await asyncio.to_thread(hub.graphql, REGISTER, {"input": arrival_input()}))[
            "registerArrival"
        ]["personId"]

        async def arrival_seen(ws: Any) -> None:
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] == "next", message
                if message["payload"]["data"]["caseEvents"]["personId"] == person:
                    return

        await asyncio.wait_for(asyncio.gather(*(arrival_seen(ws) for ws in sockets)), 30)
    finally:
        for ws in sockets:
            await ws.close()
