"""Cost of the rate limit shared through PostgreSQL (gateway/ratelimit.py) per request, next
to the in-memory bucket it replaced: ``--requests`` takes spread over ``--keys`` keys, with a
rate high enough that none is refused, and ``--processes`` bucket sets (as many gateway
processes) taking in turn. Prints the database round trips (leases) per request and the
time per take in microseconds (p50, p95, max) for both.

    .venv/bin/python -m tests.bench.rate_limit --url "$HUB_POSTGRES_URL" --requests 20000

``--url`` is a database the table may be created in (the administrator's URL of ``make up``;
the table exists there). The bench's keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import time

import asyncpg

from gateway import ratelimit
from gateway.ratelimit import SharedTokenBuckets, TokenBuckets


def _summary(name: str, times: list[float]) -> str:
    times = sorted(times)
    p95 = times[int(len(times) * 0.95)]
    return (
        f"{name:<28} p50 {statistics.median(times):8.1f} us  p95 {p95:8.1f} us"
        f"  max {times[-1]:9.1f} us"
    )


async def main_async(url: str, requests: int, keys: int, processes: int, chunk: int) -> None:
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    assert pool is not None
    await ratelimit.ensure_tables(pool)
    shared = [SharedTokenBuckets(1000.0, 2000, lambda: pool, chunk=chunk) for _ in range(processes)]
    local = TokenBuckets(1000.0, 2000)
    names = [f"bench-rate-{n}" for n in range(keys)]
    shared_times: list[float] = []
    local_times: list[float] = []
    try:
        for n in range(requests):
            key = names[n % keys]
            started = time.perf_counter()
            wait = await shared[n % processes].take(key)
            shared_times.append((time.perf_counter() - started) * 1e6)
            assert wait == 0, "the bench's rate must admit every request"
            started = time.perf_counter()
            local.take(key)
            local_times.append((time.perf_counter() - started) * 1e6)
        leases = sum(buckets.leases for buckets in shared)
        print(
            f"{requests} requests over {keys} keys and {processes} processes, chunk {chunk}: "
            f"{leases} leases ({leases / requests:.3f} round trips per request)"
        )
        print(_summary("shared (PostgreSQL chunks)", shared_times))
        print(_summary("in memory (one process)", local_times))
    finally:
        await pool.execute(
            "DELETE FROM gateway.rate_buckets WHERE key_hash = ANY($1::bytea[])",
            [hashlib.sha256(name.encode()).digest() for name in names],
        )
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main_async(args.url, args.requests, args.keys, args.processes, args.chunk))


if __name__ == "__main__":
    main()
