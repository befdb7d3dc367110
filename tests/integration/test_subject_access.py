"""The Art. 15 report (subjectAccessReport, GET /reports/subject-access/<id>.pdf|.json) on a
real hub: a person registered by the authority, with a case, a goal, a consent the authority
confirmed, a referral and some reads. The data-protection officer gets every section; nobody
else gets anything; nothing personal crosses the bus in clear while it is produced; a service
whose key was erased shows as erased."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest
from nats.aio.msg import Msg
from pypdf import PdfReader

from gateway.auth import issue_token
from kernel.clock import today_in_germany
from tests.integration.case_flow import AWO, GOAL, GRANT, KIM, OPEN_CASE, REFER, ok
from tests.integration.conftest import InProcessHub

ABH = "abh-05315"
OFFICER = {"role": "abh_officer", "agency": ABH, "subject": "abh-clara"}
MANAGER = {"role": "case_manager", "agency": KIM, "subject": "cm-anna"}
PARTNER = {"role": "partner_agency", "agency": AWO, "subject": "awo-ben"}
DPO = {"role": "dpo", "agency": "datenschutz-05315", "subject": "dpo-greta"}
GIVEN, FAMILY, BORN, AZR = "Lina-Marie", "Saleh-Haddad", "1990-03-04", "987654321098"
CONTACT, GOAL_TEXT, NOTE = "lina@example.org", "Deutschkurs B1 bis zum Sommer", "Bitte rasch"
VALUES = (GIVEN, FAMILY, BORN, AZR, CONTACT, GOAL_TEXT, NOTE)
REPORT = """query($p: ID!) { subjectAccessReport(personId: $p) {
  personId generatedAt
  services { service status restricted data }
  consents { id status recipients categories purposes validUntil
             authorityDecisions { decision on } }
  recipients { referrals { toAgency sharedCategories purpose }
               readers { agency role reads }
               authorityConfirmations { consentId on } }
  accessLog { at subject agency role action purpose }
  document } }"""


def bearer(hub: InProcessHub, who: dict[str, str]) -> dict[str, str]:
    token = issue_token(
        hub.settings.resolved_jwt_secret(),
        subject=who["subject"],
        agency=who["agency"],
        role=who["role"],
        issuer=hub.settings.jwt_issuer,
    )
    return {"Authorization": f"Bearer {token}"}


async def person_with_a_history(hub: InProcessHub) -> dict[str, str]:
    """Registered by the authority; a case with a goal, a consent the authority confirmed, a
    referral to AWO; read by the case manager, the authority and AWO."""
    registered = await ok(
        hub,
        "mutation($i: RegisterArrivalInput!) { registerArrival(input: $i) { personId } }",
        {
            "i": {
                "givenNames": GIVEN,
                "familyName": FAMILY,
                "birthDate": BORN,
                "azrNumber": AZR,
                "nationalities": ["SYR"],
                "entryDate": "2024-02-01",
                "entryMode": "ASYLUM",
                "municipalityKey": "05315000",
                "abhId": ABH,
            }
        },
        OFFICER,
    )
    person = registered["registerArrival"]["personId"]
    opened = await ok(
        hub,
        OPEN_CASE,
        {
            "input": {
                "personId": person,
                "givenNames": GIVEN,
                "familyName": FAMILY,
                "birthDate": BORN,
                "contact": CONTACT,
                "targetGroup": "newly_arrived",
                "legalSpheres": ["sgb_ii"],
                "intakeSource": "foreigners_authority",
            }
        },
        MANAGER,
    )
    case = opened["openCase"]["caseId"]
    await ok(
        hub,
        GOAL,
        {
            "input": {
                "caseId": case,
                "domain": "language",
                "description": GOAL_TEXT,
                "targetDate": (today_in_germany() + dt.timedelta(days=200)).isoformat(),
            }
        },
        MANAGER,
    )
    granted = await ok(
        hub,
        GRANT,
        {
            "input": {
                "caseId": case,
                "recipients": [AWO],
                "categories": ["case_basic", "work", "residence"],
                "purposes": ["referral"],
                "validUntil": (today_in_germany() + dt.timedelta(days=90)).isoformat(),
            }
        },
        MANAGER,
    )
    consent = granted["grantConsent"]["consentId"]
    confirmed = await ok(
        hub,
        "mutation($i: DecideOnConsentInput!) { confirmConsent(input: $i) { position } }",
        {"i": {"personId": person, "consentId": consent}},
        OFFICER,
    )
    sent = await ok(
        hub,
        REFER,
        {
            "input": {
                "caseId": case,
                "toAgency": AWO,
                "service": "job coaching",
                "consentId": consent,
                "sharedCategories": ["case_basic", "work"],
                "purpose": "referral",
                "note": NOTE,
            }
        },
        MANAGER,
    )
    # reads, each written to the access log
    timeline = "query($p: ID!, $a: String) { person(id: $p) { timeline(atLeast: $a) { service } } }"
    await ok(hub, timeline, {"p": person, "a": sent["sendReferral"]["position"]}, MANAGER)
    await ok(hub, timeline, {"p": person, "a": confirmed["confirmConsent"]["position"]}, OFFICER)
    await ok(
        hub,
        "query($a: String) { referralInbox(atLeast: $a) { id sharedCase { targetGroup } } }",
        {"a": sent["sendReferral"]["position"]},
        PARTNER,
    )
    return {"person": person, "case": case, "consent": consent}


async def test_the_data_protection_officer_gets_every_section_of_the_report(
    hub: InProcessHub,
) -> None:
    # given a person with a file, a case, a consent, a referral and reads
    seeded = await person_with_a_history(hub)

    # when the data-protection officer asks for the report
    report = (await ok(hub, REPORT, {"p": seeded["person"]}, DPO))["subjectAccessReport"]

    # then every service says what it holds, in clear text
    services = {s["service"]: s for s in report["services"]}
    assert {s: services[s]["status"] for s in services} == {
        "foreigners_authority": "found",
        "case_management": "found",
        "conflict_management": "none_by_design",
        "steering_group": "none_by_design",
    }
    file = services["foreigners_authority"]["data"]["residence_file"]
    assert (file["given_names"], file["family_name"], file["birth_date"], file["azr_number"]) == (
        GIVEN,
        FAMILY,
        BORN,
        AZR,
    )
    assert file["nationalities"] == ["SYR"]
    authority = services["foreigners_authority"]["data"]
    assert {"person_registered", "consent_confirmed"} <= {e["event"] for e in authority["history"]}
    registration = authority["history"][0]
    assert registration["fields"]["names"] == {"given": GIVEN, "family": FAMILY}
    assert registration["recorded_by"]["agency"] == ABH  # who recorded it, and why
    assert set(registration["recorded_by"]) == {"agency", "role", "legal_basis", "purpose"}
    cases = services["case_management"]["data"]
    assert cases["client"] == {
        "given_names": GIVEN,
        "family_name": FAMILY,
        "birth_date": BORN,
        "contact": CONTACT,
    }
    [case] = cases["cases"]
    assert case["case_id"] == seeded["case"]
    assert [g["description"] for g in case["goals"]] == [GOAL_TEXT]
    [referral] = cases["referrals"]
    assert (referral["to_agency"], referral["note"]) == (AWO, NOTE)
    assert referral["shared_categories"] == ["case_basic", "work"]
    # their consents, with the authority's confirmation
    [consent] = report["consents"]
    assert consent["id"] == seeded["consent"]
    assert (consent["status"], consent["recipients"]) == ("active", [AWO])
    assert [d["decision"] for d in consent["authorityDecisions"]] == ["confirmed"]
    # the recipients: the referral, the agencies that read, the authority's confirmation
    recipients = report["recipients"]
    assert [(r["toAgency"], r["sharedCategories"]) for r in recipients["referrals"]] == [
        (AWO, ["case_basic", "work"])
    ]
    readers = {r["agency"] for r in recipients["readers"]}
    assert {KIM, ABH} <= readers
    assert [c["consentId"] for c in recipients["authorityConfirmations"]] == [seeded["consent"]]
    # the access log: who read when, for which purpose
    assert {(e["agency"], e["role"]) for e in report["accessLog"]} >= {
        (KIM, "case_manager"),
        (ABH, "abh_officer"),
    }
    assert all(e["purpose"] and e["at"] for e in report["accessLog"])
    # the whole report as one JSON document too
    assert report["document"]["person_id"] == seeded["person"]
    assert report["document"]["access_log"] == [
        {k: e[k] for k in ("at", "subject", "agency", "role", "action", "purpose")}
        for e in report["document"]["access_log"]
    ]


async def test_producing_the_report_is_logged_without_personal_values(hub: InProcessHub) -> None:
    seeded = await person_with_a_history(hub)

    await ok(hub, REPORT, {"p": seeded["person"]}, DPO)
    again = (await ok(hub, REPORT, {"p": seeded["person"]}, DPO))["subjectAccessReport"]

    rows = await hub.pool.fetch(
        "SELECT subject, agency, role, action, purpose, detail::text AS detail"
        " FROM gateway.audit_log WHERE person_id = $1 AND action = 'subject_access_report'",
        uuid.UUID(seeded["person"]),
    )
    assert [(r["subject"], r["role"], r["purpose"]) for r in rows] == [
        ("dpo-greta", "dpo", "data_subject_request")
    ] * 2
    text = " ".join(str(dict(r)) for r in rows)
    for value in VALUES:
        assert value not in text, value
    # the first report is in the second one's access log, but the officer is no recipient
    assert "subject_access_report" in {e["action"] for e in again["accessLog"]}
    assert "datenschutz-05315" not in {r["agency"] for r in again["recipients"]["readers"]}


@pytest.mark.parametrize(
    "who",
    [
        OFFICER,
        MANAGER,
        PARTNER,
        {"role": "steering", "agency": "steering-05315", "subject": "sg-dora"},
        {"role": "conflict_board", "agency": "board-05315", "subject": "board-emil"},
        {"role": "admin", "agency": "hub-ops", "subject": "ops-fritz"},
    ],
    ids=lambda who: who["role"],
)
async def test_every_other_role_is_refused(hub: InProcessHub, who: dict[str, str]) -> None:
    person = str(uuid.uuid4())
    response = await hub.client.post(
        "/graphql",
        json={"query": REPORT, "variables": {"p": person}},
        headers=bearer(hub, who),
    )
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["forbidden"]
    assert body["data"] is None or body["data"].get("subjectAccessReport") is None

    pdf = await hub.client.get(f"/reports/subject-access/{person}.pdf", headers=bearer(hub, who))
    assert pdf.status_code == 403


async def test_a_service_asked_directly_refuses_every_role_but_the_officer(
    hub: InProcessHub,
) -> None:
    # the bus is not trusted: the service checks the role again
    server = hub.services["case_management"][1]  # type: ignore[index]
    body = {"person_id": str(uuid.uuid4()), "nonce": "abcdefghijklmnopqrstuvwx"}
    headers = {
        "Hub-Agency": "hub-ops",
        "Hub-Role": "admin",
        "Hub-Legal-Basis": "Art. 15 GDPR",
        "Hub-Purpose": "data_subject_request",
    }

    reply = await server.dispatch("subject_access", json.dumps(body).encode(), headers)

    assert reply["ok"] is False
    assert reply["error"]["code"] == "forbidden"


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


async def test_the_pdf_is_german_and_holds_the_persons_data(hub: InProcessHub) -> None:
    seeded = await person_with_a_history(hub)
    url = f"/reports/subject-access/{seeded['person']}"

    response = await hub.client.get(f"{url}.pdf", headers=bearer(hub, DPO))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    text = pdf_text(response.content)
    for heading in (
        "Auskunft nach Art. 15 DSGVO",
        "1. Gespeicherte Daten",
        "Ausländerbehörde",
        "Kommunales Integrationsmanagement",
        "2. Einwilligungen",
        "3. Empfänger Ihrer Daten",
        "4. Protokoll der Zugriffe",
        "5. Hinweise",
        "Berichtigung",
        "Löschung",
        "Einschränkung",
        "LDI NRW",
    ):
        assert heading in text, heading
    assert f"{GIVEN} {FAMILY}" in text
    assert AZR in text
    assert "04.03.1990" in text  # the birth date, German style
    assert GOAL_TEXT in text
    assert "Akte angelegt" in text  # the file's recorded steps, in German
    assert "Ziel vereinbart" in text

    as_json = await hub.client.get(f"{url}.json", headers=bearer(hub, DPO))
    assert as_json.status_code == 200
    assert as_json.json()["person_id"] == seeded["person"]


async def test_the_pdf_needs_the_officers_token_and_a_known_person(hub: InProcessHub) -> None:
    unknown = str(uuid.uuid4())
    url = f"/reports/subject-access/{unknown}"

    assert (await hub.client.get(f"{url}.pdf")).status_code == 401
    assert (await hub.client.get(f"{url}.json")).status_code == 401
    assert (await hub.client.get(f"{url}.pdf", headers=bearer(hub, DPO))).status_code == 404
    assert (await hub.client.get(f"{url}.json", headers=bearer(hub, DPO))).status_code == 404
    bad = await hub.client.get("/reports/subject-access/not-an-id.pdf", headers=bearer(hub, DPO))
    assert bad.status_code == 404
    assert (await ok(hub, REPORT, {"p": unknown}, DPO))["subjectAccessReport"] is None


async def test_no_personal_value_crosses_the_bus_in_clear_while_the_report_is_made(
    hub: InProcessHub, nats_client: Any
) -> None:
    # given a person with a history, and a recording of everything on the bus
    seeded = await person_with_a_history(hub)
    recorded: list[bytes] = []

    async def record(msg: Msg) -> None:
        headers = "".join(f"{k}:{v}" for k, v in (msg.headers or {}).items())
        recorded.append(msg.subject.encode() + headers.encode() + msg.data)

    tap = await nats_client.subscribe(">", cb=record)
    await nats_client.flush()  # the server has the subscription before anything is sent

    # when the report is produced, as GraphQL and as PDF
    report = (await ok(hub, REPORT, {"p": seeded["person"]}, DPO))["subjectAccessReport"]
    pdf = await hub.client.get(
        f"/reports/subject-access/{seeded['person']}.pdf", headers=bearer(hub, DPO)
    )
    await nats_client.flush()
    await tap.unsubscribe()

    # then the services' answers went sealed: the report has the values, the bus does not
    assert FAMILY in str(report["document"])
    assert pdf.status_code == 200
    raw = b"\n".join(recorded)
    assert b"hub.cmd.foreigners_authority.subject_access" in raw
    assert b"hub.cmd.case_management.subject_access" in raw
    assert raw.count(b'"sealed"') >= 4
    for value in VALUES:
        assert value.encode() not in raw, value


async def test_a_service_whose_key_was_erased_shows_as_erased(hub: InProcessHub) -> None:
    # given a person whose key case management has destroyed
    seeded = await person_with_a_history(hub)
    case_management = hub.services["case_management"][0]  # type: ignore[index]
    assert case_management.vault.erase(uuid.UUID(seeded["person"]))

    # when the data-protection officer asks for the report
    report = (await ok(hub, REPORT, {"p": seeded["person"]}, DPO))["subjectAccessReport"]
    pdf = await hub.client.get(
        f"/reports/subject-access/{seeded['person']}.pdf", headers=bearer(hub, DPO)
    )

    # then case management says erased, the authority still answers, and so does the log
    services = {s["service"]: s for s in report["services"]}
    assert services["case_management"]["status"] == "erased"
    assert services["case_management"]["data"] is None
    assert services["foreigners_authority"]["status"] == "found"
    assert report["accessLog"]
    text = pdf_text(pdf.content)
    assert "Daten gelöscht" in text
    assert CONTACT not in text
    assert GOAL_TEXT not in text


async def test_after_erase_person_every_holder_shows_as_erased_and_nothing_personal_is_left(
    hub: InProcessHub,
) -> None:
    # given a person with a history, erased everywhere by the data-protection officer
    seeded = await person_with_a_history(hub)
    erased = await ok(
        hub,
        "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { complete } }",
        {"i": {"personId": seeded["person"], "ground": "REQUEST"}},
        DPO,
    )
    assert erased["erasePerson"]["complete"] is True

    # when the data-protection officer asks for the report
    report = (await ok(hub, REPORT, {"p": seeded["person"]}, DPO))["subjectAccessReport"]
    pdf = await hub.client.get(
        f"/reports/subject-access/{seeded['person']}.pdf", headers=bearer(hub, DPO)
    )

    # then it is still answered (the person was known): each holder says erased, and the
    # access log remains; no personal value is left in it
    assert {s["service"]: s["status"] for s in report["services"]} == {
        "foreigners_authority": "erased",
        "case_management": "erased",
        "conflict_management": "none_by_design",
        "steering_group": "none_by_design",
    }
    assert report["accessLog"]
    assert pdf.status_code == 200
    text = pdf_text(pdf.content)
    assert text.count("Daten gelöscht") == 2
    for value in VALUES:
        assert value not in str(report["document"]), value
        assert value not in text, value


async def test_data_whose_processing_is_restricted_is_reported_and_marked_so(
    hub: InProcessHub,
) -> None:
    # given a person whose processing the data-protection officer restricted (Art. 18 GDPR)
    seeded = await person_with_a_history(hub)
    restricted = await ok(
        hub,
        "mutation($i: RestrictProcessingInput!) { restrictProcessing(input: $i) { complete } }",
        {"i": {"personId": seeded["person"], "ground": "ACCURACY_CONTESTED"}},
        DPO,
    )
    assert restricted["restrictProcessing"]["complete"] is True

    # when the officer asks for the report
    report = (await ok(hub, REPORT, {"p": seeded["person"]}, DPO))["subjectAccessReport"]
    pdf = await hub.client.get(
        f"/reports/subject-access/{seeded['person']}.pdf", headers=bearer(hub, DPO)
    )

    # then the kept data is reported (the right of access stays), marked restricted
    services = {s["service"]: s for s in report["services"]}
    for holder in ("foreigners_authority", "case_management"):
        assert (services[holder]["status"], services[holder]["restricted"]) == ("found", True)
    assert services["case_management"]["data"]["client"]["family_name"] == FAMILY
    assert "Die Verarbeitung dieser Daten ist eingeschränkt" in pdf_text(pdf.content)
