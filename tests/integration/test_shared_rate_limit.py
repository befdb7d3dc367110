"""The rate limit holds across gateway processes: each leases chunks of tokens from one bucket
row per key in PostgreSQL and spends them locally (gateway/ratelimit.py), so several
gateways on one database admit together no more than the limit plus one chunk each, with a
database round trip per chunk, not per request. Real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway import ratelimit
from gateway.ratelimit import SharedTokenBuckets
from services.runtime.settings import HubSettings
from tests.integration.gateway_only import bearer, running_gateway

QUERY = {"query": "{ __typename }"}


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    await ratelimit.ensure_tables(pool)
    try:
        yield pool
    finally:
        await pool.close()


async def test_two_gateways_together_admit_no_more_than_the_limit_plus_a_chunk_each(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    # a burst of 20 and next to no refill during the test; chunks of 5
    limited = settings.model_copy(
        update={"rate_limit_per_second": 0.01, "rate_limit_burst": 20, "rate_limit_chunk": 5}
    )
    headers = bearer(settings, "admin")
    async with (
        running_gateway(limited, database_url, nats_client) as (first_app, first),
        running_gateway(limited, database_url, nats_client) as (second_app, second),
    ):
        answers = []
        for _ in range(30):  # 60 requests, alternating between the two gateways
            answers.append(await first.post("/graphql", json=QUERY, headers=headers))
            answers.append(await second.post("/graphql", json=QUERY, headers=headers))
        other = await second.post("/graphql", json=QUERY, headers=bearer(settings, "steering"))
        leases = first_app.state.rate_limit.leases + second_app.state.rate_limit.leases

    admitted = sum(answer.status_code == 200 for answer in answers)
    refused = [answer for answer in answers if answer.status_code == 429]
    assert admitted + len(refused) == 60
    assert 20 <= admitted <= 20 + 2 * 5  # each process alone would have admitted 20
    assert all(int(answer.headers["retry-after"]) >= 1 for answer in refused)
    assert other.status_code == 200  # another subject has its own bucket
    # a round trip per chunk (and one refused lease per process), not per request
    assert leases <= admitted // 5 + 2 + 2


async def test_concurrent_requests_of_one_process_lease_one_chunk_at_a_time(
    pool: asyncpg.Pool,
) -> None:
    buckets = SharedTokenBuckets(0.01, 10, lambda: pool, chunk=5)
    waits = await asyncio.gather(*(buckets.take("alice") for _ in range(12)))
    assert sum(wait == 0 for wait in waits) == 10
    assert buckets.leases == 3  # two chunks of 5, then one lease that found nothing
    # refused locally until the next token is due: no further round trip
    assert await buckets.take("alice") > 0
    assert buckets.leases == 3


async def test_the_shared_bucket_refills_with_the_time_elapsed(pool: asyncpg.Pool) -> None:
    buckets = SharedTokenBuckets(4.0, 2, lambda: pool, chunk=1)
    assert [await buckets.take("bob") for _ in range(2)] == [0.0, 0.0]
    wait = await buckets.take("bob")
    assert 0 < wait <= 0.25
    await asyncio.sleep(wait + 0.05)
    assert await buckets.take("bob") == 0.0


async def test_keys_are_stored_hashed_and_refilled_rows_are_deleted(
    pool: asyncpg.Pool,
) -> None:
    buckets = SharedTokenBuckets(1.0, 5, lambda: pool, chunk=2)
    await buckets.take("anmeldung:203.0.113.7")
    rows = await pool.fetch("SELECT key_hash FROM gateway.rate_buckets")
    assert [row["key_hash"] for row in rows] == [hashlib.sha256(b"anmeldung:203.0.113.7").digest()]
    # an hour later the bucket is full again: the next process's first lease deletes its row
    await pool.execute("UPDATE gateway.rate_buckets SET at = at - interval '1 hour'")
    await SharedTokenBuckets(1.0, 5, lambda: pool, chunk=2).take("someone-else")
    left = await pool.fetch("SELECT key_hash FROM gateway.rate_buckets")
    assert [row["key_hash"] for row in left] == [hashlib.sha256(b"someone-else").digest()]


async def test_without_the_database_a_process_counts_alone() -> None:
    buckets = SharedTokenBuckets(0.01, 2, lambda: None, chunk=2)
    assert [await buckets.take("carol") > 0 for _ in range(3)] == [False, False, True]
    assert buckets.leases == 0
