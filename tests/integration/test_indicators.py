"""Steering indicators: no result row ever describes fewer than 5 persons."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from importlib import resources
from typing import Any

import asyncpg
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.indicators import queries
from tests.integration.case_flow import call
from tests.integration.conftest import InProcessHub

STAGES = [
    "arrival",
    "status_pending",
    "protected_or_tolerated",
    "titled",
    "permanent",
    "naturalisation_applied",
    "naturalised",
]
MILESTONES = [
    "entry",
    "first_title",
    "integration_course_completed",
    "permanent_status",
    "naturalised",
]


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS projections")
        for package in ("projections.pathway", "projections.case_views"):
            connection.execute(resources.files(package).joinpath("schema.sql").read_text())
        yield connection


persons = st.lists(
    st.fixed_dictionaries(
        {
            "municipality": st.sampled_from(["05315000", "05111000", "05913000"]),
            "stage": st.sampled_from(STAGES),
            "target_group": st.none() | st.sampled_from(["newly_arrived", "tolerated"]),
            "since": st.dates(dt.date(2024, 1, 1), dt.date(2026, 6, 30)),
            "milestones": st.lists(st.integers(0, 900), min_size=0, max_size=5),
            "referrals": st.lists(
                st.tuples(
                    st.sampled_from(["awo", "caritas", "jobcenter"]),
                    st.sampled_from(["sent", "accepted", "declined"]),
                ),
                max_size=2,
            ),
        }
    ),
    min_size=0,
    max_size=40,
)


def load(conn: psycopg.Connection[Any], people: list[dict[str, Any]]) -> None:
    conn.execute(
        "TRUNCATE projections.pathway_persons, projections.pathway_stage_history,"
        " projections.pathway_milestones, projections.cv_cases,"
        " projections.cv_referrals"
    )
    for n, p in enumerate(people):
        pid = uuid.uuid4()
        conn.execute(
            "INSERT INTO projections.pathway_persons (person_id, abh_id,"
            " municipality_key, stage, stage_since) VALUES (%s, 'abh', %s, %s, %s)",
            (pid, p["municipality"], p["stage"], p["since"]),
        )
        conn.execute(
            "INSERT INTO projections.pathway_stage_history VALUES (%s, %s, %s, %s)",
            (pid, p["since"], p["stage"], n),
        )
        for name, offset in zip(MILESTONES, p["milestones"], strict=False):
            conn.execute(
                "INSERT INTO projections.pathway_milestones VALUES (%s, %s, %s)",
                (pid, name, dt.date(2020, 1, 1) + dt.timedelta(days=offset)),
            )
        case = uuid.uuid4()
        if p["target_group"]:
            conn.execute(
                "INSERT INTO projections.cv_cases (case_id, person_id, agency, case_manager,"
                " target_group, legal_spheres, intake_source, interpreter_needed, opened_on,"
                " status) VALUES (%s, %s, 'kim', 'cm', %s, '{}', 'other', false, %s, 'open')",
                (case, pid, p["target_group"], p["since"]),
            )
        for agency, status in p["referrals"]:
            sent = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            conn.execute(
                "INSERT INTO projections.cv_referrals (referral_id, case_id, person_id,"
                " from_agency, to_agency, service, consent_id, shared_categories, purpose,"
                " status, sent_at, answered_at) VALUES (%s, %s, %s, 'kim', %s, 's', %s, '{}',"
                " 'referral', %s, %s, %s)",
                (
                    uuid.uuid4(),
                    case,
                    pid,
                    agency,
                    uuid.uuid4(),
                    status,
                    sent,
                    None if status == "sent" else sent + dt.timedelta(days=3),
                ),
            )


async def every_result(url: str) -> list[queries.Result]:
    db = await asyncpg.connect(url)
    try:
        results = [
            await queries.stage_counts(
                db, by=by, from_month=dt.date(2024, 1, 1), to_month=dt.date(2026, 6, 30)
            )
            for by in queries.GROUPINGS
        ]
        results.append(await queries.milestone_durations(db))
        results.append(await queries.milestone_durations(db, by_entry_year=True))
        results.append(await queries.referral_stats(db))
        return results
    finally:
        await db.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=persons)
def test_no_result_row_describes_fewer_than_five_persons(
    conn: psycopg.Connection[Any], database_url: str, people: list[dict[str, Any]]
) -> None:
    load(conn, people)

    results = asyncio.run(every_result(database_url))

    for result in results:
        for row in result.rows:
            assert row["persons"] >= queries.MIN_GROUP
            for key in ("accepted", "declined"):
                if key in row:
                    assert row[key] is None or row[key] == 0 or row[key] >= queries.MIN_GROUP
            assert not any("person_id" in key or "case_id" in key for key in row)


async def test_the_steering_group_reads_indicators_and_nothing_personal(
    hub: InProcessHub,
) -> None:
    steering = {"role": "steering", "agency": "lenkungsgruppe-05315", "subject": "lg-1"}

    indicators = await call(
        hub,
        """{ steering {
        stageCounts(by: "municipality") { rows { group stage persons } suppressedGroups }
        milestoneDurations { rows { fromMilestone toMilestone persons medianDays } }
        referralStats { rows { agency persons acceptanceRate } suppressedGroups } } }""",
        {},
        steering,
    )
    personal = await call(
        hub,
        """query { person(id: "8d9a8f0e-0000-4000-8000-000000000000") {
        timeline { summary } } }""",
        {},
        steering,
    )
    worklist = await call(
        hub, """{ personsAtStage(stage: "titled") { items { personId } } }""", {}, steering
    )

    assert "errors" not in indicators, indicators
    assert indicators["data"]["steering"]["stageCounts"]["rows"] == []
    assert personal["errors"][0]["extensions"]["code"] == "forbidden"
    assert worklist["errors"][0]["extensions"]["code"] == "forbidden"


def test_a_group_of_six_is_shown_and_a_group_of_four_is_left_out(
    conn: psycopg.Connection[Any], database_url: str
) -> None:
    six = [
        {
            "municipality": "05315000",
            "stage": "titled",
            "target_group": None,
            "since": dt.date(2025, 1, 1),
            "milestones": [0, 400],
            "referrals": [("awo", "accepted")],
        }
        for _ in range(6)
    ]
    four = [
        {
            "municipality": "05111000",
            "stage": "titled",
            "target_group": None,
            "since": dt.date(2025, 1, 1),
            "milestones": [],
            "referrals": [("caritas", "sent")],
        }
        for _ in range(4)
    ]
    load(conn, six + four)

    by_place, _, by_month, durations, _, referrals = asyncio.run(every_result(database_url))

    assert by_place.rows == [{"group": "05315000", "stage": "titled", "persons": 6}]
    assert by_place.suppressed_groups == 1
    assert by_month.rows[-1] == {"group": "2026-06", "stage": "titled", "persons": 10}
    assert durations.rows == [
        {
            "group": "all",
            "from_milestone": "entry",
            "to_milestone": "first_title",
            "persons": 6,
            "median_days": 400.0,
            "p90_days": 400.0,
        }
    ]
    assert [r["agency"] for r in referrals.rows] == ["awo"]
    assert referrals.rows[0]["accepted"] == 6
    assert referrals.suppressed_groups == 1
