"""A live delivery's read reads what follows its cursor, not the whole history: ``new_rows``
(what a ``caseEvents`` subscriber gets next) with thousands of timeline rows before the
cursor, and an agency's referral inbox (``referralInbox``) with thousands of referrals before
it, each fetch only the rows in the window."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from projections.case_views.queries import inbox_version, referrals
from projections.schema import ensure
from projections.timeline.queries import new_rows
from projections.timeline.visibility import Reader

AUTHORITY = "abh-05315"
FA, CM = "foreigners_authority", "case_management"
BEFORE = 3000  # rows of the authority before the cursor
READER = Reader(agency=AUTHORITY, role="abh_officer", today=dt.date(2026, 6, 1))


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await ensure(connection)
    persons = [uuid.uuid4() for _ in range(BEFORE + 10)]
    rows = [(FA, n, persons[n - 1], AUTHORITY) for n in range(1, BEFORE + 11)]
    rows += [(CM, n, persons[n - 1], "awo") for n in range(1, 11)]
    await connection.executemany(
        "INSERT INTO projections.timeline_events (source, position, event_id, person_id,"
        " event_type, occurred_at, recorded_at, summary, categories, owner_agency)"
        " VALUES ($1, $2, 'e', $3, 't', now(), now(), 's', '{residence}', $4)",
        rows,
    )
    await connection.executemany(
        "INSERT INTO projections.timeline_events_holders (person_id, authority) VALUES ($1, $2)",
        [(p, AUTHORITY) for p in persons],
    )
    await connection.execute("ANALYZE projections.timeline_events")
    yield connection
    await connection.close()


async def _read(
    conn: asyncpg.Connection, limit: int | None, reader: Reader = READER
) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """The delivered (source, position)s, and the rows the read fetched from the timeline and
    the authorities' files (this transaction's table statistics: index fetches and
    sequential reads)."""
    async with conn.transaction():
        rows = await new_rows(
            conn,
            reader,
            after={FA: BEFORE, CM: 0},
            upto={FA: BEFORE + 10, CM: 10},
            limit=limit,
        )
        fetched = await conn.fetch(
            "SELECT relname, coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) AS n"
            " FROM pg_stat_xact_user_tables WHERE schemaname = 'projections'"
            " AND relname IN ('timeline_events', 'timeline_events_holders')"
        )
    return [(r["source"], r["position"]) for r in rows], {r["relname"]: r["n"] for r in fetched}


async def test_a_delivery_reads_only_the_rows_after_its_cursor(conn: asyncpg.Connection) -> None:
    delivered, fetched = await _read(conn, limit=500)

    # the authority's own rows in its window; case management's rows are the AWO's
    assert delivered == [(FA, n) for n in range(BEFORE + 1, BEFORE + 11)]
    # before, every row of each source was read to find the window (3,010 here), and every
    # file the authority holds to see which of them it may read (3,010)
    assert fetched["timeline_events"] <= 20
    assert fetched.get("timeline_events_holders", 0) <= 20


async def test_a_page_is_the_first_rows_in_source_and_position_order(
    conn: asyncpg.Connection,
) -> None:
    admin = Reader(agency=AUTHORITY, role="admin", today=READER.today)  # sees every row
    everything, _ = await _read(conn, limit=None, reader=admin)
    page, _ = await _read(conn, limit=4, reader=admin)

    assert len(everything) == 20  # both windows, case management's first
    assert everything == sorted(everything)
    assert page == everything[:4]


PARTNER = "awo"
REFERRALS = 3000


async def _referrals(conn: asyncpg.Connection) -> None:
    """``REFERRALS`` referrals to the partner, versions 1.. in the order they were sent, each
    on a case of its own under one consent."""
    consent = uuid.uuid4()
    await conn.execute(
        "INSERT INTO projections.cv_consents (consent_id, person_id, recipients, categories,"
        " purposes, special_explicit, valid_until, status, case_id, valid_from, language, mutual)"
        " VALUES ($1, $1, $2, '{case_basic}', '{counselling}', false, $3, 'active', $1, $4,"
        " 'de', false)",
        consent,
        [PARTNER],
        dt.date(2030, 1, 1),
        dt.date(2026, 1, 1),
    )
    cases = [uuid.uuid4() for _ in range(REFERRALS)]
    await conn.executemany(
        "INSERT INTO projections.cv_cases (case_id, person_id, agency, case_manager,"
        " target_group, legal_spheres, intake_source, interpreter_needed, opened_on, status)"
        " VALUES ($1, $1, 'kim', 'cm', 'other', '{}', 'other', false, $2, 'open')",
        [(case, dt.date(2026, 1, 1)) for case in cases],
    )
    await conn.executemany(
        "INSERT INTO projections.cv_referrals (referral_id, case_id, person_id, from_agency,"
        " to_agency, service, consent_id, shared_categories, purpose, status, sent_at,"
        " version) VALUES ($1, $2, $2, 'kim', $3, 'advice', $4, '{case_basic}', 'counselling',"
        " 'sent', now(), $5)",
        [(uuid.uuid4(), case, PARTNER, consent, n) for n, case in enumerate(cases, start=1)],
    )
    await conn.execute("ANALYZE projections.cv_referrals")


async def test_a_referral_inbox_reads_only_what_changed_after_its_cursor(
    conn: asyncpg.Connection,
) -> None:
    await _referrals(conn)
    async with conn.transaction():
        latest = await inbox_version(conn, PARTNER)
        changed = await referrals(
            conn,
            READER.today,
            to_agency=PARTNER,
            after_version=REFERRALS - 5,
            upto_version=latest,
            purpose="counselling",
        )
        fetched = await conn.fetchval(
            "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)"
            " FROM pg_stat_xact_user_tables"
            " WHERE schemaname = 'projections' AND relname = 'cv_referrals'"
        )

    assert latest == REFERRALS
    assert sorted(r["version"] for r in changed) == list(range(REFERRALS - 4, REFERRALS + 1))
    # before, the inbox's latest version and its changes each read all 3,000 referrals
    assert fetched <= 20
