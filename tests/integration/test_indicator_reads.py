"""The milestone durations over all years read their own histogram: a row a distinct number
of days, not every (year, days) of a pair. A district's imported files span decades, and
summing the histogram by year at query time read tens of thousands of rows (35 ms at
1,000,000 events, ``hub bench scale --million``)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from projections.indicators import queries
from projections.schema import ensure

YEARS = 30  # entry years of the persons
SPANS = 40  # distinct numbers of days from entry to the first title


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await ensure(connection)
    rows = []
    for year in range(1995, 1995 + YEARS):
        for span in range(SPANS):
            person = uuid.uuid4()
            entry = dt.date(year, 3, 1)
            rows.append((person, "entry", entry))
            rows.append((person, "first_title", entry + dt.timedelta(days=30 + span)))
    await connection.executemany(
        "INSERT INTO projections.pathway_milestones (person_id, milestone, reached_on)"
        " VALUES ($1, $2, $3)",
        rows,
    )
    await connection.execute("ANALYZE projections.ind_milestone_days")
    yield connection
    await connection.close()


async def test_durations_over_all_years_read_a_row_a_distinct_span(
    conn: asyncpg.Connection,
) -> None:
    async with conn.transaction():
        found = await queries.milestone_rows(conn)
        fetched = await conn.fetchval(
            "SELECT coalesce(sum(coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)), 0)"
            " FROM pg_stat_xact_user_tables WHERE schemaname = 'projections'"
            " AND relname LIKE 'ind\\_milestone\\_days%'"
        )

    # the answer: every person, the median and p90 of 30..69 days
    (entry_to_title,) = [r for r in found if r["to_milestone"] == "first_title"]
    assert entry_to_title["group"] == "all"
    assert entry_to_title["persons"] == YEARS * SPANS
    assert entry_to_title["p50"] == 49.5
    # before, the pair's histogram by year was read whole: YEARS * SPANS = 1,200 rows
    assert fetched <= SPANS + 10


async def test_durations_by_year_still_answer_each_year(conn: asyncpg.Connection) -> None:
    found = await queries.milestone_rows(conn, by_entry_year=True)
    years = [r for r in found if r["to_milestone"] == "first_title"]
    assert [r["group"] for r in years] == [str(y) for y in range(1995, 1995 + YEARS)]
    assert {r["persons"] for r in years} == {SPANS}
