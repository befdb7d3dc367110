"""``hub bench``: a burst of arrivals through the whole pipeline, on throwaway servers.

gateway (GraphQL over HTTP) -> NATS request -> service -> event store -> relay -> JetStream
-> projector -> timeline. Prints command latencies and end-to-end events per second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from gateway.auth import issue_token
from hub.supervisor import Supervisor, default_children
from services.runtime.database import with_database
from services.runtime.embedded import free_port
from services.runtime.settings import HubSettings

REGISTER = "mutation($input: RegisterArrivalInput!) { registerArrival(input: $input) { position } }"
EVENTS_PER_ARRIVAL = 3
CONCURRENCY = 32


def _arrival(n: int) -> dict[str, object]:
    return {
        "givenNames": "Bench",
        "familyName": f"Person {n}",
        "birthDate": "1990-01-01",
        "azrNumber": f"{300000000000 + n:012d}",
        "nationalities": ["SYR"],
        "entryDate": "2023-01-01",
        "entryMode": "ASYLUM",
        "municipalityKey": "05315000",
        "abhId": "abh-05315",
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _burst(base_url: str, token: str, pg_url: str, arrivals: int) -> dict[str, float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(arrivals):
        queue.put_nowait(n)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CONCURRENCY)

    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    "/graphql", json={"query": REGISTER, "variables": {"input": _arrival(n)}}
                )
                body = response.json()
                if body.get("errors"):
                    raise RuntimeError(f"mutation failed: {body['errors']}")
                latencies.append(time.perf_counter() - started)

        conn = await asyncpg.connect(pg_url)
        try:
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            commands_done = time.perf_counter() - start
            expected = arrivals * EVENTS_PER_ARRIVAL
            while (
                await conn.fetchval("SELECT count(*) FROM projections.timeline_events") < expected
            ):
                if time.perf_counter() - start > 600:
                    raise RuntimeError("the timeline did not catch up within 10 minutes")
                await asyncio.sleep(0.02)
            end_to_end = time.perf_counter() - start
        finally:
            await conn.close()
    return {
        "commands_s": commands_done,
        "end_to_end_s": end_to_end,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": _percentile(latencies, 0.95) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


def run_benchmark(arrivals: int = 2000, keep: bool = False) -> int:
    home = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    port = free_port()
    os.environ.pop("HUB_POSTGRES_URL", None)
    os.environ.pop("HUB_NATS_URL", None)
    # one token sends the whole burst: the per-subject rate limit would measure itself
    os.environ.setdefault("HUB_RATE_LIMIT_PER_SECOND", "0")
    settings = HubSettings(home=home, gateway_port=port, demo=False, log_level="WARNING")
    os.environ.update(
        {
            "HUB_HOME": str(home),
            "HUB_GATEWAY_PORT": str(port),
            "HUB_INBOUND_PORT": str(free_port()),
            "HUB_LOG_LEVEL": "WARNING",
        }
    )
    from hub.catalog import SERVICES

    supervisor = Supervisor(settings, children=default_children(list(SERVICES)))
    try:
        pg_url, nats_url = supervisor.start_servers()
        supervisor.env = {
            **os.environ,
            "HUB_POSTGRES_URL": pg_url,
            "HUB_NATS_URL": nats_url,
            "PYTHONUNBUFFERED": "1",
        }
        db_url = with_database(pg_url, settings.database)
        supervisor.provision(pg_url, nats_url)
        for child in supervisor.children:
            supervisor.spawn(child)
        supervisor.wait_healthy()
        token = issue_token(
            settings.resolved_jwt_secret(),
            subject="bench",
            agency="abh-05315",
            role="abh_officer",
            issuer=settings.jwt_issuer,
        )
        asyncio.run(_burst(supervisor.base_url, token, db_url, 50))  # warm-up
        before = _cpu(supervisor)
        result = asyncio.run(_burst(supervisor.base_url, token, db_url, arrivals))
        after = _cpu(supervisor)
        backlog = _backlog(
            supervisor, settings.model_copy(update={"postgres_url": pg_url}), db_url, arrivals
        )
    finally:
        supervisor.shutdown()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    events = arrivals * EVENTS_PER_ARRIVAL
    print(
        f"\nhub bench: {arrivals} arrivals ({events} events), {CONCURRENCY} concurrent clients,"
        f" embedded PostgreSQL + NATS, {os.cpu_count()} cores\n"
        f"  commands accepted  {arrivals / result['commands_s']:8.0f} arrivals/s"
        f"  ({events / result['commands_s']:.0f} events/s) in {result['commands_s']:.2f} s\n"
        f"  command latency    p50 {result['p50_ms']:.1f} ms  p95 {result['p95_ms']:.1f} ms"
        f"  p99 {result['p99_ms']:.1f} ms\n"
        f"  end to end         {events / result['end_to_end_s']:8.0f} events/s"
        f"  (all {events} on the timeline after {result['end_to_end_s']:.2f} s)\n"
        "  CPU seconds during the burst: "
        + ", ".join(f"{name} {after[name] - before.get(name, 0.0):.1f}" for name in after)
        + "\n"
        f"backlog: relay and projector stopped, {arrivals} arrivals written straight through"
        " the application (one writer), then both restarted\n"
        f"  event store writes {events / backlog['write_s']:8.0f} events/s"
        f"  ({arrivals / backlog['write_s']:.0f} arrivals/s)\n"
        f"  relay + projector  {events / backlog['drain_s']:8.0f} events/s"
        f"  (backlog of {events} on the timeline {backlog['drain_s']:.2f} s after restart)\n"
    )
    return 0


def _backlog(
    supervisor: Supervisor, settings: HubSettings, db_url: str, arrivals: int
) -> dict[str, float]:
    from services.foreigners_authority import SPEC
    from services.foreigners_authority.application import ForeignersAuthority, RegisterArrival
    from services.foreigners_authority.domain import EntryMode
    from services.runtime.service import build_application

    followers = [
        c for c in supervisor.children if c.name.endswith("-relay") or c.name == "projector"
    ]
    for child in followers:
        assert child.proc is not None
        child.proc.terminate()
        child.proc.wait(30)
    app = build_application(SPEC, settings)
    assert isinstance(app, ForeignersAuthority)
    commands = [
        RegisterArrival(
            given_names="Backlog",
            family_name=f"Person {n}",
            birth_date=dt.date(1990, 1, 1),
            azr_number=f"{400000000000 + n:012d}",
            nationalities=["AFG"],
            entry_date=dt.date(2023, 1, 1),
            entry_mode=EntryMode.ASYLUM,
            municipality_key="05315000",
            registered_on=dt.date(2023, 1, 2),
            abh_id="abh-05315",
        )
        for n in range(arrivals)
    ]
    started = time.perf_counter()
    for command in commands:
        app.register_arrival(command)
    write_s = time.perf_counter() - started
    app.close()

    async def wait_for_timeline(expected: int) -> float:
        conn = await asyncpg.connect(db_url)
        try:
            start = time.perf_counter()
            for child in followers:
                supervisor.spawn(child)
            count = "SELECT count(*) FROM projections.timeline_events"
            while await conn.fetchval(count) < expected:
                if time.perf_counter() - start > 600:
                    raise RuntimeError("the backlog was not projected within 10 minutes")
                await asyncio.sleep(0.02)
            return time.perf_counter() - start
        finally:
            await conn.close()

    expected = (50 + 2 * arrivals) * EVENTS_PER_ARRIVAL
    return {"write_s": write_s, "drain_s": asyncio.run(wait_for_timeline(expected))}


def _cpu(supervisor: Supervisor) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process, servers included."""
    import psutil

    pids: dict[str, int] = {c.name: c.proc.pid for c in supervisor.children if c.proc}
    if supervisor.postgres is not None and supervisor.postgres.pid is not None:
        pids["postgres"] = supervisor.postgres.pid
    if supervisor.nats is not None and supervisor.nats.pid is not None:
        pids["nats"] = supervisor.nats.pid
    usage: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            process = psutil.Process(pid)
            family = [process, *process.children(recursive=True)]
            usage[name] = sum(p.cpu_times().user + p.cpu_times().system for p in family)
        except psutil.Error:
            continue
    return usage
