"""The conflict board through GraphQL: report, escalate, intervene, log, resolve."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from kernel.disclosure import KEY_SPACE, noise
from tests.integration.case_flow import call, ok
from tests.integration.conftest import InProcessHub

BOARD = {"role": "conflict_board", "agency": "konfliktmanagement-05315", "subject": "kb-1"}
REPORT = """mutation($input: ReportConflictInput!) { reportConflict(input: $input) {
  conflictId position } }"""
ESCALATE = """mutation($input: EscalateConflictInput!) { escalateConflict(input: $input) {
  position } }"""
SCHEDULE = """mutation($input: ScheduleInterventionInput!) { scheduleIntervention(input: $input) {
  interventionId position } }"""
OUTCOME = """mutation($input: RecordInterventionOutcomeInput!) {
  recordInterventionOutcome(input: $input) { position } }"""
LOG = """mutation($input: AddBoardLogEntryInput!) { addBoardLogEntry(input: $input) {
  entryId position } }"""
RESOLVE = """mutation($input: ResolveConflictInput!) { resolveConflict(input: $input) {
  position } }"""
CONFLICT = """query($id: ID!, $atLeast: String) { conflict(id: $id, atLeast: $atLeast) {
  stage phase status outcome escalations { fromStage toStage toBody }
  interventions { format outcome stageAfter }
  log { kind text agency role actor corrects } } }"""


async def report(hub: InProcessHub) -> dict[str, Any]:
    data = await ok(
        hub,
        REPORT,
        {
            "input": {
                "kind": "neighbourhood",
                "district": "Köln-Chorweiler",
                "stage": 3,
                "parties": [
                    {"type": "group", "name": "Anwohnende Nordstraße"},
                    {"type": "organisation", "name": "Jugendzentrum Nord"},
                ],
                "description": "Lärmbeschwerden rund um den Bolzplatz eskalieren.",
            }
        },
        BOARD,
    )
    result = data["reportConflict"]
    assert isinstance(result, dict)
    return result


async def test_a_neighbourhood_conflict_escalates_to_the_steering_group_and_is_resolved(
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
                "reason": "Drohungen gegen Personal des Jugendzentrums",
            }
        },
        BOARD,
    )
    scheduled = (
        await ok(
            hub,
            SCHEDULE,
            {
                "input": {
                    "conflictId": conflict,
                    "format": "mediation",
                    "scheduledFor": "2026-12-01",
                    "facilitator": "Mediationsstelle Köln",
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
                "stageAfter": 4,
                "note": "Ruhezeiten vereinbart",
            }
        },
        BOARD,
    )
    entry = (
        await ok(
            hub,
            LOG,
            {"input": {"conflictId": conflict, "text": "Nächstes Treffen am Mittwoch"}},
            BOARD,
        )
    )["addBoardLogEntry"]
    await ok(
        hub,
        LOG,
        {
            "input": {
                "conflictId": conflict,
                "text": "Treffen am Donnerstag",
                "corrects": entry["entryId"],
            }
        },
        BOARD,
    )
    resolved = (
        await ok(
            hub,
            RESOLVE,
            {
                "input": {
                    "conflictId": conflict,
                    "outcome": "agreement",
                    "lessons": "Früh moderieren; Jugendzentrum einbinden.",
                }
            },
            BOARD,
        )
    )["resolveConflict"]

    view = (await ok(hub, CONFLICT, {"id": conflict, "atLeast": resolved["position"]}, BOARD))[
        "conflict"
    ]

    assert view["status"] == "resolved"
    assert view["stage"] == 4
    assert view["phase"] == "win-lose"
    assert view["escalations"] == [{"fromStage": 3, "toStage": 6, "toBody": "steering_group"}]
    assert view["interventions"] == [{"format": "mediation", "outcome": "held", "stageAfter": 4}]
    kinds = [line["kind"] for line in view["log"]]
    assert kinds == [
        "reported",
        "escalated",
        "intervention_scheduled",
        "intervention_outcome",
        "note",
        "correction",
        "resolved",
    ]
    assert all(
        line["agency"] == BOARD["agency"] and line["actor"] == "kb-1" for line in view["log"]
    )
    assert view["log"][5]["corrects"] is not None


async def test_illegal_moves_are_refused_with_a_reason(hub: InProcessHub) -> None:
    conflict = (await report(hub))["conflictId"]
    await ok(
        hub,
        RESOLVE,
        {
            "input": {
                "conflictId": conflict,
                "outcome": "agreement",
                "lessons": "Gespräch hat gereicht.",
            }
        },
        BOARD,
    )

    twice = await call(
        hub,
        RESOLVE,
        {
            "input": {
                "conflictId": conflict,
                "outcome": "agreement",
                "lessons": "Noch einmal gelöst.",
            }
        },
        BOARD,
    )
    escalated = await call(
        hub,
        ESCALATE,
        {
            "input": {
                "conflictId": conflict,
                "toStage": 5,
                "toBody": "board",
                "reason": "wieder aufgeflammt",
            }
        },
        BOARD,
    )
    bad_stage = await call(
        hub,
        REPORT,
        {
            "input": {
                "kind": "school",
                "district": "Nord",
                "stage": 10,
                "parties": [
                    {"type": "group", "name": "Eltern"},
                    {"type": "organisation", "name": "Schule"},
                ],
                "description": "Streit um Schulweg und Busse.",
            }
        },
        BOARD,
    )

    assert "already resolved" in twice["errors"][0]["message"]
    assert escalated["errors"][0]["extensions"]["code"] == "not_allowed"
    assert bad_stage["errors"][0]["extensions"]["field"] == "stage"


async def test_the_steering_group_sees_open_conflicts_perturbed_and_not_below_five(
    hub: InProcessHub,
) -> None:
    reported = [await report(hub) for _ in range(8)]
    last = reported[-1]
    lone = await ok(
        hub,
        REPORT,
        {
            "input": {
                "kind": "school",
                "district": "Köln-Porz",
                "stage": 2,
                "parties": [
                    {"type": "group", "name": "Eltern"},
                    {"type": "organisation", "name": "Grundschule"},
                ],
                "description": "Streit um den Schulweg.",
            }
        },
        BOARD,
    )
    await ok(
        hub,
        CONFLICT,
        {"id": lone["reportConflict"]["conflictId"], "atLeast": lone["reportConflict"]["position"]},
        BOARD,
    )

    steering = await ok(
        hub,
        "{ steering { openConflicts { rows { district stage conflicts } suppressedGroups } } }",
        {},
        {"role": "steering", "agency": "lg-05315", "subject": "lg"},
    )

    # eight conflicts, published with the noise of their cell key; the lone one never
    counts = steering["steering"]["openConflicts"]
    secret = hub.settings.resolved_indicator_key()
    digests = [
        int.from_bytes(hashlib.sha256(r["conflictId"].encode()).digest()[:4]) for r in reported
    ]
    message = f"{len(digests)}:{sum(digests) % KEY_SPACE}".encode()
    published = 8 + noise(
        int.from_bytes(hmac.new(secret.encode(), message, hashlib.sha256).digest()[:4])
    )
    assert counts["rows"] == [{"district": "Köln-Chorweiler", "stage": 3, "conflicts": published}]
    assert counts["suppressedGroups"] == 1
    assert last
