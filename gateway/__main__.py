"""The gateway process (uvicorn)."""

from __future__ import annotations

import asyncio

import uvicorn

from gateway.app import create_app
from services.runtime.settings import HubSettings


async def serve(settings: HubSettings, stop: asyncio.Event) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task


if __name__ == "__main__":
    from services.cli import main

    raise SystemExit(main(["run", "gateway"]))
