"""An in-process hub for a whole test module: one database, the services, relays, projectors
and the gateway (conftest's ``running_hub``), started once (the ``hub`` fixture of conftest.py
starts one per test). For tests that call many operations against the same data, such as the access
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

import uvicorn

from hub.processes import gateway_server_config
from services.runtime.database import drop_database, ensure_database, with_database
from services.runtime.messaging import close, connect_admin
from services.runtime.settings import HubSettings
from tests.conftest import TEST_JWT_SECRET, TEST_VAULT_KEY, Servers, reset_streams
from tests.integration.conftest import InProcessHub, running_hub


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
        nats_dev_secrets=servers.nats_secrets,
        database=name,
        vault_master_key=TEST_VAULT_KEY,
        jwt_secret=TEST_JWT_SECRET,
        demo=False,
        **changes,
    )
    nc = await connect_admin(servers.bus_settings(), "test")
    js = nc.jetstream()
    await reset_streams(js)
    try:
        async with running_hub(settings, with_database(servers.postgres_url, name), nc) as hub:
            yield hub
    finally:
        await close(nc)
        with contextlib.suppress(Exception):
            drop_database(servers.postgres_url, name)


@contextlib.asynccontextmanager
async def served(app: Any, settings: HubSettings | None = None) -> AsyncIterator[str]:
    """``app`` on a real HTTP port of this event loop (lifespan already running): its
    address, e.g. for WebSocket clients or HTTP clients in another thread. With
    ``settings``, ``app`` is the gateway, served with ``hub up``'s uvicorn settings."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if settings is None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    else:
        address = {"gateway_host": "127.0.0.1", "gateway_port": port}
        config = gateway_server_config(app, settings.model_copy(update=address))
        config.lifespan = "off"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
