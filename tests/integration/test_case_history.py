"""A case's history as data (issue 12): the case read model keeps each change of legal sphere
and each case conference, the ``Case`` type shows them to whom it shows the case, and the
person's erasure drops them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from contracts import REGISTRY, CloudEvent, Payload
from contracts import case_management as cm
from contracts.privacy import (
    CaseDataErased,
    CaseDataRestricted,
    ErasureGround,
    RestrictionGround,
)
from kernel.clock import today_in_germany
from projections.case_views.projector import CaseViewsProjection
from projections.case_views.queries import cases, conferences_of_cases, sphere_changes_of_cases
from projections.rebuild import rebuild
from projections.schema import ensure
from tests.integration.case_flow import (
    CASE_MANAGER,
    PARTNER,
    call,
    consent_for_awo,
    ok,
    open_case,
    refer_to_awo,
)
from tests.integration.conftest import InProcessHub

KIM = "kim-05315"
OPENED = dt.date(2026, 1, 5)


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    await ensure(conn)
    yield conn
    await conn.close()


def event(payload: Payload, position: int) -> tuple[CloudEvent, Payload]:
    """``payload`` as case management's event at ``position`` in its log."""
    spec = REGISTRY.for_payload(type(payload))
    person = str(payload.person_id)  # type: ignore[attr-defined]
    at = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=position)
    return (
        CloudEvent(
            id=str(uuid.uuid4()),
            source="/hub/case_management",
            type=spec.type,
            subject=person,
            time=at,
            dataschema=f"urn:hub:schema:{spec.type}",
            data=payload.model_dump(mode="json"),
            personid=person,
            correlationid=str(uuid.uuid4()),
            legalbasis="§ 5 KIM-Richtlinie",
            purpose="case_processing",
            sourceagency=KIM,
            actingrole="case_manager",
            recordedtime=at,
            sourceposition=position,
        ),
        payload,
    )


def history(case: str, person: str) -> list[tuple[CloudEvent, Payload]]:
    return [
        event(
            cm.CaseOpened(
                case_id=case,
                person_id=person,
                agency=KIM,
                case_manager="cm-anna",
                target_group="newly_arrived",
                legal_spheres=("asylblg",),
                intake_source="self_referral",
                interpreter_needed=False,
                opened_on=OPENED,
            ),
            1,
        ),
        event(
            cm.LegalSphereChanged(
                case_id=case,
                person_id=person,
                from_sphere="asylblg",
                to_sphere="sgb_ii",
                effective=dt.date(2026, 2, 1),
            ),
            2,
        ),
        event(
            cm.CaseConferenceHeld(
                case_id=case,
                person_id=person,
                held_on=dt.date(2026, 2, 10),
                participants=("jobcenter-05315", KIM),
            ),
            3,
        ),
        event(
            cm.LegalSphereChanged(
                case_id=case,
                person_id=person,
                from_sphere=None,
                to_sphere="sgb_viii",
                effective=dt.date(2026, 1, 20),
            ),
            4,
        ),
    ]


async def apply(conn: asyncpg.Connection, events: list[tuple[CloudEvent, Payload]]) -> None:
    projection = CaseViewsProjection()
    async with conn.transaction():
        for e, payload in events:
            await projection.apply(conn, e, payload)


async def test_the_case_read_model_keeps_each_legal_sphere_change_and_conference(
    conn: asyncpg.Connection,
) -> None:
    # given a case with two changes of legal sphere (recorded out of date order) and a conference
    case, person = str(uuid.uuid4()), str(uuid.uuid4())
    events = history(case, person)

    # when the projection applies them, and a redelivery applies them again
    await apply(conn, events)
    await apply(conn, events[1:])

    # then each is one row, oldest first, with its event's position in case management's log
    changes = await sphere_changes_of_cases(conn, [uuid.UUID(case)])
    assert [
        (r["from_sphere"], r["to_sphere"], r["effective_on"], r["position"]) for r in changes
    ] == [
        (None, "sgb_viii", dt.date(2026, 1, 20), 4),
        ("asylblg", "sgb_ii", dt.date(2026, 2, 1), 2),
    ]
    conferences = await conferences_of_cases(conn, [uuid.UUID(case)])
    assert [(r["held_on"], list(r["participants"]), r["position"]) for r in conferences] == [
        (dt.date(2026, 2, 10), ["jobcenter-05315", KIM], 3)
    ]
    (row,) = await cases(conn, case_id=uuid.UUID(case))
    assert sorted(row["legal_spheres"]) == ["sgb_ii", "sgb_viii"]


def erased(person: str) -> Payload:
    return CaseDataErased(
        person_id=person, ground=ErasureGround.REQUEST, requested_by="dpo", key_destroyed=True
    )


def restricted(person: str) -> Payload:
    return CaseDataRestricted(
        person_id=person, ground=RestrictionGround.ACCURACY_CONTESTED, requested_by="dpo"
    )


@pytest.mark.parametrize("ending", [erased, restricted])
async def test_erasing_or_restricting_the_person_drops_the_cases_history(
    conn: asyncpg.Connection, ending: Callable[[str], Payload]
) -> None:
    # given a case with its history, and another person's case
    case, person = str(uuid.uuid4()), str(uuid.uuid4())
    other_case, other = str(uuid.uuid4()), str(uuid.uuid4())
    await apply(conn, history(case, person))
    await apply(conn, history(other_case, other))

    # when the person is erased (or their processing restricted)
    await apply(conn, [event(ending(person), 5)])

    # then their case's changes and conferences are gone, the other person's stay
    ids = [uuid.UUID(case), uuid.UUID(other_case)]
    assert {r["case_id"] for r in await sphere_changes_of_cases(conn, ids)} == {ids[1]}
    assert {r["case_id"] for r in await conferences_of_cases(conn, ids)} == {ids[1]}
    assert await cases(conn, case_id=ids[0]) == []


CHANGE_SPHERE = """mutation($input: ChangeLegalSphereInput!) {
  changeLegalSphere(input: $input) { position } }"""
CONFERENCE = """mutation($input: HoldCaseConferenceInput!) {
  holdCaseConference(input: $input) { position } }"""
HISTORY = """query($id: ID!, $atLeast: String) { case(id: $id, atLeast: $atLeast) {
  conferences lastConference
  legalSphereChanges { fromSphere toSphere effectiveOn position }
  caseConferences { heldOn participants position } } }"""


async def case_with_history(hub: InProcessHub) -> tuple[dict[str, Any], str]:
    opened = await open_case(hub)
    today = today_in_germany().isoformat()
    await ok(
        hub,
        CHANGE_SPHERE,
        {
            "input": {
                "caseId": opened["caseId"],
                "fromSphere": "asylblg",
                "toSphere": "sgb_ii",
                "effective": today,
            }
        },
    )
    held = await ok(
        hub,
        CONFERENCE,
        {"input": {"caseId": opened["caseId"], "heldOn": today, "participants": [KIM]}},
    )
    return opened, held["holdCaseConference"]["position"]


async def test_the_case_manager_reads_the_cases_legal_sphere_changes_and_conferences(
    hub: InProcessHub,
) -> None:
    opened, position = await case_with_history(hub)
    today = today_in_germany().isoformat()

    case = (await ok(hub, HISTORY, {"id": opened["caseId"], "atLeast": position}))["case"]

    assert [
        (c["fromSphere"], c["toSphere"], c["effectiveOn"]) for c in case["legalSphereChanges"]
    ] == [("asylblg", "sgb_ii", today)]
    assert [(k["heldOn"], k["participants"]) for k in case["caseConferences"]] == [(today, [KIM])]
    assert case["conferences"] == 1
    assert case["lastConference"] == today
    sphere_at = case["legalSphereChanges"][0]["position"]
    assert 0 < sphere_at < case["caseConferences"][0]["position"]


async def test_a_partner_agency_sees_no_case_history_with_or_without_a_consent(
    hub: InProcessHub,
) -> None:
    opened, position = await case_with_history(hub)

    # without any consent the partner may not read the case
    refused = await call(hub, HISTORY, {"id": opened["caseId"], "atLeast": position}, PARTNER)
    assert refused["data"]["case"] is None
    assert refused["errors"][0]["extensions"]["code"] == "forbidden"

    # with a consent and a referral it reads what the referral shares, which has no history
    consent = await consent_for_awo(hub, opened["caseId"])
    await refer_to_awo(hub, opened["caseId"], consent["consentId"])
    still = await call(hub, HISTORY, {"id": opened["caseId"]}, PARTNER)
    assert still["errors"][0]["extensions"]["code"] == "forbidden"
    shared = await call(
        hub,
        "{ referralInbox { sharedCase { legalSpheres legalSphereChanges { toSphere } } } }",
        {},
        PARTNER,
    )
    assert "Cannot query field 'legalSphereChanges'" in shared["errors"][0]["message"]

    # another case manager of the same agency sees nothing of it either
    other = {**CASE_MANAGER, "subject": "cm-carl"}
    assert (await call(hub, HISTORY, {"id": opened["caseId"]}, other))["data"]["case"] is None


async def test_a_rebuild_of_the_case_views_brings_back_the_cases_history(
    hub: InProcessHub,
) -> None:
    # given a case with its history, whose history rows were lost (or projected by version 3)
    opened, position = await case_with_history(hub)
    before = (await ok(hub, HISTORY, {"id": opened["caseId"], "atLeast": position}))["case"]
    case_id = uuid.UUID(opened["caseId"])
    await hub.pool.execute("DELETE FROM projections.cv_sphere_changes WHERE case_id = $1", case_id)
    await hub.pool.execute("DELETE FROM projections.cv_conferences WHERE case_id = $1", case_id)

    # when the read model is rebuilt from the streams (as hub up does after a version rise)
    await rebuild(hub.js, hub.pool, "case_views")

    # then the case shows the same history again
    after = (await ok(hub, HISTORY, {"id": opened["caseId"]}))["case"]
    assert after == before
    assert after["legalSphereChanges"]
    assert after["caseConferences"]
