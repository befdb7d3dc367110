"""Shared fixtures: real PostgreSQL and NATS, started once per test session.

The embedded servers from PyPI wheels are used unless ``HUB_POSTGRES_URL`` / ``HUB_NATS_URL``
point at real ones. NATS is locked as in a deployment (deploy/nats/hub.conf, TLS): the tests
inspect it as the admin user, and components built from ``settings`` connect as their own
users, with the passwords and CA in ``Servers.nats_secrets`` (``HUB_NATS_DEV_SECRETS`` for a
real server). Each test gets a fresh database (a test with a running hub: a copy of a
provisioned template) and empty, provisioned streams. Under pytest-xdist (``make test``) each
test process starts servers of its own, their files in memory when there is room.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.runtime.database import drop_database, ensure_database, with_database
from services.runtime.embedded import EmbeddedNats, EmbeddedPostgres
from services.runtime.settings import HubSettings

TEST_VAULT_KEY = "q7Yl2cC3b2zXo5m1h3mFzq0T3Q1y1lq2m9k3nB8Zr6A="
TEST_JWT_SECRET = "test-secret-for-the-hub-test-suite-only"


#: the suite's server checks passwords like any other, but hashes them with one SCRAM iteration
#: instead of 4096: a connection then costs 3 ms instead of 10 (thousands of them per run)
FAST_PASSWORDS = {"scram_iterations": "1"}


def rehash_admin_password(url: str, password: str) -> None:
    """initdb hashed the administrator's password with the default iterations: hash it again."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))


#: the servers' files live in memory when the machine has room: a test database is created and
#: dropped hundreds of times a run, and on a disk that discards freed blocks each drop stalls
#: the next statements (a hub's start took 1.0 s there, 0.5 s in memory)
MEMORY_DIRECTORY = Path("/dev/shm")  # noqa: S108 (mkdtemp makes a private directory in it)
MEMORY_NEEDED = 4 * 2**30


def scratch_directory(prefix: str) -> Path:
    """A new directory for the test servers' data: in memory if there is room, else in the
    temporary directory (``HUB_TEST_SCRATCH`` names another parent)."""
    parent = os.environ.get("HUB_TEST_SCRATCH")
    if parent is None and _memory_has_room():
        parent = str(MEMORY_DIRECTORY)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _memory_has_room() -> bool:
    return (
        MEMORY_DIRECTORY.is_dir()
        and os.access(MEMORY_DIRECTORY, os.W_OK)
        and shutil.disk_usage(MEMORY_DIRECTORY).free >= MEMORY_NEEDED
    )


@dataclass(frozen=True)
class Servers:
    postgres_url: str
    nats_url: str
    nats_secrets: Path  # the bus's passwords and CA (HubSettings.nats_dev_secrets)

    def bus_settings(self) -> HubSettings:
        """Settings enough to connect to the bus (as any of its users)."""
        return HubSettings(nats_url=self.nats_url, nats_dev_secrets=self.nats_secrets)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    pg_url = os.environ.get("HUB_POSTGRES_URL")
    nats_url = os.environ.get("HUB_NATS_URL")
    if nats_url and int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # every test empties the bus's streams: processes sharing one server would empty
        # each other's
        pytest.exit("HUB_NATS_URL serves one test process at a time: run make test PARALLEL=", 2)
    root = scratch_directory("hubtest-")
    nats_secrets = Path(os.environ.get("HUB_NATS_DEV_SECRETS") or root / "bus")
    postgres = nats = None
    try:
        if not pg_url:
            postgres = EmbeddedPostgres(
                root / "pg" / "data",
                settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
                | FAST_PASSWORDS,
            )
            postgres.start()
            pg_url = postgres.url()
            rehash_admin_password(pg_url, postgres.password)
        if not nats_url:
            nats = EmbeddedNats(root / "nats" / "js", secrets_dir=nats_secrets)
            nats.start()
            nats_url = nats.url
        yield Servers(pg_url, nats_url, nats_secrets)
    finally:
        if nats is not None:
            nats.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(postgres_url: str, template: str | None = None) -> Iterator[str]:
    """The name of a fresh database, dropped afterwards: empty, or a copy of ``template``."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    if template is None:
        ensure_database(postgres_url, name)
    else:
        copy_database(postgres_url, template, name)
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            drop_database(postgres_url, name)


def copy_database(postgres_url: str, template: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(postgres_url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )


@pytest.fixture(scope="session")
def provisioned_template(servers: Servers) -> Iterator[str]:
    """A database with every table a hub creates (``hub provision`` without the roles), for
    the hubs of the tests to start from: copying it is quicker than creating the tables
    again. On the copy the services use the tables as under ``hub up`` (they create
    nothing), and the projections' and the gateway's checks find them current."""
    from hub.database_setup import create_tables

    name = f"template_{uuid.uuid4().hex[:12]}"
    ensure_database(servers.postgres_url, name)
    try:
        create_tables(
            HubSettings(database=name, vault_master_key=TEST_VAULT_KEY),  # type: ignore[arg-type]
            servers.postgres_url,
        )
        yield name
    finally:
        with contextlib.suppress(Exception):
            drop_database(servers.postgres_url, name)


@pytest.fixture
def database(servers: Servers, request: pytest.FixtureRequest) -> Iterator[str]:
    """The name of a fresh database for this test: empty, or, for a test that starts a hub
    (the ``hub`` fixture), a copy of the provisioned template."""
    template = None
    if "hub" in request.fixturenames:
        template = request.getfixturevalue("provisioned_template")
    with fresh_database(servers.postgres_url, template) as name:
        yield name


@pytest.fixture
def database_url(servers: Servers, database: str) -> str:
    return with_database(servers.postgres_url, database)


@pytest.fixture
def settings(servers: Servers, database: str, tmp_path: Path) -> HubSettings:
    return HubSettings(
        home=tmp_path / "hub",
        postgres_url=servers.postgres_url,
        nats_url=servers.nats_url,
        nats_dev_secrets=servers.nats_secrets,
        database=database,
        vault_master_key=TEST_VAULT_KEY,  # type: ignore[arg-type]
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        demo=False,
        retention_every_hours=0,  # tests run the retention rules themselves
    )


@pytest.fixture
async def nats_client(servers: Servers) -> AsyncIterator[object]:
    """An admin connection on a JetStream whose streams are provisioned and empty (nothing
    left by earlier tests)."""
    from services.runtime.messaging import close, connect_admin

    nc = await connect_admin(servers.bus_settings(), "test")
    await reset_streams(nc.jetstream())
    yield nc
    await close(nc)


async def reset_streams(js: Any, attempts: int = 40) -> None:
    """Delete every stream (and with it every consumer), then provision them empty.

    The NATS server deletes a stream's files by renaming its directory to a tomb and removing
    that in the background. A stream deleted again before its last tomb is gone can fail to
    be created anew ("error creating store for stream") or keep its old directory, so this
    deletes and provisions again until every stream is there and has never held a message."""
    import asyncio

    from nats.js.errors import ServerError

    from services.runtime.messaging import provision_streams

    for _ in range(attempts):
        for info in await js.streams_info():
            await js.delete_stream(info.config.name)
        try:
            await provision_streams(js)
        except ServerError:
            await asyncio.sleep(0.25)
            continue
        if all(info.state.last_seq == 0 for info in await js.streams_info()):
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the streams could not be made empty in {attempts} attempts")
