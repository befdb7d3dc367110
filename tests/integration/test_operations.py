"""Operating the hub: ``hub status``, ``hub dlq list | show | replay``, and ``/readyz``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import uvicorn

from gateway.app import GatewayResources, create_app
from gateway.readiness import check
from hub import dlq
from hub.status import collect, dead_letter_counts, process_health, render, render_json
from services.runtime.messaging import close, connect
from services.runtime.settings import HubSettings
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub
from tests.integration.test_gateway import REGISTER
from tests.integration.test_rebuild import settle

ARRIVAL = "hub.foreigners_authority.person_registered.v1"
TIMELINE_FA = "timeline_foreigners_authority"


async def register(hub: InProcessHub, count: int) -> list[dict[str, Any]]:
    inputs = []
    for _ in range(count):
        given = arrival_input()
        body = await hub.graphql(REGISTER, {"input": given})
        assert "errors" not in body, body
        inputs.append(given)
    return inputs


async def eventually(check_it: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check_it()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The (already started) app on a real port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def cli_env(settings: HubSettings) -> dict[str, str]:
    assert settings.postgres_url
    assert settings.nats_url
    assert settings.nats_dev_secrets
    return {
        **os.environ,
        "HUB_HOME": str(settings.home),
        "HUB_POSTGRES_URL": settings.postgres_url,
        "HUB_NATS_URL": settings.nats_url,
        "HUB_NATS_DEV_SECRETS": str(settings.nats_dev_secrets),
        "HUB_DATABASE": settings.database,
    }


def hub_cli(settings: HubSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ---------------------------------------------------------------------------------- readiness


async def test_readyz_is_ready_with_every_dependency_up_and_no_lag(hub: InProcessHub) -> None:
    await register(hub, 2)
    await settle(hub)

    response = await hub.client.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["lag"]["timeline/foreigners_authority"] == 0
    assert body["lag"]["pathway/foreigners_authority"] == 0


async def test_readyz_names_lagging_read_models_and_a_lost_bus(
    hub: InProcessHub, database_url: str
) -> None:
    # Given a gateway that allows a lag of 2 events, with its own connection to the bus
    await register(hub, 2)
    await settle(hub)
    nc = await connect(hub.settings, "test-readyz", user="gateway")
    strict = hub.settings.model_copy(update={"ready_max_lag": 2})
    app = create_app(strict, GatewayResources(pool=hub.pool, nc=nc, url=database_url))
    async with app.router.lifespan_context(app), served(app) as url:
        import httpx

        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/readyz")).status_code == 200
            # When the pathway has read the foreigners authority's stream only to its start
            await hub.pool.execute(
                "UPDATE projections.consumer_positions SET stream_seq = 0"
                " WHERE consumer = 'pathway'"
            )
            lagging = await client.get("/readyz")
            # Then it is unready and says which read model lags, by how much
            assert lagging.status_code == 503
            failing = lagging.json()["failing"]
            assert set(failing) == {"projections"}
            assert failing["projections"]["max_lag"] == 2
            assert failing["projections"]["behind"] == {"pathway/foreigners_authority": 6}
            assert (await client.get("/healthz")).status_code == 200  # alive all the same

            # When the gateway loses the bus
            await close(nc)
            lost = await client.get("/readyz")
            assert lost.status_code == 503
            assert lost.json()["failing"]["nats"] == "not connected"


async def test_readiness_names_an_unreachable_database(hub: InProcessHub) -> None:
    # Given a pool on a server that does not answer (nothing listens on port 1)
    pool = await asyncpg.create_pool("postgresql://hub@127.0.0.1:1/hub", min_size=0)
    try:
        found = await check(pool, None, 100)
    finally:
        await pool.close()

    assert not found.ready
    assert found.failing["database"].startswith("unavailable (")
    assert found.failing["nats"] == "not connected"
    assert found.body()["status"] == "unready"


# ------------------------------------------------------------------------------------- status


async def test_status_shows_lags_relays_dead_letters_and_health(hub: InProcessHub) -> None:
    await register(hub, 3)
    await settle(hub)

    async with served(hub.app) as url:
        status = await collect(hub.js, hub.pool, url)

    consumers = {c.consumer: c for c in status.consumers}
    timeline = consumers[TIMELINE_FA]
    assert timeline.running
    assert timeline.lag == 0
    assert timeline.committed == timeline.last_seq == 9  # 3 events per arrival
    assert consumers["case_views_case_management"].lag == 0
    assert consumers["steering_gaps"].committed is None  # a policy: the server's cursor
    relays = {r.service: r for r in status.relays}
    assert relays["foreigners_authority"].relayed == relays["foreigners_authority"].stored == 9
    assert relays["case_management"].behind == 0
    assert status.dead_letters == {}
    assert [(h.endpoint, h.status) for h in status.health] == [
        ("gateway /healthz", 200),
        ("gateway /readyz", 200),
    ]
    assert status.healthy
    table = render(status)
    assert "timeline_foreigners_authority" in table
    assert "Dead letters" in table
    assert json.loads(render_json(status))["relays"][0]["behind"] == 0

    # and a gateway that does not answer is unhealthy
    nobody = f"http://127.0.0.1:{free_port()}"
    down = await process_health(nobody, nobody, timeout=1)
    assert [h.status for h in down] == [None, None, None]
    assert down[2].endpoint == "inbound /inbound/healthz"


async def test_hub_status_command_prints_json(hub: InProcessHub) -> None:
    await register(hub, 1)
    await settle(hub)

    result = await asyncio.to_thread(hub_cli, hub.settings, "status", "--json", "--no-health")

    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    lags = {c["consumer"]: c["lag"] for c in body["consumers"]}
    assert lags[TIMELINE_FA] == 0
    assert body["dead_letters"] == {}


# ------------------------------------------------------------------------------- dead letters


async def test_dead_letters_are_listed_shown_without_personal_values_and_replayed_once(
    hub: InProcessHub,
) -> None:
    # Given a timeline that cannot store arrivals (a fault fixed later), and two arrivals
    await hub.pool.execute(
        "ALTER TABLE projections.timeline_events ADD CONSTRAINT no_arrivals"
        f" CHECK (event_type <> '{ARRIVAL}') NOT VALID"
    )
    inputs = await register(hub, 2)
    counts = await eventually(lambda: _counts_when(hub, lambda c: c.get(TIMELINE_FA) == 2))
    await settle(hub)
    assert counts == {TIMELINE_FA: 2}  # the pathway read them: no letter of its own
    arrivals = "SELECT count(*) FROM projections.timeline_events WHERE event_type = $1"
    assert await hub.pool.fetchval(arrivals, ARRIVAL) == 0

    # When the operator lists and shows them
    found = await dlq.letters(hub.js)
    assert [f.consumer for f in found] == [TIMELINE_FA, TIMELINE_FA]
    assert all("CheckViolationError" in f.reason for f in found)
    assert {f.stream for f in found} == {"HUB_FOREIGNERS_AUTHORITY"}
    shown = dlq.render_letter(found[0]) + dlq.render_list(found)
    # Then nothing personal is printed, not even ciphertext
    for given in inputs:
        for value in (given["familyName"], given["azrNumber"], given["birthDate"]):
            assert value not in shown
    assert "Failing row" not in shown  # PostgreSQL's detail would echo the row
    assert f"type: {ARRIVAL}" in shown
    assert "data fields: [" in shown
    assert "replayable: yes" in shown

    # When a letter is replayed before the fault is fixed, it fails again and stays
    still = await dlq.replay(hub.js, hub.pool, found[0])
    assert still.result == "refused: still fails: CheckViolationError"
    assert len(await dlq.letters(hub.js)) == 2

    # When the fault is fixed and every letter replayed
    await hub.pool.execute("ALTER TABLE projections.timeline_events DROP CONSTRAINT no_arrivals")
    # (a letter about a person erased meanwhile is refused: nothing of them may reappear)
    erased = json.loads(found[1].data)["personid"]
    await hub.pool.execute(
        "INSERT INTO gateway.erasures (person_id, services, pending, ground, subject, agency,"
        " role) VALUES ($1, '{}', '{}', 'test', 'dpo', 'kim-05315', 'data_protection_officer')",
        uuid.UUID(erased),
    )
    refused = await dlq.replay(hub.js, hub.pool, found[1])
    assert refused.result == "refused: the person is erased or restricted"
    await hub.pool.execute("DELETE FROM gateway.erasures")
    outcomes = [await dlq.replay(hub.js, hub.pool, f) for f in found]

    # Then the timeline holds both arrivals, only once, and the letters are gone
    assert [o.result for o in outcomes] == ["replayed", "replayed"]
    assert await hub.pool.fetchval(arrivals, ARRIVAL) == 2
    assert await dlq.letters(hub.js) == []
    assert await dead_letter_counts(hub.js) == {}
    again = await dlq.replay(hub.js, hub.pool, found[0])  # a repeated replay changes nothing
    assert again.result == "already replayed"
    assert await hub.pool.fetchval(arrivals, ARRIVAL) == 2
    # and the other consumers of the stream saw nothing again
    pathway = await hub.pool.fetchval("SELECT count(*) FROM projections.pathway_persons")
    assert pathway == 2


async def test_a_letter_of_a_policy_or_an_undecodable_one_is_not_replayed(
    hub: InProcessHub,
) -> None:
    # Given an undecodable message on the foreigners authority's stream (dead-lettered by the
    # timeline and the pathway)
    await hub.js.publish(ARRIVAL, b"not json")
    await eventually(lambda: _counts_when(hub, lambda c: len(c) == 2))
    found = await dlq.letters(hub.js)
    assert sorted(f.consumer for f in found) == ["pathway_foreigners_authority", TIMELINE_FA]
    assert "undecodable" in dlq.render_letter(found[0])

    outcome = await dlq.replay(hub.js, hub.pool, found[0])

    assert outcome.result.startswith("refused: ")
    assert not outcome.replayed
    assert dlq.projection_for("steering_gaps") is None
    policy = dlq.Letter(99, "steering_gaps", "x", "s", "HUB_CASE_MANAGEMENT", 1, "", b"{}")
    assert (await dlq.replay(hub.js, hub.pool, policy)).result == (
        "refused: not a projection's live consumer"
    )


async def test_hub_dlq_commands(hub: InProcessHub) -> None:
    await hub.js.publish(ARRIVAL, b"not json")
    await eventually(lambda: _counts_when(hub, lambda c: len(c) == 2))
    letter_id = (await dlq.letters(hub.js, TIMELINE_FA))[0].id

    listed = await asyncio.to_thread(hub_cli, hub.settings, "dlq", "list")
    shown = await asyncio.to_thread(hub_cli, hub.settings, "dlq", "show", str(letter_id))
    replayed = await asyncio.to_thread(
        hub_cli, hub.settings, "dlq", "replay", "--all", "--consumer", TIMELINE_FA
    )

    assert listed.returncode == 0, listed.stderr
    assert TIMELINE_FA in listed.stdout
    assert "pathway_foreigners_authority" in listed.stdout
    assert shown.returncode == 0, shown.stderr
    assert f"id: {letter_id}" in shown.stdout
    assert replayed.returncode == 1  # undecodable: refused
    assert "replayed 0 of 1" in replayed.stdout


async def _counts_when(hub: InProcessHub, condition: Any) -> dict[str, int] | None:
    counts = await dead_letter_counts(hub.js)
    return counts if condition(counts) else None


def test_a_reason_shown_echoes_no_input_value() -> None:
    reason = (
        "invalid payload for x: 1 validation error [type=string_type,"
        " input_value='Olena Demchenko', input_type=str]\nDETAIL:  Failing row contains (a, b)"
    )

    shown = dlq.safe_reason(reason)

    assert "Olena" not in shown
    assert "Failing row" not in shown
    assert "input_value=<hidden>" in shown


async def test_hub_projections_rebuild_all_command(hub: InProcessHub) -> None:
    await register(hub, 2)
    await settle(hub)

    result = await asyncio.to_thread(hub_cli, hub.settings, "projections", "rebuild", "--all")

    assert result.returncode == 0, result.stderr
    for name in ("timeline", "case_views", "pathway", "conflicts", "steering"):
        assert f"rebuilt {name}: " in result.stdout
    assert "rebuilt timeline: 6 rows" in result.stdout
    # one shared replay and one switch for all of them, and each line says how long it took
    assert result.stdout.count("switched in") == 5
    assert len({line.rsplit("switched in", 1)[1] for line in result.stdout.splitlines()}) == 1
    neither = await asyncio.to_thread(hub_cli, hub.settings, "projections", "rebuild")
    assert neither.returncode == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_operator_commands_name_the_server_they_cannot_reach(settings: HubSettings) -> None:
    bus_down = settings.model_copy(update={"nats_url": f"tls://127.0.0.1:{_closed_port()}"})
    db_down = settings.model_copy(
        update={"postgres_url": f"postgresql://postgres@127.0.0.1:{_closed_port()}/x"}
    )
    calls = [
        (bus_down, ("status", "--no-health")),
        (bus_down, ("status", "--json", "--no-health")),
        (bus_down, ("dlq", "list")),
        *((db_down, command) for command in (("status",), ("dlq", "list"), ("audit", "verify"))),
    ]
    # each command is a process of its own that waits for its server: run them side by side
    with ThreadPoolExecutor(len(calls)) as pool:
        results = list(pool.map(lambda call: hub_cli(call[0], *call[1]), calls))
    status, status_json, dlq, *db_results = results

    # a bus that does not answer (the database does): status shows what it can, and why not
    # the rest; the dead letters cannot be listed at all
    assert status.returncode == 1
    assert status.stdout.startswith("Bus: cannot be reached"), status.stdout + status.stderr
    assert "Relays" in status.stdout
    assert status_json.returncode == 1
    assert json.loads(status_json.stdout)["bus"]["reachable"] is False
    assert dlq.returncode == 1
    assert "cannot reach the bus (HUB_NATS_URL)" in dlq.stderr, dlq.stderr
    assert "Traceback" not in dlq.stderr

    # a database that does not answer
    for (_, command), result in zip(calls[3:], db_results, strict=True):
        assert result.returncode == 1, command
        assert "cannot reach a server" in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr
