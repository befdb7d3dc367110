"""Each foreigners authority works on the files it holds, and sees only those (issue 9).

A person registered by one authority is invisible to the others: its officers get, for the
person's timeline, pathway and the worklist, what they get for an id nobody registered. An
authority registers arrivals for itself only and decides on titles for files it holds. A file
transfer hands the whole file over: the new holder sees and writes it, the former holder no
longer does, and the authority's records reach a case manager only under a consent the new
holder has confirmed.
"""

from __future__ import annotations

import uuid

from tests.integration.case_flow import call, ok
from tests.integration.conftest import InProcessHub
from tests.integration.test_pathway import (
    AT_STAGE,
    CONFIRM,
    OFFICER,
    PATHWAY,
    TIMELINE,
    consent_of,
    open_case_for,
    refugee_path,
    send,
)

OTHER = {"role": "abh_officer", "agency": "abh-05111", "subject": "abh-koeln"}
#: reads the authority's records for the purpose its consents name (consent_of: counselling)
MANAGER = {
    "role": "case_manager",
    "agency": "kim-05315",
    "subject": "cm-anna",
    "purpose": "counselling",
}
REGISTER = """mutation($input: RegisterArrivalInput!) { registerArrival(input: $input) {
  personId position } }"""
GRANT_TITLE = """mutation($input: GrantResidenceTitleInput!) { grantResidenceTitle(input: $input) {
  personId position } }"""


def arrival(abh: str) -> dict[str, object]:
    return {
        "givenNames": "Lina",
        "familyName": "Saleh",
        "birthDate": "1990-03-04",
        "azrNumber": "123456789099",
        "nationalities": ["SYR"],
        "entryDate": "2024-02-01",
        "entryMode": "ASYLUM",
        "municipalityKey": "05315000",
        "abhId": abh,
    }


def title(person: str) -> dict[str, object]:
    return {
        "personId": person,
        "title": "RESIDENCE_PERMIT",
        "paragraph": "§ 25 Abs. 2 AufenthG",
        "validFrom": "2025-01-01",
        "validUntil": "2028-01-01",
    }


async def test_another_authority_sees_of_a_person_what_it_sees_of_an_unknown_id(
    hub: InProcessHub,
) -> None:
    # given a person on abh-05315's file
    person, position = await refugee_path(hub)
    shown = await ok(hub, TIMELINE, {"id": person, "p": position}, OFFICER)
    assert shown["person"]["timeline"], "the holder sees its file"

    # when another authority reads the person, and an id nobody registered
    def answers(person_id: str) -> list[object]:
        return [
            ok(hub, TIMELINE, {"id": person_id, "p": position}, OTHER),
            ok(hub, PATHWAY, {"id": person_id, "atLeast": position}, OTHER),
        ]

    seen = [await a for a in answers(person)]
    unknown = [await a for a in answers(str(uuid.uuid4()))]
    worklist = await ok(hub, AT_STAGE, {"stage": "permanent", "first": 50}, OTHER)

    # then it learns nothing: no rows, no pathway, not on its worklist
    assert seen[0]["person"]["timeline"] == unknown[0]["person"]["timeline"] == []
    assert seen[1]["person"]["pathway"] is None
    assert unknown[1]["person"]["pathway"] is None
    assert worklist["personsAtStage"]["items"] == []
    holder = await ok(hub, AT_STAGE, {"stage": "permanent", "first": 50}, OFFICER)
    assert [p["personId"] for p in holder["personsAtStage"]["items"]] == [person]


async def test_an_authority_registers_arrivals_for_itself_only(hub: InProcessHub) -> None:
    refused = await call(hub, REGISTER, {"input": arrival("abh-05315")}, OTHER)

    error = refused["errors"][0]
    assert error["extensions"]["code"] == "not_allowed"
    assert error["extensions"]["field"] == "abhId"
    assert refused["data"] is None
    registered = await ok(hub, REGISTER, {"input": arrival("abh-05111")}, OTHER)
    assert registered["registerArrival"]["personId"]


async def test_an_authority_grants_titles_only_on_files_it_holds(hub: InProcessHub) -> None:
    # given a person on abh-05315's file
    person, _ = await refugee_path(hub)

    # when another authority grants a title on it, and on an id nobody registered
    refused = await call(hub, GRANT_TITLE, {"input": title(person)}, OTHER)
    unknown = await call(hub, GRANT_TITLE, {"input": title(str(uuid.uuid4()))}, OTHER)

    # then both get the same refusal, and the holder may grant it
    assert refused["errors"][0]["extensions"]["code"] == "unknown_person"
    assert refused["errors"][0]["message"] == unknown["errors"][0]["message"]
    assert refused["errors"][0]["extensions"] == unknown["errors"][0]["extensions"]
    granted = await ok(hub, GRANT_TITLE, {"input": title(person)}, OFFICER)
    assert granted["grantResidenceTitle"]["personId"] == person


async def test_a_transfer_hands_the_file_and_the_consent_decision_to_the_new_authority(
    hub: InProcessHub,
) -> None:
    # given a person on abh-05315's file whose consent to kim-05315 abh-05315 confirmed
    person, _position = await refugee_path(hub)
    opened = await open_case_for(hub, person, MANAGER)
    consent = await consent_of(hub, opened["caseId"], MANAGER, "case_basic", "residence")
    await ok(hub, TIMELINE, {"id": person, "p": consent["position"]}, MANAGER)
    decision = {"input": {"personId": person, "consentId": consent["consentId"]}}
    confirmed = (await ok(hub, CONFIRM, decision, OFFICER))["confirmConsent"]
    before = await ok(hub, PATHWAY, {"id": person, "atLeast": confirmed["position"]}, MANAGER)
    assert before["person"]["pathway"] is not None

    # when abh-05315 transfers the file to abh-05111
    moved = await send(
        hub,
        "file_transfer",
        {"kind": "transfer", "toAbh": "abh-05111", "transferredOn": "2026-01-15"},
        person,
    )
    after = moved["atLeast"]

    # then the new holder sees the whole file and the former holder nothing
    new = await ok(hub, TIMELINE, {"id": person, "p": after}, OTHER)
    old = await ok(hub, TIMELINE, {"id": person, "p": after}, OFFICER)
    assert "person_registered" in {e["eventType"].split(".")[2] for e in new["person"]["timeline"]}
    assert old["person"]["timeline"] == []
    assert (await ok(hub, PATHWAY, {"id": person}, OFFICER))["person"]["pathway"] is None
    # and the former holder's confirmation no longer releases the file: the new holder decides
    assert (await ok(hub, PATHWAY, {"id": person}, MANAGER))["person"]["pathway"] is None
    refused = await call(hub, CONFIRM, decision, OFFICER)
    assert refused["errors"][0]["extensions"]["code"] == "unknown_person"
    again = (await ok(hub, CONFIRM, decision, OTHER))["confirmConsent"]
    shown = await ok(hub, PATHWAY, {"id": person, "atLeast": again["position"]}, MANAGER)
    assert shown["person"]["pathway"] is not None
    # and the new holder writes to the file
    await send(
        hub,
        "integration_course",
        {"kind": "completed", "level": "B2", "completedOn": "2026-02-01"},
        person,
        sender="abh-05111",
    )
