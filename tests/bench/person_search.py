"""Cost of the foreigners authority's blind index (services/foreigners_authority/search_index.py):
what it adds to an arrival, how long a search takes in the service, how fast the index job
builds the tokens of files without any.

    HUB_HOME=.hub .venv/bin/python -m tests.bench.person_search --url "$HUB_POSTGRES_URL" \\
        --arrivals 1000 --rounds 1000

``--url`` is the administrator's URL of a running hub's server (``make up`` prints it) and
``HUB_HOME`` that hub's home (its vault key). It registers ``--arrivals`` persons of its own
(half with the index, half without), times ``--rounds`` searches and a rebuild of the whole
index, and prints p50, p95 and max in milliseconds. Its persons stay in that hub's store.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
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
    return f"{name:<44} {statistics.median(times):8.2f} {p95:8.2f} {times[-1]:8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the administrator's URL of the server")
    parser.add_argument("--database", default="hub")
    parser.add_argument("--arrivals", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1000)
    args = parser.parse_args()
    settings = HubSettings(postgres_url=args.url, database=args.database)
    app = build_application(SPEC, settings, pool_size=2)
    assert isinstance(app, ForeignersAuthority)
    index = app.search_index
    assert index is not None
    offset = int(time.time()) % 1_000_000 * 1000
    half = args.arrivals // 2
    with use_context(CONTEXT):
        with_index = _timed(half, lambda n: app.register_arrival(_arrival(offset + n)))
        app.search_index = None
        without = _timed(half, lambda n: app.register_arrival(_arrival(offset + half + n)))
        app.search_index = index

        def by_name(n: int) -> None:
            found = app.search_persons(
                SearchTerms(
                    family_name=_arrival(offset + n % half).family_name, authority=AUTHORITY
                )
            )
            assert found

        def by_name_and_birth(n: int) -> None:
            a = _arrival(offset + n % half)
            terms = SearchTerms(
                family_name=a.family_name, birth_date=a.birth_date, authority=AUTHORITY
            )
            assert app.search_persons(terms)

        def by_azr(n: int) -> None:
            azr = _arrival(offset + n % half).azr_number
            assert app.search_persons(SearchTerms(azr_number=azr, authority=AUTHORITY))

        results = {
            "register_arrival with the index": with_index,
            "register_arrival without the index": without,
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
    print(f"{'call':<44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, times in results.items():
        print(_line(name, times))
    print(
        f"index job: {rebuilt} files from nothing in {seconds:.2f} s ({rebuilt / seconds:.0f}"
        f" files/s); {rows_before} index rows before"
    )
    app.close()
    app.vault.close()


if __name__ == "__main__":
    main()
