"""A consent releases only the records of the agency that recorded it (the controller).

Issue 9, finding 1: a case manager of another agency opened a case on a person id it knew,
recorded a consent naming itself, and was shown the other agency's case (health needs
included), the foreigners authority's records and the pathway.
"""

from __future__ import annotations

import datetime as dt

from kernel.clock import today_in_germany
from tests.integration.case_flow import ASSESS, CASE_MANAGER, GRANT, OPEN_CASE, TIMELINE, ok
from tests.integration.conftest import InProcessHub
from tests.integration.test_pathway import PATHWAY, refugee_path

#: another agency's case manager, reading for the purpose of the consent it records itself
OTHER_KIM = {
    "role": "case_manager",
    "agency": "kim-05111",
    "subject": "cm-eve",
    "purpose": "counselling",
}
EVERYTHING = [
    "case_basic",
    "identity",
    "residence",
    "social_benefits",
    "language",
    "education",
    "work",
    "housing",
    "family",
    "health",
    "religion",
    "ethnicity",
]


def kinds(timeline: list[dict[str, str]]) -> list[str]:
    return [e["eventType"].split(".")[2] for e in timeline]


async def open_case_on(hub: InProcessHub, person: str, who: dict[str, str]) -> dict[str, str]:
    opened = (
        await ok(
            hub,
            OPEN_CASE,
            {
                "input": {
                    "personId": person,
                    "givenNames": "Amir",
                    "familyName": "Haddad",
                    "targetGroup": "young_adults",
                    "legalSpheres": ["sgb_ii"],
                    "intakeSource": "foreigners_authority",
                }
            },
            who,
        )
    )["openCase"]
    assert isinstance(opened, dict)
    return opened


async def test_a_consent_recorded_by_another_agency_releases_none_of_the_case_holders_records(
    hub: InProcessHub,
) -> None:
    # given a person on the foreigners authority's file, with a case at kim-05315 that
    # records health needs
    person, _ = await refugee_path(hub)
    case = await open_case_on(hub, person, CASE_MANAGER)
    assessed = (
        await ok(
            hub,
            ASSESS,
            {
                "input": {
                    "caseId": case["caseId"],
                    "needs": [
                        {"domain": "health", "level": "high"},
                        {"domain": "work", "level": "medium"},
                    ],
                }
            },
        )
    )["assessNeeds"]
    holder = await ok(hub, TIMELINE, {"id": person, "atLeast": assessed["position"]})
    assert "needs_assessed" in kinds(holder["person"]["timeline"])

    # when a case manager of another agency opens a case on the same person id and records
    # a consent naming itself for every category
    own = await open_case_on(hub, person, OTHER_KIM)
    granted = (
        await ok(
            hub,
            GRANT,
            {
                "input": {
                    "caseId": own["caseId"],
                    "recipients": [OTHER_KIM["agency"]],
                    "categories": EVERYTHING,
                    "specialCategoriesExplicit": True,
                    "purposes": ["counselling"],
                    "validUntil": (today_in_germany() + dt.timedelta(days=90)).isoformat(),
                }
            },
            OTHER_KIM,
        )
    )["grantConsent"]
    seen = await ok(hub, TIMELINE, {"id": person, "atLeast": granted["position"]}, OTHER_KIM)
    pathway = await ok(hub, PATHWAY, {"id": person}, OTHER_KIM)

    # then it sees its own records only: no row of kim-05315's case, none of the
    # foreigners authority, and no pathway
    assert sorted(kinds(seen["person"]["timeline"])) == ["case_opened", "consent_granted"]
    assert pathway["person"]["pathway"] is None
