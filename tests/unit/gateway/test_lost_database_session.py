"""A database session the client library lost track of (asyncpg's InternalClientError after
the server terminated it mid-query) counts as the database being away, wherever the gateway
meets one: readiness reports it, and the rate limit counts alone meanwhile. (The live
subscriptions: tests/integration/test_subscription_outage.py.)"""

from __future__ import annotations

from typing import Any

import asyncpg

from gateway.ratelimit import SharedTokenBuckets
from gateway.readiness import check


class LostTrackPool:
    """A pool whose every query meets a session asyncpg lost track of."""

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        raise asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        )

    fetchrow = fetch
    execute = fetch


async def test_readiness_reports_the_database_unavailable() -> None:
    found = await check(LostTrackPool(), None, 100)  # type: ignore[arg-type]

    assert not found.ready
    assert found.failing["database"] == "unavailable (InternalClientError)"


async def test_the_shared_rate_limit_counts_alone_instead_of_failing_the_request() -> None:
    buckets = SharedTokenBuckets(1.0, 2, lambda: LostTrackPool())  # type: ignore[arg-type,return-value]

    waits = [await buckets.take("case-manager") for _ in range(3)]

    assert waits[:2] == [0.0, 0.0]  # the local bucket's burst
    assert waits[2] > 0
