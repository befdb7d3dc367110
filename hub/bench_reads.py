"""``hub bench reads`` and ``hub bench rebuild``: reads, rebuilds and scale on throwaway servers.

Both start an embedded PostgreSQL and NATS of their own and provision them as ``hub up`` does.
The events are synthetic foreigners-authority events (valid contract envelopes, as the relay
publishes them: an arrival's three events and two more per person, and one person with
``PERSON_EVENTS`` events) published straight onto the service's stream; the read models are
then built from the stream by ``projections.rebuild`` (the projectors' own handlers).

``reads``: the gateway alone (its own process, its own database role) answers
``{ __typename }`` and the timeline of the person with 50 events to wrk (32 connections),
beside the same SQL through bare asyncpg; then the steering indicators and the timeline one
client at a time. With ``--million`` the same again after the stream grew to 1,000,000 events.

``rebuild``: the raw JetStream fetch rate, a raw COPY of the timeline's rows into a copy of
its table, and the rebuild of every read model (events per second each).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gateway.auth import issue_token
from hub.bench_hub import start_bench_hub
from hub.supervisor import Supervisor, gateway_children
from services.runtime.settings import HubSettings

SERVICE = "foreigners_authority"
AGENCY = "abh-05315"
PERSON_EVENTS = 50
EVENTS_PER_PERSON = 5
CONNECTIONS = 32
SMALL, LARGE = 10_000, 1_000_000

TYPENAME = "{ __typename }"
TIMELINE = (
    "query($id: ID!) { person(id: $id) { timeline { occurredAt recordedAt service eventType"
    " summary traceId position personId } } }"
)
STAGE_COUNTS = '{ steering { stageCounts(by: "municipality") { rows { group stage persons } } } }'
STAGE_COUNTS_BY = (
    "query($by: String!) { steering { stageCounts(by: $by) { rows { group stage persons } } } }"
)
MILESTONES = (
    "{ steering { milestoneDurations { rows { fromMilestone toMilestone persons medianDays } } } }"
)

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""


# -- synthetic events ------------------------------------------------------------------------


def _envelope(kind: str, person: str, position: int, day: dt.date, data: dict[str, Any]) -> bytes:
    at = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC).isoformat()
    event_type = f"hub.{SERVICE}.{kind}.v1"
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"bench-{position}",
            "source": f"/hub/{SERVICE}",
            "type": event_type,
            "time": at,
            "dataschema": f"https://schemas.integration-hub.example/{event_type}.json",
            "datacontenttype": "application/json",
            "data": {"person_id": person, **data},
            "personid": person,
            "correlationid": f"bench-{person}",
            "legalbasis": "§ 86 AufenthG",
            "purpose": "residence_administration",
            "sourceagency": AGENCY,
            "actingrole": "abh_officer",
            "recordedtime": at,
            "sourceposition": position,
            "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        },
        separators=(",", ":"),
    ).encode()


def person_events(person: str, first_position: int, n: int, salt: int) -> list[tuple[str, bytes]]:
    """``n`` (>= 3) events about ``person``: registration, entry, residence, then titles and
    language certificates in turn; (event name, envelope) each."""
    entry = dt.date(2015, 1, 1) + dt.timedelta(days=salt % 2500)
    municipality = f"05315{salt % 40:03d}"
    kinds: list[tuple[str, dt.date, dict[str, Any]]] = [
        (
            "person_registered",
            entry,
            {
                "names_enc": "enc:v1:bench",
                "birth_date_enc": "enc:v1:bench",
                "azr_number_enc": "enc:v1:bench",
                "nationalities": ["SYR"],
                "abh_id": AGENCY,
            },
        ),
        ("entry_recorded", entry, {"entry_date": entry.isoformat(), "entry_mode": "asylum"}),
        (
            "residence_registered",
            entry,
            {"municipality_key": municipality, "registered_on": entry.isoformat()},
        ),
    ]
    for i in range(n - 3):
        on = entry + dt.timedelta(days=60 * (i + 1))
        if i % 2 == 0:
            kinds.append(
                (
                    "residence_title_granted",
                    on,
                    {
                        "title": "residence_permit",
                        "paragraph": "§ 25 Abs. 2 AufenthG",
                        "valid_from": on.isoformat(),
                        "valid_until": (on + dt.timedelta(days=365)).isoformat(),
                        "conditions": [],
                        "granted_on": on.isoformat(),
                    },
                )
            )
        else:
            kinds.append(
                (
                    "language_certificate_recorded",
                    on,
                    {"cefr_level": "B1", "issued_on": on.isoformat()},
                )
            )
    return [
        (kind, _envelope(kind, person, first_position + i, day, data))
        for i, (kind, day, data) in enumerate(kinds)
    ]


def synthetic(persons: int, first_position: int) -> Iterator[tuple[str, bytes]]:
    """The events of ``persons`` ordinary persons (EVENTS_PER_PERSON each), in order."""
    position = first_position
    for n in range(persons):
        person = str(uuid.uuid4())
        yield from person_events(person, position, EVENTS_PER_PERSON, n)
        position += EVENTS_PER_PERSON


async def publish(nc: Any, events: Iterator[tuple[str, bytes]], first_position: int) -> int:
    """Publish onto the service's stream as its relay would (core publishes, flushed every
    few thousand); returns how many."""
    count = 0
    for kind, body in events:
        subject = f"hub.{SERVICE}.{kind}.v1"
        position = first_position + count
        await nc.publish(subject, body, headers={"Nats-Msg-Id": f"{SERVICE}:{position}"})
        count += 1
        if count % 5000 == 0:
            await nc.flush()
    await nc.flush()
    return count


async def wait_stored(js: Any, stream: str, expected: int, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while (await js.stream_info(stream)).state.messages < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{stream} did not reach {expected} messages")
        await asyncio.sleep(0.1)


# -- the throwaway hub -----------------------------------------------------------------------


@dataclass
class Bench:
    supervisor: Supervisor
    settings: HubSettings
    db_url: str
    nats_url: str
    home: Path
    events: int = 0
    target: str = ""
    notes: list[str] = field(default_factory=list)

    def token(self, role: str, agency: str) -> str:
        return issue_token(
            self.settings.resolved_jwt_secret(),
            subject=f"bench-{role}",
            agency=agency,
            role=role,
            issuer=self.settings.jwt_issuer,
            ttl_seconds=24 * 3600,
        )


def start(with_gateway: bool, gateway_workers: int = 1) -> Bench:
    os.environ["HUB_RATE_LIMIT_PER_SECOND"] = "0"  # one token sends every request
    hub = start_bench_hub(
        "hub-bench-reads-",
        children=lambda child: with_gateway and child.database_role == "gateway",
        gateway_workers=gateway_workers,
    )
    bench = Bench(hub.supervisor, hub.settings, hub.db_url, hub.nats_url, hub.home)
    if with_gateway:
        hub.supervisor.wait_listening(hub.supervisor.children)
    return bench


def use_gateways(bench: Bench, workers: int) -> None:
    """Replace the gateway processes by ``workers`` new ones on the same port (each with the
    gateway's database role) and wait until each listens."""
    import signal

    supervisor = bench.supervisor
    gateways = [c for c in supervisor.children if c.database_role == "gateway"]
    if len(gateways) == workers:
        return
    for child in gateways:
        if child.proc is not None and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    for child in gateways:
        if child.proc is not None:
            child.proc.wait(30)
    environment = supervisor.database_env["gateway"]
    fresh = gateway_children(workers)
    supervisor.children = [
        *(c for c in supervisor.children if c.database_role != "gateway"),
        *fresh,
    ]
    for child in fresh:
        supervisor.database_env[child.name] = environment
        supervisor.spawn(child)
    supervisor.wait_listening(fresh)


def stop(bench: Bench, keep: bool) -> None:
    bench.supervisor.shutdown()
    if not keep:
        shutil.rmtree(bench.home, ignore_errors=True)


async def grow(bench: Bench, total: int, *, target: bool = True) -> float:
    """Publish events until the stream holds ``total`` (the first batch includes the person
    with PERSON_EVENTS events); returns the publish rate."""
    from nats.js.api import StreamInfo  # noqa: F401 - the admin connection's JetStream

    from contracts import stream_name
    from services.runtime.messaging import close, connect_admin

    nc = await connect_admin(bench.settings, "bench")
    try:
        js = nc.jetstream()
        started = time.perf_counter()
        published = 0
        if target and not bench.target:
            bench.target = str(uuid.uuid4())
            published += await publish(
                nc,
                iter(person_events(bench.target, bench.events + 1, PERSON_EVENTS, 7)),
                bench.events + 1,
            )
            bench.events += published
        persons = max(0, (total - bench.events) // EVENTS_PER_PERSON)
        count = await publish(nc, synthetic(persons, bench.events + 1), bench.events + 1)
        bench.events += count
        published += count
        await wait_stored(js, stream_name(SERVICE), bench.events)
        return published / (time.perf_counter() - started)
    finally:
        await close(nc)


# -- rebuild ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rebuilt:
    """One rebuild in ``hub bench rebuild``: the events it replayed (summed over the models it
    rebuilt), its wall time, and the CPU seconds it took in this process, in PostgreSQL and
    in NATS (which a shared machine distorts far less than the rate)."""

    name: str
    events: int
    seconds: float
    cpu_s: float = 0.0
    postgres_cpu_s: float = 0.0
    nats_cpu_s: float = 0.0
    #: the switch's share of ``seconds`` (the live projector waits for it)
    switch_s: float = 0.0
    #: the events on the streams it read, each counted once
    distinct_events: int = 0


def server_cpu(bench: Bench) -> tuple[float, float]:
    """CPU seconds PostgreSQL (the postmaster, its live backends and the ones it has reaped)
    and NATS have used so far."""
    import psutil

    used = []
    for server in (bench.supervisor.postgres, bench.supervisor.nats):
        pid = None if server is None else server.pid
        total = 0.0
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                times = process.cpu_times()
                total = times.user + times.system + times.children_user + times.children_system
                for child in process.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += child.cpu_times().user + child.cpu_times().system
        used.append(total)
    return used[0], used[1]


async def rebuild_all(bench: Bench) -> list[Rebuilt]:
    """Rebuild every read model from the streams, each alone, then all together
    (``rebuild_many``: each stream replayed once into every model reading it), the last row
    named ``together`` (events summed over the models)."""
    from contracts import stream_name
    from projections.rebuild import rebuild_many
    from projections.runner import PROJECTIONS
    from services.runtime.messaging import close, connect_admin

    nc = await connect_admin(bench.settings, "bench-rebuild")
    pool = await asyncpg.create_pool(bench.db_url, min_size=2, max_size=8)
    try:
        js = nc.jetstream()
        results = []
        runs = [[projection] for projection in PROJECTIONS] + [list(PROJECTIONS)]
        for run in runs:
            on_stream = {
                service: (await js.stream_info(stream_name(service))).state.messages
                for service in {s for projection in run for s in projection.sources()}
            }
            events = sum(on_stream[s] for projection in run for s in projection.sources())
            pg_before, nats_before = server_cpu(bench)
            cpu_before = time.process_time()
            started = time.perf_counter()
            reports = await rebuild_many(js, pool, [projection.name for projection in run])
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_before
            pg_after, nats_after = server_cpu(bench)
            name = run[0].name if len(run) == 1 else "together"
            results.append(
                Rebuilt(
                    name,
                    events,
                    seconds,
                    cpu,
                    pg_after - pg_before,
                    nats_after - nats_before,
                    switch_s=max((report.switch_s for report in reports), default=0.0),
                    distinct_events=sum(on_stream.values()),
                )
            )
        return results
    finally:
        await pool.close()
        await close(nc)


async def raw_fetch(bench: Bench, batch: int = 1000) -> tuple[int, float, float]:
    """Fetch the whole stream through a pull consumer, as the rebuild does (batches of
    ``batch``, acked): (messages, seconds to fetch and ack, seconds to also decode)."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from contracts import REGISTRY, stream_name
    from services.runtime.messaging import close, connect_admin

    nc = await connect_admin(bench.settings, "bench-fetch")
    try:
        js = nc.jetstream()
        stream = stream_name(SERVICE)
        total = (await js.stream_info(stream)).state.messages
        timings = []
        for decode in (False, True):
            durable = f"bench_raw_{int(decode)}"
            await js.add_consumer(
                stream,
                ConsumerConfig(
                    durable_name=durable,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    max_ack_pending=-1,
                ),
            )
            sub = await js.pull_subscribe_bind(durable, stream=stream)
            seen = 0
            started = time.perf_counter()
            while seen < total:
                msgs = await sub.fetch(batch, timeout=5)
                for msg in msgs:
                    if decode:
                        REGISTRY.decode(msg.data)
                    await msg.ack()
                seen += len(msgs)
            timings.append(time.perf_counter() - started)
            await sub.unsubscribe()
            await js.delete_consumer(stream, durable)
        return total, timings[0], timings[1]
    finally:
        await close(nc)


async def raw_replay_fetch(bench: Bench) -> tuple[int, float]:
    """Fetch the whole stream the way the rebuild's replay does (``ReplayLoop``: no acks,
    pull requests outstanding, each message decoded as it arrives), applying nothing:
    (messages, seconds)."""
    from contracts import stream_name
    from projections.rebuild import ReplayLoop
    from services.runtime.messaging import close, connect_admin
    from services.runtime.projection_base import NoHooks

    class Nothing(NoHooks):
        async def apply(self, conn: Any, event: Any, payload: Any) -> None:
            return None

    nc = await connect_admin(bench.settings, "bench-replay-fetch")
    pool = await asyncpg.create_pool(bench.db_url, min_size=1, max_size=2)
    try:
        js = nc.jetstream()
        stream = stream_name(SERVICE)
        total = (await js.stream_info(stream)).state.messages
        loop = ReplayLoop(
            js=js,
            pool=pool,
            stream=stream,
            source=SERVICE,
            durable="bench_raw_replay",
            position_name="bench@raw-replay",
            handler=Nothing(),
            schema="projections",
            batch_size=2000,
        )
        await loop.setup()
        seen = 0
        started = time.perf_counter()
        while seen < total:
            for msg in await loop.fetch(5.0):
                loop._decode(msg)
                seen += 1
        seconds = time.perf_counter() - started
        await js.delete_consumer(stream, "bench_raw_replay")
        return total, seconds
    finally:
        await pool.close()
        await close(nc)


async def raw_copy(bench: Bench) -> tuple[int, float]:
    """COPY the timeline's rows (as the projector would write them) into a copy of its table
    with the same indexes: (rows, seconds)."""
    conn = await asyncpg.connect(bench.db_url)
    try:
        await conn.execute(
            "DROP TABLE IF EXISTS projections.bench_copy;"
            " CREATE TABLE projections.bench_copy"
            " (LIKE projections.timeline_events INCLUDING ALL)"
        )
        columns = [
            "source",
            "position",
            "event_id",
            "person_id",
            "event_type",
            "occurred_at",
            "recorded_at",
            "summary",
            "trace_id",
            "categories",
            "owner_agency",
            "consent_id",
        ]
        rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM projections.timeline_events")
        records = [tuple(r) for r in rows]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "bench_copy", schema_name="projections", columns=columns, records=records
        )
        seconds = time.perf_counter() - started
        await conn.execute("DROP TABLE projections.bench_copy")
        return len(records), seconds
    finally:
        await conn.close()


# -- scale ---------------------------------------------------------------------------------


async def replicate(bench: Bench, factor: int) -> int:
    """Bulk-load the timeline's and the pathway's tables to ``factor`` times their persons:
    every row but the target person's is copied ``factor - 1`` times in SQL (INSERT ...
    SELECT), each copy with its own person id and positions; returns the timeline's rows."""
    from projections.rebuild import tables

    conn = await asyncpg.connect(bench.db_url)
    try:
        offset = int(
            await conn.fetchval(
                "SELECT coalesce(max(position), 0) FROM projections.timeline_events"
            )
        )
        for projection in ("timeline", "pathway"):
            for table in tables(projection):
                columns = [
                    r["column_name"]
                    for r in await conn.fetch(
                        "SELECT column_name FROM information_schema.columns WHERE"
                        " table_schema = 'projections' AND table_name = $1"
                        " ORDER BY ordinal_position",
                        table,
                    )
                ]
                if "person_id" not in columns:
                    continue
                copied = {
                    "person_id": "md5(t.person_id::text || ':' || k)::uuid",
                    "position": f"t.position + k * {offset}",
                    "event_id": "t.event_id || ':' || k",
                }
                select = ", ".join(copied.get(c, f"t.{c}") for c in columns)
                await conn.execute(
                    f"INSERT INTO projections.{table} ({', '.join(columns)}) SELECT {select}"
                    f" FROM projections.{table} t, generate_series(1, {factor - 1}) k"
                    " WHERE t.person_id <> $1 ON CONFLICT DO NOTHING",
                    uuid.UUID(bench.target),
                )
        await conn.execute("ANALYZE")
        return int(await conn.fetchval("SELECT count(*) FROM projections.timeline_events"))
    finally:
        await conn.close()


#: the indicators' SQL before the running aggregates (issue 13 item 6), as the baseline: a
#: keyed SHA-256 per person and every person aggregated at query time
_RECORD_KEYS = (
    "(sum(('x' || encode(substr(sha256(convert_to($1 || {ids}::text, 'UTF8')), 1, 4),"
    " 'hex'))::bit(32)::bigint) % 4294967296)"
)
QUERY_TIME_STAGE_COUNTS = (
    "SELECT COALESCE(municipality_key, 'unknown') AS grp, stage, count(*) AS persons,"
    f" {_RECORD_KEYS.format(ids='person_id')} AS persons_key"
    " FROM projections.pathway_persons GROUP BY 1, 2 ORDER BY 1, 2"
)
QUERY_TIME_MILESTONES = (
    "SELECT 'all' AS grp, count(*) AS persons,"
    f" {_RECORD_KEYS.format(ids='a.person_id')} AS persons_key,"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY b.reached_on - a.reached_on) AS p50,"
    " percentile_cont(0.9) WITHIN GROUP (ORDER BY b.reached_on - a.reached_on) AS p90"
    " FROM projections.pathway_milestones a JOIN projections.pathway_milestones b"
    "   ON a.person_id = b.person_id AND b.milestone = $3 AND b.reached_on >= a.reached_on"
    " WHERE a.milestone = $2 GROUP BY 1 ORDER BY 1"
)


async def explain(bench: Bench) -> dict[str, str]:
    """EXPLAIN ANALYZE of the timeline's SQL (as the gateway's reader) and of the indicators."""
    from kernel.clock import today_in_germany
    from projections.indicators import queries as indicators
    from projections.timeline.queries import COLUMNS
    from projections.timeline.visibility import Reader, visible

    reader = Reader(AGENCY, "abh_officer", today_in_germany(), None)
    plans: dict[str, str] = {}
    conn = await asyncpg.connect(bench.db_url)

    class Explaining:
        def __init__(self, name: str) -> None:
            self.name = name

        async def fetch(self, query: str, *args: Any) -> list[Any]:
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
            plan = "\n".join(r[0] for r in rows)
            # a query of several statements (milestoneDurations: one per pair): every plan
            plans[self.name] = f"{plans[self.name]}\n{plan}" if self.name in plans else plan
            return []

    try:
        await Explaining("timeline").fetch(
            f"SELECT {COLUMNS} FROM projections.timeline_events t"
            f" WHERE t.person_id = $1 AND {visible()}"
            " ORDER BY t.occurred_at, t.recorded_at, t.source, t.position LIMIT $6",
            uuid.UUID(bench.target),
            reader.agency,
            reader.role,
            reader.today,
            reader.purpose,
            500,
        )
        for by in indicators.GROUPINGS:
            await indicators.stage_counts(Explaining(f"stageCounts by {by}"), key="k", by=by)
        await indicators.milestone_durations(Explaining("milestoneDurations"), key="k")
        # the baseline: the indicators' SQL before the aggregates (every person at query time)
        await Explaining("query-time SQL stageCounts by municipality (before)").fetch(
            QUERY_TIME_STAGE_COUNTS, "k"
        )
        for start, end in indicators.MILESTONE_PAIRS:
            await Explaining("query-time SQL milestoneDurations (before)").fetch(
                QUERY_TIME_MILESTONES, "k", start, end
            )
    finally:
        await conn.close()
    return plans


# -- reads -----------------------------------------------------------------------------------


@dataclass
class Load:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    #: the gateway process's CPU time per request (less sensitive to a shared machine)
    cpu_ms: float | None = None


def gateway_cpu(bench: Bench) -> float:
    """CPU seconds the gateway process has used so far."""
    import psutil

    total = 0.0
    for child in bench.supervisor.children:
        if child.database_role != "gateway":
            continue
        assert child.proc is not None
        process = psutil.Process(child.proc.pid)
        family = [process, *process.children()]
        total += sum(p.cpu_times().user + p.cpu_times().system for p in family)
    return total


def wrk(bench: Bench, query: str, variables: dict[str, Any], token: str, seconds: int) -> Load:
    body = json.dumps({"query": query, "variables": variables})
    script = bench.home / f"wrk-{abs(hash(query))}.lua"
    script.write_text(WRK_SCRIPT.format(body=json.dumps(body), token=token))
    cpu_before = gateway_cpu(bench)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"{bench.supervisor.base_url}/graphql",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = gateway_cpu(bench) - cpu_before
    requests = int(_grab(r"(\d+) requests in", out))
    return Load(
        rate=float(_grab(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(_grab(r"50%\s+([\d.]+\w+)", out)),
        p99_ms=_ms(_grab(r"99%\s+([\d.]+\w+)", out)),
        errors=int(_grab(r"Non-2xx or 3xx responses:\s+(\d+)", out, "0")),
        cpu_ms=cpu / max(1, requests) * 1000,
    )


def _grab(pattern: str, text: str, default: str | None = None) -> str:
    found = re.search(pattern, text)
    if found is None:
        if default is not None:
            return default
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return found.group(1)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bare_asyncpg(bench: Bench, seconds: float) -> Load:
    """The timeline's SQL through asyncpg alone: 32 clients, a pool as large as the
    gateway's."""
    from kernel.clock import today_in_germany
    from projections.timeline.queries import person_timeline
    from projections.timeline.visibility import Reader

    reader = Reader(AGENCY, "abh_officer", today_in_germany(), None)
    person = uuid.UUID(bench.target)
    pool = await asyncpg.create_pool(bench.db_url, min_size=16, max_size=16)
    latencies: list[float] = []
    try:
        assert len(await person_timeline(pool, person, reader, limit=500)) == PERSON_EVENTS
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                await person_timeline(pool, person, reader, limit=500)
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    return Load(
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        _percentile(latencies, 0.99) * 1000,
    )


async def one_client(
    bench: Bench, query: str, variables: dict[str, Any], token: str, times: int
) -> Load:
    """One client, one request after the other: the latency of a read alone."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=bench.supervisor.base_url, headers=headers) as client:
        for n in range(times + 3):
            began = time.perf_counter()
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            body = response.json()
            if body.get("errors"):
                raise RuntimeError(f"the read failed: {body['errors']}")
            if n >= 3:  # after a warm-up
                latencies.append(time.perf_counter() - began)
    return Load(
        len(latencies) / sum(latencies),
        statistics.median(latencies) * 1000,
        _percentile(latencies, 0.99) * 1000,
    )


def check_timeline(bench: Bench, token: str) -> None:
    response = httpx.post(
        f"{bench.supervisor.base_url}/graphql",
        json={"query": TIMELINE, "variables": {"id": bench.target}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    rows = (body.get("data") or {}).get("person", {}).get("timeline") or []
    if len(rows) != PERSON_EVENTS:
        raise RuntimeError(f"the timeline read did not answer {PERSON_EVENTS} rows: {body}")


async def audit_stats(bench: Bench) -> tuple[int, int]:
    conn = await asyncpg.connect(bench.db_url)
    try:
        entries = int(await conn.fetchval("SELECT count(*) FROM gateway.audit_log"))
        commits = int(
            await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM gateway.audit_log")
        )
        return entries, commits
    finally:
        await conn.close()


def read_figures(bench: Bench, seconds: int) -> dict[str, Load]:
    officer = bench.token("abh_officer", AGENCY)
    steering = bench.token("steering", "lk-05315")
    check_timeline(bench, officer)
    variables = {"id": bench.target}
    wrk(bench, TIMELINE, variables, officer, 2)  # warm-up
    figures = {
        "typename": wrk(bench, TYPENAME, {}, officer, seconds),
        "timeline": wrk(bench, TIMELINE, variables, officer, seconds),
        "asyncpg": asyncio.run(bare_asyncpg(bench, seconds)),
        "timeline_1": asyncio.run(one_client(bench, TIMELINE, variables, officer, 200)),
        "stage_counts_1": asyncio.run(one_client(bench, STAGE_COUNTS, {}, steering, 20)),
        "stage_counts_target_1": asyncio.run(
            one_client(bench, STAGE_COUNTS_BY, {"by": "target_group"}, steering, 20)
        ),
        "stage_counts_month_1": asyncio.run(
            one_client(bench, STAGE_COUNTS_BY, {"by": "month"}, steering, 20)
        ),
        "milestones_1": asyncio.run(one_client(bench, MILESTONES, {}, steering, 20)),
    }
    return figures


def _wrk_missing() -> bool:
    if shutil.which("wrk") is None:
        print("hub bench reads needs wrk: apt-get install -y wrk")
        return True
    return False


def run_reads(
    *,
    million: bool = False,
    seconds: int = 10,
    keep: bool = False,
    gateway_workers: list[int] | None = None,
) -> int:
    """``gateway_workers``: the read figures once per number of gateway processes on the
    port (``HUB_GATEWAY_WORKERS``), each on the same data, one after the other."""
    if _wrk_missing():
        return 2
    workers = gateway_workers or [1]
    load = os.getloadavg()[0]
    bench = start(with_gateway=True, gateway_workers=workers[0])
    # (events, gateway processes, figures, read models rebuilt)
    sizes: list[tuple[int, int, dict[str, Load], list[Rebuilt]]] = []
    replicated_s = 0.0
    plans: list[tuple[int, dict[str, str]]] = []
    try:
        asyncio.run(grow(bench, SMALL))
        rebuilt = asyncio.run(rebuild_all(bench))
        for n in workers:
            use_gateways(bench, n)
            sizes.append((bench.events, n, read_figures(bench, seconds), rebuilt))
            rebuilt = []
        plans.append((bench.events, asyncio.run(explain(bench))))
        if million:
            began = time.perf_counter()
            stored = asyncio.run(replicate(bench, LARGE // SMALL))
            replicated_s = time.perf_counter() - began
            for n in workers:
                use_gateways(bench, n)
                sizes.append((stored, n, read_figures(bench, seconds), []))
            plans.append((stored, asyncio.run(explain(bench))))
        entries, commits = asyncio.run(audit_stats(bench))
    finally:
        stop(bench, keep)
    print(
        f"\nhub bench reads: timeline of one person with {PERSON_EVENTS} events, {CONNECTIONS}"
        f" connections (wrk, {seconds} s), the gateway in its own processes (CPU: all of"
        f" them), embedded PostgreSQL, {os.cpu_count()} cores, load average {load:.1f} at the"
        " start"
    )
    print_read_table(sizes)
    for n, _, _, rebuilt in sizes:
        if rebuilt:
            print(f"  read models built from {n:,} events: " + _rebuilt(rebuilt))
        elif n != SMALL and n == sizes[-1][0] and million:
            print(
                f"  {n:,} events: the timeline's and pathway's tables of the first size"
                " replicated in SQL (INSERT ... SELECT, new person ids), not replayed; the"
                " indicators' aggregates recomputed by their triggers at each statement's"
                f" commit ({replicated_s:.1f} s in all)"
            )
            break
    print_plans(plans, verbose=million)
    print(f"  audit log: {entries:,} entries in {commits:,} transactions (group commit)\n")
    return 0


#: the rows of the read table: label, key of read_figures
READ_LINES = (
    ("{ __typename } (wrk)", "typename"),
    ("timeline (wrk)", "timeline"),
    ("same SQL, bare asyncpg (32 clients)", "asyncpg"),
    ("timeline, one client", "timeline_1"),
    ("stageCounts(by municipality), one client", "stage_counts_1"),
    ("stageCounts(by target_group), one client", "stage_counts_target_1"),
    ("stageCounts(by month), one client", "stage_counts_month_1"),
    ("milestoneDurations, one client", "milestones_1"),
)


def print_read_table(sizes: list[tuple[int, int, dict[str, Load], list[Rebuilt]]]) -> None:
    """The read figures, a column per (stored events, gateway processes)."""
    header = "".join(
        f"  {f'{n:,} events, {w} gateway' + ('s' if w > 1 else ''):>40}" for n, w, _, _ in sizes
    )
    print(f"  {'':44}{header}")
    for label, key in READ_LINES:
        cells = "".join(f"  {_cell(f[key]):>40}" for _, _, f, _ in sizes)
        print(f"  {label:44}{cells}")


def execution_times(plan: str) -> list[float]:
    """The ``Execution Time`` of each statement in an EXPLAIN ANALYZE output, in ms."""
    return [float(t) for t in re.findall(r"Execution Time: ([\d.]+) ms", plan)]


def print_plans(plans: list[tuple[int, dict[str, str]]], *, verbose: bool) -> None:
    """The EXPLAIN ANALYZE time of each read at each size (``verbose``: and its plan)."""
    for n, found in plans:
        for name, plan in found.items():
            took = execution_times(plan)
            each = f" ({len(took)} statements)" if len(took) > 1 else ""
            print(f"  EXPLAIN ANALYZE {name} at {n:,} events: {sum(took):.2f} ms{each}")
            if verbose:
                print("    " + plan.replace("\n", "\n    "))


def _cell(load: Load) -> str:
    cpu = f" ({load.cpu_ms:.2f} ms CPU)" if load.cpu_ms is not None else ""
    return f"{load.rate:,.0f}/s p50 {load.p50_ms:.1f} p99 {load.p99_ms:.1f}{cpu}"


def _rebuilt(rebuilt: list[Rebuilt]) -> str:
    return ", ".join(
        f"{row.name} {row.events / row.seconds:,.0f} ev/s" for row in rebuilt if row.events
    )


def _cpu_per(row: Rebuilt) -> str:
    per = 10_000 / max(1, row.events)
    return (
        f", CPU {row.cpu_s * per:.2f} / {row.postgres_cpu_s * per:.2f} /"
        f" {row.nats_cpu_s * per:.2f} s"
    )


def run_rebuild(*, events: int = 100_000, keep: bool = False) -> int:
    load = os.getloadavg()[0]
    bench = start(with_gateway=False)
    try:
        publish_rate = asyncio.run(grow(bench, events))
        fetched, fetch_s, decode_s = asyncio.run(raw_fetch(bench))
        replayed, replay_s = asyncio.run(raw_replay_fetch(bench))
        rebuilt = asyncio.run(rebuild_all(bench))
        copied, copy_s = asyncio.run(raw_copy(bench))
    finally:
        stop(bench, keep)
    print(
        f"\nhub bench rebuild: {bench.events:,} events on the {SERVICE} stream (published at"
        f" {publish_rate:,.0f}/s), embedded PostgreSQL + NATS, {os.cpu_count()} cores, load"
        f" average {load:.1f} at the start\n"
        f"  raw JetStream fetch (batches of 1000, acked)  {fetched / fetch_s:>10,.0f} events/s\n"
        f"  raw fetch + decode (REGISTRY.decode)          {fetched / decode_s:>10,.0f} events/s\n"
        f"  the replay's fetch + decode (no acks)         {replayed / replay_s:>10,.0f} events/s\n"
        f"  raw COPY of the timeline's rows               {copied / copy_s:>10,.0f} rows/s"
        f" ({copied:,} rows)"
    )
    alone = [row for row in rebuilt if row.name != "together"]
    total_events = sum(row.events for row in alone)
    total_s = sum(row.seconds for row in alone)
    for row in alone:
        if row.events:
            print(
                f"  rebuild {row.name:37}{row.events / row.seconds:>10,.0f} events/s"
                f" ({row.events:,} in {row.seconds:.1f} s, switch {row.switch_s:.2f} s)"
                f"{_cpu_per(row)}"
            )
    print(f"  rebuild, every read model one by one{'':10}{total_events / total_s:>10,.0f} events/s")
    for row in (row for row in rebuilt if row.name == "together"):
        print(
            f"  rebuild, every read model together{'':12}{row.events / row.seconds:>10,.0f}"
            f" events/s ({row.events:,} in {row.seconds:.1f} s, switch {row.switch_s:.2f} s)"
            f"{_cpu_per(row)}\n"
            f"    (the same, each event counted once{'':10}"
            f"{row.distinct_events / row.seconds:>10,.0f} events/s:"
            f" {row.distinct_events:,} events replayed into every model that reads them)"
        )
    print(
        "  (CPU: this process / PostgreSQL / NATS, seconds per 10,000 events replayed, counted"
        " once per model)\n"
    )
    return 0
