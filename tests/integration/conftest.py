"""An in-process hub: command server, relay, projector and gateway on real servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.app import GatewayResources, create_app
from gateway.auth import issue_token
from projections.runner import timeline_consumers
from services.foreigners_authority import SPEC
from services.runtime.commands import CommandServer
from services.runtime.relay import OutboxRelay
from services.runtime.settings import HubSettings
from services.runtime.telemetry import setup_tracing
from tests.helpers import close_app, foreigners_authority

EXPORTER = InMemorySpanExporter()


@dataclass
class InProcessHub:
    client: httpx.AsyncClient
    app: Any
    pool: asyncpg.Pool
    settings: HubSettings
    exporter: InMemorySpanExporter
    js: Any
    relay: Any = None
    loops: Any = None

    async def diagnose(self) -> str:
        info = await self.js.stream_info("HUB_FOREIGNERS_AUTHORITY")
        consumers = [loop.stats for loop in self.loops]
        return f"stream={info.state} relay={self.relay.stats} consumers={consumers}"

    def token(self, role: str = "abh_officer", agency: str = "abh-05315") -> str:
        return issue_token(
            self.settings.resolved_jwt_secret(),
            subject=f"test-{role}",
            agency=agency,
            role=role,
            issuer=self.settings.jwt_issuer,
        )

    def headers(self, role: str = "abh_officer", agency: str = "abh-05315") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, agency)}"}

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: str = "abh_officer",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={**self.headers(role), **(headers or {})},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body


@pytest.fixture
async def hub(
    settings: HubSettings, database_url: str, nats_client: Any
) -> AsyncIterator[InProcessHub]:
    setup_tracing("hub-tests", EXPORTER)
    EXPORTER.clear()
    nc = nats_client
    js = nc.jetstream()
    service_app = foreigners_authority(settings)
    relay_app = foreigners_authority(settings, pool_size=2)
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=8)
    server = CommandServer(nc, SPEC.name)
    SPEC.register_routes(server, service_app)
    await server.start()
    stop = asyncio.Event()
    relay = OutboxRelay(
        service=SPEC.name, app=relay_app, mapper=SPEC.integration(relay_app), js=js, pool=pool
    )
    loops = await timeline_consumers(js, pool)
    tasks = [asyncio.create_task(relay.run(stop))]
    tasks += [asyncio.create_task(loop.run(stop)) for loop in loops]
    app = create_app(settings, GatewayResources(pool=pool, nc=nc))
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client,
        ):
            yield InProcessHub(client, app, pool, settings, EXPORTER, js, relay, loops)
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await server.stop()
        await pool.close()
        close_app(service_app)
        close_app(relay_app)
