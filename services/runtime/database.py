"""PostgreSQL addressing: one database, one schema per service or read-model owner."""

from __future__ import annotations

import contextlib
import re
import select
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: asyncpg's failures that say the connection or the server went away (or is not there yet),
#: not that the statement was wrong: the same work may be tried again on a new connection.
#: ``InternalClientError`` belongs here: a session the server terminates between two steps
#: of a query leaves asyncpg with "cannot switch to state N; another operation (M) is in
#: progress" (MagicStack/asyncpg#1069), and it says nothing else.
ASYNCPG_LOST: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # the server shutting down, crashing or terminating the session (57P01-57P03)
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
)
#: those and the socket's own failures (OSError includes TimeoutError and ConnectionError)
CONNECTION_LOST: tuple[type[BaseException], ...] = (OSError, *ASYNCPG_LOST)
#: the same for an exception handler, which is chosen by class: instead of any OSError (a
#: file's, say), the connection errors among them
DATABASE_AWAY: tuple[type[Exception], ...] = (ConnectionError, *ASYNCPG_LOST)
#: how long a client is asked to wait before it tries again while the database is away
RETRY_AFTER_SECONDS = 5


def check_identifier(name: str) -> str:
    """Schema and database names are code-defined; refuse anything else."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe PostgreSQL identifier: {name!r}")
    return name


def quote_identifier(name: str) -> str:
    """Any name from the catalogue as an SQL identifier (one made by hand may need quotes)."""
    return '"' + name.replace('"', '""') + '"'


def with_database(url: str, database: str) -> str:
    """The same server address, naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + check_identifier(database)))


def ensure_database(url: str, database: str) -> None:
    """Create ``database`` on the server of ``url`` unless it exists."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (check_identifier(database),)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(url: str, database: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(check_identifier(database))
            )
        )


def ensure_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(check_identifier(schema))
            )
        )


def ddl_lock_key(schema: str) -> int:
    """The advisory lock that serialises DDL on ``schema`` across processes."""
    return zlib.crc32(f"hub-ddl:{check_identifier(schema)}".encode())


@contextlib.contextmanager
def schema_lock(url: str, schema: str) -> Iterator[None]:
    """Hold the session advisory lock of ``schema``'s DDL (see :func:`ddl_lock_key`)."""
    key = ddl_lock_key(schema)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def eventsourcing_env(url: str, schema: str, *, pool_size: int = 5) -> dict[str, str]:
    """The ``eventsourcing.postgres`` environment for a service's event store.

    Each service keeps its stored events, tracking and vault in its own schema. Database
    functions for inserts are enabled: they roughly double write throughput.
    """
    info = conninfo_to_dict(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info.get("dbname", "postgres")),
        "POSTGRES_HOST": str(info.get("host", "localhost")),
        "POSTGRES_PORT": str(info.get("port", "5432")),
        "POSTGRES_USER": str(info.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(info.get("password", "")),
        "POSTGRES_SCHEMA": check_identifier(schema),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        # the library's recorder, passing new events to the insert function in binary
        "APPLICATION_RECORDER_TOPIC": "services.runtime.eventstore:HubApplicationRecorder",
        # a pooled connection is checked before use, with a round trip only once the server
        # has sent it something (check_idle_connection, installed by the service's build)
        "POSTGRES_PRE_PING": "y",
        # how long a command waits for a connection while the server is away: it then fails
        # as `unavailable` before the gateway's own timeout, instead of queueing behind the
        # pool's reconnection (default 30s)
        "POSTGRES_CONNECT_TIMEOUT": "5",
    }


def check_idle_connection(conn: psycopg.Connection[Any]) -> None:
    """A connection pool's check before it hands out a connection: a round trip only when
    the server has said something since the connection was last used.

    A server that ends a session (a restart, a crash, an administrator's
    ``pg_terminate_backend``) sends its last message or closes the socket, and either makes
    the idle connection's socket readable. Then the connection is pinged as the pool's own
    check does, which raises for a dead one, and the pool replaces it. A silent socket is a
    live session, handed out as it is: the pool's own check pinged every connection every
    time, a round trip each time a command, a read or a save took one (209 µs each, two a
    command: about 0.4 ms of its 10 at light load, and PostgreSQL's CPU for both). A session
    that dies after the look fails its statement, as it could after the ping; the callers'
    retries cover both."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    socket = select.poll()  # not select.select: it refuses descriptors above 1023
    socket.register(conn.fileno(), select.POLLIN)
    if socket.poll(0):  # readable, hung up or failed
        ConnectionPool.check_connection(conn)


async def keep_session(conn: object) -> None:
    """An asyncpg pool's reset on release (``create_pool(..., reset=keep_session)``) for a
    process that keeps no session state on its pooled connections (no SET, LISTEN, cursor
    or session advisory lock outside a transaction): nothing beyond what asyncpg always
    does (roll back an open transaction, drop listeners). The default reset query (``SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) would cost every use of
    the pool a second round trip. The gateway's pool and the projector's use it."""
    return None
