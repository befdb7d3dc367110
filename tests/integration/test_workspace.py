"""The web workspace over the in-process hub: sign-in and sessions, CSRF, the forms' server-side
checks, no duplicate command on a double submit, and each role's pages on real data read
through the same GraphQL schema as the API."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
import pytest

from kernel.clock import today_in_germany
from tests.conftest import Servers
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import module_hub

REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position } }"""
GRANT_TITLE = """mutation($input: GrantResidenceTitleInput!) {
  grantResidenceTitle(input: $input) { position } }"""
DEFINE_GOAL = """mutation($input: DefineGoalInput!) {
  defineIntegrationGoal(input: $input) { goalId } }"""
RECORD_VALUE = """mutation($input: RecordIndicatorValueInput!) {
  recordIndicatorValue(input: $input) { position } }"""
CASELOAD = "{ caseload { openCases cases { id } } }"


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


def browser(hub: InProcessHub) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app), base_url="http://hub.test", timeout=30
    )


@contextlib.asynccontextmanager
async def signed_in(hub: InProcessHub, user: str) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(hub) as client:
        response = await client.post("/anmelden", data={"benutzer": user})
        assert response.status_code == 303, response.text
        yield client


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


async def form_of(client: httpx.AsyncClient, path: str) -> dict[str, str]:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return {"csrf": hidden(page.text, "csrf"), "formular": hidden(page.text, "formular")}


INTAKE = {
    "vorname": "Hanna",
    "nachname": "Beispiel",
    "geburtsdatum": "17.03.1990",
    "zielgruppe": "newly_arrived",
    "rechtskreise": ["sgb_ii"],
    "zugang": "jobcenter",
}


async def open_case(client: httpx.AsyncClient) -> str:
    data = {**await form_of(client, "/faelle/neu"), **INTAKE}
    response = await client.post("/faelle/neu", data=data)
    assert response.status_code == 303, response.text
    found = re.match(r"/faelle/([0-9a-f-]{36})\?", response.headers["location"])
    assert found, response.headers["location"]
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    return found.group(1)


async def test_pages_need_a_session_and_sign_in_continues_where_the_user_was(
    hub: InProcessHub,
) -> None:
    async with browser(hub) as client:
        response = await client.get("/faelle?zielgruppe=families")
        assert response.status_code == 303
        assert response.headers["location"] == "/anmelden?weiter=/faelle%3Fzielgruppe%3Dfamilies"
        page = await client.get("/anmelden")
        assert "Demo-Zugang" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        signed = await client.post(
            "/anmelden",
            data={"benutzer": "fallmanagement", "weiter": "/faelle?zielgruppe=families"},
        )
        assert signed.headers["location"] == "/faelle?zielgruppe=families"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/" in cookie
        landing = await client.post("/anmelden", data={"benutzer": "https://evil.example"})
        assert landing.status_code == 400  # no such demo user
        away = await client.post("/anmelden", data={"benutzer": "awo", "weiter": "//evil.ex"})
        assert away.headers["location"] == "/eingang"


async def test_a_role_is_refused_pages_that_are_not_its_own(hub: InProcessHub) -> None:
    async with signed_in(hub, "awo") as client:
        assert (await client.get("/faelle")).status_code == 403
        assert (await client.get("/steuerung")).status_code == 403
        assert (await client.get("/eingang")).status_code == 200


async def test_a_form_without_the_sessions_csrf_token_is_refused(hub: InProcessHub) -> None:
    async with signed_in(hub, "fallmanagement") as client:
        before = await hub.graphql(CASELOAD, role="case_manager")
        response = await client.post("/faelle/neu", data={**INTAKE, "csrf": "forged"})
        assert response.status_code == 403
        logout = await client.post("/abmelden", data={"csrf": "forged"})
        assert logout.status_code == 403
        after = await hub.graphql(CASELOAD, role="case_manager")
        assert before == after


async def test_the_intake_form_shows_each_error_at_its_field_and_in_a_summary_and_keeps_input(
    hub: InProcessHub,
) -> None:
    async with signed_in(hub, "fallmanagement") as client:
        data = {
            **await form_of(client, "/faelle/neu"),
            "vorname": "Hanna",
            "nachname": "",
            "geburtsdatum": "31.02.1990",
            "zielgruppe": "",
            "zugang": "jobcenter",
        }
        response = await client.post("/faelle/neu", data=data)
        assert response.status_code == 400
        page = response.text
        assert "Bitte prüfen Sie Ihre Angaben (3)" in page
        for field in ("nachname", "geburtsdatum", "zielgruppe"):
            assert f'href="#{field}"' in page  # the summary links to the field
            assert f'id="{field}-fehler"' in page  # the error next to it
        assert 'value="Hanna"' in page
        assert 'value="31.02.1990"' in page
        assert '<option value="jobcenter" selected>' in page
        data["vorname"] = '"><script>alert(1)</script>'
        escaped = (await client.post("/faelle/neu", data=data)).text
        assert "<script>alert(1)</script>" not in escaped
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in escaped


def cases_listed(html: str) -> int:
    found = re.search(r"Fälle \((\d+)\)", html)
    assert found
    return int(found.group(1))


async def test_a_form_sent_after_the_session_ended_is_filled_in_again_after_sign_in(
    hub: InProcessHub,
) -> None:
    async with signed_in(hub, "fallmanagement") as client:
        data = {**await form_of(client, "/faelle/neu"), **INTAKE, "kontakt": "0221 123"}
        client.cookies.clear()  # the session has ended (timeout or a restart)
        sent = await client.post("/faelle/neu", data=data)
        assert sent.status_code == 303
        assert sent.headers["location"].startswith("/anmelden?weiter=/faelle/neu%3Fentwurf%3D")
        again = await client.post(
            "/anmelden",
            data={
                "benutzer": "fallmanagement",
                "weiter": unquote(sent.headers["location"].split("weiter=")[1]),
            },
        )
        assert again.headers["location"].startswith("/faelle/neu?entwurf=")
        form = await client.get(again.headers["location"])
        assert "Ihre Eingaben sind wiederhergestellt" in form.text
        assert 'value="Beispiel"' in form.text
        assert 'value="0221 123"' in form.text
        assert 'id="rechtskreise-sgb_ii" name="rechtskreise" value="sgb_ii" checked' in form.text
        assert hidden(form.text, "csrf") != data["csrf"]  # a new session, new tokens
        once = await client.get(again.headers["location"])
        assert "Ihre Eingaben sind wiederhergestellt" not in once.text  # restored once only


async def test_a_double_submit_opens_one_case(hub: InProcessHub) -> None:
    async with signed_in(hub, "fallmanagement") as client:
        before = cases_listed((await client.get("/faelle")).text)
        data = {**await form_of(client, "/faelle/neu"), **INTAKE}
        first, second = await asyncio.gather(
            client.post("/faelle/neu", data=data), client.post("/faelle/neu", data=data)
        )
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        page = await client.get(first.headers["location"])
        assert "Der Fall wurde aufgenommen." in page.text
        assert "Beispiel" not in page.text  # names stay encrypted, never on a page
        again = await client.post("/faelle/neu", data=data)  # later, e.g. the back button
        assert again.headers["location"] == first.headers["location"]
        stand = re.search(r"stand=([^&]+)", first.headers["location"])
        assert stand
        after = cases_listed((await client.get(f"/faelle?stand={stand.group(1)}")).text)
        assert after == before + 1


async def test_consent_then_a_referral_it_does_not_cover_shows_what_it_lacks_then_one_it_does(
    hub: InProcessHub,
) -> None:
    async with signed_in(hub, "fallmanagement") as manager:
        case_id = await open_case(manager)
        consent_form = await manager.get(f"/faelle/{case_id}/einwilligung")
        assert "Die Empfänger dürfen die Daten nutzen" in consent_form.text  # explanations
        until = (today_in_germany() + dt.timedelta(days=200)).strftime("%d.%m.%Y")
        data = {
            **await form_of(manager, f"/faelle/{case_id}/einwilligung"),
            "empfaenger": "awo-05315",
            "kategorien": ["case_basic", "work", "health"],
            "zwecke": ["referral"],
            "gueltig_bis": until,
        }
        refused = await manager.post(f"/faelle/{case_id}/einwilligung", data=data)
        assert refused.status_code == 400
        assert 'id="ausdruecklich-fehler"' in refused.text
        data["kategorien"] = ["case_basic", "work"]
        granted = await manager.post(f"/faelle/{case_id}/einwilligung", data=data)
        assert granted.status_code == 303, granted.text
        page = await manager.get(granted.headers["location"])
        assert "Die Einwilligung wurde erfasst." in page.text
        consent_id = re.search(
            r'<option value="([0-9a-f-]{36})"',
            (await manager.get(f"/faelle/{case_id}/ueberweisung")).text,
        )
        assert consent_id
        referral = {
            **await form_of(manager, f"/faelle/{case_id}/ueberweisung"),
            "stelle": "jobcenter-05315",
            "angebot": "Arbeitsvermittlung",
            "einwilligung": consent_id.group(1),
            "kategorien": ["case_basic", "housing"],
            "zweck": "employment_support",
        }
        lacking = await manager.post(f"/faelle/{case_id}/ueberweisung", data=referral)
        assert lacking.status_code == 400
        assert "Die Einwilligung deckt diese Überweisung nicht" in lacking.text
        assert "jobcenter-05315 ist in der Einwilligung nicht als Empfängerin genannt" in (
            lacking.text
        )
        assert "Wohnen" in lacking.text
        assert "Arbeitsförderung" in lacking.text
        assert 'value="Arbeitsvermittlung"' in lacking.text  # input kept
        referral.update(
            stelle="awo-05315",
            kategorien=["case_basic", "work"],
            zweck="referral",
            angebot="Migrationsberatung",
        )
        sent = await manager.post(f"/faelle/{case_id}/ueberweisung", data=referral)
        assert sent.status_code == 303, sent.text
        assert (
            "Die Überweisung wurde gesendet." in (await manager.get(sent.headers["location"])).text
        )

    async with signed_in(hub, "awo") as partner:
        without = await partner.get("/eingang")
        assert "Kein Zweck angegeben" in without.text
        assert "Migrationsberatung" in without.text
        inbox = await partner.get("/eingang?zweck=referral")
        assert "Geteilte Falldaten" in inbox.text
        assert "Neu Zugewanderte" in inbox.text
        action = re.search(r'action="(/eingang/[0-9a-f-]{36}/annehmen)"', inbox.text)
        assert action
        csrf = hidden(inbox.text, "csrf")
        accepted = await partner.post(
            action.group(1), data={"csrf": csrf, "formular": "t1", "zweck": "referral"}
        )
        assert accepted.status_code == 303
        after = await partner.get(accepted.headers["location"])
        assert "Die Überweisung wurde angenommen." in after.text
        assert "angenommen" in after.text


async def test_the_authority_sees_a_pathway_and_readiness_on_two_dates(
    hub: InProcessHub,
) -> None:
    registered = await hub.graphql(REGISTER, {"input": arrival_input()})
    person = registered["data"]["registerArrival"]["personId"]
    await hub.graphql(
        GRANT_TITLE,
        {
            "input": {
                "personId": person,
                "title": "RESIDENCE_PERMIT",
                "paragraph": "§ 24 AufenthG",
                "validFrom": "2022-03-20",
                "validUntil": "2027-03-04",
            }
        },
    )
    async with signed_in(hub, "abh") as officer:
        for _ in range(50):
            page = await officer.get(f"/personen/{person}?datum=01.01.2026&vergleich=01.06.2030")
            if page.status_code == 200 and "Aufenthaltstitel" in page.text:
                break
            await asyncio.sleep(0.1)
        assert page.status_code == 200, page.text
        assert "<svg" in page.text
        assert 'role="img"' in page.text
        assert "Am 01.01.2026" in page.text
        assert "Am 01.06.2030" in page.text
        assert "Aufenthaltsdauer" in page.text
        assert "Lebensunterhalt nicht bekannt" in page.text  # the reasons in German
        assert "livelihood not known" not in page.text
        bad = await officer.get(f"/personen/{person}?datum=morgen")
        assert 'id="datum-fehler"' in bad.text
        worklist = await officer.get("/personen?stufe=titled")
        assert worklist.status_code == 200


async def test_the_steering_dashboard_draws_charts_with_tables(hub: InProcessHub) -> None:
    goal = {
        "fieldOfAction": "language",
        "goal": "Mehr Menschen erreichen B1",
        "indicator": "Anteil B1-Abschlüsse",
        "unit": "%",
        "baseline": 40,
        "target": 60,
        "due": (today_in_germany() + dt.timedelta(days=900)).isoformat(),
    }
    defined = await hub.graphql(DEFINE_GOAL, {"input": goal}, role="steering")
    goal_id = defined["data"]["defineIntegrationGoal"]["goalId"]
    recorded = await hub.graphql(
        RECORD_VALUE,
        {"input": {"goalId": goal_id, "period": "2026-Q2", "value": 47}},
        role="steering",
    )
    stand = recorded["data"]["recordIndicatorValue"]["position"]
    async with signed_in(hub, "lenkungsgruppe") as steering:
        for _ in range(50):
            page = await steering.get("/steuerung?nach=target_group")
            assert page.status_code == 200, page.text
            if "Anteil B1-Abschlüsse" in page.text and "2026-Q2" in page.text:
                break
            await asyncio.sleep(0.1)
        assert stand
        assert page.text.count("<svg") >= 5  # four indicators and the goal's course
        assert "Ziel 60,0" in page.text
        assert 'id="tabelle-stufen"' in page.text
        assert 'id="tabelle-konflikte"' in page.text


async def test_the_inbox_list_comes_alone_for_the_live_update_and_its_stream_needs_a_session(
    hub: InProcessHub,
) -> None:
    async with browser(hub) as anonymous:
        assert (await anonymous.get("/eingang/live")).status_code == 303
        action = await anonymous.post("/eingang/x/annehmen", data={"csrf": "x"})
        assert action.headers["location"] == "/anmelden"  # not back to a POST-only path
    async with signed_in(hub, "awo") as partner:
        page = await partner.get("/eingang")
        assert 'data-live-src="/eingang/live"' in page.text
        assert '<script src="/assets/workspace.js"></script>' in page.text
        part = await partner.get("/eingang?teil=liste&zweck=referral")
        assert part.status_code == 200
        assert "<html" not in part.text
    async with signed_in(hub, "lenkungsgruppe") as steering:
        assert (await steering.get("/eingang/live")).status_code == 403


REPORT_CONFLICT = """mutation($input: ReportConflictInput!) {
  reportConflict(input: $input) { conflictId position } }"""


async def test_the_board_escalates_a_conflict_to_the_steering_groups_agenda(
    hub: InProcessHub,
) -> None:
    board = hub.headers("conflict_board", "konfliktmanagement-05315")
    reported = await hub.graphql(
        REPORT_CONFLICT,
        {
            "input": {
                "kind": "administration",
                "district": "Köln-Kalk",
                "stage": 2,
                "description": "Unklare Zuständigkeit",
                "parties": [
                    {"type": "organisation", "name": "Amt A"},
                    {"type": "organisation", "name": "Amt B"},
                ],
            }
        },
        headers=board,
    )
    conflict = reported["data"]["reportConflict"]
    async with signed_in(hub, "konfliktmanagement") as client:
        listed = await client.get(
            f"/konflikte/{conflict['conflictId']}?stand={conflict['position']}"
        )
        assert listed.status_code == 200, listed.text
        token = {"csrf": hidden(listed.text, "csrf"), "formular": hidden(listed.text, "formular")}
        refused = await client.post(
            f"/konflikte/{conflict['conflictId']}/eskalation",
            data={**token, "bisher": "2", "stufe": "1", "gremium": "", "begruendung": ""},
        )
        assert refused.status_code == 400
        for field in ("stufe", "gremium", "begruendung"):
            assert f'id="{field}-fehler"' in refused.text
        escalated = await client.post(
            f"/konflikte/{conflict['conflictId']}/eskalation",
            data={
                **token,
                "bisher": "2",
                "stufe": "4",
                "gremium": "steering_group",
                "begruendung": "Zuständigkeit klären",
            },
        )
        assert escalated.status_code == 303, escalated.text
        page = await client.get(escalated.headers["location"])
        assert "Der Konflikt wurde eskaliert." in page.text
        assert "Stufe 2 → 4, an Lenkungsgruppe" in page.text
    async with signed_in(hub, "lenkungsgruppe") as steering:
        for _ in range(50):
            agenda = await steering.get("/steuerung")
            if "Köln-Kalk, Glasl-Stufe 4" in agenda.text:
                break
            await asyncio.sleep(0.1)
        assert "Köln-Kalk, Glasl-Stufe 4" in agenda.text


async def test_a_case_manager_reports_a_systemic_gap(hub: InProcessHub) -> None:
    async with signed_in(hub, "fallmanagement") as client:
        token = await form_of(client, "/luecken/neu")
        refused = await client.post(
            "/luecken/neu", data={**token, "kategorie": "", "betroffene": "viele"}
        )
        assert refused.status_code == 400
        for field in ("kategorie", "beschreibung", "betroffene"):
            assert f'id="{field}-fehler"' in refused.text
        sent = await client.post(
            "/luecken/neu",
            data={
                **token,
                "kategorie": "waiting_times",
                "rechtskreis": "sgb_ii",
                "beschreibung": "Lange Wartezeiten auf Termine im Jobcenter",
                "betroffene": "8",
            },
        )
        assert sent.status_code == 303, sent.text
        page = await client.get(sent.headers["location"])
        assert "Die Lücke wurde an die Lenkungsgruppe gemeldet." in page.text


REGISTER_MEDIATOR = """mutation($input: RegisterMediatorInput!) {
  registerMediator(input: $input) { mediatorId } }"""


async def test_a_case_manager_asks_for_a_mediator_beside_the_calendar(hub: InProcessHub) -> None:
    await hub.graphql(
        REGISTER_MEDIATOR,
        {
            "input": {
                "displayName": "Yusuf Demir",
                "languages": ["ar", "tr"],
                "availability": ["mon 08:00-16:00"],
                "pledgeSignedOn": "2026-01-05",
            }
        },
        headers=hub.headers("case_manager", "kim-05315"),
    )
    async with signed_in(hub, "fallmanagement") as client:
        case_id = await open_case(client)
        for _ in range(50):
            form = await client.get(f"/faelle/{case_id}/sprachmittlung")
            if "ar, tr" in form.text:
                break
            await asyncio.sleep(0.1)
        assert "ar, tr" in form.text
        assert "Yusuf" not in form.text  # the mediator's name stays encrypted
        token = {"csrf": hidden(form.text, "csrf"), "formular": hidden(form.text, "formular")}
        refused = await client.post(
            f"/faelle/{case_id}/sprachmittlung",
            data={**token, "sprache": "Arabisch", "tag": "gestern", "uhrzeit": "25:00"},
        )
        assert refused.status_code == 400
        for field in ("sprache", "tag", "uhrzeit"):
            assert f'id="{field}-fehler"' in refused.text
        monday = today_in_germany() + dt.timedelta(days=7 - today_in_germany().weekday())
        sent = await client.post(
            f"/faelle/{case_id}/sprachmittlung",
            data={
                **token,
                "sprache": "ar",
                "tag": monday.strftime("%d.%m.%Y"),
                "uhrzeit": "10:00",
                "minuten": "60",
            },
        )
        assert sent.status_code == 303, sent.text
        page = await client.get(sent.headers["location"])
        assert "Die Sprachmittlung wurde angefragt" in page.text


async def test_sign_out_ends_the_session(hub: InProcessHub) -> None:
    async with signed_in(hub, "fallmanagement") as client:
        page = await client.get("/faelle")
        out = await client.post("/abmelden", data={"csrf": hidden(page.text, "csrf")})
        assert out.status_code == 303
        assert (await client.get("/faelle")).status_code == 303


async def test_graphiql_loads_nothing_from_a_cdn(hub: InProcessHub) -> None:
    async with browser(hub) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "unpkg" not in page.text
        assert "/assets/graphiql/graphiql.min.js" in page.text
        assert "unpkg" not in page.headers["content-security-policy"]
        script = await client.get("/assets/graphiql/graphiql.min.js")
        assert script.status_code == 200
        assert len(script.content) > 100_000
