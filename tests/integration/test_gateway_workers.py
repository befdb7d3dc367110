"""Of several gateway processes on one port only the first runs the background jobs
(resending erasures a service has not confirmed, the retention run), so each runs once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from gateway.app import GatewayResources, create_app
from services.runtime.messaging import close, connect
from services.runtime.settings import HubSettings


def _jobs() -> set[str]:
    return {
        task.get_coro().__qualname__  # type: ignore[union-attr]
        for task in asyncio.all_tasks()
        if not task.done()
    }


@pytest.mark.parametrize(("background", "expected"), [(True, True), (False, False)])
async def test_only_the_first_gateway_process_runs_the_background_jobs(
    settings: HubSettings, database_url: str, nats_client: Any, background: bool, expected: bool
) -> None:
    settings = settings.model_copy(update={"retention_every_hours": 24.0})
    nc = await connect(settings, "test-gateway", user="gateway")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        app = create_app(
            settings,
            GatewayResources(pool=pool, nc=nc, url=database_url),
            background=background,
        )
        async with app.router.lifespan_context(app):
            running = _jobs()
            assert ("ErasureCoordinator.run" in running) is expected
            assert ("run_daily" in running) is expected
    finally:
        await pool.close()
        await close(nc)
