"""``hub bench scale``: the reads of ``hub bench reads`` on data brought in by the bulk import.

``hub bench reads`` publishes synthetic events straight onto the stream and builds the read
models from it (and, with ``--million``, copies rows in SQL): quick, but no event passes the
services. Here the whole hub runs (services, relays, projector, gateway) on throwaway servers
and every stored event comes in as a district brings in its foreigners authority's files:
NDJSON batches through ``POST /inbound/batches`` (``hub import``), the authority's event
store, its relay, JetStream and the projector, personal data encrypted on the way.

First one person with ``PERSON_EVENTS`` events (a new person's notice, then residence titles
and language certificates in turn) and synthetic persons' paths (the demo's archetypes) until
the timeline holds 10,000 events; then the same reads as ``hub bench reads``: the person's
timeline under wrk beside ``{ __typename }`` and the bare SQL, the indicators one client at a
time, EXPLAIN ANALYZE of each. With ``--million`` the import goes on to 1,000,000 events and
the reads are measured again. Prints the import's rate for each step and how the latency of
each read changed between the sizes (the target: within 20 %).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from hub.bench_hub import BenchHub, start_bench_hub
from hub.bench_import import SCHEMA, _counts
from hub.bench_reads import (
    AGENCY,
    LARGE,
    PERSON_EVENTS,
    READ_LINES,
    SMALL,
    Bench,
    Load,
    _wrk_missing,
    audit_stats,
    execution_times,
    explain,
    print_plans,
    print_read_table,
    read_figures,
)
from hub.importer import NEW_PERSON_EVENTS, import_file, synthetic_lines
from kernel.clock import today_in_germany

#: messages a batch (the endpoint's limit is raised to it for the run)
BATCH_SIZE = 5000
#: persons a generated file holds at most (the file of a million events is imported in parts)
PERSONS_PER_FILE = 25_000
#: how long the read models may take to apply an import, in seconds
SETTLE_SECONDS = 1800
#: the read models whose rows the reads use, each with its own consumer of the authority's
#: stream: the person's timeline, and the pathway behind the indicators
CONSUMERS = ("timeline", "pathway")


@dataclass
class Loaded:
    """One step of the import: up to ``events`` on the timeline."""

    events: int
    imported: int  # the events this step added to the timeline
    messages: int
    seconds: float  # from the first batch sent until the read models had applied it all
    accept_seconds: float  # until the last receipt
    rejected: int
    vacuum_seconds: float = 0.0  # the VACUUM (ANALYZE) of the read models after it


def long_path(events: int, today: dt.date) -> Iterator[str]:
    """The NDJSON lines of one person with ``events`` events: the notice of a new person
    (three events), then residence titles and language certificates in turn (one each),
    every later message naming the person by the notice's ``messageId``."""
    from services.foreigners_authority.inbound.synthetic import MUNICIPALITIES

    entry = dt.date(2000, 1, 6)
    envelope = {"sentAt": f"{today.isoformat()}T09:00:00+01:00", "sender": AGENCY}
    first = "scale-long-000"
    yield json.dumps(
        {
            "messageId": first,
            "messageType": "registration_notice",
            **envelope,
            "body": {
                "kind": "new_person",
                "givenNames": "Amal",
                "familyName": "Haddad",
                "birthDate": "1990-04-12",
                "azrNumber": "799999999999",
                "nationalities": ["SYR"],
                "entryDate": entry.isoformat(),
                "entryMode": "asylum",
                "municipalityKey": MUNICIPALITIES[0],
                "registeredOn": (entry + dt.timedelta(days=3)).isoformat(),
            },
        }
    )
    step = max(1, min(180, (today - entry).days // max(1, events)))
    for n in range(1, events - NEW_PERSON_EVENTS + 1):
        on = entry + dt.timedelta(days=step * n)
        if n % 2:
            message_type = "residence_decision"
            body: dict[str, Any] = {
                "kind": "title_granted",
                "title": "residence_permit",
                "paragraph": "§ 25 Abs. 2 AufenthG",
                "grantedOn": on.isoformat(),
                "validFrom": on.isoformat(),
                "validUntil": (on + dt.timedelta(days=2 * step - 1)).isoformat(),
            }
        else:
            message_type = "integration_course"
            body = {"kind": "language_certificate", "cefrLevel": "B1", "issuedOn": on.isoformat()}
        yield json.dumps(
            {
                "messageId": f"scale-long-{n:03d}",
                "messageType": message_type,
                "personRef": first,
                **envelope,
                "body": body,
            },
            ensure_ascii=False,
        )


def write_file(path: Path, lines: Iterator[str]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
            count += 1
    return count


async def _settled(db_url: str, target: int) -> None:
    """Wait until each read model the reads use has applied the authority's log up to
    notification ``target``."""
    conn = await asyncpg.connect(db_url)
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            rows = await conn.fetch(
                "SELECT consumer, position FROM projections.consumer_positions"
                " WHERE source = $1 AND consumer = any($2::text[])",
                SCHEMA,
                list(CONSUMERS),
            )
            positions = {r["consumer"]: int(r["position"]) for r in rows}
            if all(positions.get(name, 0) >= target for name in CONSUMERS):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the read models did not apply the import: {positions}")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _vacuum(db_url: str) -> None:
    """``VACUUM (ANALYZE)`` of the read models, as after a migration: otherwise the reads
    would be measured beside autovacuum working through the import (and on the planner's
    statistics of before it)."""
    conn = await asyncpg.connect(db_url)
    try:
        tables = await conn.fetch(
            "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables"
            " WHERE schemaname = 'projections'"
        )
        for table in tables:
            await conn.execute(f"VACUUM (ANALYZE) {table['name']}")
    finally:
        await conn.close()


async def _timeline_rows(db_url: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM projections.timeline_events"))
    finally:
        await conn.close()


async def _long_person(db_url: str) -> str:
    """The person with ``PERSON_EVENTS`` events on the timeline (the synthetic paths are all
    shorter)."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT person_id, count(*) AS n FROM projections.timeline_events"
            " GROUP BY person_id HAVING count(*) >= $1",
            PERSON_EVENTS,
        )
    finally:
        await conn.close()
    if len(rows) != 1 or rows[0]["n"] != PERSON_EVENTS:
        found = [(str(r["person_id"]), r["n"]) for r in rows]
        raise RuntimeError(f"expected one person with {PERSON_EVENTS} events, found {found}")
    return str(rows[0]["person_id"])


class Loader:
    """Imports through the inbound batches until the timeline holds a number of events."""

    def __init__(self, hub: BenchHub) -> None:
        self.hub = hub
        self.url = f"http://127.0.0.1:{hub.inbound_port}"
        self.token = hub.token("bench-scale-import")
        self.today = today_in_germany()
        self.files = 0
        self.events_per_person = 8.0  # the archetypes' mean, refined by each import

    def _files(self, persons: int, *, with_long_person: bool) -> list[tuple[Path, int, int]]:
        """Files of ``persons`` synthetic paths (the long person first, if asked), at most
        PERSONS_PER_FILE each, written before any is sent: (path, persons, lines)."""
        files = []
        while persons > 0:
            n = min(PERSONS_PER_FILE, persons)
            self.files += 1
            seed = 1000 + self.files
            lines: Iterator[str] = synthetic_lines(
                n, today=self.today, seed=seed, prefix=f"scale-{seed}"
            )
            if with_long_person:
                lines = itertools.chain(long_path(PERSON_EVENTS, self.today), lines)
                with_long_person = False
            path = self.hub.home / f"scale-{self.files}.ndjson"
            files.append((path, n, write_file(path, lines)))
            persons -= n
        return files

    def up_to(self, events: int, *, with_long_person: bool) -> Loaded:
        """Import the long person (once) and synthetic persons until the timeline holds at
        least ``events`` events, and wait until the read models have applied it all. The
        files are written before the first is sent (a top-up after, if the persons made fewer
        events than estimated), so the time is the hub's, not the file generator's."""
        before = asyncio.run(_counts(self.hub.db_url))
        messages = rejected = 0
        accept_s = seconds = 0.0
        rows = before["timeline"]
        while rows < events:
            persons = max(1, math.ceil((events - rows) / self.events_per_person))
            files = self._files(persons, with_long_person=with_long_person)
            with_long_person = False
            started = time.perf_counter()
            for path, n, written in files:
                try:
                    result = import_file(
                        path, self.url, self.token, batch_size=BATCH_SIZE, progress=None
                    )
                finally:
                    path.unlink(missing_ok=True)
                messages += written
                rejected += result.counts.get("rejected", 0)
                if result.rejections:
                    raise RuntimeError(f"the import rejected messages: {result.rejections[:3]}")
                rows += result.events
                self.events_per_person = max(1.0, result.events / n)
                print(
                    f"  imported {written:,} messages ({result.events:,} events) in"
                    f" {result.seconds:.1f} s; about {rows:,} events now",
                    flush=True,
                )
            accept_s += time.perf_counter() - started
            after = asyncio.run(_counts(self.hub.db_url, before["newest"]))
            asyncio.run(_settled(self.hub.db_url, after["last_published"]))
            seconds += time.perf_counter() - started
        vacuumed = time.perf_counter()
        asyncio.run(_vacuum(self.hub.db_url))
        vacuum_s = time.perf_counter() - vacuumed
        total = asyncio.run(_timeline_rows(self.hub.db_url))
        return Loaded(
            total, total - before["timeline"], messages, seconds, accept_s, rejected, vacuum_s
        )


def _latency_change(small: dict[str, Load], large: dict[str, Load]) -> list[str]:
    """Each one-client read's median latency at the larger size against the smaller."""
    lines = []
    for label, key in READ_LINES:
        if key.endswith("_1"):  # the one-client rows
            a, b = small[key].p50_ms, large[key].p50_ms
            name = label.removesuffix(", one client")
            lines.append(f"    {name:44}{a:7.1f} -> {b:7.1f} ms ({(b / a - 1) * 100:+.0f} %)")
    return lines


def _plan_change(plans: list[tuple[int, dict[str, str]]]) -> list[str]:
    (_, small), (_, large) = plans[0], plans[-1]
    lines = []
    for name in small:
        a, b = sum(execution_times(small[name])), sum(execution_times(large[name]))
        if a > 0 and "(before)" not in name:
            lines.append(f"    {name:44}{a:7.2f} -> {b:7.2f} ms ({(b / a - 1) * 100:+.0f} %)")
    return lines


def run_scale(*, million: bool = False, seconds: int = 10, keep: bool = False) -> int:
    if _wrk_missing():
        return 2
    load = os.getloadavg()[0]
    hub = start_bench_hub("hub-bench-scale-", env={"HUB_INBOUND_BATCH_MAX": str(BATCH_SIZE)})
    bench = Bench(hub.supervisor, hub.settings, hub.db_url, hub.nats_url, hub.home)
    loader = Loader(hub)
    sizes: list[tuple[int, int, dict[str, Load], list[Any]]] = []
    plans: list[tuple[int, dict[str, str]]] = []
    loads: list[Loaded] = []
    try:
        for size in [SMALL, LARGE] if million else [SMALL]:
            print(f"hub bench scale: importing up to {size:,} events", flush=True)
            loaded = loader.up_to(size, with_long_person=not loads)
            loads.append(loaded)
            if not bench.target:
                bench.target = asyncio.run(_long_person(hub.db_url))
            bench.events = loaded.events
            sizes.append((loaded.events, 1, read_figures(bench, seconds), []))
            plans.append((loaded.events, asyncio.run(explain(bench))))
        entries, commits = asyncio.run(audit_stats(bench))
    finally:
        hub.stop(keep)
    print(
        f"\nhub bench scale: the reads on data imported through POST /inbound/batches"
        f" (hub import, batches of {BATCH_SIZE:,}) into the whole hub; timeline of one person"
        f" with {PERSON_EVENTS} events, 32 connections (wrk, {seconds} s), embedded PostgreSQL"
        f" and NATS, {os.cpu_count()} cores, load average {load:.1f} at the start"
    )
    for loaded in loads:
        print(
            f"  imported up to {loaded.events:,} events on the timeline: {loaded.messages:,}"
            f" messages, {loaded.rejected} rejected, receipts after {loaded.accept_seconds:.1f} s,"
            f" applied by the read models after {loaded.seconds:.1f} s"
            f" ({loaded.imported / loaded.seconds:,.0f} events/s); VACUUM (ANALYZE) of the read"
            f" models {loaded.vacuum_seconds:.1f} s"
        )
    print_read_table(sizes)
    print_plans(plans, verbose=False)
    if len(sizes) > 1:
        print(f"  latency at {sizes[-1][0]:,} against {sizes[0][0]:,} events (target: within 20 %)")
        print("  one client, median:")
        print("\n".join(_latency_change(sizes[0][2], sizes[-1][2])))
        print("  EXPLAIN ANALYZE:")
        print("\n".join(_plan_change(plans)))
    print(f"  audit log: {entries:,} entries in {commits:,} transactions (group commit)\n")
    return 0
