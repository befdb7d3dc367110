"""Issue 11, the remaining gaps, end to end: a renewal applied for in time continues the title
without a certificate (§ 81 (4) AufenthG), a pending late application is the authority's
decision (§ 12b (3) StAG), and a rejection as manifestly unfounded ends the
Aufenthaltsgestattung at once unless a court orders the suspensive effect (§§ 30, 75 (1),
67 (1) Nr. 4, 37 (1) AsylG).

Real PostgreSQL and NATS: messages go through the inbound endpoint of the in-process hub."""

from __future__ import annotations

from typing import Any

from tests.integration.case_flow import ok
from tests.integration.conftest import InProcessHub
from tests.integration.test_pathway import send
from tests.integration.test_pathway_facts import OFFICER, arrived, pathway, post, title

READINESS = """query($id: ID!, $atLeast: String, $asOf: Date) { person(id: $id) {
  pathway(atLeast: $atLeast) { readiness(asOf: $asOf) { countedResidenceDays
    requirements { key met code state reason reasonDe } } } } }"""


async def readiness(hub: InProcessHub, person: str, receipt: dict[str, Any], as_of: str) -> Any:
    data = await ok(
        hub, READINESS, {"id": person, "atLeast": receipt["atLeast"], "asOf": as_of}, OFFICER
    )
    found = data["person"]["pathway"]["readiness"]
    return {r["key"]: r for r in found["requirements"]}


async def test_a_renewal_applied_for_in_time_is_a_pending_fiction_without_a_certificate(
    hub: InProcessHub,
) -> None:
    # given § 18b until 2025-12-31 and its renewal applied for in time, no certificate issued
    person = await arrived(hub, "2020-12-01", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2021-01-01", "2025-12-31"), person
    )
    applied = await send(
        hub,
        "residence_decision",
        {"kind": "title_applied", "paragraph": "§ 18b AufenthG", "appliedOn": "2025-12-01"},
        person,
    )

    # when readiness is read on 2026-03-01, after the title's expiry
    found = await readiness(hub, person, applied, "2026-03-01")

    # then the title is deemed to continue while the application is pending
    residence, current = found["residence_period"], found["qualifying_title"]
    assert residence["met"] is True, residence
    assert (
        "is deemed to continue while the application filed in time on 2025-12-01"
        in (residence["reason"])
    )
    assert current["met"] is True, current
    assert current["reasonDe"].startswith("§ 18b AufenthG gilt fort")


async def test_a_pending_late_renewal_asks_for_the_authoritys_decision(
    hub: InProcessHub,
) -> None:
    # given seven years on § 18b until 2025-12-31 and the renewal applied for late
    person = await arrived(hub, "2018-12-01", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2019-01-01", "2025-12-31"), person
    )
    applied = await send(
        hub,
        "residence_decision",
        {"kind": "title_applied", "paragraph": "§ 18b AufenthG", "appliedOn": "2026-01-20"},
        person,
    )

    # when readiness is read while the application is pending
    found = await readiness(hub, person, applied, "2026-02-01")

    # then the authority must decide (§ 12b (3) StAG)
    residence = found["residence_period"]
    assert (residence["state"], residence["code"]) == ("decision_needed", "decision_12b3")


async def test_a_manifestly_unfounded_rejection_ends_the_gestattung_at_once(
    hub: InProcessHub,
) -> None:
    # given an asylum application rejected as manifestly unfounded (§ 30 AsylG)
    person = await arrived(hub, "2016-01-05", "asylum")
    await send(
        hub, "asylum_decision", {"kind": "application_filed", "filedOn": "2016-01-10"}, person
    )
    rejected = await send(
        hub,
        "asylum_decision",
        {
            "kind": "decision",
            "outcome": "rejected",
            "decidedOn": "2016-06-01",
            "manifestlyUnfounded": True,
        },
        person,
    )

    # then the Gestattung ends with the rejection: an action has no suspensive effect
    # (§ 75 (1) AsylG, § 67 (1) Nr. 4 AsylG), so an action does not keep it open either
    shown = await pathway(hub, person, rejected)
    assert [(p["kind"], p["end"]) for p in shown["periods"]] == [("gestattung", "2016-05-31")]
    appealed = await send(
        hub, "asylum_decision", {"kind": "appeal_filed", "filedOn": "2016-06-05"}, person
    )
    shown = await pathway(hub, person, appealed)
    assert [(p["kind"], p["end"]) for p in shown["periods"]] == [("gestattung", "2016-05-31")]
    # and a Duldung may be issued while the action is pending
    tolerated = await post(
        hub,
        "residence_decision",
        {
            "kind": "duldung_issued",
            "ground": "general",
            "validFrom": "2016-06-10",
            "validUntil": "2016-12-09",
        },
        person,
    )
    assert tolerated.status_code == 200, tolerated.text


async def test_a_court_ordering_the_suspensive_effect_restores_the_gestattung(
    hub: InProcessHub,
) -> None:
    # given a rejection as manifestly unfounded and an urgent application to the court
    person = await arrived(hub, "2016-01-05", "asylum")
    for body in [
        {"kind": "application_filed", "filedOn": "2016-01-10"},
        {
            "kind": "decision",
            "outcome": "rejected",
            "decidedOn": "2016-06-01",
            "manifestlyUnfounded": True,
        },
    ]:
        await send(hub, "asylum_decision", body, person)

    # when the court orders the suspensive effect (§ 80 (5) VwGO, § 36 (3) AsylG) and the BAMF,
    # deciding again (§ 37 (1) AsylG), grants refugee status
    ordered = await send(
        hub,
        "asylum_decision",
        {"kind": "suspensive_effect_ordered", "orderedOn": "2016-06-20"},
        person,
    )
    shown = await pathway(hub, person, ordered)
    granted = await send(
        hub,
        "asylum_decision",
        {"kind": "decision", "outcome": "refugee", "decidedOn": "2017-03-01"},
        person,
    )

    # then a Gestattung runs again from the order, and protection counts from the new decision
    assert [(p["kind"], p["start"], p["end"]) for p in shown["periods"]] == [
        ("gestattung", "2016-01-10", "2016-05-31"),
        ("gestattung", "2016-06-20", None),
    ]
    shown = await pathway(hub, person, granted)
    assert {"name": "protection_granted", "reachedOn": "2017-03-01"} in shown["milestones"]
    # and an order without such a rejection is refused with the reason
    again = await post(
        hub,
        "asylum_decision",
        {"kind": "suspensive_effect_ordered", "orderedOn": "2017-04-01"},
        person,
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "contradicts_file"


# -- the demo data (hub/demo.py) uses the new kinds ---------------------------------------------

DEMO_PATHWAY = """query($id: ID!, $atLeast: String, $asOf: Date) { person(id: $id) {
  pathway(atLeast: $atLeast) { stage periods { kind start end paragraph }
    milestones { name reachedOn }
    readiness(asOf: $asOf) { requirements { key met code reason } } } } }"""


async def test_the_demo_persons_later_history_is_accepted_and_shown_on_the_pathway(
    hub: InProcessHub,
) -> None:
    from hub.demo import INBOUND, PEOPLE, authority_of

    # given the demo persons with inbound history, registered by their authorities
    shown: dict[int, Any] = {}
    for index, messages in INBOUND.items():
        given, family, birth, nationality, entry, mode, ags, first_title = PEOPLE[index]
        sender = authority_of(ags)
        person = (
            await send(
                hub,
                "registration_notice",
                {
                    "kind": "new_person",
                    "givenNames": given,
                    "familyName": family,
                    "birthDate": birth,
                    "azrNumber": f"{900000000000 + index:012d}",
                    "nationalities": [nationality],
                    "entryDate": entry,
                    "entryMode": mode,
                    "municipalityKey": ags,
                    "registeredOn": entry,
                },
                sender=sender,
            )
        )["personId"]
        if first_title is not None:
            kind, paragraph, valid_from, valid_until = first_title
            body = title(paragraph, valid_from, valid_until, kind)
            await send(hub, "residence_decision", body, person, sender=sender)
        # when the demo's inbound messages are sent by the authority holding the file
        for message_type, body in messages:
            last = await send(hub, message_type, body, person, sender=sender)
        officer = {"role": "abh_officer", "agency": sender, "subject": f"{sender}-officer"}
        data = await ok(
            hub,
            DEMO_PATHWAY,
            {"id": person, "atLeast": last["atLeast"], "asOf": "2026-11-30"},
            officer,
        )
        shown[index] = data["person"]["pathway"]

    # then the pathway shows the court's protection, the stay abroad and the pending fiction
    amir, kwame, mariam = shown[1], shown[5], shown[6]
    assert {"name": "protection_granted", "reachedOn": "2018-02-01"} in amir["milestones"]
    assert ("gestattung", "2015-10-20", "2018-04-30") in [
        (p["kind"], p["start"], p["end"]) for p in amir["periods"]
    ]
    assert "departed" not in [m["name"] for m in kwame["milestones"]]
    kwame_residence = {r["key"]: r for r in kwame["readiness"]["requirements"]}
    assert "does not interrupt (§ 12b Abs. 1 StAG)" in kwame_residence["residence_period"]["reason"]
    mariam_title = {r["key"]: r for r in mariam["readiness"]["requirements"]}["qualifying_title"]
    assert mariam_title["met"] is True
    assert (
        "deemed to continue while the application filed in time on 2025-10-20"
        in (mariam_title["reason"])
    )


async def test_a_refusal_ends_the_fiction_of_a_renewal_applied_for_in_time(
    hub: InProcessHub,
) -> None:
    # given § 18b until 2025-12-31 and its renewal applied for in time
    person = await arrived(hub, "2020-12-01", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2021-01-01", "2025-12-31"), person
    )
    await send(
        hub,
        "residence_decision",
        {"kind": "title_applied", "paragraph": "§ 18b AufenthG", "appliedOn": "2025-12-01"},
        person,
    )

    # when the authority refuses it
    refused = await send(
        hub,
        "residence_decision",
        {"kind": "title_refused", "paragraph": "§ 18b AufenthG", "refusedOn": "2026-02-10"},
        person,
    )

    # then the title continued until the refusal and no longer (§ 81 (4) AufenthG)
    found = await readiness(hub, person, refused, "2026-03-01")
    assert found["qualifying_title"]["met"] is False
    assert "continued until the decision" in found["residence_period"]["reason"]
    assert "no lawful residence known since 2026-02-10" in found["residence_period"]["reason"]
    # and a second refusal has no application left to refuse
    again = await post(
        hub,
        "residence_decision",
        {"kind": "title_refused", "paragraph": "§ 18b AufenthG", "refusedOn": "2026-02-11"},
        person,
    )
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "contradicts_file"
