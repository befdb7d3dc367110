"""The database's provisioning: schemas, tables and roles, created as the administrator before
any hub process starts. The processes then connect as their roles (hub/database_roles.py)
and create nothing."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from hub import database_roles
from services.runtime.database import with_database
from services.runtime.settings import HubSettings


async def create_shared_tables(conn: asyncpg.Connection) -> None:
    """The read models, the gateway's audit log and the installation record."""
    from gateway import audit, erasure, ratelimit
    from gateway.workspace import sessions as workspace_sessions
    from projections import schema as read_models

    await read_models.ensure(conn)
    await audit.create_tables(conn)
    await erasure.create_tables(conn)
    await workspace_sessions.create_tables(conn)
    await ratelimit.create_tables(conn)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS public.hub_installation"
        " (key text PRIMARY KEY, value text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
    )


def create_event_stores(settings: HubSettings) -> None:
    """Each service's schema, event tables, database functions, vault and relay position."""
    from hub.catalog import SERVICES
    from services.runtime.service import build_application

    for spec in SERVICES.values():
        app = build_application(spec, settings, pool_size=1)
        app.close()
        vault = getattr(app, "vault", None)
        if vault is not None:
            vault.close()


def create_roles(settings: HubSettings, admin_url: str) -> dict[str, str]:
    """Create or update every process's role and its rights; returns process -> password."""
    from hub.catalog import SERVICES

    roles = database_roles.database_roles(SERVICES)
    passwords = {role.process: settings.resolved_database_password(role.process) for role in roles}
    database_roles.apply(
        with_database(admin_url, settings.database), settings.database, SERVICES, passwords
    )
    return passwords


def create_tables(settings: HubSettings, admin_url: str) -> None:
    """Every table of the hub in ``settings.database``: the shared ones and each service's
    event store (the roles aside)."""
    import asyncio

    async def shared() -> None:
        conn = await asyncpg.connect(with_database(admin_url, settings.database))
        try:
            await create_shared_tables(conn)
        finally:
            await conn.close()

    asyncio.run(shared())
    create_event_stores(settings.model_copy(update={"postgres_url": admin_url}))


def provision(settings: HubSettings, admin_url: str) -> list[str]:
    """The whole database side of the provisioning (``hub provision``); returns the roles."""
    from hub.catalog import SERVICES
    from services.runtime.database import ensure_database

    ensure_database(admin_url, settings.database)
    create_tables(settings, admin_url)
    create_roles(settings, admin_url)
    return [role.name(settings.database) for role in database_roles.database_roles(SERVICES)]


def child_environments(
    children: Iterable[tuple[str, str, bool]],
    base: dict[str, str],
    settings: HubSettings,
    admin_url: str,
    passwords: dict[str, str],
) -> dict[str, dict[str, str]]:
    """Each child's environment (``children``: child name, process kind, whether it is a
    relay): its own role's ``HUB_POSTGRES_URL`` in place of the administrator's, the vault key
    only for the services' command servers."""
    from hub.catalog import SERVICES

    vault_key = settings.resolved_vault_master_key()
    return {
        name: database_roles.process_environment(
            base,
            process,
            admin_url=admin_url,
            database=settings.database,
            services=SERVICES,
            password=passwords[process],
            vault_key=vault_key,
            relay=relay,
        )
        for name, process, relay in children
    }
