"""The read models' tables: every projection's versioned ``schema.sql``, applied once.

Each projection package owns its DDL in one file, ``projections/<name>/schema.sql``, whose
first line declares its version (``-- version: 3``). :func:`ensure` applies a file when its
version is above the one recorded in ``projections.schema_versions``, and records the new
version, in one transaction under an advisory lock, so processes that start at the same time
neither race on DDL nor run it twice. The whole file is applied again when its version rises,
so each statement in it must be safe to re-run (``IF NOT EXISTS``, ``ADD COLUMN IF NOT
EXISTS``): the file always reads as the current shape of the projection's tables.

A version that rises over an earlier one (not a first install) means the rows were projected
under the older shape and meaning: :func:`ensure` then records the projection in
``projections.rebuild_pending``, and :func:`projections.rebuild.rebuild_pending` (run by
``hub up`` once the processes are up, or ``hub projections rebuild``) rebuilds it and clears
the record.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg

from services.runtime.database import ddl_lock_key
from services.runtime.projection_base import ensure_positions_table

SCHEMA = "projections"
VERSIONS = f"{SCHEMA}.schema_versions"
PENDING = f"{SCHEMA}.rebuild_pending"
_VERSION = re.compile(r"\A--\s*version:\s*(\d+)\s*$", re.MULTILINE)
#: ``-- after: a, b`` (the second line): the file uses those projections' tables
_AFTER = re.compile(r"\A--\s*version:[^\n]*\n--\s*after:\s*([\w, ]+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class SchemaFile:
    """One projection's DDL and its version."""

    projection: str
    version: int
    sql: str
    #: the projections whose tables this file uses (applied before it)
    after: tuple[str, ...] = ()


def parse(projection: str, sql: str) -> SchemaFile:
    match = _VERSION.match(sql)
    if match is None:
        raise ValueError(f"{projection}/schema.sql must begin with '-- version: <n>'")
    after = _AFTER.match(sql)
    uses = tuple(name.strip() for name in after.group(1).split(",")) if after else ()
    return SchemaFile(projection, int(match.group(1)), sql, uses)


def schema_files() -> list[SchemaFile]:
    """Every projection package's ``schema.sql``, by projection name; a file that declares
    ``-- after: ...`` comes after the ones it names (the indicators' aggregates and triggers
    on the pathway's and case views' tables)."""
    files = []
    for package in sorted(resources.files(__package__).iterdir(), key=lambda p: p.name):
        sql = package.joinpath("schema.sql")
        if package.is_dir() and sql.is_file():
            files.append(parse(package.name, sql.read_text()))
    ordered: list[SchemaFile] = []
    waiting = list(files)
    while waiting:
        ready = [f for f in waiting if all(a in {o.projection for o in ordered} for a in f.after)]
        if not ready:
            raise ValueError(f"schema files wait on each other: {[f.projection for f in waiting]}")
        ordered.append(ready[0])
        waiting.remove(ready[0])
    return ordered


async def ensure(
    db: asyncpg.Pool | asyncpg.Connection, files: Sequence[SchemaFile] | None = None
) -> dict[str, int]:
    """Bring every read model's tables to the version of its file; returns what it applied.

    The provisioning applies the files as the administrator before any process starts; the
    projector and the gateway call this too, and then only find the tables current (their
    roles may read ``schema_versions`` but create nothing). ``files`` defaults to
    :func:`schema_files`.
    """
    if files is None:
        files = schema_files()
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _ensure_current(conn, files)
    return await _ensure_current(db, files)


async def _ensure_current(conn: asyncpg.Connection, files: Sequence[SchemaFile]) -> dict[str, int]:
    if await _current(conn, files):
        return {}
    return await _ensure(conn, files)


async def _current(conn: asyncpg.Connection, files: Sequence[SchemaFile]) -> bool:
    """Every file applied at its version, and the positions table there (reads only)."""
    versions, positions = await conn.fetchrow(
        "SELECT to_regclass($1), to_regclass($2)", VERSIONS, f"{SCHEMA}.consumer_positions"
    )
    if versions is None or positions is None:
        return False
    rows = await conn.fetch(f"SELECT projection, version FROM {VERSIONS}")
    recorded = {row["projection"]: int(row["version"]) for row in rows}
    return all(recorded.get(file.projection, 0) >= file.version for file in files)


async def _ensure(conn: asyncpg.Connection, files: Sequence[SchemaFile]) -> dict[str, int]:
    applied: dict[str, int] = {}
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ddl_lock_key(SCHEMA))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSIONS} (projection text PRIMARY KEY,"
            " version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        # The consumers' positions: the gateway reads them before the projector first runs.
        await ensure_positions_table(conn, SCHEMA)
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {PENDING} (projection text PRIMARY KEY,"
            " from_version integer NOT NULL, to_version integer NOT NULL,"
            " since timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f"SELECT projection, version FROM {VERSIONS}")
        recorded = {row["projection"]: int(row["version"]) for row in rows}
        for file in files:
            previous = recorded.get(file.projection, 0)
            if previous >= file.version:
                continue
            await conn.execute(file.sql)
            # an upgrade: the rows were projected under the older version (a file that
            # derives its rows from other projections' tables recomputes them itself)
            if previous > 0 and not file.after:
                await conn.execute(
                    f"INSERT INTO {PENDING} (projection, from_version, to_version)"
                    " VALUES ($1, $2, $3) ON CONFLICT (projection)"
                    " DO UPDATE SET to_version = EXCLUDED.to_version",
                    file.projection,
                    previous,
                    file.version,
                )
            await conn.execute(
                f"INSERT INTO {VERSIONS} (projection, version) VALUES ($1, $2)"
                " ON CONFLICT (projection) DO UPDATE SET version = EXCLUDED.version,"
                " applied_at = now()",
                file.projection,
                file.version,
            )
            applied[file.projection] = file.version
    return applied


async def pending_rebuilds(conn: asyncpg.Pool | asyncpg.Connection) -> dict[str, int]:
    """The read models whose schema version rose since their rows were projected, with the
    version to rebuild them at (empty before the table exists)."""
    if await conn.fetchval("SELECT to_regclass($1)", PENDING) is None:
        return {}
    rows = await conn.fetch(f"SELECT projection, to_version FROM {PENDING} ORDER BY projection")
    return {row["projection"]: int(row["to_version"]) for row in rows}
