"""The milestone durations over all years read a number of rows that does not grow with the
persons or with the spread of their days: a district's imported files span decades, and
summing the histogram by year at query time read tens of thousands of rows (35 ms at
1,000,000 events, ``hub bench scale --million``). Each percentile now finds its 30-day
bucket by the buckets' running count, then its days within the bucket."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from importlib import resources

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.indicators import queries
from projections.schema import ensure

YEARS = 10  # entry years of the persons
SPANS = 900  # distinct numbers of days from entry to the first title (30 buckets)
ENTRY = dt.date(1995, 3, 1)


async def _insert_spans(conn: asyncpg.Connection, spans: list[tuple[int, int]]) -> None:
    """A person per (entry year offset, days from entry to the first title)."""
    rows = []
    for year, days in spans:
        person = uuid.uuid4()
        entry = ENTRY.replace(year=ENTRY.year + year)
        rows.append((person, "entry", entry))
        rows.append((person, "first_title", entry + dt.timedelta(days=days)))
    await conn.executemany(
        "INSERT INTO projections.pathway_milestones (person_id, milestone, reached_on)"
        " VALUES ($1, $2, $3)",
        rows,
    )


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await ensure(connection)
    await connection.execute("TRUNCATE projections.pathway_milestones")
    await _insert_spans(connection, [(y, d) for y in range(YEARS) for d in range(SPANS)])
    await connection.execute("ANALYZE projections.ind_milestone_days_all")
    yield connection
    await connection.close()


async def test_durations_over_all_years_read_a_bounded_number_of_rows(
    conn: asyncpg.Connection,
) -> None:
    async with conn.transaction():
        found = await queries.milestone_rows(conn)
        fetched = await conn.fetchval(
            "SELECT coalesce(sum(coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)), 0)"
            " FROM pg_stat_xact_user_tables WHERE schemaname = 'projections'"
            " AND relname LIKE 'ind\\_milestone%'"
        )

    # the answer: every person, the median and p90 of 0..899 days
    (entry_to_title,) = [r for r in found if r["to_milestone"] == "first_title"]
    assert entry_to_title["group"] == "all"
    assert entry_to_title["persons"] == YEARS * SPANS
    assert entry_to_title["p50"] == 449.5
    # before, the pair's histogram by year was read whole (YEARS * SPANS = 9,000 rows); summed
    # over all years it would still be a row a distinct span (900). Now: the buckets (30) and,
    # for each of the four rows a percentile needs, at most the 30 days of its bucket
    assert fetched <= 30 + 4 * 30


async def test_durations_by_year_still_answer_each_year(conn: asyncpg.Connection) -> None:
    found = await queries.milestone_rows(conn, by_entry_year=True)
    years = [r for r in found if r["to_milestone"] == "first_title"]
    assert [r["group"] for r in years] == [str(ENTRY.year + y) for y in range(YEARS)]
    assert {r["persons"] for r in years} == {SPANS}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 400) | st.sampled_from([0, 29, 30, 59, 60])),
        min_size=1,
        max_size=60,
    )
)
def test_the_bucketed_percentiles_are_percentile_cont(
    database_url: str, spans: list[tuple[int, int]]
) -> None:
    """Any persons' spans (ties, bucket edges, one person): the median and p90 found through
    the buckets are PostgreSQL's percentile_cont over the spans themselves."""

    async def check() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await ensure(conn)
            await conn.execute("TRUNCATE projections.pathway_milestones")
            await _insert_spans(conn, spans)
            (found,) = [
                r for r in await queries.milestone_rows(conn) if r["to_milestone"] == "first_title"
            ]
            p50, p90 = await conn.fetchrow(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d),"
                " percentile_cont(0.9) WITHIN GROUP (ORDER BY d) FROM unnest($1::int[]) d",
                [days for _, days in spans],
            )
            assert (found["persons"], found["p50"], found["p90"]) == (len(spans), p50, p90)
        finally:
            await conn.close()

    asyncio.run(check())


def test_the_buckets_of_the_sql_are_as_wide_as_the_queries_read_them() -> None:
    sql = resources.files("projections.indicators").joinpath("schema.sql").read_text()
    widths = {int(n) for n in re.findall(r"days / (\d+)", sql)}
    assert widths == {queries.BUCKET_DAYS}
