"""A person's path to naturalisation: inbound messages in, pathway and readiness out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from gateway.consistency import Position
from kernel.clock import today_in_germany
from services.foreigners_authority.inbound.endpoint import create_inbound_app
from services.runtime.tokens import issue_token
from tests.integration.case_flow import CASE_MANAGER as MANAGER
from tests.integration.case_flow import GRANT, OPEN_CASE, call, ok
from tests.integration.conftest import InProcessHub

ABH = "abh-05315"
PATHWAY = """query($id: ID!, $atLeast: String, $asOf: Date) { person(id: $id) {
  pathway(atLeast: $atLeast) { stage stageSince entryDate milestones { name reachedOn }
    periods { kind start end paragraph }
    readiness(asOf: $asOf) { lawVersion ready earliestResidenceDate countedResidenceDays
      earliestResidenceDateWithoutRenewal renewalAssumed assumption assumptionDe
      knownLawVersions requirements { key met reason reasonDe code decisionNeeded state } } } } }"""
AT_STAGE = """query($stage: String!, $first: Int!, $after: String, $atLeast: String) {
  personsAtStage(stage: $stage, first: $first, after: $after, atLeast: $atLeast) {
    items { personId stage } nextCursor } }"""
_n = iter(range(1, 10**6))


async def send(
    hub: InProcessHub,
    message_type: str,
    body: dict[str, Any],
    person: str | None = None,
    *,
    sender: str = ABH,
) -> dict[str, Any]:
    assert hub.services is not None
    app, server = hub.services["foreigners_authority"]
    api = create_inbound_app(
        app,
        server.execute,
        jwt_secret=hub.settings.resolved_jwt_secret(),
        issuer=hub.settings.jwt_issuer,
    )
    token = issue_token(
        hub.settings.resolved_jwt_secret(),
        subject="advis",
        agency=sender,
        role="abh_officer",
        issuer=hub.settings.jwt_issuer,
    )
    message: dict[str, Any] = {
        "messageId": f"p-{next(_n)}",
        "messageType": message_type,
        "sentAt": "2026-11-20T10:00:00+01:00",
        "sender": sender,
        "body": body,
    }
    if person:
        message["personId"] = person
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
    ) as http:
        response = await http.post(
            "/inbound/messages", json=message, headers={"Authorization": f"Bearer {token}"}
        )
    receipt = response.json()
    assert receipt["status"] == "accepted", receipt
    assert isinstance(receipt, dict)
    return receipt


async def refugee_path(hub: InProcessHub) -> tuple[str, str]:
    first = await send(
        hub,
        "registration_notice",
        {
            "kind": "new_person",
            "givenNames": "Amir",
            "familyName": "Haddad",
            "birthDate": "1995-11-02",
            "azrNumber": "123456789012",
            "nationalities": ["SYR"],
            "entryDate": "2015-11-02",
            "entryMode": "asylum",
            "municipalityKey": "05315000",
            "registeredOn": "2015-11-10",
        },
    )
    person = first["personId"]
    last = first
    for message_type, body in [
        ("asylum_decision", {"kind": "application_filed", "filedOn": "2015-11-20"}),
        ("asylum_decision", {"kind": "decision", "outcome": "refugee", "decidedOn": "2016-09-01"}),
        (
            "residence_decision",
            {
                "kind": "title_granted",
                "title": "residence_permit",
                "paragraph": "§ 25 Abs. 2 AufenthG",
                "grantedOn": "2016-10-01",
                "validFrom": "2016-10-01",
                "validUntil": "2019-09-30",
            },
        ),
        ("integration_course", {"kind": "completed", "level": "B1", "completedOn": "2017-12-01"}),
        (
            "residence_decision",
            {
                "kind": "title_granted",
                "title": "settlement_permit",
                "paragraph": "§ 26 Abs. 3 AufenthG",
                "grantedOn": "2019-09-15",
                "validFrom": "2019-10-01",
            },
        ),
    ]:
        last = await send(hub, message_type, body, person)
    token = last["atLeast"]  # the receipt's token: read your own write
    assert token == Position("foreigners_authority", int(last["position"])).token()
    return person, token


async def test_a_refugee_path_shows_stage_milestones_and_readiness(hub: InProcessHub) -> None:
    person, position = await refugee_path(hub)

    data = await ok(
        hub,
        PATHWAY,
        {"id": person, "atLeast": position, "asOf": "2026-11-21"},
        {"role": "abh_officer", "agency": ABH, "subject": "abh-1"},
    )

    pathway = data["person"]["pathway"]
    assert pathway["stage"] == "permanent"
    assert pathway["entryDate"] == "2015-11-02"
    assert [m["name"] for m in pathway["milestones"]] == [
        "entry",
        "registered",
        "asylum_applied",
        "protection_granted",
        "first_title",
        "integration_course_completed",
        "permanent_status",
    ]
    readiness = pathway["readiness"]
    assert readiness["lawVersion"] == "stag-2025"
    residence = next(r for r in readiness["requirements"] if r["key"] == "residence_period")
    assert residence["met"] is True  # Gestattung counts: protection was granted later
    # 8 years under the law before 2024-06-27, from the asylum application: the course does not
    # shorten it to 7 as its final test is not known (§ 10 (3) StAG a.F., § 17 (2) IntV)
    assert readiness["earliestResidenceDate"] == "2023-11-20"
    assert readiness["earliestResidenceDateWithoutRenewal"] == "2023-11-20"
    assert readiness["renewalAssumed"] is False
    assert readiness["assumption"] is None
    assert readiness["knownLawVersions"] == ["stag-2000", "stag-2024", "stag-2025"]
    assert residence["reasonDe"].startswith("11 Jahre")
    assert (residence["code"], residence["state"], residence["decisionNeeded"]) == (
        "met",
        "met",
        False,
    )
    assert readiness["ready"] is False  # no naturalisation test yet, livelihood unknown


async def test_readiness_follows_the_law_in_force_on_the_chosen_date(hub: InProcessHub) -> None:
    person, position = await refugee_path(hub)
    officer = {"role": "abh_officer", "agency": ABH, "subject": "abh-1"}

    old = await ok(hub, PATHWAY, {"id": person, "atLeast": position, "asOf": "2021-06-01"}, officer)

    readiness = old["person"]["pathway"]["readiness"]
    assert readiness["lawVersion"] == "stag-2000"
    residence = next(r for r in readiness["requirements"] if r["key"] == "residence_period")
    assert residence["met"] is False  # 7 or 8 years under the old law


async def test_the_authority_lists_persons_by_stage_page_by_page(hub: InProcessHub) -> None:
    officer = {"role": "abh_officer", "agency": ABH, "subject": "abh-1"}
    persons = []
    position = ""
    for _ in range(3):
        person, position = await refugee_path(hub)
        persons.append(person)

    first = (
        await ok(hub, AT_STAGE, {"stage": "permanent", "first": 2, "atLeast": position}, officer)
    )["personsAtStage"]
    second = (
        await ok(
            hub, AT_STAGE, {"stage": "permanent", "first": 2, "after": first["nextCursor"]}, officer
        )
    )["personsAtStage"]

    listed = [p["personId"] for p in first["items"] + second["items"]]
    assert sorted(listed) == sorted(persons)
    assert second["nextCursor"] is None
    steering = await call(
        hub,
        AT_STAGE,
        {"stage": "permanent", "first": 2},
        {"role": "case_manager", "agency": "kim-05315", "subject": "cm"},
    )
    assert steering["errors"][0]["extensions"]["code"] == "forbidden"


async def open_case_for(hub: InProcessHub, person: str, manager: dict[str, str]) -> Any:
    """A case of ``manager``'s agency for a person the authority knows."""
    variables = {
        "input": {
            "personId": person,
            "givenNames": "Amir",
            "familyName": "Haddad",
            "targetGroup": "young_adults",
            "legalSpheres": ["sgb_ii"],
            "intakeSource": "foreigners_authority",
        }
    }
    return (await ok(hub, OPEN_CASE, variables, manager))["openCase"]


async def consent_of(
    hub: InProcessHub, case_id: str, manager: dict[str, str], *categories: str
) -> Any:
    """A consent on ``case_id`` for the manager's own agency, for counselling, 90 days."""
    variables = {
        "input": {
            "caseId": case_id,
            "recipients": ["kim-05315"],
            "categories": list(categories),
            "purposes": ["counselling"],
            "validUntil": (today_in_germany() + dt.timedelta(days=90)).isoformat(),
        }
    }
    return (await ok(hub, GRANT, variables, manager))["grantConsent"]


async def test_a_case_manager_sees_no_pathway_on_its_own_consent_for_residence_data(
    hub: InProcessHub,
) -> None:
    # the authority's records need a consent the authority has confirmed (issue 9): a case
    # manager's own consent, even one covering residence data, releases none of them
    person, position = await refugee_path(hub)
    manager = {**MANAGER, "purpose": "counselling"}  # reading for a purpose its consent names
    before = await ok(hub, PATHWAY, {"id": person, "atLeast": position}, manager)

    opened = await open_case_for(hub, person, manager)
    granted = await consent_of(hub, opened["caseId"], manager, "case_basic", "residence")
    await ok(
        hub,
        """query($id: ID!, $p: String) { person(id: $id) {
        timeline(atLeast: $p) { eventType } } }""",
        {"id": person, "p": granted["position"]},
        manager,
    )
    after = await ok(hub, PATHWAY, {"id": person}, manager)

    assert before["person"]["pathway"] is None
    assert after["person"]["pathway"] is None


CONFIRM = """mutation($input: DecideOnConsentInput!) { confirmConsent(input: $input) {
  personId position } }"""
DECLINE = """mutation($input: DecideOnConsentInput!) { declineConsent(input: $input) {
  personId position } }"""
TIMELINE = (
    """query($id: ID!, $p: String) { person(id: $id) { timeline(atLeast: $p) { eventType } } }"""
)
OFFICER = {"role": "abh_officer", "agency": "abh-05315", "subject": "abh-clerk"}


async def test_the_authority_confirms_a_consent_and_the_pathway_follows_its_decision(
    hub: InProcessHub,
) -> None:
    # given a person on abh-05315's file and a case manager's consent covering residence data
    person, position = await refugee_path(hub)
    manager = {**MANAGER, "purpose": "counselling"}  # reading for a purpose its consent names
    opened = await open_case_for(hub, person, manager)
    consent = await consent_of(hub, opened["caseId"], manager, "case_basic", "residence")
    await ok(hub, TIMELINE, {"id": person, "p": consent["position"]}, manager)
    decision = {"input": {"personId": person, "consentId": consent["consentId"]}}

    # another authority cannot confirm it: the answer is that of a person it has no file of
    other = {"role": "abh_officer", "agency": "abh-05111", "subject": "abh-other"}
    refused = await call(hub, CONFIRM, decision, other)
    assert refused["errors"][0]["extensions"]["code"] == "unknown_person"

    # when the authority holding the file confirms the consent
    confirmed = (await ok(hub, CONFIRM, decision, OFFICER))["confirmConsent"]
    await ok(hub, TIMELINE, {"id": person, "p": confirmed["position"]}, manager)
    # then the case manager sees the pathway and the authority's residence facts
    shown = await ok(hub, PATHWAY, {"id": person, "atLeast": position}, manager)
    assert shown["person"]["pathway"]["stage"] == "permanent"
    rows = await ok(hub, TIMELINE, {"id": person, "p": confirmed["position"]}, manager)
    assert "residence_title_granted" in {
        e["eventType"].split(".")[2] for e in rows["person"]["timeline"]
    }

    # and when the authority declines it again, they are gone
    declined = (await ok(hub, DECLINE, decision, OFFICER))["declineConsent"]
    rows = await ok(hub, TIMELINE, {"id": person, "p": declined["position"]}, manager)
    assert "residence_title_granted" not in {
        e["eventType"].split(".")[2] for e in rows["person"]["timeline"]
    }
    assert (await ok(hub, PATHWAY, {"id": person}, manager))["person"]["pathway"] is None


async def test_the_pathway_shows_language_facts_only_under_a_consent_for_language_data(
    hub: InProcessHub,
) -> None:
    # given a path with an integration course (B1), and a case whose consent covers
    # residence data only
    person, position = await refugee_path(hub)
    manager = {**MANAGER, "purpose": "counselling"}  # reading for a purpose its consent names
    opened = await open_case_for(hub, person, manager)
    residence = await consent_of(hub, opened["caseId"], manager, "residence")
    await ok(hub, TIMELINE, {"id": person, "p": residence["position"]}, manager)
    decision = {"input": {"personId": person, "consentId": residence["consentId"]}}
    confirmed = (await ok(hub, CONFIRM, decision, OFFICER))["confirmConsent"]  # by the authority
    seen = await ok(hub, TIMELINE, {"id": person, "p": confirmed["position"]}, manager)

    # when the case manager reads the pathway
    partial = (await ok(hub, PATHWAY, {"id": person, "atLeast": position}, manager))["person"]

    # then it shows the residence path, but not what the timeline hides as language data
    events = {e["eventType"].split(".")[2] for e in seen["person"]["timeline"]}
    assert "residence_title_granted" in events
    assert "integration_course_completed" not in events
    pathway = partial["pathway"]
    assert pathway["stage"] == "permanent"
    assert "integration_course_completed" not in [m["name"] for m in pathway["milestones"]]
    language = next(r for r in pathway["readiness"]["requirements"] if r["key"] == "language")
    assert language["met"] is None
    assert "B1" not in language["reason"]
    assert "B1" not in language["reasonDe"]
    assert language["code"] == "withheld"

    # and once a consent covers language data too, it shows them
    both = await consent_of(hub, opened["caseId"], manager, "language")
    await ok(hub, TIMELINE, {"id": person, "p": both["position"]}, manager)
    decision = {"input": {"personId": person, "consentId": both["consentId"]}}
    confirmed = (await ok(hub, CONFIRM, decision, OFFICER))["confirmConsent"]
    await ok(hub, TIMELINE, {"id": person, "p": confirmed["position"]}, manager)
    full = (await ok(hub, PATHWAY, {"id": person}, manager))["person"]["pathway"]
    assert "integration_course_completed" in [m["name"] for m in full["milestones"]]
    language = next(r for r in full["readiness"]["requirements"] if r["key"] == "language")
    assert "B1" in language["reason"]
