"""The workspace's further pages over the in-process hub: the Fallakte's Rechtskreiswechsel and
case conferences with a German timeline, the conflict's interventions, outcome and board log
(corrections shown as corrections), the steering group's gaps board, the authority's person
search and status history, and the data-protection officer's page."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import httpx
import pytest

from gateway.auth import issue_token
from kernel.clock import today_in_germany
from tests.conftest import Servers
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import module_hub
from tests.integration.test_workspace import browser, hidden, open_case


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


async def sign_in(client: httpx.AsyncClient, user: str) -> None:
    response = await client.post("/anmelden", data={"benutzer": user})
    assert response.status_code == 303, response.text


async def page_until(
    client: httpx.AsyncClient, path: str, *texts: str, seconds: float = 20.0
) -> httpx.Response:
    """The page once it shows every one of ``texts`` (the read models follow the commands,
    each at its own pace: a page may draw on several)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        page = await client.get(path)
        if all(text in page.text for text in texts):
            return page
        if asyncio.get_running_loop().time() > deadline:
            missing = [text for text in texts if text not in page.text]
            raise AssertionError(f"{path} never showed {missing!r}")
        await asyncio.sleep(0.1)


def as_demo_user(hub: InProcessHub, subject: str, role: str, agency: str) -> dict[str, str]:
    """The API's headers for a demo user of the sign-in page (the same subject)."""
    token = issue_token(
        hub.settings.resolved_jwt_secret(),
        subject=subject,
        agency=agency,
        role=role,
        issuer=hub.settings.jwt_issuer,
    )
    return {"Authorization": f"Bearer {token}"}


def tokens_of(html: str, action: str) -> dict[str, str]:
    """The CSRF and one-time tokens of the form posting to ``action``."""
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    return {"csrf": hidden(form, "csrf"), "formular": hidden(form, "formular")}


CHANGE_SPHERE = """mutation($input: ChangeLegalSphereInput!) {
  changeLegalSphere(input: $input) { position } }"""
CONFERENCE = """mutation($input: HoldCaseConferenceInput!) {
  holdCaseConference(input: $input) { position } }"""


async def test_the_case_file_shows_legal_sphere_changes_conferences_and_a_german_timeline(
    hub: InProcessHub,
) -> None:
    async with browser(hub) as client:
        await sign_in(client, "fallmanagement")
        case_id = await open_case(client)
        manager = as_demo_user(hub, "demo-case-manager", "case_manager", "kim-05315")
        day = today_in_germany()
        german = day.strftime("%d.%m.%Y")
        changed = await hub.graphql(
            CHANGE_SPHERE,
            {
                "input": {
                    "caseId": case_id,
                    "fromSphere": "sgb_ii",
                    "toSphere": "sgb_xii",
                    "effective": day.isoformat(),
                }
            },
            headers=manager,
        )
        assert "errors" not in changed, changed
        held = await hub.graphql(
            CONFERENCE,
            {
                "input": {
                    "caseId": case_id,
                    "heldOn": day.isoformat(),
                    "participants": ["kim-05315"],
                }
            },
            headers=manager,
        )
        assert "errors" not in held, held
        page = await page_until(client, f"/faelle/{case_id}", "Fallkonferenz durchgeführt")
        html = page.text
        assert 'id="tabelle-rechtskreiswechsel"' in html
        assert 'SGB II (Bürgergeld)</td><td class="kern-table__cell">SGB XII (Sozialhilfe)' in html
        assert 'id="tabelle-fallkonferenzen"' in html
        assert (
            f"Rechtskreiswechsel: SGB II (Bürgergeld) → SGB XII (Sozialhilfe) ab {german}"
            in page.text
        )
        assert f"Fallkonferenz durchgeführt am {german} mit kim-05315" in page.text
        assert "Fall aufgenommen" in page.text
        assert "Legal sphere changed" not in page.text  # the API's English summary is not shown
        assert "Case opened" not in page.text


REPORT_CONFLICT = """mutation($input: ReportConflictInput!) {
  reportConflict(input: $input) { conflictId position } }"""


async def test_the_board_intervenes_records_the_outcome_and_corrects_its_log(
    hub: InProcessHub,
) -> None:
    reported = await hub.graphql(
        REPORT_CONFLICT,
        {
            "input": {
                "kind": "neighbourhood",
                "district": "Köln-Mülheim",
                "stage": 3,
                "description": "Streit um die Nutzung des Innenhofs",
                "parties": [
                    {"type": "group", "name": "Hausgemeinschaft Nord"},
                    {"type": "group", "name": "Hausgemeinschaft Süd"},
                ],
            }
        },
        headers=hub.headers("conflict_board", "konfliktmanagement-05315"),
    )
    conflict = reported["data"]["reportConflict"]
    path = f"/konflikte/{conflict['conflictId']}"
    async with browser(hub) as client:
        await sign_in(client, "konfliktmanagement")
        page = await client.get(f"{path}?stand={conflict['position']}")
        assert page.status_code == 200, page.text

        # schedule an intervention: errors at the fields first, input kept
        action = f"{path}/intervention"
        refused = await client.post(
            action, data={**tokens_of(page.text, action), "format": "", "termin": "31.02.2026"}
        )
        assert refused.status_code == 400
        for field in ("format", "termin", "moderation"):
            assert f'href="#{field}"' in refused.text
            assert f'id="{field}-fehler"' in refused.text
        assert 'value="31.02.2026"' in refused.text
        data = {
            **tokens_of(refused.text, action),
            "format": "mediation",
            "termin": "15.12.2026",
            "moderation": "Schiedsstelle Mülheim",
        }
        first, second = await asyncio.gather(
            client.post(action, data=data), client.post(action, data=data)
        )
        assert first.status_code == second.status_code == 303, first.text
        page = await client.get(first.headers["location"])
        assert "Die Intervention wurde geplant." in page.text
        assert "15.12.2026" in page.text
        page = await page_until(client, path, "Ergebnis einer Intervention erfassen")
        assert page.text.count("Mediation am 15.12.2026 (Schiedsstelle Mülheim)") == 1  # not two

        # record its outcome
        intervention = re.search(
            r'<option value="([0-9a-f-]{36})">Mediation am 15.12.2026', page.text
        )
        assert intervention
        action = f"{path}/ergebnis"
        done = await client.post(
            action,
            data={
                **tokens_of(page.text, action),
                "intervention": intervention.group(1),
                "ergebnis": "held",
                "stufe_danach": "2",
                "notiz": "Vereinbarung über Ruhezeiten",
            },
        )
        assert done.status_code == 303, done.text
        page = await client.get(done.headers["location"])
        assert "Das Ergebnis der Intervention wurde erfasst." in page.text
        assert "durchgeführt: Vereinbarung über Ruhezeiten" in page.text

        # a log entry, then its correction: the first stays, struck through, beside it
        action = f"{path}/protokoll"
        written = await client.post(
            action, data={**tokens_of(page.text, action), "eintrag": "Sitzung am Montag"}
        )
        assert written.status_code == 303, written.text
        page = await client.get(written.headers["location"])
        assert "Sitzung am Montag" in page.text
        entry = re.search(r"\?korrigiert=([0-9a-f-]{36})#eintrag", page.text)
        assert entry
        form = await client.get(f"{path}?korrigiert={entry.group(1)}")
        assert f'<option value="{entry.group(1)}" selected>' in form.text
        corrected = await client.post(
            action,
            data={
                **tokens_of(form.text, action),
                "korrigiert": entry.group(1),
                "eintrag": "Sitzung am Dienstag",
            },
        )
        assert corrected.status_code == 303, corrected.text
        page = await client.get(corrected.headers["location"])
        html = page.text
        assert re.search(r"<del[^>]*>Sitzung am Montag</del>", html)
        assert "<ins>Sitzung am Dienstag</ins>" in html
        assert "(korrigiert den Eintrag vom" in html
        assert html.count("Sitzung am Montag") >= 1  # the corrected entry is still shown

        # resolve: the lessons are checked, then the conflict is closed
        action = f"{path}/abschluss"
        short = await client.post(
            action, data={**tokens_of(html, action), "abschluss": "agreement", "erkenntnisse": "ok"}
        )
        assert short.status_code == 400
        assert 'id="erkenntnisse-fehler"' in short.text
        resolved = await client.post(
            action,
            data={
                **tokens_of(short.text, action),
                "abschluss": "agreement",
                "erkenntnisse": "Feste Ruhezeiten helfen beiden Gruppen.",
            },
        )
        assert resolved.status_code == 303, resolved.text
        page = await client.get(resolved.headers["location"])
        assert "Der Konflikt wurde abgeschlossen." in page.text
        listed = await page_until(client, "/konflikte", "abgeschlossen")
        assert "Köln-Mülheim" in listed.text


REPORT_GAP = """mutation($input: ReportSystemicGapInput!) {
  reportSystemicGap(input: $input) { gapId position } }"""


async def test_the_steering_group_triages_a_gap_decides_and_completes_a_measure_and_closes_it(
    hub: InProcessHub,
) -> None:
    reported = await hub.graphql(
        REPORT_GAP,
        {
            "input": {
                "category": "waiting_times",
                "description": "Wartezeiten von mehr als drei Monaten auf einen Sprachkurs",
                "affectedCount": 12,
            }
        },
        headers=hub.headers("case_manager", "kim-05315"),
    )
    assert "errors" not in reported, reported
    gap = reported["data"]["reportSystemicGap"]
    path = f"/steuerung/luecken/{gap['gapId']}"
    async with browser(hub) as client:
        await sign_in(client, "lenkungsgruppe")
        board = await page_until(client, "/steuerung/luecken", gap["gapId"])
        assert 'id="tabelle-luecken"' in board.text
        assert "Wartezeiten" in board.text
        page = await client.get(path)
        assert page.status_code == 200, page.text
        assert "Maßnahme beschließen" not in page.text  # triage comes first

        action = f"{path}/einordnung"
        refused = await client.post(
            action, data={**tokens_of(page.text, action), "zustaendig": "x"}
        )
        assert refused.status_code == 400
        for field in ("prioritaet", "zustaendig"):
            assert f'id="{field}-fehler"' in refused.text
        assert 'value="x"' in refused.text
        triaged = await client.post(
            action,
            data={
                **tokens_of(refused.text, action),
                "prioritaet": "high",
                "zustaendig": "Amt für Integration",
            },
        )
        assert triaged.status_code == 303, triaged.text
        page = await client.get(triaged.headers["location"])
        assert "Die Lücke wurde eingeordnet." in page.text
        assert "hoch" in page.text

        action = f"{path}/massnahme"
        due = (today_in_germany() + dt.timedelta(days=90)).strftime("%d.%m.%Y")
        decided = await client.post(
            action,
            data={
                **tokens_of(page.text, action),
                "titel": "Zusätzliche Kursplätze beim Träger",
                "verantwortlich": "Volkshochschule",
                "faellig": due,
            },
        )
        assert decided.status_code == 303, decided.text
        page = await client.get(decided.headers["location"])
        assert "Zusätzliche Kursplätze beim Träger" in page.text

        # closing is refused while a measure is open
        action = f"{path}/schliessen"
        early = await client.post(
            action, data={**tokens_of(page.text, action), "ergebnis": "Erledigt"}
        )
        assert early.status_code == 400
        assert 'id="ergebnis-fehler"' in early.text

        action = f"{path}/erledigt"
        measure = re.search(r'<option value="([0-9a-f-]{36})">Zusätzliche Kursplätze', early.text)
        assert measure
        completed = await client.post(
            action,
            data={
                **tokens_of(early.text, action),
                "massnahme": measure.group(1),
                "erledigt_am": today_in_germany().strftime("%d.%m.%Y"),
            },
        )
        assert completed.status_code == 303, completed.text
        page = await client.get(completed.headers["location"])
        assert "Die Maßnahme ist als erledigt vermerkt." in page.text

        action = f"{path}/schliessen"
        closed = await client.post(
            action,
            data={**tokens_of(page.text, action), "ergebnis": "Kursplätze verdoppelt"},
        )
        assert closed.status_code == 303, closed.text
        page = await client.get(closed.headers["location"])
        assert "Die Lücke wurde geschlossen." in page.text
        assert "Kursplätze verdoppelt" in page.text
        assert "Lücke schließen</span>" not in page.text  # no forms on a closed gap
    async with browser(hub) as client:
        await sign_in(client, "awo")
        assert (await client.get(path)).status_code == 403


REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position } }"""
PERSON_DATA = (
    """query($p: ID!) { subjectAccessReport(personId: $p) { services { service status } } }"""
)


async def registered(hub: InProcessHub, **changes: Any) -> str:
    created = await hub.graphql(REGISTER, {"input": arrival_input(**changes)})
    assert "errors" not in created, created
    person: str = created["data"]["registerArrival"]["personId"]
    return person


async def test_the_data_protection_officer_reports_restricts_and_erases_after_confirming(
    hub: InProcessHub,
) -> None:
    reported, restricted, erased = [await registered(hub) for _ in range(3)]
    async with browser(hub) as client:
        signed = await client.post("/anmelden", data={"benutzer": "datenschutz"})
        assert signed.headers["location"] == "/datenschutz"
        page = await client.get("/datenschutz")
        assert page.status_code == 200
        assert "Datenschutz: Rechte der betroffenen Personen" in page.text

        # the Art. 15 report: a summary on the page, the data itself only in the PDF and JSON
        bad = await client.get("/datenschutz/auskunft?person=nicht-eine-kennung")
        assert bad.status_code == 400
        assert 'id="auskunft-person-fehler"' in bad.text
        assert 'value="nicht-eine-kennung"' in bad.text
        report = await client.get(f"/datenschutz/auskunft?person={reported}")
        assert report.status_code == 200, report.text
        assert 'id="tabelle-dienste"' in report.text
        assert 'Ausländerbehörde</td><td class="kern-table__cell">Daten vorhanden' in report.text
        assert "Demchenko" not in report.text
        assert f'href="/datenschutz/auskunft/{reported}.pdf"' in report.text
        as_pdf = await client.get(f"/datenschutz/auskunft/{reported}.pdf")
        assert as_pdf.status_code == 200
        assert as_pdf.headers["content-type"] == "application/pdf"
        assert as_pdf.content.startswith(b"%PDF")
        as_json = await client.get(f"/datenschutz/auskunft/{reported}.json")
        assert as_json.status_code == 200
        assert as_json.json()["person_id"] == reported
        assert "Demchenko" in as_json.text  # the report itself is in clear text, for the DPO
        unknown = await client.get(f"/datenschutz/auskunft?person={UNKNOWN}")
        assert unknown.status_code == 404
        assert "Keine Person mit dieser Kennung" in unknown.text

        # restriction: errors at the fields, then done
        action = "/datenschutz/einschraenken"
        refused = await client.post(
            action, data={**tokens_of(page.text, action), "einschraenken-person": "x"}
        )
        assert refused.status_code == 400
        for field in ("einschraenken-person", "einschraenken-grund"):
            assert f'href="#{field}"' in refused.text
            assert f'id="{field}-fehler"' in refused.text
        done = await client.post(
            action,
            data={
                **tokens_of(refused.text, action),
                "einschraenken-person": restricted,
                "einschraenken-grund": "accuracy_contested",
            },
        )
        assert done.status_code == 303, done.text
        shown = await client.get(done.headers["location"])
        assert "Die Verarbeitung der Daten der Person ist eingeschränkt" in shown.text

        # erasure: a first step, then the confirmation; nothing is erased before it
        action = "/datenschutz/loeschen"
        asked = await client.post(
            action,
            data={
                **tokens_of(page.text, action),
                "loeschen-person": erased,
                "loeschen-grund": "request",
            },
        )
        assert asked.status_code == 200, asked.text
        assert "Diese Löschung kann nicht rückgängig gemacht werden." in asked.text
        still = await hub.graphql(
            PERSON_DATA, {"p": erased}, headers=hub.headers("dpo", "datenschutz-05315")
        )
        assert {"service": "foreigners_authority", "status": "found"} in still["data"][
            "subjectAccessReport"
        ]["services"]
        confirm = "/datenschutz/loeschen/bestaetigen"
        tokens = tokens_of(asked.text, confirm)
        unconfirmed = await client.post(
            confirm, data={**tokens, "person": erased, "grund": "request"}
        )
        assert unconfirmed.status_code == 400
        assert 'id="bestaetigt-fehler"' in unconfirmed.text
        data = {**tokens, "person": erased, "grund": "request", "bestaetigt": "ja"}
        first, second = await asyncio.gather(
            client.post(confirm, data=data), client.post(confirm, data=data)
        )
        assert first.status_code == second.status_code == 303, first.text
        assert first.headers["location"] == second.headers["location"]
        shown = await client.get(first.headers["location"])
        assert "Die Daten der Person wurden gelöscht" in shown.text
        gone = await hub.graphql(
            PERSON_DATA, {"p": erased}, headers=hub.headers("dpo", "datenschutz-05315")
        )
        assert {"service": "foreigners_authority", "status": "erased"} in gone["data"][
            "subjectAccessReport"
        ]["services"]
    async with browser(hub) as client:
        await sign_in(client, "abh")
        assert (await client.get("/datenschutz")).status_code == 403
        assert (await client.get(f"/datenschutz/auskunft/{reported}.json")).status_code == 403


UNKNOWN = "00000000-0000-4000-8000-000000000000"


GRANT_TITLE = """mutation($input: GrantResidenceTitleInput!) {
  grantResidenceTitle(input: $input) { position } }"""
SEARCH = """query($p: ID) { personSearch(personId: $p) { personId } }"""


async def test_the_authority_searches_its_persons_and_reads_a_status_history(
    hub: InProcessHub,
) -> None:
    person = await registered(hub, entryDate="2023-05-17", municipalityKey="05315000")
    async with browser(hub) as client:
        await sign_in(client, "abh")
        empty = await client.get("/personen/suche?suchen=1")
        assert empty.status_code == 400
        assert "Bitte füllen Sie mindestens ein Suchfeld aus." in empty.text
        bad = await client.get("/personen/suche?kennung=xyz&gemeinde=123&eingereist_ab=31.02.2023")
        assert bad.status_code == 400
        for field in ("kennung", "gemeinde", "eingereist_ab"):
            assert f'href="#{field}"' in bad.text
            assert f'id="{field}-fehler"' in bad.text
        assert 'value="xyz"' in bad.text  # what was typed is kept

        by_id = await page_until(client, f"/personen/suche?kennung={person}", "Treffer (1)")
        assert f'href="/personen/{person}/verlauf"' in by_id.text
        assert "Treffer (1)" in by_id.text
        by_range = await client.get(
            "/personen/suche?gemeinde=05315000&eingereist_ab=17.05.2023&eingereist_bis=17.05.2023"
        )
        assert by_range.status_code == 200
        assert f'href="/personen/{person}/verlauf"' in by_range.text
        none = await client.get(
            "/personen/suche?eingereist_ab=01.01.1990&eingereist_bis=02.01.1990"
        )
        assert "Keine Person gefunden." in none.text

        history = await page_until(client, f"/personen/{person}/verlauf", "Einreise erfasst")
        assert history.status_code == 200
        assert 'id="tabelle-status"' in history.text
        assert "Kein Status erfasst." in history.text
        granted = await hub.graphql(
            GRANT_TITLE,
            {
                "input": {
                    "personId": person,
                    "title": "RESIDENCE_PERMIT",
                    "paragraph": "§ 24 AufenthG",
                    "validFrom": "2023-06-01",
                    "validUntil": "2027-03-04",
                }
            },
        )
        assert "errors" not in granted, granted
        history = await page_until(
            client, f"/personen/{person}/verlauf", "§ 24 AufenthG", "Aufenthaltstitel erteilt"
        )
        assert "Aufenthaltstitel</td>" in history.text
        assert "01.06.2023" in history.text
        assert "Aufenthaltstitel erteilt" in history.text
        assert "17.05.2023" in history.text
        assert "Entered Germany" not in history.text  # German, not the API's summary
        assert "Demchenko" not in history.text
    # another authority finds nothing of this person; the search is audited
    other = await hub.graphql(
        SEARCH, {"p": person}, headers=hub.headers("abh_officer", "abh-05111")
    )
    assert other["data"]["personSearch"] == []
    refused = await hub.graphql(
        SEARCH, {"p": person}, headers=hub.headers("case_manager", "kim-05315")
    )
    assert refused["errors"][0]["extensions"]["code"] == "forbidden"
    logged = await hub.pool.fetchval(
        "SELECT count(*) FROM gateway.audit_log WHERE action = 'person_search' AND person_id = $1",
        UUID(person),
    )
    assert logged >= 2


async def test_the_authority_searches_by_name_birth_date_and_azr_number_in_a_posted_form(
    hub: InProcessHub,
) -> None:
    person = await registered(
        hub,
        givenNames="Leyla Deniz",
        familyName="Weiß-Öztürk",
        birthDate="1993-09-21",
        azrNumber="765432109876",
    )
    async with browser(hub) as client:
        await sign_in(client, "abh")
        form = await client.get("/personen/suche")
        assert form.status_code == 200
        assert 'method="post" action="/personen/suche"' in form.text
        for label in ("Familienname", "Vorname", "Geburtsdatum", "AZR-Nummer"):
            assert f">{label} <span" in form.text
        csrf = hidden(form.text, "csrf")

        # bad input: each error next to its field and in the summary, what was typed kept
        bad = await client.post(
            "/personen/suche",
            data={
                "csrf": csrf,
                "suchen": "1",
                "vorname": "Leyla",
                "geburtsdatum": "31.02.1993",
                "azr_nummer": "7654",
            },
        )
        assert bad.status_code == 400
        for field in ("familienname", "geburtsdatum", "azr_nummer"):
            assert f'href="#{field}"' in bad.text
            assert f'id="{field}-fehler"' in bad.text
        assert "auch den Familiennamen an" in bad.text
        assert 'value="Leyla"' in bad.text
        assert 'value="31.02.1993"' in bad.text

        # found by the family name typed differently, narrowed by the given name and birth date
        found = None
        for _ in range(60):
            found = await client.post(
                "/personen/suche",
                data={
                    "csrf": csrf,
                    "suchen": "1",
                    "familienname": "WEISS-OEZTUERK",
                    "vorname": "deniz",
                    "geburtsdatum": "21.09.1993",
                },
            )
            if "Treffer (1)" in found.text:
                break
            await asyncio.sleep(0.1)
        assert found is not None
        assert found.status_code == 200, found.text
        assert "Treffer (1)" in found.text
        assert f'href="/personen/{person}/verlauf"' in found.text
        assert 'value="WEISS-OEZTUERK"' in found.text  # the form keeps what was typed
        assert "Weiß-Öztürk" not in found.text  # no clear name from the hub: the page shows ids
        by_azr = await client.post(
            "/personen/suche", data={"csrf": csrf, "suchen": "1", "azr_nummer": "7654 3210 9876"}
        )
        assert f'href="/personen/{person}/verlauf"' in by_azr.text

        # never from an address (kept by browsers and logs), and never without the CSRF token
        in_address = await client.get("/personen/suche?familienname=Weiss-Oeztuerk")
        assert "Treffer" not in in_address.text
        forged = await client.post(
            "/personen/suche", data={"suchen": "1", "familienname": "Weiss-Oeztuerk"}
        )
        assert forged.status_code == 403
    # another authority does not find the person by name
    other = await hub.graphql(
        """query($f: String) { personSearch(familyName: $f) { personId } }""",
        {"f": "Weiss-Oeztuerk"},
        headers=hub.headers("abh_officer", "abh-05111"),
    )
    assert other["data"]["personSearch"] == []


async def test_a_search_sent_after_the_session_ended_is_kept_over_the_sign_in(
    hub: InProcessHub,
) -> None:
    person = await registered(hub, familyName="Nachanmeldung", birthDate="1979-12-24")
    async with browser(hub) as client:
        await sign_in(client, "abh")
        await page_until(client, f"/personen/suche?kennung={person}", "Treffer (1)")
        form = await continue_after_sign_in(
            client,
            "/personen/suche",
            {"suchen": "1", "familienname": "nachanmeldung", "geburtsdatum": "24.12.1979"},
            "abh",
        )
        assert 'value="nachanmeldung"' in form.text
        assert 'value="24.12.1979"' in form.text
        again = await client.post(
            "/personen/suche",
            data={
                "csrf": hidden(form.text, "csrf"),
                "suchen": "1",
                "familienname": "nachanmeldung",
                "geburtsdatum": "24.12.1979",
            },
        )
        assert "Treffer (1)" in again.text
        assert f'href="/personen/{person}/verlauf"' in again.text


async def continue_after_sign_in(
    client: httpx.AsyncClient, action: str, data: dict[str, str], user: str
) -> httpx.Response:
    """Sends ``data`` to ``action`` without a session, signs in again as the redirect asks, and
    returns the form as it is then shown."""
    client.cookies.clear()  # the session has ended (timeout or a restart)
    sent = await client.post(action, data=data)
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"].startswith(f"/anmelden?weiter={action}%3Fentwurf%3D")
    again = await client.post(
        "/anmelden",
        data={"benutzer": user, "weiter": unquote(sent.headers["location"].split("weiter=")[1])},
    )
    assert again.headers["location"].startswith(f"{action}?entwurf=")
    form = await client.get(again.headers["location"])
    assert form.status_code == 200, form.text
    assert "Ihre Eingaben sind wiederhergestellt" in form.text
    once = await client.get(again.headers["location"])
    assert once.status_code == 303  # restored once, then the page itself
    return form


async def test_forms_sent_after_the_session_ended_are_filled_in_again_after_sign_in(
    hub: InProcessHub,
) -> None:
    reported = await hub.graphql(
        REPORT_CONFLICT,
        {
            "input": {
                "kind": "school",
                "district": "Köln-Ehrenfeld",
                "stage": 2,
                "description": "Streit um die Nutzung der Turnhalle",
                "parties": [
                    {"type": "group", "name": "Elternschaft"},
                    {"type": "organisation", "name": "Sportverein"},
                ],
            }
        },
        headers=hub.headers("conflict_board", "konfliktmanagement-05315"),
    )
    path = f"/konflikte/{reported['data']['reportConflict']['conflictId']}"
    async with browser(hub) as client:
        await sign_in(client, "konfliktmanagement")
        page = await page_until(client, path, "Intervention planen")
        action = f"{path}/intervention"
        data = {
            **tokens_of(page.text, action),
            "format": "dialogue",
            "termin": "20.12.2026",
            "moderation": "Stadtteilbüro Ehrenfeld",
        }
        form = await continue_after_sign_in(client, action, data, "konfliktmanagement")
        assert 'value="Stadtteilbüro Ehrenfeld"' in form.text
        assert '<option value="dialogue" selected>' in form.text
        sent = await client.post(action, data={**data, **tokens_of(form.text, action)})
        assert sent.status_code == 303, sent.text

    person = await registered(hub)
    async with browser(hub) as client:
        await sign_in(client, "datenschutz")
        page = await client.get("/datenschutz")
        action = "/datenschutz/loeschen"
        data = {
            **tokens_of(page.text, action),
            "loeschen-person": person,
            "loeschen-grund": "no_longer_needed",
        }
        form = await continue_after_sign_in(client, action, data, "datenschutz")
        assert f'value="{person}"' in form.text
        assert '<option value="no_longer_needed" selected>' in form.text
