"""The steering group: gaps and escalations arrive from other services; triage, measures,
goals and indicators; a redelivered event changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from kernel.clock import today_in_germany
from tests.integration.case_flow import CASE_MANAGER, call, ok
from tests.integration.conftest import InProcessHub
from tests.integration.test_conflicts_gateway import (
    BOARD,
    ESCALATE,
    OUTCOME,
    RESOLVE,
    SCHEDULE,
    report,
)

STEERING = {"role": "steering", "agency": "lenkungsgruppe-05315", "subject": "lg-1"}
GAP = """mutation($input: ReportSystemicGapInput!) { reportSystemicGap(input: $input) {
  gapId position } }"""
GAPS = """query($atLeast: String) { steering { gaps(atLeast: $atLeast) { id origin category
  status priority owner affectedCount measures { title owner due completedOn } } } }"""


async def eventually(hub: InProcessHub, query: str, pick: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        data = await ok(hub, query, {}, STEERING)
        found = pick(data)
        if found:
            return found
        assert time.monotonic() < deadline, f"not arrived: {data}"
        await asyncio.sleep(0.1)


async def test_a_gap_travels_from_case_management_to_triage_measure_and_indicator(
    hub: InProcessHub,
) -> None:
    reported = (
        await ok(
            hub,
            GAP,
            {
                "input": {
                    "category": "waiting_times",
                    "legalSphere": "sgb_ii",
                    "description": "Wartezeiten auf B1-Kurse von mehreren Monaten"
                    " verhindern Arbeitsaufnahme.",
                    "affectedCount": 12,
                }
            },
            CASE_MANAGER,
        )
    )["reportSystemicGap"]

    gap = await eventually(
        hub, GAPS, lambda d: [g for g in d["steering"]["gaps"] if g["id"] == reported["gapId"]]
    )
    assert gap[0]["origin"] == "case_management"
    assert gap[0]["status"] == "new"
    assert gap[0]["affectedCount"] == 12

    await ok(
        hub,
        """mutation($i: TriageGapInput!) { triageGap(input: $i) { position } }""",
        {
            "i": {
                "gapId": reported["gapId"],
                "priority": "high",
                "owner": "Kommunales Integrationszentrum",
            }
        },
        STEERING,
    )
    due = (today_in_germany() + dt.timedelta(days=120)).isoformat()
    measure = (
        await ok(
            hub,
            """mutation($i: DecideMeasureInput!) { decideMeasure(input: $i) {
        measureId position } }""",
            {
                "i": {
                    "gapId": reported["gapId"],
                    "title": "Zusätzliche B1-Kurse mit Kinderbetreuung",
                    "owner": "VHS",
                    "due": due,
                }
            },
            STEERING,
        )
    )["decideMeasure"]
    goal = (
        await ok(
            hub,
            """mutation($i: DefineGoalInput!) { defineIntegrationGoal(input: $i) {
        goalId position } }""",
            {
                "i": {
                    "fieldOfAction": "language",
                    "goal": "Mehr Menschen erreichen B1",
                    "indicator": "Anteil B1-Abschlüsse an Kursteilnehmenden",
                    "unit": "%",
                    "baseline": 40,
                    "target": 60,
                    "due": (today_in_germany() + dt.timedelta(days=730)).isoformat(),
                }
            },
            STEERING,
        )
    )["defineIntegrationGoal"]
    value = (
        await ok(
            hub,
            """mutation($i: RecordIndicatorValueInput!) {
        recordIndicatorValue(input: $i) { position } }""",
            {"i": {"goalId": goal["goalId"], "period": "2026-Q4", "value": 45}},
            STEERING,
        )
    )["recordIndicatorValue"]

    view = (
        await ok(
            hub,
            """query($p: String) { steering {
        gaps(atLeast: $p) { id status priority measures { title owner } }
        goals(atLeast: $p) { goal values { period value } onTrack
          indicators { name unit onTrack values { period } } } } }""",
            {"p": value["position"]},
            STEERING,
        )
    )["steering"]

    mine = next(g for g in view["gaps"] if g["id"] == reported["gapId"])
    assert mine["status"] == "triaged"
    assert mine["priority"] == "high"
    assert mine["measures"] == [
        {"title": "Zusätzliche B1-Kurse mit Kinderbetreuung", "owner": "VHS"}
    ]
    assert view["goals"][0]["values"] == [{"period": "2026-Q4", "value": 45.0}]
    assert view["goals"][0]["onTrack"] is True
    assert view["goals"][0]["indicators"] == [
        {
            "name": "Anteil B1-Abschlüsse an Kursteilnehmenden",
            "unit": "%",
            "onTrack": True,
            "values": [{"period": "2026-Q4"}],
        }
    ]
    assert measure["measureId"]


async def test_a_conflict_escalated_to_stage_six_reaches_the_steering_group(
    hub: InProcessHub,
) -> None:
    conflict = (await report(hub))["conflictId"]
    await ok(
        hub,
        ESCALATE,
        {
            "input": {
                "conflictId": conflict,
                "toStage": 6,
                "toBody": "steering_group",
                "reason": "Drohungen, Polizeieinsätze am Wochenende",
            }
        },
        BOARD,
    )

    escalations = await eventually(
        hub,
        "{ steering { escalations { id conflictId toStage district decision } } }",
        lambda d: [e for e in d["steering"]["escalations"] if e["conflictId"] == conflict],
    )
    assert escalations[0]["toStage"] == 6
    assert escalations[0]["district"] == "Köln-Chorweiler"

    heard = await call(
        hub,
        """mutation($i: HearEscalationInput!) { hearEscalation(input: $i) {
        position } }""",
        {
            "i": {
                "escalationId": escalations[0]["id"],
                "decision": "Mediation beauftragen, Bericht in 8 Wochen",
            }
        },
        STEERING,
    )
    scheduled = (
        await ok(
            hub,
            SCHEDULE,
            {
                "input": {
                    "conflictId": conflict,
                    "format": "dialogue",
                    "scheduledFor": "2026-12-10",
                    "facilitator": "Quartiersmanagement",
                }
            },
            BOARD,
        )
    )["scheduleIntervention"]
    await ok(
        hub,
        OUTCOME,
        {
            "input": {
                "conflictId": conflict,
                "interventionId": scheduled["interventionId"],
                "outcome": "held",
                "stageAfter": 3,
            }
        },
        BOARD,
    )
    resolved = await ok(
        hub,
        RESOLVE,
        {
            "input": {
                "conflictId": conflict,
                "outcome": "partial_agreement",
                "lessons": "Dialog früher ansetzen.",
            }
        },
        BOARD,
    )

    assert "errors" not in heard
    assert resolved["resolveConflict"]["position"]


async def test_escalations_to_other_bodies_do_not_reach_the_steering_group(
    hub: InProcessHub,
) -> None:
    conflict = (await report(hub))["conflictId"]
    await ok(
        hub,
        ESCALATE,
        {
            "input": {
                "conflictId": conflict,
                "toStage": 4,
                "toBody": "board",
                "reason": "Schlichtung gescheitert",
            }
        },
        BOARD,
    )
    marker = (await report(hub))["conflictId"]
    await ok(
        hub,
        ESCALATE,
        {
            "input": {
                "conflictId": marker,
                "toStage": 7,
                "toBody": "steering_group",
                "reason": "Gewalt gegen Sachen",
            }
        },
        BOARD,
    )

    escalations = await eventually(
        hub,
        "{ steering { escalations { conflictId } } }",
        lambda d: [e for e in d["steering"]["escalations"] if e["conflictId"] == marker],
    )

    everything = (await ok(hub, "{ steering { escalations { conflictId } } }", {}, STEERING))[
        "steering"
    ]["escalations"]
    assert conflict not in {e["conflictId"] for e in everything}
    assert escalations


async def test_a_redelivered_gap_changes_nothing(hub: InProcessHub) -> None:
    from eventsourcing.persistence import Tracking

    assert hub.services is not None
    app, _ = hub.services["steering_group"]
    tracking = Tracking(notification_id=424242, application_name="case_management")
    first = app.receive_gap(
        gap_id=__import__("uuid").uuid4(),
        origin="case_management",
        category="other",
        legal_sphere=None,
        description="Eine Lücke, zweimal zugestellt.",
        affected_count=None,
        reported_by="kim",
        reported_on=dt.date(2026, 1, 1),
        tracking=tracking,
    )
    again = app.receive_gap(
        gap_id=__import__("uuid").uuid4(),
        origin="case_management",
        category="other",
        legal_sphere=None,
        description="Eine Lücke, zweimal zugestellt.",
        affected_count=None,
        reported_by="kim",
        reported_on=dt.date(2026, 1, 1),
        tracking=tracking,
    )

    assert (first, again) == (True, False)


async def test_a_gap_reported_by_the_conflict_board_reaches_the_steering_group(
    hub: InProcessHub,
) -> None:
    reported = (
        await ok(
            hub,
            """mutation($i: ReportBoardGapInput!) { reportBoardGap(input: $i) {
        gapId } }""",
            {
                "i": {
                    "category": "social_cohesion",
                    "conflictCount": 7,
                    "description": "Fehlende Treffpunkte für Jugendliche in mehreren"
                    " Stadtteilen führen zu wiederkehrenden Konflikten.",
                }
            },
            BOARD,
        )
    )["reportBoardGap"]

    gaps = await eventually(
        hub, GAPS, lambda d: [g for g in d["steering"]["gaps"] if g["id"] == reported["gapId"]]
    )

    assert gaps[0]["origin"] == "conflict_management"
    assert gaps[0]["category"] == "social_cohesion"
