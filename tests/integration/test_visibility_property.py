"""Property: the read-side visibility rule (SQL) agrees with the domain's consent rule.

For random consents (status, end date, recipients, categories, explicit flag), random rows
(categories, owner, governing consent) and random readers, a row is returned exactly when
the domain rule says the reader may see it. So nothing is shared without covering consent,
and a withdrawn or lapsed consent hides every row it alone covered.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.timeline.projector import ddl
from projections.timeline.visibility import visible
from services.case_management.domain.consent import coverage

TODAY = dt.date(2026, 6, 1)
AGENCIES = ["awo", "caritas", "jobcenter", "kim"]
CATEGORIES = ["case_basic", "work", "housing", "health", "religion"]
PERSONS = [uuid.UUID(int=1), uuid.UUID(int=2)]

consents = st.lists(
    st.fixed_dictionaries(
        {
            "person": st.sampled_from(PERSONS),
            "status": st.sampled_from(["active", "withdrawn", "expired"]),
            "valid_until": st.dates(TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=3)),
            "recipients": st.lists(st.sampled_from(AGENCIES), min_size=1, max_size=3, unique=True),
            "categories": st.lists(
                st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True
            ),
            "special": st.booleans(),
        }
    ),
    max_size=4,
)
rows = st.lists(
    st.fixed_dictionaries(
        {
            "person": st.sampled_from(PERSONS),
            "source": st.sampled_from(["case_management", "foreigners_authority"]),
            "categories": st.one_of(
                st.just(["consent"]),
                st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True),
            ),
            "owner": st.none() | st.sampled_from(AGENCIES),
            "consent": st.none() | st.integers(0, 3),
        }
    ),
    min_size=1,
    max_size=6,
)
readers = st.tuples(
    st.sampled_from([*AGENCIES, "abh"]),
    st.sampled_from(["partner_agency", "case_manager", "abh_officer", "steering", "admin"]),
)


def may_see(
    row: dict[str, Any], consent_rows: list[dict[str, Any]], agency: str, role: str
) -> bool:
    """The oracle, from the domain's consent rule."""
    if role == "admin":
        return True
    if role == "abh_officer":
        return bool(row["source"] == "foreigners_authority")
    if role == "steering":
        return False
    if row["owner"] == agency:
        return True
    governing = (
        consent_rows[row["consent"]]
        if row["consent"] is not None and row["consent"] < len(consent_rows)
        else None
    )
    if row["categories"] == ["consent"]:
        return governing is not None and agency in governing["recipients"]
    if row["consent"] is not None:
        if governing is None:
            return False
        return coverage(
            status=governing["status"],
            valid_until=governing["valid_until"],
            recipients=governing["recipients"],
            categories=governing["categories"],
            purposes=["referral"],
            special_categories_explicit=governing["special"],
            recipient=agency,
            wanted_categories=[],
            purpose="referral",
            on=TODAY,
        ).covered
    return any(
        c["person"] == row["person"]
        and coverage(
            status=c["status"],
            valid_until=c["valid_until"],
            recipients=c["recipients"],
            categories=c["categories"],
            purposes=["referral"],
            special_categories_explicit=c["special"],
            recipient=agency,
            wanted_categories=row["categories"],
            purpose="referral",
            on=TODAY,
        ).covered
        for c in consent_rows
    )


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS projections")
        connection.execute(ddl())
        yield connection


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(consent_rows=consents, row_specs=rows, reader=readers)
def test_a_row_is_visible_exactly_when_the_consent_rule_allows(
    conn: psycopg.Connection[Any],
    consent_rows: list[dict[str, Any]],
    row_specs: list[dict[str, Any]],
    reader: tuple[str, str],
) -> None:
    conn.execute("TRUNCATE projections.timeline_events, projections.timeline_events_consents")
    ids = [uuid.uuid4() for _ in consent_rows]
    for consent_id, c in zip(ids, consent_rows, strict=True):
        conn.execute(
            "INSERT INTO projections.timeline_events_consents (consent_id, person_id,"
            " recipients, categories, purposes, special_explicit, valid_until, status)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                consent_id,
                c["person"],
                c["recipients"],
                c["categories"],
                ["referral"],
                c["special"],
                c["valid_until"],
                c["status"],
            ),
        )
    for position, r in enumerate(row_specs, start=1):
        governing = (
            ids[r["consent"]]
            if r["consent"] is not None and r["consent"] < len(ids)
            else (uuid.uuid4() if r["consent"] is not None else None)
        )
        conn.execute(
            "INSERT INTO projections.timeline_events (source, position, event_id, person_id,"
            " event_type, occurred_at, recorded_at, summary, categories, owner_agency,"
            " consent_id) VALUES (%s, %s, 'e', %s, 't', now(), now(), 's', %s, %s, %s)",
            (r["source"], position, r["person"], r["categories"], r["owner"], governing),
        )
    agency, role = reader
    predicate = visible(agency="%(agency)s", role="%(role)s", today="%(today)s")
    found = {
        position
        for (position,) in conn.execute(
            f"SELECT t.position FROM projections.timeline_events t WHERE {predicate}",
            {"agency": agency, "role": role, "today": TODAY},
        ).fetchall()
    }

    expected = {
        position
        for position, r in enumerate(row_specs, start=1)
        if may_see(r, consent_rows, agency, role)
    }
    assert found == expected
