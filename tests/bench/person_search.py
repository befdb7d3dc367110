"""Cost of the foreigners authority's blind index (services/foreigners_authority/search_index.py):
what it adds to an arrival, how long a search takes in the service, how fast the index job
builds the tokens of files without any.

    HUB_HOME=.hub .venv/bin/python -m tests.bench.person_search --url "$HUB_POSTGRES_URL" \\
        --arrivals 1000 --rounds 1000

``--url`` is the administrator's URL of a running hub's server (``make up`` prints it) and
``HUB_HOME`` that hub's home (its vault key); without ``--url`` it starts a throwaway embedded
PostgreSQL of its own. It registers ``--arrivals`` persons of its own, in blocks of 50 taking
turns: the tokens written by the index writer's thread (as in the command server), written at
once in the command (as before the writer), and no index at all; then times ``--rounds``
searches and a rebuild of the whole index, and prints p50, p95 and max in milliseconds, and
the CPU seconds of this process and of PostgreSQL per variant (the writer's thread included:
its queue is drained at the end of each block, inside the measurement). Its persons stay in
that hub's store.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from services.foreigners_authority import SPEC
from services.foreigners_authority.application import (
    ForeignersAuthority,
    RegisterArrival,
    SearchTerms,
)
from services.foreigners_authority.domain import EntryMode
from services.runtime.context import CommandContext, use_context
from services.runtime.service import build_application
from services.runtime.settings import HubSettings

AUTHORITY = "abh-05315"
CONTEXT = CommandContext(
    agency=AUTHORITY, role="abh_officer", legal_basis="§ 86 AufenthG", purpose="bench"
)
FAMILIES = ["Demchenko", "Haddad", "Müller", "Öztürk", "Nguyen", "Kowalski", "Rahimi", "Weiß"]


def _arrival(n: int) -> RegisterArrival:
    return RegisterArrival(
        given_names=f"Bench {n}",
        family_name=f"{FAMILIES[n % len(FAMILIES)]}-{n % 97}",
        birth_date=date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
        azr_number=f"{700000000000 + n:012d}",
        nationalities=["UKR"],
        entry_date=date(2022, 3, 9),
        entry_mode=EntryMode.TEMPORARY_PROTECTION,
        municipality_key="05315000",
        registered_on=date(2022, 3, 9),
        abh_id=AUTHORITY,
    )


def _timed(rounds: int, call: Callable[[int], Any]) -> list[float]:
    times = []
    for n in range(rounds):
        started = time.perf_counter()
        call(n)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _line(name: str, times: list[float]) -> str:
    times = sorted(times)
    p95 = times[max(int(len(times) * 0.95) - 1, 0)]
    return f"{name:<52} {statistics.median(times):8.2f} {p95:8.2f} {times[-1]:8.2f}"


def _cpu(pid: int | None) -> tuple[float, float]:
    """CPU seconds of this process, and of the PostgreSQL server ``pid`` with its backends."""
    import psutil

    own = psutil.Process().cpu_times()
    server_seconds = 0.0
    if pid is not None:
        server = psutil.Process(pid)
        for process in [server, *server.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            server_seconds += times.user + times.system
    return own.user + own.system, server_seconds


VARIANTS = ("the index writer's thread", "written at once in the command", "no index")
BLOCK = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="the administrator's URL of the server (else embedded)")
    parser.add_argument("--database", default="hub")
    parser.add_argument("--arrivals", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    postgres = None
    url, database = args.url, args.database
    key = None
    if url is None:
        from services.runtime.embedded import EmbeddedPostgres

        root = Path(tempfile.mkdtemp(prefix="bench-person-search-"))
        postgres = EmbeddedPostgres(root / "pg" / "data")
        postgres.start()
        url, database = postgres.url(), "postgres"
        key = base64.b64encode(os.urandom(32)).decode()
    settings = HubSettings(postgres_url=url, database=database, vault_master_key=key)
    app = build_application(SPEC, settings, pool_size=2)
    assert isinstance(app, ForeignersAuthority)
    index, writer = app.search_index, app.index_writer
    assert index is not None
    assert writer is not None
    offset = int(time.time()) % 1_000_000 * 1000
    timed: dict[str, list[float]] = {v: [] for v in VARIANTS}
    cpu: dict[str, list[float]] = {v: [0.0, 0.0] for v in VARIANTS}
    registered: list[int] = []
    with use_context(CONTEXT):
        n = 0
        while n < args.arrivals:
            for variant in VARIANTS:
                block = range(offset + n, offset + min(n + BLOCK, args.arrivals))
                n += len(block)
                if variant == VARIANTS[0]:
                    writer.start()
                elif variant == VARIANTS[2]:
                    app.index_writer = None
                before = _cpu(postgres.pid if postgres else None)

                def register(i: int, block: range = block) -> None:
                    app.register_arrival(_arrival(block[i]))

                timed[variant] += _timed(len(block), register)
                writer.stop()  # writes what is waiting (counted) and stops the thread
                after = _cpu(postgres.pid if postgres else None)
                cpu[variant][0] += after[0] - before[0]
                cpu[variant][1] += after[1] - before[1]
                app.index_writer = writer
                if variant != VARIANTS[2]:
                    registered += list(block)
        half = len(registered)

        def nth(k: int) -> int:
            return registered[k % half]

        def by_name(n: int) -> None:
            found = app.search_persons(
                SearchTerms(family_name=_arrival(nth(n)).family_name, authority=AUTHORITY)
            )
            assert found

        def by_name_and_birth(n: int) -> None:
            a = _arrival(nth(n))
            terms = SearchTerms(
                family_name=a.family_name, birth_date=a.birth_date, authority=AUTHORITY
            )
            assert app.search_persons(terms)

        def by_azr(n: int) -> None:
            azr = _arrival(nth(n)).azr_number
            assert app.search_persons(SearchTerms(azr_number=azr, authority=AUTHORITY))

        results = {
            **{f"register_arrival, {v}": timed[v] for v in VARIANTS},
            "search by family name": _timed(args.rounds, by_name),
            "search by family name + birth date": _timed(args.rounds, by_name_and_birth),
            "search by AZR number": _timed(args.rounds, by_azr),
        }
        with index._datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT count(*) AS n FROM foreigners_authority.person_search_index")
            rows_before = cursor.fetchone()["n"]
            cursor.execute("DELETE FROM foreigners_authority.person_search_index")
        started = time.perf_counter()
        rebuilt = app.index_unindexed_files()
        seconds = time.perf_counter() - started
    print(f"{'call':<52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, times in results.items():
        print(_line(name, times))
    print(
        f"index job: {rebuilt} files from nothing in {seconds:.2f} s ({rebuilt / seconds:.0f}"
        f" files/s); {rows_before} index rows before"
    )
    stats = writer.stats
    print(
        f"index writer: {stats.files} files in {stats.batches} statements"
        f" (largest {stats.largest}), {stats.failed} failed"
    )
    print(f"{'CPU seconds per 100 arrivals':<52} {'bench':>8} {'postgres':>8}")
    for variant in VARIANTS:
        per = 100 / max(len(timed[variant]), 1)
        print(f"{variant:<52} {cpu[variant][0] * per:8.3f} {cpu[variant][1] * per:8.3f}")
    app.close()
    app.vault.close()
    if postgres is not None:
        postgres.stop()


if __name__ == "__main__":
    main()
