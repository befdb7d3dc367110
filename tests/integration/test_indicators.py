"""Steering indicators: every count perturbed by the cell-key method, no published count
below 5, and the differencing attack of a case opened for a named person defeated."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from importlib import resources
from typing import Any

import asyncpg
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.disclosure import KEY_SPACE, noise, protect
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
        for package in ("projections.pathway", "projections.case_views", "projections.indicators"):
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


def load(conn: psycopg.Connection[Any], people: list[dict[str, Any]]) -> list[uuid.UUID]:
    """The persons in the read models, with ids 1, 2, ... (so cell keys are reproducible)."""
    conn.execute(
        "TRUNCATE projections.pathway_persons, projections.pathway_stage_history,"
        " projections.pathway_milestones, projections.cv_cases,"
        " projections.cv_referrals"
    )
    ids = []
    for n, p in enumerate(people):
        pid = uuid.UUID(int=n + 1)
        ids.append(pid)
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
    return ids


KEY = "test-indicator-key"


def cell_key(ids: list[uuid.UUID]) -> int:
    """The cell key as docs/data-protection.md defines it, computed apart from the SQL: HMAC
    under the secret over the count and the sum of the records' digests."""
    digests = [int.from_bytes(hashlib.sha256(str(i).encode()).digest()[:4]) for i in ids]
    message = f"{len(ids)}:{sum(digests) % KEY_SPACE}".encode()
    return int.from_bytes(hmac.new(KEY.encode(), message, hashlib.sha256).digest()[:4])


async def every_result(url: str) -> list[queries.Result]:
    db = await asyncpg.connect(url)
    try:
        results = [
            await queries.stage_counts(
                db, key=KEY, by=by, from_month=dt.date(2024, 1, 1), to_month=dt.date(2026, 6, 30)
            )
            for by in queries.GROUPINGS
        ]
        results.append(await queries.milestone_durations(db, key=KEY))
        results.append(await queries.milestone_durations(db, key=KEY, by_entry_year=True))
        results.append(await queries.referral_stats(db, key=KEY))
        return results
    finally:
        await db.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=persons)
def test_no_published_count_is_below_five(
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


def test_a_count_is_published_perturbed_by_its_cell_key_and_left_out_below_five(
    conn: psycopg.Connection[Any], database_url: str
) -> None:
    person: dict[str, Any] = {
        "municipality": "05315000",
        "stage": "titled",
        "target_group": None,
        "since": dt.date(2025, 1, 1),
        "milestones": [0, 400],
        "referrals": [("awo", "accepted")],
    }
    few = {**person, "municipality": "05111000", "milestones": [], "referrals": []}
    ids = load(conn, [person] * 12 + [few] * 2)

    by_place, _, by_month, durations, _, _ = asyncio.run(every_result(database_url))

    # the twelve: published as twelve plus the noise their cell key selects, the same on
    # every read; the two: never (at most 4 after noise)
    twelve = cell_key(ids[:12])
    assert by_place.rows == [
        {"group": "05315000", "stage": "titled", "persons": 12 + noise(twelve)}
    ]
    assert by_place.suppressed_groups == 1
    assert by_month.rows[-1] == {
        "group": "2026-06",
        "stage": "titled",
        "persons": protect(14, cell_key(ids)),
    }
    assert durations.rows == [
        {
            "group": "all",
            "from_milestone": "entry",
            "to_milestone": "first_title",
            "persons": protect(12, twelve),
            "median_days": 400.0,
            "p90_days": 400.0,
        }
    ]
    assert asyncio.run(every_result(database_url))[0] == by_place  # consistent


async def stage_cell(url: str, group: str, stage: str) -> int | None:
    db = await asyncpg.connect(url)
    try:
        result = await queries.stage_counts(db, key=KEY, by="target_group")
    finally:
        await db.close()
    return next(
        (r["persons"] for r in result.rows if (r["group"], r["stage"]) == (group, stage)), None
    )


def test_opening_a_case_for_a_named_person_no_longer_reveals_their_stage(
    conn: psycopg.Connection[Any], database_url: str
) -> None:
    # given 41 persons with protection or a Duldung and no case, as in the finding
    person: dict[str, Any] = {
        "municipality": "05315000",
        "stage": "protected_or_tolerated",
        "target_group": None,
        "since": dt.date(2025, 1, 1),
        "milestones": [],
        "referrals": [],
    }
    ids = load(conn, [person] * 41)
    before = asyncio.run(stage_cell(database_url, "no_case", "protected_or_tolerated"))
    assert before == asyncio.run(stage_cell(database_url, "no_case", "protected_or_tolerated"))

    # when a case is opened for one named person (each of them in turn), and the cell re-read
    changes = []
    for pid in ids:
        case = uuid.uuid4()
        conn.execute(
            "INSERT INTO projections.cv_cases (case_id, person_id, agency, case_manager,"
            " target_group, legal_spheres, intake_source, interpreter_needed, opened_on,"
            " status) VALUES (%s, %s, 'kim', 'cm', 'young_adults', '{}', 'other', false,"
            " '2026-01-01', 'open')",
            (case, pid),
        )
        after = asyncio.run(stage_cell(database_url, "no_case", "protected_or_tolerated"))
        conn.execute("DELETE FROM projections.cv_cases WHERE case_id = %s", (case,))
        assert after is not None
        assert before is not None
        changes.append(after - before)

    # then the change the attacker reads is the true one (-1) for a minority only: an
    # observed difference does not tell whether the person was in the cell
    assert changes.count(-1) < len(changes) / 2
    assert len(set(changes)) >= 3
    assert all(-5 <= change <= 3 for change in changes)  # -1 plus two noises of at most 2


async def test_stage_counts_by_month_follow_the_persons_registered(hub: InProcessHub) -> None:
    # given eight arrivals registered this month through the authority
    officer = {"role": "abh_officer", "agency": "abh-05315", "subject": "abh-1"}
    registered = []
    for n in range(8):
        result = await call(
            hub,
            """mutation($input: RegisterArrivalInput!) { registerArrival(input: $input) {
            personId position } }""",
            {
                "input": {
                    "givenNames": "Test",
                    "familyName": f"Person {n}",
                    "birthDate": "1990-01-01",
                    "azrNumber": f"{100000000000 + n}",
                    "nationalities": ["SYR"],
                    "entryDate": "2026-11-02",
                    "entryMode": "ASYLUM",
                    "municipalityKey": "05315000",
                    "abhId": "abh-05315",
                }
            },
            officer,
        )
        registered.append(result["data"]["registerArrival"])
    await call(
        hub,
        """query($id: ID!, $p: String) { person(id: $id) { pathway(atLeast: $p) { stage } } }""",
        {"id": registered[-1]["personId"], "p": registered[-1]["position"]},
        officer,
    )

    # when the steering group reads the stage counts by month
    steering = {"role": "steering", "agency": "lenkungsgruppe-05315", "subject": "lg-1"}
    result = await call(
        hub,
        """{ steering { stageCounts(by: "month", fromMonth: "2026-11-01", toMonth: "2026-11-30")
        { rows { group stage persons } } } }""",
        {},
        steering,
    )

    # then November shows them (eight, perturbed by at most two)
    rows = result["data"]["steering"]["stageCounts"]["rows"]
    november = [r for r in rows if r["group"] == "2026-11"]
    assert [r["stage"] for r in november] == ["arrival"]
    assert 6 <= november[0]["persons"] <= 10
