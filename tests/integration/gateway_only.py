"""A gateway alone on real PostgreSQL and NATS (no services behind it): for tests of what the
gateway refuses before any command or query reaches a service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.app import GatewayResources, create_app, open_pool
from gateway.auth import issue_token
from services.runtime.messaging import close, connect
from services.runtime.settings import HubSettings


def bearer(settings: HubSettings, role: str = "admin", ttl_seconds: int = 3600) -> dict[str, str]:
    token = issue_token(
        settings.resolved_jwt_secret(),
        subject=f"test-{role}",
        agency="hub-ops",
        role=role,
        issuer=settings.jwt_issuer,
        ttl_seconds=ttl_seconds,
    )
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_gateway(
    settings: HubSettings, database_url: str, provisioned: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The gateway, connected to the bus as its own NATS user (``provisioned`` is the admin
    connection whose fixture provisioned the streams; the gateway does not use it)."""
    assert provisioned is not None
    nc = await connect(settings, "test-gateway", user="gateway")
    pool = await open_pool(database_url, settings, min_size=1, max_size=4)
    try:
        app = create_app(settings, GatewayResources(pool=pool, nc=nc, url=database_url))
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client,
        ):
            yield app, client
    finally:
        await pool.close()
        await close(nc)
