"""Read-model tables: each projection's versioned schema.sql, applied once by every process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from projections.schema import SchemaFile, ensure, parse, schema_files

#: the schema files: every read model's, and the indicators' aggregates derived from two of them
PROJECTIONS = {"case_views", "conflicts", "indicators", "pathway", "steering", "timeline"}


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def tables(pool: asyncpg.Pool) -> set[str]:
    rows = await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'projections'")
    return {row["tablename"] for row in rows}


async def versions(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT projection, version FROM projections.schema_versions")
    return {row["projection"]: row["version"] for row in rows}


def test_every_projection_declares_the_version_of_its_schema_file() -> None:
    files = schema_files()

    assert {f.projection for f in files} == PROJECTIONS
    assert all(f.version >= 1 for f in files)


def test_a_file_that_uses_other_projections_tables_is_applied_after_them() -> None:
    order = [f.projection for f in schema_files()]

    indicators = next(f for f in schema_files() if f.projection == "indicators")
    assert indicators.after == ("case_views", "pathway")
    assert order.index("indicators") > max(order.index("case_views"), order.index("pathway"))
    assert parse("x", "-- version: 2\nCREATE TABLE projections.x (y int);").after == ()


async def test_a_raised_version_of_derived_aggregates_recomputes_them_and_asks_no_rebuild(
    pool: asyncpg.Pool,
) -> None:
    from projections.schema import pending_rebuilds

    await ensure(pool)
    current = next(f for f in schema_files() if f.projection == "indicators")
    raised = parse(
        "indicators", current.sql.replace(f"-- version: {current.version}", "-- version: 99", 1)
    )

    assert await ensure(pool, [*schema_files(), raised]) == {"indicators": 99}
    assert "indicators" not in await pending_rebuilds(pool)


def test_a_schema_file_without_a_version_is_refused() -> None:
    with pytest.raises(ValueError, match="must begin with '-- version: <n>'"):
        parse("somewhere", "CREATE TABLE projections.t (x int);")


async def test_a_fresh_database_gets_every_read_model_and_the_recorded_versions(
    pool: asyncpg.Pool,
) -> None:
    applied = await ensure(pool)

    assert set(applied) == PROJECTIONS
    assert await versions(pool) == {f.projection: f.version for f in schema_files()}
    assert {
        "timeline_events",
        "timeline_events_consents",
        "cv_cases",
        "pathway_persons",
        "cf_conflicts",
        "sg_goals",
        "consumer_positions",
        "schema_versions",
    } <= await tables(pool)


async def test_a_second_run_applies_nothing(pool: asyncpg.Pool) -> None:
    await ensure(pool)

    assert await ensure(pool) == {}


async def test_processes_starting_at_the_same_moment_all_succeed(database_url: str) -> None:
    # Given eight processes (connections) that start together on an empty database
    async def one_process() -> dict[str, int]:
        conn = await asyncpg.connect(database_url)
        try:
            return await ensure(conn)
        finally:
            await conn.close()

    # When each brings the read models up to date
    results = await asyncio.gather(*(one_process() for _ in range(8)))

    # Then none fails, and exactly one of them applied the files
    assert sorted(len(applied) for applied in results) == [0] * 7 + [len(PROJECTIONS)]


async def test_a_raised_version_is_applied_once_and_an_older_file_changes_nothing(
    pool: asyncpg.Pool,
) -> None:
    # Given the read models at their current versions
    await ensure(pool)
    current = next(f for f in schema_files() if f.projection == "steering")
    raised = SchemaFile(
        "steering",
        current.version + 1,
        current.sql + "\nALTER TABLE projections.sg_goals ADD COLUMN IF NOT EXISTS note text;\n",
    )

    # When a newer file is applied, and then a process with the older file starts
    applied = await ensure(pool, [raised])
    again = await ensure(pool, [raised])
    older = await ensure(pool, [current])

    # Then the newer version is applied once and recorded, and the older one is skipped
    assert applied == {"steering": current.version + 1}
    assert again == older == {}
    assert (await versions(pool))["steering"] == current.version + 1
    columns = await pool.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'projections' AND table_name = 'sg_goals'"
    )
    assert "note" in {row["column_name"] for row in columns}


async def test_a_failing_file_applies_nothing_of_its_run(pool: asyncpg.Pool) -> None:
    broken = SchemaFile("broken", 1, "CREATE TABLE projections.half (x int); SELECT nonsense;")

    with pytest.raises(asyncpg.PostgresError):
        await ensure(pool, [*schema_files(), broken])

    assert "half" not in await tables(pool)
    assert "cv_cases" not in await tables(pool)
