"""Time of the workspace's session store on PostgreSQL, per call: what each page load adds
(``get``: the cookie's session) and a sign-in (``create``), a form token (``once``) and a draft
(``keep_draft`` + ``take_draft``).

    .venv/bin/python -m tests.bench.workspace_sessions --url "$HUB_POSTGRES_URL" --rounds 2000

``--url`` is a database the tables may be created in (the administrator's URL of ``make up``
prints it; the tables already exist there). It adds ``--sessions`` sessions of its own first
(deleted at the end) and prints p50, p95 and max per call in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from gateway.auth import Principal
from gateway.workspace import sessions as workspace_sessions
from gateway.workspace.sessions import SessionStore

WHO = Principal(subject="bench-user", agency="kim-05315", role="case_manager")


async def _timed(rounds: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    times = []
    for n in range(rounds):
        started = time.perf_counter()
        await call(n)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def main_async(url: str, rounds: int, count: int) -> None:
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    assert pool is not None
    await workspace_sessions.ensure_tables(pool)
    store = SessionStore(lambda: pool)
    made = [await store.create(WHO) for _ in range(count)]
    try:

        async def get(n: int) -> None:
            assert await store.get(made[n % count].id) is not None

        async def act() -> str:
            return "/faelle/1"

        async def once(n: int) -> None:
            await store.once(made[0], f"bench-{n}", act)

        async def draft(n: int) -> None:
            key = await store.keep_draft("/faelle/neu", {"nachname": ["Beispiel"]})
            assert await store.take_draft(key, "/faelle/neu") is not None

        async def create(n: int) -> None:
            made.append(await store.create(WHO))

        results = {
            "get (every page load)": await _timed(rounds, get),
            "once (a form token)": await _timed(rounds, once),
            "keep + take a draft": await _timed(rounds, draft),
            "create (a sign-in)": await _timed(rounds // 4, create),
        }
    finally:
        for session in made:
            await store.end(session.id)
        await pool.close()
    print(f"{'call':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, times in results.items():
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{name:<28} {statistics.median(times):8.2f} {p95:8.2f} {times[-1]:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main_async(args.url, args.rounds, args.sessions))


if __name__ == "__main__":
    main()
