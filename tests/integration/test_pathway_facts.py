"""Issue 11, the facts side: inbound messages for stays abroad, court decisions, single
nationality, waivers and dated facts reach the pathway projection, dated and with who recorded
them (agency and role codes, never a name), and the readiness engine's facts are built from it.

Real PostgreSQL and NATS: messages go through the inbound endpoint of the in-process hub."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

import httpx

from projections.pathway import queries
from projections.pathway.projector import ERASED_TABLES
from projections.pathway.readiness import (
    Assessment,
    CourseCompletion,
    KnowledgeTest,
    LanguageCertificate,
    NationalityFact,
    StayAbroad,
    TitleApplication,
    Waiver,
)
from services.foreigners_authority.inbound.endpoint import create_inbound_app
from services.runtime.tokens import issue_token
from tests.integration.case_flow import CASE_MANAGER as MANAGER
from tests.integration.case_flow import call, ok
from tests.integration.conftest import InProcessHub
from tests.integration.test_erasure import DPO, ERASE
from tests.integration.test_pathway import (
    ABH,
    CONFIRM,
    PATHWAY,
    TIMELINE,
    consent_of,
    open_case_for,
    send,
)

OFFICER = {"role": "abh_officer", "agency": ABH, "subject": "abh-1"}
_n = iter(range(1, 10**6))


async def post(
    hub: InProcessHub, message_type: str, body: dict[str, Any], person: str
) -> httpx.Response:
    """A message whose answer may be a refusal (``send`` expects it accepted)."""
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
        agency=ABH,
        role="abh_officer",
        issuer=hub.settings.jwt_issuer,
    )
    message = {
        "messageId": f"facts-{next(_n)}",
        "messageType": message_type,
        "sentAt": "2026-11-20T10:00:00+01:00",
        "sender": ABH,
        "personId": person,
        "body": body,
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
    ) as http:
        return await http.post(
            "/inbound/messages", json=message, headers={"Authorization": f"Bearer {token}"}
        )


async def arrived(
    hub: InProcessHub, entry: str, mode: str, nationalities: tuple[str, ...] = ("SYR",)
) -> str:
    receipt = await send(
        hub,
        "registration_notice",
        {
            "kind": "new_person",
            "givenNames": "Lina",
            "familyName": "Haddad",
            "birthDate": "1990-04-02",
            "azrNumber": "123456789012",
            "nationalities": list(nationalities),
            "entryDate": entry,
            "entryMode": mode,
            "municipalityKey": "05315000",
            "registeredOn": entry,
        },
    )
    person: str = receipt["personId"]
    return person


async def pathway(hub: InProcessHub, person: str, receipt: dict[str, Any]) -> dict[str, Any]:
    """The pathway as the authority reads it, once the receipt's write is projected."""
    data = await ok(hub, PATHWAY, {"id": person, "atLeast": receipt["atLeast"]}, OFFICER)
    found: dict[str, Any] = data["person"]["pathway"]
    return found


async def facts_of(hub: InProcessHub, person: str) -> Any:
    row = await queries.person(hub.pool, UUID(person))
    return await queries.facts(hub.pool, row)


def title(paragraph: str, start: str, end: str | None, kind: str = "residence_permit") -> Any:
    return {
        "kind": "title_granted",
        "title": kind,
        "paragraph": paragraph,
        "grantedOn": start,
        "validFrom": start,
        "validUntil": end,
    }


async def test_a_stay_abroad_and_the_return_are_recorded_and_the_path_goes_on(
    hub: InProcessHub,
) -> None:
    # given a skilled worker on § 18b (issue 11, item 3; § 12b (1) StAG)
    person = await arrived(hub, "2019-03-01", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2019-03-01", "2023-02-28"), person
    )

    # when a stay abroad and the return are sent, and later decisions follow
    await send(
        hub,
        "residence_decision",
        {"kind": "stay_abroad", "leftOn": "2020-06-01", "permittedUntil": "2021-05-31"},
        person,
    )
    await send(hub, "residence_decision", {"kind": "returned", "returnedOn": "2021-03-15"}, person)
    last = await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2023-03-01", "2027-02-28"), person
    )

    # then the path is not ended by the stay: no departure, and the stay is a dated fact
    shown = await pathway(hub, person, last)
    assert shown["stage"] == "titled"
    assert "departed" not in [m["name"] for m in shown["milestones"]]
    facts = await facts_of(hub, person)
    assert facts.departed_on is None
    assert facts.stays_abroad == (
        StayAbroad(date(2020, 6, 1), date(2021, 3, 15), date(2021, 5, 31)),
    )


async def test_a_court_grants_protection_after_the_bamf_rejected_and_the_gestattung_runs_on(
    hub: InProcessHub,
) -> None:
    # given an asylum application the BAMF rejected (issue 11, item 8; § 67 (1) Nr. 6 AsylG)
    person = await arrived(hub, "2015-10-01", "asylum")
    for body in [
        {"kind": "application_filed", "filedOn": "2015-10-05"},
        {"kind": "decision", "outcome": "rejected", "decidedOn": "2016-08-01"},
        # when the person brings an action and the court grants refugee status
        {"kind": "appeal_filed", "filedOn": "2016-08-10"},
        {"kind": "court_decision", "outcome": "refugee", "decidedOn": "2018-02-01"},
        {"kind": "decision_final", "finalOn": "2018-03-10"},
    ]:
        await send(hub, "asylum_decision", body, person)
    last = await send(
        hub, "residence_decision", title("§ 25 Abs. 2 AufenthG", "2018-05-01", "2021-04-30"), person
    )

    # then the Gestattung runs from the application up to the title, not to the rejection
    shown = await pathway(hub, person, last)
    periods = [(p["kind"], p["start"], p["end"]) for p in shown["periods"]]
    assert ("gestattung", "2015-10-05", "2018-04-30") in periods
    assert {"name": "protection_granted", "reachedOn": "2018-02-01"} in shown["milestones"]
    assert (await facts_of(hub, person)).protection_granted_on == date(2018, 2, 1)


async def test_a_rejection_ends_the_gestattung_when_it_becomes_final(hub: InProcessHub) -> None:
    person = await arrived(hub, "2015-10-01", "asylum")
    await send(
        hub, "asylum_decision", {"kind": "application_filed", "filedOn": "2015-10-05"}, person
    )
    rejected = await send(
        hub,
        "asylum_decision",
        {"kind": "decision", "outcome": "rejected", "decidedOn": "2016-08-01"},
        person,
    )
    open_ = await pathway(hub, person, rejected)
    assert [(p["kind"], p["end"]) for p in open_["periods"]] == [("gestattung", None)]

    final = await send(
        hub, "asylum_decision", {"kind": "decision_final", "finalOn": "2016-09-20"}, person
    )

    ended = await pathway(hub, person, final)
    assert [(p["kind"], p["end"]) for p in ended["periods"]] == [("gestattung", "2016-09-19")]


async def test_a_court_decision_without_an_action_is_refused_with_the_reason(
    hub: InProcessHub,
) -> None:
    person = await arrived(hub, "2015-10-01", "asylum")
    await send(
        hub, "asylum_decision", {"kind": "application_filed", "filedOn": "2015-10-05"}, person
    )

    refused = await post(
        hub,
        "asylum_decision",
        {"kind": "court_decision", "outcome": "refugee", "decidedOn": "2018-02-01"},
        person,
    )

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "contradicts_file"


async def test_dated_facts_carry_their_date_and_who_recorded_them(hub: InProcessHub) -> None:
    # given a person with a title (issue 11, items 5, 6 and 9: dated facts, waivers, pre-check)
    person = await arrived(hub, "2017-01-10", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2017-01-10", "2027-01-09"), person
    )

    # when certificates, a course, a test and assessments arrive, before any application
    for message_type, body in [
        (
            "integration_course",
            {"kind": "language_certificate", "cefrLevel": "B2", "issuedOn": "2021-05-01"},
        ),
        (
            "integration_course",
            {
                "kind": "completed",
                "level": "B1",
                "completedOn": "2018-06-01",
                "finalTestPassed": True,
            },
        ),
        (
            "naturalisation",
            {
                "kind": "test_passed",
                "passedOn": "2018-06-01",
                "test": "leben_in_deutschland",
                "points": 19,
            },
        ),
        (
            "naturalisation",
            {
                "kind": "requirement_assessed",
                "requirement": "livelihood",
                "outcome": "met",
                "lawVersion": "stag-2025",
                "assessedOn": "2025-11-03",
            },
        ),
        (
            "naturalisation",
            {
                "kind": "requirement_assessed",
                "requirement": "naturalisation_test",
                "outcome": "waived",
                "lawVersion": "stag-2025",
                "assessedOn": "2025-11-04",
                "ground": "age",
            },
        ),
    ]:
        last = await send(hub, message_type, body, person)
    await pathway(hub, person, last)

    # then each is kept with its date and the recording agency and role, never a name
    rows = await hub.pool.fetch(
        "SELECT kind, on_date, agency, role FROM projections.pathway_certificates"
        " WHERE person_id = $1 ORDER BY on_date, kind",
        UUID(person),
    )
    assert [tuple(r) for r in rows] == [
        ("integration_course", date(2018, 6, 1), ABH, "abh_officer"),
        ("knowledge_test", date(2018, 6, 1), ABH, "abh_officer"),
        ("language_certificate", date(2021, 5, 1), ABH, "abh_officer"),
    ]
    assessed = await hub.pool.fetch(
        "SELECT requirement, outcome, assessed_on, ground, agency, role"
        " FROM projections.pathway_assessments WHERE person_id = $1 ORDER BY assessed_on",
        UUID(person),
    )
    assert [tuple(r) for r in assessed] == [
        ("livelihood", "met", date(2025, 11, 3), None, ABH, "abh_officer"),
        ("naturalisation_test", "waived", date(2025, 11, 4), "age", ABH, "abh_officer"),
    ]
    # and the engine's facts are the dated ones
    facts = await facts_of(hub, person)
    assert facts.language_certificates == (LanguageCertificate("B2", date(2021, 5, 1)),)
    assert facts.integration_courses == (CourseCompletion("B1", date(2018, 6, 1), True),)
    assert facts.knowledge_tests == (KnowledgeTest("leben_in_deutschland", date(2018, 6, 1), 19),)
    assert facts.naturalisation_test_passed_on is None  # not an Einbürgerungstest
    assert facts.assessments == (Assessment("livelihood", "met", date(2025, 11, 3), ABH),)
    assert facts.waivers == (Waiver("naturalisation_test", "age", date(2025, 11, 4)),)


async def test_single_nationality_is_dated_by_the_last_nationality_given_up_or_kept(
    hub: InProcessHub,
) -> None:
    # given a person with two nationalities (issue 11, item 7; § 10 (1) Nr. 4, § 12 StAG a.F.)
    person = await arrived(hub, "2012-01-10", "visa", ("TUR", "IRN"))
    given_up = await send(
        hub,
        "naturalisation",
        {"kind": "nationality_given_up", "nationality": "TUR", "givenUpOn": "2023-05-01"},
        person,
    )
    await pathway(hub, person, given_up)
    assert (await facts_of(hub, person)).nationality == ()  # IRN is still held

    kept = await send(
        hub,
        "naturalisation",
        {
            "kind": "multiple_nationality_accepted",
            "nationality": "IRN",
            "paragraph": "§ 12 Abs. 1 Satz 2 Nr. 1 StAG",
            "decidedOn": "2023-06-01",
        },
        person,
    )

    await pathway(hub, person, kept)
    assert (await facts_of(hub, person)).nationality == (
        NationalityFact("section_12_exception", date(2023, 6, 1)),
    )
    unknown = await post(
        hub,
        "naturalisation",
        {"kind": "nationality_given_up", "nationality": "SYR", "givenUpOn": "2023-05-01"},
        person,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.nationality"


async def test_a_visa_counts_from_the_entry_and_a_settlement_permit_may_follow_a_visa_entry(
    hub: InProcessHub,
) -> None:
    # given an entry on a visa valid from before the entry (issue 11, item 12)
    person = await arrived(hub, "2020-03-10", "visa")
    visa = {**title("§ 6 Abs. 3 AufenthG", "2020-02-15", "2020-06-14", "national_visa")}
    visa["validFrom"] = "2020-03-01"
    await send(hub, "residence_decision", visa, person)

    # when a settlement permit follows
    last = await send(
        hub,
        "residence_decision",
        title("§ 18c Abs. 3 AufenthG", "2020-06-01", None, "settlement_permit"),
        person,
    )

    # then the visa's period starts with the entry, and the permit was accepted
    shown = await pathway(hub, person, last)
    assert [(p["kind"], p["start"]) for p in shown["periods"]] == [
        ("visa", "2020-03-10"),
        ("settlement_permit", "2020-06-01"),
    ]
    assert shown["stage"] == "permanent"


async def test_a_settlement_permit_straight_after_a_visa_entry_needs_no_visa_message(
    hub: InProcessHub,
) -> None:
    person = await arrived(hub, "2020-03-10", "visa")

    last = await send(
        hub,
        "residence_decision",
        title("§ 18c Abs. 3 AufenthG", "2020-04-01", None, "settlement_permit"),
        person,
    )

    assert (await pathway(hub, person, last))["stage"] == "permanent"


async def test_the_section_24_limit_holds_for_titles_and_protection_alike(
    hub: InProcessHub,
) -> None:
    # given a person under § 24 (issue 11, item 13: the limit is data, checked in one place)
    person = await arrived(hub, "2022-03-09", "temporary_protection", ("UKR",))
    await send(
        hub,
        "residence_decision",
        {
            "kind": "temporary_protection_granted",
            "validFrom": "2022-03-20",
            "validUntil": "2024-03-04",
        },
        person,
    )

    extended = await post(
        hub,
        "residence_decision",
        {"kind": "temporary_protection_extended", "validUntil": "2027-09-04"},
        person,
    )
    granted = await post(
        hub, "residence_decision", title("§ 24 AufenthG", "2024-03-05", "2027-09-04"), person
    )
    within = await post(
        hub, "residence_decision", title("§ 24 AufenthG", "2024-03-05", "2027-03-04"), person
    )

    for refused in (extended, granted):
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["errors"]
        assert (error["field"], error["code"]) == ("body.validUntil", "invalid_value")
        assert "2027-03-04" in error["message"]
    assert within.status_code == 200, within.text


async def test_a_fiktion_after_a_timely_application_names_the_title_it_continues(
    hub: InProcessHub,
) -> None:
    # issue 11, item 4 (§ 81 (4) AufenthG): the engine bridges the days to the certificate
    person = await arrived(hub, "2019-03-01", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2019-03-01", "2023-02-28"), person
    )
    await send(
        hub,
        "residence_decision",
        {"kind": "title_applied", "paragraph": "§ 18b AufenthG", "appliedOn": "2023-02-01"},
        person,
    )
    last = await send(
        hub,
        "residence_decision",
        {
            "kind": "fiktion_issued",
            "fiktion": "81_4",
            "issuedOn": "2023-03-20",
            "validUntil": "2023-09-19",
        },
        person,
    )

    await pathway(hub, person, last)
    facts = await facts_of(hub, person)
    (fiktion,) = [p for p in facts.periods if p.kind == "fiktion"]
    assert fiktion.continues == "§ 18b AufenthG"
    assert facts.title_applications == (TitleApplication(date(2023, 2, 1), "§ 18b AufenthG"),)


async def test_erasing_a_person_drops_their_dated_facts(hub: InProcessHub) -> None:
    # given a person with a fact in every table of dated facts
    person = await arrived(hub, "2012-01-10", "visa", ("TUR",))
    for message_type, body in [
        ("residence_decision", title("§ 18b AufenthG", "2012-01-10", "2016-01-09")),
        (
            "residence_decision",
            {"kind": "title_applied", "paragraph": "§ 18b AufenthG", "appliedOn": "2015-12-01"},
        ),
        ("residence_decision", {"kind": "stay_abroad", "leftOn": "2014-06-01"}),
        (
            "integration_course",
            {"kind": "language_certificate", "cefrLevel": "B1", "issuedOn": "2014-05-01"},
        ),
        (
            "naturalisation",
            {
                "kind": "requirement_assessed",
                "requirement": "commitment",
                "outcome": "met",
                "lawVersion": "stag-2025",
                "assessedOn": "2025-11-03",
            },
        ),
        (
            "naturalisation",
            {"kind": "nationality_given_up", "nationality": "TUR", "givenUpOn": "2023-05-01"},
        ),
    ]:
        last = await send(hub, message_type, body, person)
    await pathway(hub, person, last)
    tables = [f"projections.{table}" for table in ERASED_TABLES]

    async def rows() -> list[int]:
        return [
            await hub.pool.fetchval(f"SELECT count(*) FROM {t} WHERE person_id = $1", UUID(person))
            for t in tables
        ]

    assert all(await rows()), dict(zip(tables, await rows(), strict=True))

    # when the data-protection officer erases the person
    erased = await call(hub, ERASE, {"input": {"personId": person, "ground": "REQUEST"}}, DPO)
    assert "errors" not in erased, erased

    # then none of the facts is left
    deadline = asyncio.get_running_loop().time() + 10
    while any(await rows()):
        assert asyncio.get_running_loop().time() < deadline, await rows()
        await asyncio.sleep(0.1)


# -- end to end: the engine counts what the messages recorded -------------------------------

READINESS = """query($id: ID!, $atLeast: String, $asOf: Date) { person(id: $id) {
  pathway(atLeast: $atLeast) { readiness(asOf: $asOf) { countedResidenceDays
    requirements { key met code state } } } } }"""


async def readiness(hub: InProcessHub, person: str, receipt: dict[str, Any], as_of: str) -> Any:
    data = await ok(
        hub, READINESS, {"id": person, "atLeast": receipt["atLeast"], "asOf": as_of}, OFFICER
    )
    found = data["person"]["pathway"]["readiness"]
    found["by_key"] = {r["key"]: r for r in found["requirements"]}
    return found


async def test_the_gestattung_during_the_court_procedure_counts_once_the_court_protects(
    hub: InProcessHub,
) -> None:
    # given a rejection the court overturned, and the title that followed (§ 55 (3), § 67 AsylG)
    person = await arrived(hub, "2015-10-01", "asylum")
    for body in [
        {"kind": "application_filed", "filedOn": "2015-10-05"},
        {"kind": "decision", "outcome": "rejected", "decidedOn": "2016-08-01"},
        {"kind": "appeal_filed", "filedOn": "2016-08-10"},
        {"kind": "court_decision", "outcome": "refugee", "decidedOn": "2018-02-01"},
        {"kind": "decision_final", "finalOn": "2018-03-10"},
    ]:
        await send(hub, "asylum_decision", body, person)
    last = await send(
        hub, "residence_decision", title("§ 25 Abs. 2 AufenthG", "2018-05-01", "2021-04-30"), person
    )

    # when readiness is evaluated on the day the title ended
    found = await readiness(hub, person, last, "2021-05-01")

    # then every day from the application counts, the court procedure included
    assert found["countedResidenceDays"] == (date(2021, 5, 1) - date(2015, 10, 5)).days


async def test_a_short_stay_abroad_does_not_interrupt_and_a_departure_would(
    hub: InProcessHub,
) -> None:
    # given a title since the entry and a stay abroad of two months (§ 12b (1) Satz 1 StAG)
    person = await arrived(hub, "2019-03-01", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2019-03-01", "2027-02-28"), person
    )
    await send(hub, "residence_decision", {"kind": "stay_abroad", "leftOn": "2021-06-01"}, person)
    last = await send(
        hub, "residence_decision", {"kind": "returned", "returnedOn": "2021-08-01"}, person
    )

    # when readiness is evaluated after the return
    found = await readiness(hub, person, last, "2022-03-01")

    # then the days abroad count and residence is unbroken since the entry
    assert found["countedResidenceDays"] == (date(2022, 3, 1) - date(2019, 3, 1)).days


async def test_a_waiver_and_single_nationality_reach_readiness_from_their_dates(
    hub: InProcessHub,
) -> None:
    # given a person with two nationalities and a waiver of the test (§ 10 (6), § 12 StAG)
    person = await arrived(hub, "2012-01-10", "visa", ("TUR", "IRN"))
    for body in [
        {"kind": "nationality_given_up", "nationality": "TUR", "givenUpOn": "2020-05-01"},
        {
            "kind": "multiple_nationality_accepted",
            "nationality": "IRN",
            "paragraph": "§ 12 Abs. 1 Satz 2 Nr. 1 StAG",
            "decidedOn": "2020-06-01",
        },
        {
            "kind": "requirement_assessed",
            "requirement": "naturalisation_test",
            "outcome": "waived",
            "lawVersion": "stag-2000",
            "assessedOn": "2020-07-01",
            "ground": "age",
        },
    ]:
        last = await send(hub, "naturalisation", body, person)

    before = await readiness(hub, person, last, "2020-05-15")
    after = await readiness(hub, person, last, "2020-07-15")

    # then each counts from its own date, not before (a fact dated later changes nothing)
    assert before["by_key"]["single_nationality"]["met"] is not True
    assert before["by_key"]["naturalisation_test"]["met"] is not True
    assert after["by_key"]["single_nationality"]["met"] is True
    assert after["by_key"]["naturalisation_test"]["met"] is True


# -- item 9: pre-check before an application -------------------------------------------------

PRECHECK = """mutation($input: RecordPrecheckAssessmentInput!) {
  recordPrecheckAssessment(input: $input) { position } }"""
BOTH = """query($id: ID!, $atLeast: String, $asOf: Date) { person(id: $id) {
  pathway(atLeast: $atLeast) {
    readiness(asOf: $asOf) { requirements { key met } }
    precheck(asOf: $asOf) { requirements { key met } } } } }"""


def _met(answer: Any, key: str) -> bool | None:
    found: bool | None = next(r["met"] for r in answer["requirements"] if r["key"] == key)
    return found


async def test_a_case_managers_precheck_counts_for_their_precheck_and_never_for_the_authority(
    hub: InProcessHub,
) -> None:
    # given a person on the authority's file, whose commitment the authority assessed before
    # any application, and a case manager with a consent the authority confirmed
    person = await arrived(hub, "2017-01-10", "visa")
    await send(
        hub, "residence_decision", title("§ 18b AufenthG", "2017-01-10", "2027-01-09"), person
    )
    authority = await send(
        hub,
        "naturalisation",
        {
            "kind": "requirement_assessed",
            "requirement": "commitment",
            "outcome": "met",
            "lawVersion": "stag-2025",
            "assessedOn": "2025-11-03",
        },
        person,
    )
    manager = {**MANAGER, "purpose": "counselling"}
    opened = await open_case_for(hub, person, manager)
    consent = await consent_of(hub, opened["caseId"], manager, "case_basic", "residence")
    await ok(hub, TIMELINE, {"id": person, "p": consent["position"]}, manager)
    decision = {"input": {"personId": person, "consentId": consent["consentId"]}}
    confirmed = (await ok(hub, CONFIRM, decision, OFFICER))["confirmConsent"]
    await ok(hub, TIMELINE, {"id": person, "p": confirmed["position"]}, manager)

    # when the case manager records their own assessment of the livelihood on their case
    recorded = await ok(
        hub,
        PRECHECK,
        {
            "input": {
                "caseId": opened["caseId"],
                "requirement": "livelihood",
                "outcome": "met",
                "assessedOn": "2026-01-15",
            }
        },
        manager,
    )
    variables = {"id": person, "atLeast": authority["atLeast"], "asOf": "2026-02-01"}
    officer = (await ok(hub, BOTH, variables, OFFICER))["person"]["pathway"]
    own = recorded["recordPrecheckAssessment"]["position"]  # read your own write
    variables = {"id": person, "atLeast": own, "asOf": "2026-02-01"}
    case_manager = (await ok(hub, BOTH, variables, manager))["person"]["pathway"]

    # then the case manager's pre-check combines the authority's facts with their own
    assert _met(case_manager["precheck"], "commitment") is True  # the authority's
    assert _met(case_manager["precheck"], "livelihood") is True  # their own
    assert _met(case_manager["readiness"], "livelihood") is None  # readiness: authority only
    # and the authority never counts the case manager's assessment (§ 87 AufenthG)
    assert _met(officer["readiness"], "livelihood") is None
    assert _met(officer["precheck"], "livelihood") is None
    assert _met(officer["precheck"], "commitment") is True
    # nor does it reach the authority's records
    rows = await hub.pool.fetch(
        "SELECT requirement FROM projections.pathway_assessments WHERE person_id = $1",
        UUID(person),
    )
    assert [r["requirement"] for r in rows] == ["commitment"]
