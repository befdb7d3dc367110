"""An in-process hub for a whole test module: one database, one NATS connection, the services,
relays, projectors and the gateway, started once (the ``hub`` fixture of conftest.py starts
one per test). For tests that call many operations against the same data, such as the access
matrix and the fuzzing of the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn

from gateway.app import GatewayResources, create_app
from hub.catalog import SERVICES
from projections.runner import all_consumers
from services.runtime.commands import CommandServer
from services.runtime.database import drop_database, ensure_database, with_database
from services.runtime.messaging import close, connect
from services.runtime.relay import OutboxRelay
from services.runtime.sealing import opener_for
from services.runtime.service import build_application
from services.runtime.settings import HubSettings
from services.runtime.telemetry import setup_tracing
from tests.conftest import TEST_JWT_SECRET, TEST_VAULT_KEY, Servers
from tests.helpers import close_app
from tests.integration.conftest import EXPORTER, InProcessHub


@contextlib.asynccontextmanager
async def module_hub(servers: Servers, **changes: Any) -> AsyncIterator[InProcessHub]:
    """A hub on a fresh database and empty streams; ``changes`` override settings (e.g.
    ``rate_limit_per_second=0`` for tests that send many requests)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    ensure_database(servers.postgres_url, name)
    home = Path(tempfile.mkdtemp(prefix="hubmodule-"))
    settings = HubSettings(
        home=home / "hub",
        postgres_url=servers.postgres_url,
        nats_url=servers.nats_url,
        database=name,
        vault_master_key=TEST_VAULT_KEY,
        jwt_secret=TEST_JWT_SECRET,
        demo=False,
        **changes,
    )
    nc = await connect(servers.nats_url, "test")
    js = nc.jetstream()
    for info in await js.streams_info():
        await js.delete_stream(str(info.config.name))
    try:
        async with running_hub(settings, with_database(servers.postgres_url, name), nc) as hub:
            yield hub
    finally:
        await close(nc)
        with contextlib.suppress(Exception):
            drop_database(servers.postgres_url, name)


@contextlib.asynccontextmanager
async def running_hub(
    settings: HubSettings, database_url: str, nc: Any
) -> AsyncIterator[InProcessHub]:
    """Command servers, policies, relays, projectors and the gateway, in this process: what
    the ``hub`` fixture of conftest.py starts, kept in step with it."""
    setup_tracing("hub-tests", EXPORTER)
    js = nc.jetstream()
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=12)
    stop = asyncio.Event()
    apps: list[Any] = []
    command_servers: list[CommandServer] = []
    tasks: list[asyncio.Task[None]] = []
    relays: dict[str, OutboxRelay] = {}
    services: dict[str, Any] = {}
    for spec in SERVICES.values():
        service_app = build_application(spec, settings, pool_size=3)
        relay_app = build_application(spec, settings, pool_size=2)
        apps += [service_app, relay_app]
        server = CommandServer(nc, spec.name, opener=opener_for(settings, spec.name))
        spec.register_routes(server, service_app)
        await server.start()
        command_servers.append(server)
        services[spec.name] = (service_app, server)
        if spec.policies is not None:
            for policy in spec.policies(service_app, js, server.execute):
                await policy.setup()
                tasks.append(asyncio.create_task(policy.run(stop)))
        relays[spec.name] = OutboxRelay(
            service=spec.name, app=relay_app, mapper=spec.integration(relay_app), js=js, pool=pool
        )
        tasks.append(asyncio.create_task(relays[spec.name].run(stop)))
    loops = await all_consumers(js, pool)
    tasks += [asyncio.create_task(loop.run(stop)) for loop in loops]
    app = create_app(settings, GatewayResources(pool=pool, nc=nc, url=database_url))
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client,
        ):
            yield InProcessHub(
                client,
                app,
                pool,
                settings,
                EXPORTER,
                js,
                relays["foreigners_authority"],
                loops,
                services,
            )
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        for server in command_servers:
            await server.stop()
        await pool.close()
        for application in apps:
            close_app(application)


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """``app`` on a real HTTP port of this event loop (lifespan already running): its base
    URL, e.g. for WebSocket clients or HTTP clients in another thread."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
