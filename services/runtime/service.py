"""Running a service: its command server, and its outbox relay, as separate processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from eventsourcing.application import Application

from services.runtime.commands import CommandServer
from services.runtime.database import (
    ensure_schema,
    eventsourcing_env,
    schema_lock,
    with_database,
)
from services.runtime.erasure import with_erasures
from services.runtime.eventstore import check_connections_when_spoken_to
from services.runtime.memory import freeze_startup_objects
from services.runtime.messaging import close, connect
from services.runtime.outbox import IntegrationMapper
from services.runtime.relay import OutboxRelay, ensure_relay_position_table
from services.runtime.sealing import opener_for
from services.runtime.settings import HubSettings
from services.runtime.telemetry import setup_tracing
from services.runtime.vault import PersonalDataVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    """How to build one bounded context: its application, routes and integration mapping."""

    name: str
    build: Callable[[dict[str, str], PersonalDataVault], Application[Any]]
    register_routes: Callable[[CommandServer, Any], None]
    integration: Callable[[Any], IntegrationMapper]  # application -> event mapper
    #: an HTTP interface of the service itself (application, command server, settings -> ASGI)
    http: Callable[[Any, CommandServer, HubSettings], Any] | None = None
    #: reactions to other services' events (application, JetStream, execute -> loops)
    policies: Callable[[Any, Any, Any], list[Any]] | None = None

    def mapper(self, app: Any) -> IntegrationMapper:
        """What the relay publishes: the service's own contract events and its erasures."""
        return with_erasures(self.name, self.integration(app))


def database_url(settings: HubSettings) -> str:
    if not settings.postgres_url:
        raise RuntimeError("HUB_POSTGRES_URL is not set (hub up sets it for its processes)")
    return with_database(settings.postgres_url, settings.database)


def build_application(
    spec: ServiceSpec,
    settings: HubSettings,
    *,
    pool_size: int = 5,
    provision: bool = True,
    vault_key: bool = True,
) -> Application[Any]:
    """The service's application on its event store and vault.

    With ``provision`` (the provisioning, and tests connecting as the administrator) it first
    creates the service's schema, event tables, database functions and vault table. The
    service's own processes pass ``provision=False``: their role may create nothing
    (hub/database_roles.py), so they only use what the provisioning created. The relay passes
    ``vault_key=False``: it publishes the stored ciphertext and never holds the master key.
    """
    url = database_url(settings)
    master_key = settings.resolved_vault_master_key() if vault_key else None
    vault = PersonalDataVault(url, spec.name, master_key)
    if not provision:
        env = eventsourcing_env(url, spec.name, pool_size=pool_size)
        app = spec.build({**env, "CREATE_TABLE": "n"}, vault)
    else:
        # DDL (CREATE ... IF NOT EXISTS, CREATE OR REPLACE FUNCTION) is not safe to run
        # concurrently in PostgreSQL.
        with schema_lock(url, spec.name):
            ensure_schema(url, spec.name)
            vault.setup()
            app = spec.build(eventsourcing_env(url, spec.name, pool_size=pool_size), vault)
            ensure_relay_position_table(url, spec.name)
    return check_connections_when_spoken_to(app)


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve_commands(spec: ServiceSpec, settings: HubSettings, stop: asyncio.Event) -> None:
    setup_tracing(f"hub-{spec.name}")
    app = await asyncio.to_thread(build_application, spec, settings, provision=False)
    nc = await connect(settings, f"{spec.name}-commands", user=spec.name)
    server = CommandServer(nc, spec.name, opener=opener_for(settings, spec.name))
    spec.register_routes(server, app)
    await server.start()
    log.info("%s: serving commands", spec.name)
    policy_tasks = []
    if spec.policies is not None:
        for loop in spec.policies(app, nc.jetstream(), server.execute):
            await loop.setup()
            policy_tasks.append(asyncio.create_task(loop.run(stop)))
    http_task: asyncio.Task[None] | None = None
    http_server = None
    if spec.http is not None:
        import uvicorn

        http_server = uvicorn.Server(
            uvicorn.Config(
                spec.http(app, server, settings),
                host=settings.inbound_host,
                port=settings.inbound_port,
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
        )
        http_task = asyncio.create_task(http_server.serve())
        log.info(
            "%s: inbound interface on http://%s:%s/inbound/messages",
            spec.name,
            settings.inbound_host,
            settings.inbound_port,
        )
    freeze_startup_objects(f"{spec.name} commands")
    try:
        await stop.wait()
    finally:
        if http_server is not None and http_task is not None:
            http_server.should_exit = True
            await http_task
        for task in policy_tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        await server.stop()
        await close(nc)
        app.close()
        vault = getattr(app, "vault", None)
        if isinstance(vault, PersonalDataVault):
            vault.close()


async def relay_events(spec: ServiceSpec, settings: HubSettings, stop: asyncio.Event) -> None:
    setup_tracing(f"hub-{spec.name}-relay")
    app = await asyncio.to_thread(
        build_application, spec, settings, pool_size=2, provision=False, vault_key=False
    )
    nc = await connect(settings, f"{spec.name}-relay", user=f"{spec.name}_relay")
    js = nc.jetstream()
    # the relay lock's connection (which also LISTENs), the run's reader, one for the rest
    pool = await asyncpg.create_pool(database_url(settings), min_size=1, max_size=3)
    relay = OutboxRelay(service=spec.name, app=app, mapper=spec.mapper(app), js=js, pool=pool)
    log.info("%s relay: running", spec.name)
    freeze_startup_objects(f"{spec.name} relay")
    try:
        await relay.run(stop)
    finally:
        await pool.close()
        await close(nc)
        app.close()
