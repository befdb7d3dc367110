"""``hub bench --import N``: a bulk import of N synthetic persons' paths, on throwaway servers.

hub import (NDJSON batches) -> POST /inbound/batches -> event store -> relay -> JetStream ->
projector -> timeline. Prints events per second for the endpoint accepting the batches
(the last receipt in), the relay (its position at the event store's newest event) and end to
end (every published event on the timeline), each from the import's start.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import asyncpg

from hub.bench_hub import start_bench_hub
from hub.importer import generate, import_file, report
from hub.supervisor import Supervisor
from kernel.clock import today_in_germany
from services.runtime.settings import HubSettings

SCHEMA = "foreigners_authority"
BATCH_SIZE = 5000
TIMEOUT_SECONDS = 900


def _published_classes() -> set[str]:
    """The topics of the residence file's events that the relay publishes (integration.py)."""
    from eventsourcing.utils import get_topic

    from services.foreigners_authority.domain import ResidenceFile
    from services.foreigners_authority.integration import SIMPLE

    direct = {
        ResidenceFile.PersonRegistered,
        ResidenceFile.EntryRecorded,
        ResidenceFile.ResidenceRegistered,
        ResidenceFile.ResidenceTitleGranted,
    }
    return {get_topic(cls) for cls in direct | set(SIMPLE)}


async def _events_table(conn: asyncpg.Connection) -> str:
    name = await conn.fetchval(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = $1"
        " AND column_name = 'notification_id' AND table_name LIKE '%\\_events' LIMIT 1",
        SCHEMA,
    )
    if name is None:
        raise RuntimeError("the foreigners authority's event store was not found")
    return f"{SCHEMA}.{name}"


class _Watch:
    """Polls the relay's position and the timeline while the import runs (own thread)."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.relay_target: int | None = None  # the newest notification id, once all accepted
        #: the timeline's position in the service's log it must reach: the newest published
        #: event's notification id (not a count of rows: an erasure, for example by the
        #: retention rules, removes rows, and a count would then never be reached)
        self.timeline_target: int | None = None
        self.relayed_at: float | None = None
        self.projected_at: float | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._poll())
        except BaseException as error:  # reported by the caller
            self.error = error

    async def _poll(self) -> None:
        conn = await asyncpg.connect(self.db_url)
        started = time.perf_counter()
        try:
            while self.projected_at is None or self.relayed_at is None:
                if time.perf_counter() - started > TIMEOUT_SECONDS:
                    raise RuntimeError("the import was not projected within the time limit")
                now = time.perf_counter()
                if self.relayed_at is None and self.relay_target is not None:
                    relayed = await conn.fetchval(
                        f"SELECT max(notification_id) FROM {SCHEMA}.relay_position"
                    )
                    if (relayed or 0) >= self.relay_target:
                        self.relayed_at = now
                if (
                    self.projected_at is None
                    and self.timeline_target is not None
                    and await _timeline_position(conn) >= self.timeline_target
                ):
                    self.projected_at = now
                await asyncio.sleep(0.02)
        finally:
            await conn.close()


async def _timeline_position(conn: asyncpg.Connection) -> int:
    """How far the timeline has applied the service's log (its consumer's position)."""
    position = await conn.fetchval(
        "SELECT position FROM projections.consumer_positions"
        " WHERE consumer = 'timeline' AND source = $1",
        SCHEMA,
    )
    return int(position or 0)


async def _counts(db_url: str, after: int = 0) -> dict[str, int]:
    """The newest notification id, the published events after ``after`` and the newest of
    them, the timeline's rows and its position."""
    conn = await asyncpg.connect(db_url)
    try:
        table = await _events_table(conn)
        newest = int(await conn.fetchval(f"SELECT coalesce(max(notification_id), 0) FROM {table}"))
        topics = await conn.fetch(
            f"SELECT topic, count(*) AS n, max(notification_id) AS last FROM {table}"
            " WHERE notification_id > $1 GROUP BY topic",
            after,
        )
        published = _published_classes()
        return {
            "newest": newest,
            "stored": sum(int(r["n"]) for r in topics),
            "published": sum(int(r["n"]) for r in topics if r["topic"] in published),
            "last_published": max(
                (int(r["last"]) for r in topics if r["topic"] in published), default=0
            ),
            "timeline": int(
                await conn.fetchval("SELECT count(*) FROM projections.timeline_events")
            ),
            "timeline_position": await _timeline_position(conn),
        }
    finally:
        await conn.close()


def run_import_benchmark(persons: int, keep: bool = False, batch_size: int = BATCH_SIZE) -> int:
    hub = start_bench_hub(
        "hub-bench-import-", env={"HUB_INBOUND_BATCH_MAX": str(max(batch_size, 5000))}
    )
    supervisor, db_url = hub.supervisor, hub.db_url
    try:
        today = today_in_germany()
        warm_up, data = hub.home / "warm-up.ndjson", hub.home / "import.ndjson"
        generate(warm_up, 20, today=today, seed=1, prefix="warm")
        lines = generate(data, persons, today=today, seed=2, prefix="bench")
        raw_file = hub.home / "raw.ndjson"
        generate(raw_file, persons, today=today, seed=3, prefix="raw")
        token = hub.token("bench-import")
        url = f"http://127.0.0.1:{hub.inbound_port}"
        import_file(warm_up, url, token, batch_size=batch_size, progress=False)
        raw = _raw_writes(hub.settings, raw_file)
        before = _wait_settled(db_url)
        watch = _Watch(db_url)
        watch.thread.start()
        cpu_before = _cpu(supervisor)
        started = time.perf_counter()
        client_cpu = time.process_time()
        result = import_file(data, url, token, batch_size=batch_size, progress=None)
        accepted_at = time.perf_counter()
        client_cpu = time.process_time() - client_cpu
        after = asyncio.run(_counts(db_url, before["newest"]))
        watch.relay_target = after["newest"]
        watch.timeline_target = after["last_published"]
        watch.thread.join(TIMEOUT_SECONDS + 10)
        if watch.error is not None:
            raise RuntimeError(str(watch.error))
        assert watch.relayed_at is not None
        assert watch.projected_at is not None
        cpu_after = _cpu(supervisor)
    finally:
        hub.stop(keep)
    stored = after["stored"]
    accept_s = accepted_at - started
    # the relay records its position lazily (at most once a second): what is on the timeline
    # was relayed, so the relay was done no later than the projection
    relay_s = max(min(watch.relayed_at, watch.projected_at) - started, accept_s)
    e2e_s = watch.projected_at - started
    cpu_seconds = {
        "hub import": client_cpu,
        **{k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()},
    }
    busy = {k: v for k, v in cpu_seconds.items() if v >= 0.05}
    figures = {
        "persons": persons,
        "messages": lines,
        "receipts": result.counts,
        "events_stored": stored,
        "events_published": after["published"],
        "batch_size": batch_size,
        "accept_s": accept_s,
        "relay_s": relay_s,
        "end_to_end_s": e2e_s,
        "accept_events_per_s": after["published"] / accept_s,
        "relay_events_per_s": after["published"] / relay_s,
        "end_to_end_events_per_s": after["published"] / e2e_s,
        "raw_events": raw["events"],
        "raw_s": raw["seconds"],
        "raw_events_per_s": raw["events"] / raw["seconds"],
        "cores": os.cpu_count(),
        "cpu_seconds": cpu_seconds,
        "load_average_end": os.getloadavg()[0],
    }
    print()
    report(result)  # as hub import prints it
    print(
        f"\nhub bench --import: {persons} persons, {lines} messages in batches of {batch_size},"
        f" embedded PostgreSQL + NATS, {os.cpu_count()} cores\n"
        f"  receipts           {', '.join(f'{k} {v}' for k, v in sorted(result.counts.items()))}\n"
        f"  endpoint accepting {after['published'] / accept_s:8.0f} events/s"
        f"  ({lines / accept_s:.0f} messages/s; all receipts in after {accept_s:.2f} s;"
        f" {stored} rows stored with the messages' records)\n"
        f"  relay to JetStream {after['published'] / relay_s:8.0f} events/s"
        f"  ({after['published']} published events relayed {relay_s:.2f} s after the start)\n"
        f"  end to end         {after['published'] / e2e_s:8.0f} events/s"
        f"  (all {after['published']} on the timeline {e2e_s:.2f} s after the start)\n"
        f"raw baseline, same run: {persons} other persons' paths straight through the"
        " application (receive_batch in transactions of 1,000, in process, no HTTP)\n"
        f"  application writes {raw['events'] / raw['seconds']:8.0f} events/s"
        f"  ({raw['events']} events in {raw['seconds']:.2f} s)\n"
        "  CPU seconds from the start until all on the timeline: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(busy.items(), key=lambda kv: -kv[1]))
        + f" (load average {os.getloadavg()[0]:.1f} at the end)\n"
        "  CPU per published event, µs: "
        + ", ".join(
            f"{k} {v / max(after['published'], 1) * 1e6:.0f}"
            for k, v in sorted(busy.items(), key=lambda kv: -kv[1])
        )
        + f"; all {sum(busy.values()) / max(after['published'], 1) * 1e6:.0f}\n"
        f"{json.dumps(figures)}\n"
    )
    return 0 if not result.counts.get("rejected") else 1


def _wait_settled(db_url: str) -> dict[str, int]:
    """Wait until every published event so far is on the timeline; returns the counts then."""
    deadline = time.monotonic() + 300
    while True:
        counts = asyncio.run(_counts(db_url))
        if counts["timeline_position"] >= counts["last_published"]:
            return counts
        if time.monotonic() > deadline:
            raise RuntimeError("what was written before the import did not reach the timeline")
        time.sleep(0.1)


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


def _raw_writes(settings: HubSettings, path: Path) -> dict[str, float]:
    """The file's messages written straight through the application's ``receive_batch`` (in
    this process, no HTTP): the new persons first, then the rest in the file's order with
    their person filled in. Returns the events (not the messages' records) and seconds."""
    from services.foreigners_authority import SPEC
    from services.foreigners_authority.application import ForeignersAuthority
    from services.foreigners_authority.inbound.endpoint import FORMS
    from services.runtime.context import CommandContext, use_context
    from services.runtime.service import build_application

    messages = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    app = build_application(SPEC, settings)
    assert isinstance(app, ForeignersAuthority)
    context = CommandContext(
        agency="abh-05315",
        role="abh_officer",
        legal_basis="§ 86 AufenthG",
        purpose="residence_administration",
        subject="bench-import",
    )
    chunk = 1000
    events = 0
    try:
        with use_context(context):
            started = time.perf_counter()
            notices = [m for m in messages if "personRef" not in m]
            persons: dict[str, str] = {}
            for start in range(0, len(notices), chunk):
                part = notices[start : start + chunk]
                receipts = app.receive_batch([FORMS.validate_python(m) for m in part])
                for sent, receipt in zip(part, receipts, strict=True):
                    persons[sent["messageId"]] = str(receipt.person_id)
                    events += 3 if receipt.status == "accepted" else 0
            rest = []
            for sent in messages:
                if "personRef" in sent:
                    reference = sent["personRef"]
                    sent = {k: v for k, v in sent.items() if k != "personRef"}
                    rest.append({**sent, "personId": persons[reference]})
            for start in range(0, len(rest), chunk):
                part = rest[start : start + chunk]
                receipts = app.receive_batch([FORMS.validate_python(m) for m in part])
                events += sum(1 for r in receipts if r.status == "accepted")
            seconds = time.perf_counter() - started
    finally:
        app.close()
        app.vault.close()
    return {"events": events, "seconds": seconds}
