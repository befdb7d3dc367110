"""The projector process: keeps every read model up to date."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from projections.runner import run_projectors
from services.runtime.messaging import close, connect
from services.runtime.service import database_url, nats_url
from services.runtime.settings import HubSettings
from services.runtime.telemetry import setup_tracing

log = logging.getLogger(__name__)


async def run_projector(settings: HubSettings, stop: asyncio.Event) -> None:
    setup_tracing("hub-projector")
    pool = await asyncpg.create_pool(database_url(settings), min_size=1, max_size=4)
    nc = await connect(nats_url(settings), "projector")
    try:
        await run_projectors(nc.jetstream(), pool, stop)
    finally:
        await close(nc)
        await pool.close()


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "projector"]))
