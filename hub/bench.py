"""``hub bench``: arrivals through the whole pipeline, on throwaway servers.

gateway (GraphQL over HTTP) -> NATS request -> service -> event store -> relay -> JetStream
-> projector -> timeline. A burst (``--arrivals``, 32 clients) gives the live end-to-end
events per second beside the raw rate of one writer straight through the application in the
same run, command latencies, relay + projector on a backlog, CPU seconds and peak memory per
process kind. ``--rate R --seconds S`` instead sends arrivals at a steady rate and measures
command latency and freshness (from a mutation's reply until a caseEvents subscriber on the
gateway's WebSocket has its event). ``--quick`` is a short run, ``--json FILE`` keeps the
figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg

from contracts.positions import Position
from hub.bench_client import graphql_load
from hub.bench_hub import start_bench_hub
from hub.supervisor import Supervisor
from services.runtime.settings import HubSettings

REGISTER = "mutation($input: RegisterArrivalInput!) { registerArrival(input: $input) { position } }"
EVENTS = "subscription { caseEvents { service position } }"
EVENTS_PER_ARRIVAL = 3
CONCURRENCY = 32
#: most paced requests outstanding at once (the client's own pool would saturate beyond)
IN_FLIGHT = 64


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


#: the authority's event store: its last event, and the transactions that stored the events
#: after a given one (the events a group commit stores share their transaction id)
_LAST_STORED = (
    "SELECT coalesce(max(notification_id), 0) FROM foreigners_authority.foreigners_authority_events"
)
_TRANSACTIONS_SINCE = (
    "SELECT count(DISTINCT xmin::text) FROM foreigners_authority.foreigners_authority_events"
    " WHERE notification_id > $1"
)


async def _burst(base_url: str, token: str, pg_url: str, arrivals: int) -> dict[str, float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(arrivals):
        queue.put_nowait(n)

    async with graphql_load(base_url, token, CONCURRENCY) as load:

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                started = time.perf_counter()
                body = await load.execute(REGISTER, {"input": _arrival(n)})
                if body.get("errors"):
                    raise RuntimeError(f"mutation failed: {body['errors']}")
                latencies.append(time.perf_counter() - started)

        conn = await asyncpg.connect(pg_url)
        try:
            count = "SELECT count(*) FROM projections.timeline_events"
            expected = await conn.fetchval(count) + arrivals * EVENTS_PER_ARRIVAL
            stored_before = await conn.fetchval(_LAST_STORED)
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            commands_done = time.perf_counter() - start
            while await conn.fetchval(count) < expected:
                if time.perf_counter() - start > 600:
                    raise RuntimeError("the timeline did not catch up within 10 minutes")
                await asyncio.sleep(0.02)
            end_to_end = time.perf_counter() - start
            transactions = await conn.fetchval(_TRANSACTIONS_SINCE, stored_before)
        finally:
            await conn.close()
    return {
        "store_transactions": transactions,
        "commands_s": commands_done,
        "end_to_end_s": end_to_end,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": _percentile(latencies, 0.95) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
    }


#: process kinds, for CPU seconds and memory
KINDS = ("gateway", "service", "relay", "projector", "postgres", "nats")


def _kind(name: str) -> str:
    if name.endswith("-relay"):
        return "relay"
    if name.startswith("gateway-"):  # gateway-2 ... (HUB_GATEWAY_WORKERS)
        return "gateway"
    if name in ("gateway", "projector", "postgres", "nats"):
        return name
    return "service"


def run_benchmark(
    arrivals: int = 2000,
    keep: bool = False,
    *,
    quick: bool = False,
    rates: list[float] | None = None,
    seconds: float = 20.0,
    json_path: str | None = None,
) -> int:
    """The burst (live end to end beside the raw application write rate, the backlog, CPU
    and memory per process kind), or with ``rates`` the paced runs; prints a table and writes
    the figures as JSON to ``json_path``."""
    if quick:
        arrivals = min(arrivals, 300)
        seconds = min(seconds, 5.0)
    report: dict[str, Any] = {
        "cores": os.cpu_count(),
        "concurrency": CONCURRENCY,
        "events_per_arrival": EVENTS_PER_ARRIVAL,
    }
    hub = start_bench_hub("hub-bench-")
    supervisor, db_url = hub.supervisor, hub.db_url
    try:
        token = hub.token("bench")
        warm_up = 20 if quick else 50
        asyncio.run(_burst(supervisor.base_url, token, db_url, warm_up))
        if rates:
            offset = warm_up
            report["paced"] = []
            for rate in rates:
                paced = asyncio.run(
                    _paced(supervisor.base_url, token, rate, seconds, offset=100000 + offset)
                )
                offset += paced["sent"]
                report["paced"].append(paced)
        else:
            before = _cpu(supervisor)
            with _MemoryWatch(supervisor) as memory:
                result = asyncio.run(_burst(supervisor.base_url, token, db_url, arrivals))
            after = _cpu(supervisor)
            backlog = _backlog(
                supervisor,
                hub.settings,
                db_url,
                arrivals,
                already=warm_up + arrivals,
            )
            report.update(_burst_report(arrivals, result, backlog, before, after, memory.peaks))
    finally:
        hub.stop(keep)
    print(_table(report))
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {json_path}")
    return 0


def _burst_report(
    arrivals: int,
    result: dict[str, float],
    backlog: dict[str, float],
    before: dict[str, float],
    after: dict[str, float],
    peaks: dict[str, dict[str, float]],
) -> dict[str, Any]:
    events = arrivals * EVENTS_PER_ARRIVAL
    live = events / result["end_to_end_s"]
    raw = events / backlog["write_s"]
    cpu: dict[str, float] = {}
    for name, used in after.items():
        kind = _kind(name)
        cpu[kind] = cpu.get(kind, 0.0) + used - before.get(name, 0.0)
    return {
        "arrivals": arrivals,
        "events": events,
        "commands_per_s": arrivals / result["commands_s"],
        "command_latency_ms": {q: result[f"{q}_ms"] for q in ("p50", "p95", "p99")},
        "store_transactions": int(result["store_transactions"]),
        "live_events_per_s": live,
        "raw_write_events_per_s": raw,
        "live_to_raw": live / raw,
        "backlog_events_per_s": events / backlog["drain_s"],
        "cpu_s": {kind: round(cpu.get(kind, 0.0), 2) for kind in KINDS},
        "cpu_ms_per_arrival": round(sum(cpu.values()) * 1000 / arrivals, 2),
        "peak_rss_mb": peaks,
    }


def _table(report: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    if "live_events_per_s" in report:
        latency = report["command_latency_ms"]
        rows += [
            (
                f"live end to end ({report['arrivals']} arrivals, {CONCURRENCY} clients)",
                f"{report['live_events_per_s']:.0f} events/s",
                f"raw application write (one writer) {report['raw_write_events_per_s']:.0f}"
                f" events/s; ratio {report['live_to_raw']:.2f} (target >= 0.5)",
            ),
            (
                "commands accepted",
                f"{report['commands_per_s']:.0f} arrivals/s",
                f"{report['commands_per_s'] * EVENTS_PER_ARRIVAL:.0f} events/s",
            ),
            (
                "event store transactions",
                f"{report['store_transactions']}",
                f"{report['arrivals'] / max(1, report['store_transactions']):.1f} arrivals"
                " per transaction (group commit)",
            ),
            (
                "command latency, saturated",
                f"p50 {latency['p50']:.0f} ms",
                f"p95 {latency['p95']:.0f} ms, p99 {latency['p99']:.0f} ms",
            ),
            (
                "relay + projector on a backlog",
                f"{report['backlog_events_per_s']:.0f} events/s",
                f"raw application write {report['raw_write_events_per_s']:.0f} events/s",
            ),
            (
                "CPU seconds during the burst",
                f"{report['cpu_ms_per_arrival']:.1f} ms/arrival",
                ", ".join(f"{k} {v:.1f}" for k, v in report["cpu_s"].items()),
            ),
            (
                "peak RSS under the live load (MB)",
                "largest process / all of a kind",
                ", ".join(
                    f"{k} {v['largest']:.0f}/{v['total']:.0f}"
                    for k, v in report["peak_rss_mb"].items()
                ),
            ),
        ]
    for paced in report.get("paced", []):
        c, f = paced["command_latency_ms"], paced["freshness_ms"]
        rows += [
            (
                f"paced {paced['rate']:.0f} arrivals/s for {paced['seconds']:.0f} s",
                f"command p50 {c['p50']:.1f} ms, p99 {c['p99']:.1f} ms",
                f"sent {paced['sent']} at {paced['achieved_rate']:.0f}/s (target p99 <= 50 ms)",
            ),
            (
                "  reply -> on the timeline and delivered",
                f"freshness p50 {f['p50']:.1f} ms, p99 {f['p99']:.1f} ms",
                f"{paced['delivered']} of {paced['sent']} delivered to a caseEvents subscriber",
            ),
        ]
    width = max(len(r[0]) for r in rows)
    middle = max(len(r[1]) for r in rows)
    lines = [
        f"\nhub bench: embedded PostgreSQL + NATS, {report['cores']} cores",
        f"  {'what'.ljust(width)}  {'measured'.ljust(middle)}  beside it (same run)",
    ]
    lines += [f"  {a.ljust(width)}  {b.ljust(middle)}  {c}" for a, b, c in rows]
    return "\n".join(lines) + "\n"


async def _paced(
    base_url: str, token: str, rate: float, seconds: float, *, offset: int
) -> dict[str, Any]:
    """Arrivals at a steady ``rate`` (open loop: each is sent on its schedule, whether or not
    the earlier ones were answered), and a caseEvents subscriber over the gateway's WebSocket:
    command latency, and freshness from each reply until the subscriber has its last event."""
    import websockets

    count = max(1, int(rate * seconds))
    replies: dict[int, float] = {}
    delivered: dict[int, float] = {}
    latencies: list[float] = []
    all_delivered = asyncio.Event()
    ws_url = base_url.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"the subscription was refused: {ack}")
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}))

        async def receive() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") != "next":
                    raise RuntimeError(f"unexpected subscription message: {message}")
                event = message["payload"]["data"]["caseEvents"]
                if event["service"] == "foreigners_authority":
                    delivered[int(event["position"])] = time.perf_counter()
                    if len(replies) == count and replies.keys() <= delivered.keys():
                        all_delivered.set()

        receiver = asyncio.create_task(receive())
        await asyncio.sleep(0.5)  # the subscription is registered
        in_flight = asyncio.Semaphore(IN_FLIGHT)
        async with graphql_load(base_url, token, IN_FLIGHT) as load:

            async def one(n: int) -> None:
                started = time.perf_counter()
                try:
                    body = await load.execute(REGISTER, {"input": _arrival(offset + n)})
                finally:
                    in_flight.release()
                answered = time.perf_counter()
                if body.get("errors"):
                    raise RuntimeError(f"mutation failed: {body['errors']}")
                latencies.append(answered - started)
                token = body["data"]["registerArrival"]["position"]
                replies[Position.parse(token).position] = answered

            start = time.perf_counter()
            tasks = []
            for n in range(count):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await in_flight.acquire()  # a hub that falls behind lowers the achieved rate
                tasks.append(asyncio.create_task(one(n)))
            await asyncio.gather(*tasks)
            sent_s = time.perf_counter() - start
        if not replies.keys() <= delivered.keys():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_delivered.wait(), 30)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver
    freshness = [max(0.0, delivered[p] - t) for p, t in replies.items() if p in delivered]
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": count,
        "achieved_rate": count / sent_s,
        "command_latency_ms": _quantiles(latencies),
        "freshness_ms": _quantiles(freshness),
        "delivered": len(freshness),
    }


def _quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    return {
        "p50": round(statistics.median(values) * 1000, 2),
        "p95": round(_percentile(values, 0.95) * 1000, 2),
        "p99": round(_percentile(values, 0.99) * 1000, 2),
    }


class _MemoryWatch:
    """Samples the resident memory of every process kind while the live load runs: the peak
    of its largest process and of all its processes together (PostgreSQL's shared buffers
    count once per backend in the latter)."""

    def __init__(self, supervisor: Supervisor, interval: float = 0.25) -> None:
        self.supervisor = supervisor
        self.interval = interval
        self.peaks: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="bench-memory")

    def __enter__(self) -> _MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        import psutil

        while True:
            sample: dict[str, list[float]] = {}
            for name, pid in _pids(self.supervisor).items():
                try:
                    process = psutil.Process(pid)
                    # only PostgreSQL's postmaster has children (its backends): a child
                    # lookup scans every process on the machine, so once a sample
                    family = [process, *(process.children() if name == "postgres" else [])]
                    sizes = [p.memory_info().rss / 2**20 for p in family]
                except psutil.Error:
                    continue
                sample.setdefault(_kind(name), []).extend(sizes)
            for kind, sizes in sample.items():
                peak = self.peaks.setdefault(kind, {"largest": 0.0, "total": 0.0})
                peak["largest"] = round(max(peak["largest"], max(sizes)), 1)
                peak["total"] = round(max(peak["total"], sum(sizes)), 1)
            if self._stop.wait(self.interval):
                return


def _backlog(
    supervisor: Supervisor, settings: HubSettings, db_url: str, arrivals: int, *, already: int
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

    expected = (already + arrivals) * EVENTS_PER_ARRIVAL
    return {"write_s": write_s, "drain_s": asyncio.run(wait_for_timeline(expected))}


def _cpu(supervisor: Supervisor) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process, servers included."""
    import psutil

    usage: dict[str, float] = {}
    for name, pid in _pids(supervisor).items():
        try:
            process = psutil.Process(pid)
            family = [process, *process.children(recursive=True)]
            usage[name] = sum(p.cpu_times().user + p.cpu_times().system for p in family)
        except psutil.Error:
            continue
    return usage


def _pids(supervisor: Supervisor) -> dict[str, int]:
    pids: dict[str, int] = {c.name: c.proc.pid for c in supervisor.children if c.proc}
    if supervisor.postgres is not None and supervisor.postgres.pid is not None:
        pids["postgres"] = supervisor.postgres.pid
    if supervisor.nats is not None and supervisor.nats.pid is not None:
        pids["nats"] = supervisor.nats.pid
    return pids
