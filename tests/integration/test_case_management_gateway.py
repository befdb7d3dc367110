"""Case management through GraphQL: a case manager runs a case, a partner sees what consent
allows, and not one event more once the consent is withdrawn."""

from __future__ import annotations

import uuid

from tests.integration.case_flow import (
    ACCEPT,
    ASSESS,
    AWO,
    CASE,
    CASE_MANAGER,
    GOAL,
    INBOX,
    PARTNER,
    REFER,
    TIMELINE,
    WITHDRAW,
    call,
    consent_for_awo,
    ok,
    open_case,
    refer_to_awo,
)
from tests.integration.conftest import InProcessHub


async def test_intake_consent_referral_acceptance_and_withdrawal(hub: InProcessHub) -> None:
    opened = await open_case(hub)
    case_id, person_id = opened["caseId"], opened["personId"]
    await ok(
        hub,
        ASSESS,
        {
            "input": {
                "caseId": case_id,
                "needs": [
                    {"domain": "work", "level": "high"},
                    {"domain": "health", "level": "medium"},
                ],
            }
        },
    )
    consent = await consent_for_awo(hub, case_id)
    sent = await refer_to_awo(hub, case_id, consent["consentId"])

    inbox = (await ok(hub, INBOX, {"atLeast": sent["position"]}, PARTNER))["referralInbox"]
    assert len(inbox) == 1
    assert inbox[0]["status"] == "sent"
    assert inbox[0]["consentStatus"] == "active"
    assert inbox[0]["sharedCase"] == {
        "targetGroup": "newly_arrived",
        "legalSpheres": ["asylblg"],
        "needs": [{"domain": "work", "level": "high"}],
        "goals": [],
    }  # no health: not shared

    accepted = (await ok(hub, ACCEPT, {"input": {"referralId": sent["referralId"]}}, PARTNER))[
        "acceptReferral"
    ]
    case = (await ok(hub, CASE, {"id": case_id, "atLeast": accepted["position"]}))["case"]
    assert case["referrals"] == [
        {"id": sent["referralId"], "status": "accepted", "toAgency": AWO, "consentStatus": "active"}
    ]
    partner_view = (
        await ok(hub, TIMELINE, {"id": person_id, "atLeast": accepted["position"]}, PARTNER)
    )["person"]["timeline"]
    seen = [e["eventType"].split(".")[2] for e in partner_view]
    assert {"case_opened", "referral_sent", "referral_accepted"} <= set(seen)
    assert "needs_assessed" not in seen  # it reveals health, which the consent does not cover

    withdrawn = await ok(hub, WITHDRAW, {"input": {"consentId": consent["consentId"]}})
    goal = (
        await ok(
            hub,
            GOAL,
            {
                "input": {
                    "caseId": case_id,
                    "domain": "work",
                    "description": "B1 Deutsch und Bewerbung",
                    "targetDate": "2031-01-31",
                }
            },
        )
    )["agreeGoal"]
    inbox = (await ok(hub, INBOX, {"atLeast": goal["position"]}, PARTNER))["referralInbox"]
    assert inbox[0]["consentStatus"] == "withdrawn"
    assert inbox[0]["sharedCase"] is None
    partner_view = (
        await ok(hub, TIMELINE, {"id": person_id, "atLeast": goal["position"]}, PARTNER)
    )["person"]["timeline"]
    assert [e["eventType"].split(".")[2] for e in partner_view] == [
        "consent_granted",
        "consent_withdrawn",
    ]
    assert withdrawn["withdrawConsent"]["position"]
    own_view = await ok(hub, TIMELINE, {"id": person_id, "atLeast": goal["position"]})
    assert "goal_agreed" in {e["eventType"].split(".")[2] for e in own_view["person"]["timeline"]}


async def test_a_referral_without_covering_consent_says_what_is_missing(
    hub: InProcessHub,
) -> None:
    opened = await open_case(hub)
    consent = await consent_for_awo(
        hub, opened["caseId"], categories=["case_basic"], purposes=["counselling"]
    )

    result = await call(
        hub,
        REFER,
        {
            "input": {
                "caseId": opened["caseId"],
                "toAgency": "caritas-05315",
                "service": "housing advice",
                "consentId": consent["consentId"],
                "sharedCategories": ["case_basic", "housing"],
                "purpose": "housing_support",
            }
        },
        {"role": "case_manager", "agency": "kim-05315", "subject": "cm-anna"},
    )

    (error,) = result["errors"]
    assert error["extensions"]["code"] == "consent_missing"
    assert error["extensions"]["field"] == "consentId"
    assert error["extensions"]["missing"] == [
        "recipient caritas-05315 is not named in the consent",
        "data categories not covered: housing",
        "purpose housing_support is not named in the consent",
    ]


async def test_another_case_manager_cannot_read_the_case(hub: InProcessHub) -> None:
    opened = await open_case(hub)

    other = await call(
        hub,
        CASE,
        {"id": opened["caseId"], "atLeast": opened["position"]},
        {"role": "case_manager", "agency": "kim-05315", "subject": "cm-carl"},
    )
    partner = await call(hub, CASE, {"id": opened["caseId"]}, PARTNER)

    assert other["data"]["case"] is None
    assert partner["errors"][0]["extensions"]["code"] == "forbidden"


async def test_the_foreigners_authority_never_sees_case_management_events(
    hub: InProcessHub,
) -> None:
    opened = await open_case(hub)
    consent = await consent_for_awo(
        hub, opened["caseId"], recipients=["abh-05315"], categories=["case_basic", "work"]
    )

    timeline = await call(
        hub,
        TIMELINE,
        {"id": opened["personId"], "atLeast": consent["position"]},
        {"role": "abh_officer", "agency": "abh-05315", "subject": "abh-1"},
    )

    assert timeline["data"]["person"]["timeline"] == []


async def test_a_referral_shows_no_case_data_its_consent_does_not_cover(
    hub: InProcessHub,
) -> None:
    # given an active consent naming awo for case_basic and work, for referrals, and in the
    # read model referrals relying on it that it does not cover (the service refuses to send
    # such referrals; the read side must not rely on that)
    opened = await open_case(hub)
    consent = await consent_for_awo(hub, opened["caseId"])
    sent = await refer_to_awo(hub, opened["caseId"], consent["consentId"])
    await ok(hub, INBOX, {"atLeast": sent["position"]}, PARTNER)
    uncovered = {
        "housing data": (AWO, ["case_basic", "housing"], "referral"),
        "another purpose": (AWO, ["case_basic"], "housing_support"),
        "another recipient": ("caritas-05315", ["case_basic"], "referral"),
    }
    for service, (to_agency, categories, purpose) in uncovered.items():
        await hub.pool.execute(
            "INSERT INTO projections.cv_referrals (referral_id, case_id, person_id, from_agency,"
            " to_agency, service, consent_id, shared_categories, purpose, status, sent_at)"
            " SELECT $1, case_id, person_id, from_agency, $2, $3, consent_id, $4, $5, 'sent',"
            " sent_at FROM projections.cv_referrals WHERE referral_id = $6",
            uuid.uuid4(),
            to_agency,
            service,
            categories,
            purpose,
            uuid.UUID(sent["referralId"]),
        )

    # when the receiving agencies read their inboxes
    awo = (await ok(hub, INBOX, {}, PARTNER))["referralInbox"]
    caritas = (
        await ok(
            hub, INBOX, {}, {"role": "partner_agency", "agency": "caritas-05315", "subject": "c"}
        )
    )["referralInbox"]

    # then only the covered referral shows case data; the others show none
    shown = {r["service"]: r["sharedCase"] is not None for r in awo + caritas}
    assert shown == {
        "job coaching": True,
        "housing data": False,
        "another purpose": False,
        "another recipient": False,
    }
    assert {r["consentStatus"] for r in awo + caritas} == {"active"}


CLOSE = """mutation($input: CloseCaseInput!) { closeCase(input: $input) { caseId position } }"""
REOPEN = """mutation($input: ReopenCaseInput!) { reopenCase(input: $input) { caseId position } }"""


async def test_a_closed_case_is_reopened_and_its_timeline_shows_both(hub: InProcessHub) -> None:
    opened = await open_case(hub)
    case_id = opened["caseId"]
    # given a closed case
    await ok(hub, CLOSE, {"input": {"caseId": case_id, "reason": "no_contact"}})
    # when its case manager reopens it
    reopened = (await ok(hub, REOPEN, {"input": {"caseId": case_id, "reason": "person_returned"}}))[
        "reopenCase"
    ]
    # then the typed result names the case, and the case is open again
    assert reopened["caseId"] == case_id
    case = (await ok(hub, CASE, {"id": case_id, "atLeast": reopened["position"]}))["case"]
    assert case["status"] == "open"
    timeline = await ok(hub, TIMELINE, {"id": opened["personId"], "atLeast": reopened["position"]})
    summaries = [row["summary"] for row in timeline["person"]["timeline"]]
    assert any(s.startswith("Case closed") for s in summaries)
    assert any(s.startswith("Case reopened") for s in summaries)
    # and reopening an open case, or another manager's case, is refused with a code
    again = await call(
        hub, REOPEN, {"input": {"caseId": case_id, "reason": "new_need"}}, CASE_MANAGER
    )
    assert again["errors"][0]["extensions"]["code"] == "not_allowed"
    other = {"role": "case_manager", "agency": "kim-05111", "subject": "cm-other"}
    foreign = await call(hub, REOPEN, {"input": {"caseId": case_id, "reason": "new_need"}}, other)
    assert foreign["data"] is None or foreign["data"]["reopenCase"] is None
    # another manager's case gets exactly the answer an id naming nothing gets
    unknown_id = str(uuid.uuid4())
    unknown = await call(
        hub, REOPEN, {"input": {"caseId": unknown_id, "reason": "new_need"}}, other
    )
    assert foreign["errors"][0]["extensions"] == unknown["errors"][0]["extensions"]
    assert foreign["errors"][0]["extensions"]["code"] == "not_found"
    assert foreign["errors"][0]["message"].replace(case_id, "ID") == unknown["errors"][0][
        "message"
    ].replace(unknown_id, "ID")
