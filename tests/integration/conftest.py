"""An in-process hub: command server, relay, projector and gateway on real servers.

Each component connects to the locked bus as its own NATS user, as its process does under
``hub up`` (deploy/nats/hub.conf), so every flow test also tests the permissions."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts import stream_name
from gateway.app import GatewayResources, create_app
from gateway.auth import issue_token
from hub.catalog import SERVICES
from projections.runner import PROJECTIONS, all_consumers
from services.runtime.commands import CommandServer
from services.runtime.messaging import close, connect
from services.runtime.relay import OutboxRelay
from services.runtime.sealing import opener_for
from services.runtime.service import build_application
from services.runtime.settings import HubSettings
from services.runtime.telemetry import setup_tracing
from tests.helpers import close_app

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
    services: dict[str, Any] | None = None  # name -> (application, command server)

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


async def settle(hub: InProcessHub, timeout: float = 30) -> None:
    """Wait until every live projection has read every stream to its end."""
    deadline = time.monotonic() + timeout
    while True:
        behind = []
        for projection in PROJECTIONS:
            for service in projection.sources():
                last = (await hub.js.stream_info(stream_name(service))).state.last_seq
                seen = await hub.pool.fetchval(
                    "SELECT stream_seq FROM projections.consumer_positions"
                    " WHERE consumer = $1 AND source = $2",
                    projection.name,
                    service,
                )
                if (seen or 0) < last:
                    behind.append((projection.name, service, seen, last))
        if not behind:
            return
        assert time.monotonic() < deadline, behind
        await asyncio.sleep(0.1)


@pytest.fixture
async def hub(
    settings: HubSettings, database_url: str, nats_client: Any
) -> AsyncIterator[InProcessHub]:
    # the database is a copy of the provisioned template (tests/conftest.py ``database``)
    async with running_hub(settings, database_url, nats_client, provisioned=True) as running:
        yield running


@contextlib.asynccontextmanager
async def running_hub(
    settings: HubSettings, database_url: str, admin: Any, *, provisioned: bool = False
) -> AsyncIterator[InProcessHub]:
    """Command servers, policies, relays, projectors and the gateway in this process, each
    connected as its own NATS user; ``admin`` is the admin connection, for diagnostics.

    ``provisioned``: the database already has the services' tables (as under ``hub up``,
    after ``hub provision``), so the services use them without creating them first."""
    setup_tracing("hub-tests", EXPORTER)
    EXPORTER.clear()
    js = admin.jetstream()  # the admin's view, for diagnostics
    connections: list[Any] = []

    async def connect_as(user: str) -> Any:
        nc = await connect(settings, f"test-{user}", user=user)
        connections.append(nc)
        return nc

    # each relay holds two connections while it leads (its lock, which LISTENs, and its reader)
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=16)
    stop = asyncio.Event()
    apps: list[Any] = []
    servers: list[CommandServer] = []
    tasks: list[asyncio.Task[None]] = []
    relays: dict[str, OutboxRelay] = {}
    services: dict[str, Any] = {}

    def built(spec: Any) -> tuple[Any, Any]:
        service_app = build_application(spec, settings, pool_size=3, provision=not provisioned)
        # as ``hub run relay`` builds it: on what the service's provisioning just created,
        # without the vault's key (and without running the DDL a second time)
        relay_app = build_application(spec, settings, pool_size=2, provision=False, vault_key=False)
        return service_app, relay_app

    # The services' provisioning (each in its own schema, under its own lock) and the
    # projections' setup overlap: most of a hub's start is waiting for the database.
    specs = list(SERVICES.values())
    users = [user for spec in specs for user in (spec.name, f"{spec.name}_relay")]
    bus = dict(
        zip(
            [*users, "projector", "gateway"],
            await asyncio.gather(*(connect_as(u) for u in [*users, "projector", "gateway"])),
            strict=True,
        )
    )
    projector_js = bus["projector"].jetstream()
    started = await asyncio.gather(
        *(asyncio.to_thread(built, spec) for spec in specs),
        all_consumers(projector_js, pool),
        return_exceptions=True,
    )
    for pair in started[:-1]:
        if isinstance(pair, tuple):
            apps += pair
    failed = [result for result in started if isinstance(result, BaseException)]
    if failed:
        for application in apps:
            close_app(application)
        await pool.close()
        for nc in connections:
            await close(nc)
        raise failed[0]
    loops = started[-1]
    for spec, (service_app, relay_app) in zip(specs, started[:-1], strict=True):
        service_nc = bus[spec.name]
        server = CommandServer(service_nc, spec.name, opener=opener_for(settings, spec.name))
        spec.register_routes(server, service_app)
        await server.start()
        servers.append(server)
        services[spec.name] = (service_app, server)
        if spec.policies is not None:
            policy_js = service_nc.jetstream()
            for policy in spec.policies(service_app, policy_js, server.execute):
                await policy.setup()
                tasks.append(asyncio.create_task(policy.run(stop)))
        relays[spec.name] = OutboxRelay(
            service=spec.name,
            app=relay_app,
            mapper=spec.mapper(relay_app),
            js=bus[f"{spec.name}_relay"].jetstream(),
            pool=pool,
        )
        tasks.append(asyncio.create_task(relays[spec.name].run(stop)))
    tasks += [asyncio.create_task(loop.run(stop)) for loop in loops]
    gateway_nc = bus["gateway"]
    app = create_app(settings, GatewayResources(pool=pool, nc=gateway_nc, url=database_url))
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
        for server in servers:
            await server.stop()
        for nc in connections:
            await close(nc)
        await pool.close()
        for application in apps:
            close_app(application)
