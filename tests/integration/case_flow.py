"""GraphQL operations of a real case, as a case manager and a partner agency run them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.context import PURPOSE_HEADER
from kernel.clock import today_in_germany
from tests.integration.conftest import InProcessHub

KIM = "kim-05315"
AWO = "awo-05315"
#: who calls: role, agency, subject and, for reads under a consent, the purpose named in the
#: ``Hub-Purpose`` header (``call`` sends it when the dict has one; see ``reading_for``)
CASE_MANAGER = {"role": "case_manager", "agency": KIM, "subject": "cm-anna"}
PARTNER = {"role": "partner_agency", "agency": AWO, "subject": "awo-ben", "purpose": "referral"}

OPEN_CASE = """mutation($input: OpenCaseInput!) { openCase(input: $input) {
  personId caseId position } }"""
ASSESS = """mutation($input: AssessNeedsInput!) { assessNeeds(input: $input) { position } }"""
GOAL = """mutation($input: AgreeGoalInput!) { agreeGoal(input: $input) { goalId position } }"""
GRANT = """mutation($input: GrantConsentInput!) { grantConsent(input: $input) {
  consentId position } }"""
WITHDRAW = """mutation($input: WithdrawConsentInput!) { withdrawConsent(input: $input) {
  position } }"""
REFER = """mutation($input: SendReferralInput!) { sendReferral(input: $input) {
  referralId position } }"""
ACCEPT = """mutation($input: AcceptReferralInput!) { acceptReferral(input: $input) {
  position } }"""
CASE = """query($id: ID!, $atLeast: String) { case(id: $id, atLeast: $atLeast) {
  id personId status targetGroup legalSpheres needs { domain level } goals { domain }
  consents { id status recipients } referrals { id status toAgency consentStatus } } }"""
INBOX = """query($atLeast: String) { referralInbox(atLeast: $atLeast) {
  id status service purpose consentStatus sharedCategories
  sharedCase { targetGroup legalSpheres needs { domain level } goals { domain } } } }"""
TIMELINE = """query($id: ID!, $atLeast: String) { person(id: $id) {
  timeline(atLeast: $atLeast) { eventType summary } } }"""


def reading_for(who: dict[str, str], purpose: str | None) -> dict[str, str]:
    """``who``, reading for ``purpose`` (``None``: naming no purpose)."""
    caller = {k: v for k, v in who.items() if k != "purpose"}
    return caller if purpose is None else {**caller, "purpose": purpose}


def purpose_header(purpose: str | None) -> dict[str, str]:
    """The header naming the purpose of a read (none for ``None``)."""
    return {} if purpose is None else {PURPOSE_HEADER: purpose}


async def call(
    hub: InProcessHub, query: str, variables: dict[str, Any], who: dict[str, str]
) -> dict[str, Any]:
    token = hub.settings.resolved_jwt_secret()
    from gateway.auth import issue_token

    headers = {
        "Authorization": "Bearer "
        + issue_token(
            token,
            subject=who["subject"],
            agency=who["agency"],
            role=who["role"],
            issuer=hub.settings.jwt_issuer,
        ),
        **purpose_header(who.get("purpose")),
    }
    response = await hub.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert isinstance(result, dict)
    return result


async def ok(
    hub: InProcessHub, query: str, variables: dict[str, Any], who: dict[str, str] = CASE_MANAGER
) -> dict[str, Any]:
    result = await call(hub, query, variables, who)
    assert "errors" not in result, result
    data = result["data"]
    assert isinstance(data, dict)
    return data


async def open_case(hub: InProcessHub) -> dict[str, Any]:
    opened = (
        await ok(
            hub,
            OPEN_CASE,
            {
                "input": {
                    "givenNames": "Mariam",
                    "familyName": "Abdi",
                    "birthDate": "1999-12-01",
                    "targetGroup": "newly_arrived",
                    "legalSpheres": ["asylblg"],
                    "intakeSource": "self_referral",
                    "interpreterNeeded": True,
                }
            },
        )
    )["openCase"]
    assert isinstance(opened, dict)
    return opened


async def consent_for_awo(hub: InProcessHub, case_id: str, **changes: Any) -> dict[str, Any]:
    granted = (
        await ok(
            hub,
            GRANT,
            {
                "input": {
                    "caseId": case_id,
                    "recipients": [AWO],
                    "categories": ["case_basic", "work"],
                    "purposes": ["referral"],
                    "validUntil": (today_in_germany() + dt.timedelta(days=180)).isoformat(),
                    "language": "ar",
                    **changes,
                }
            },
        )
    )["grantConsent"]
    assert isinstance(granted, dict)
    return granted


async def refer_to_awo(hub: InProcessHub, case_id: str, consent_id: str) -> dict[str, Any]:
    sent = (
        await ok(
            hub,
            REFER,
            {
                "input": {
                    "caseId": case_id,
                    "toAgency": AWO,
                    "service": "job coaching",
                    "consentId": consent_id,
                    "sharedCategories": ["case_basic", "work"],
                    "purpose": "referral",
                }
            },
        )
    )["sendReferral"]
    assert isinstance(sent, dict)
    return sent
