"""The workspace in a real browser, per role, over a hub started as ``make up`` starts it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

Open = Callable[[str], Any]


def test_a_case_manager_takes_a_person_from_intake_to_referral_and_the_partner_accepts(
    pages: Open,
) -> None:
    manager = pages("fallmanagement")
    page = manager.page
    page.wait_for_url("**/faelle")
    assert page.get_by_role("heading", name="Fallübersicht").is_visible()
    manager.check("fallübersicht")

    page.get_by_role("link", name="Fallaufnahme").first.click()
    manager.check("fallaufnahme")
    page.get_by_label("Vorname(n)").fill("Hanna")
    page.get_by_role("button", name="Fall aufnehmen").click()
    assert page.locator("#fehler").is_visible()  # the summary at the top
    assert page.locator("#nachname-fehler").is_visible()  # and at the field
    assert page.get_by_label("Vorname(n)").input_value() == "Hanna"  # input kept
    manager.check("fallaufnahme-fehler")
    page.get_by_label("Nachname").fill("Beispiel")
    page.get_by_label("Geburtsdatum").fill("17.03.1990")
    page.get_by_label("Zielgruppe").select_option("newly_arrived")
    page.get_by_label("SGB II (Bürgergeld)").check()
    page.get_by_label("Zugang").select_option("jobcenter")
    page.get_by_role("button", name="Fall aufnehmen").click()
    page.wait_for_url(re.compile(r"/faelle/[0-9a-f-]{36}\?"))
    assert page.get_by_text("Der Fall wurde aufgenommen.").is_visible()
    manager.check("fallakte")
    case_page = page.url.split("?")[0]
    page.goto(f"{case_page}/sprachmittlung")
    manager.check("sprachmittlung")
    page.goto("/luecken/neu")
    manager.check("lücke-melden")
    page.goto(case_page)

    page.get_by_role("link", name="Einwilligung erfassen").click()
    manager.check("einwilligung")
    page.get_by_label("Empfangende Stellen").fill("awo-05315")
    page.locator("#kategorien-case_basic").check()
    page.locator("#kategorien-work").check()
    page.locator("#zwecke-referral").check()
    until = (dt.date.today() + dt.timedelta(days=180)).strftime("%d.%m.%Y")
    page.get_by_label("Gültig bis").fill(until)
    page.get_by_role("button", name="Einwilligung speichern").click()
    assert page.get_by_text("Die Einwilligung wurde erfasst.").is_visible()

    case_url = page.url.split("?")[0]

    partner = pages("awo")
    inbox = partner.page
    inbox.wait_for_url("**/eingang")
    inbox.get_by_label("Zweck des Lesens").select_option("referral")
    inbox.get_by_role("button", name="Mit diesem Zweck anzeigen").click()
    inbox.wait_for_url("**/eingang?zweck=referral")
    inbox.evaluate("window.notReloaded = true")
    card = inbox.locator("section.referral", has_text="Migrationsberatung Browser")
    assert card.count() == 0

    page.get_by_role("link", name="Überweisung senden").click()
    manager.check("überweisung")
    page.get_by_label("Empfangende Stelle").fill("awo-05315")
    page.get_by_label("Angebot").fill("Migrationsberatung Browser")
    page.get_by_label("Einwilligung").select_option(index=1)
    page.locator("#kategorien-case_basic").check()
    page.locator("#kategorien-housing").check()
    page.get_by_label("Zweck", exact=True).select_option("referral")
    page.get_by_role("button", name="Überweisung senden").click()
    assert page.locator("#einwilligung-fehlt").is_visible()  # what the consent lacks
    assert page.get_by_text("Wohnen").first.is_visible()
    manager.check("überweisung-abgelehnt")
    page.locator("#kategorien-housing").uncheck()
    page.get_by_role("button", name="Überweisung senden").click()
    assert page.get_by_text("Die Überweisung wurde gesendet.").is_visible()

    # the partner sees it arrive without a reload
    card.locator(".shared-case").wait_for(timeout=15_000)
    assert inbox.evaluate("window.notReloaded === true")
    assert inbox.get_by_text("Der Eingang wurde aktualisiert.").is_visible()
    partner.check("eingang")
    card.get_by_role("button", name="Annehmen").click()
    assert inbox.get_by_text("Die Überweisung wurde angenommen.").is_visible()
    partner.check("eingang-angenommen")
    inbox.evaluate("window.notReloaded = true")
    assert card.locator(".shared-case").is_visible()

    # the consent is withdrawn: the partner's page loses the shared data without a reload
    page.goto(case_url)
    page.get_by_role("button", name="Widerrufen").first.click()
    assert page.get_by_text("Die Einwilligung wurde widerrufen.").is_visible()
    card.locator(".no-shared-case").wait_for(timeout=15_000)
    assert card.locator(".shared-case").count() == 0
    assert inbox.evaluate("window.notReloaded === true")
    partner.check("eingang-widerrufen")


def test_the_authority_looks_at_a_pathway_and_readiness_on_two_dates(pages: Open) -> None:
    officer = pages("abh")
    page = officer.page
    page.wait_for_url("**/personen")
    officer.check("personen")
    page.locator("table a").first.click()
    page.wait_for_url(re.compile(r"/personen/[0-9a-f-]{36}"))
    assert page.locator("svg.chart").is_visible()
    page.get_by_label("Stichtag").fill("01.01.2024")
    page.get_by_label("Vergleichstag").fill("01.01.2031")
    page.get_by_role("button", name="Prüfen").click()
    assert page.get_by_role("heading", name=re.compile("Am 01.01.2024")).is_visible()
    assert page.get_by_role("heading", name=re.compile("Am 01.01.2031")).is_visible()
    assert page.locator("#statuszeiten").is_visible()
    officer.check("weg")


def test_the_board_escalates_a_conflict_which_the_steering_group_finds_on_its_agenda(
    pages: Open,
) -> None:
    board = pages("konfliktmanagement")
    page = board.page
    page.wait_for_url("**/konflikte")
    board.check("konflikte")
    page.get_by_role("row", name=re.compile("Köln-Innenstadt")).get_by_role("link").click()
    board.check("konflikt")
    page.get_by_label("Neue Glasl-Stufe").select_option("4")
    page.get_by_label("An", exact=True).select_option("steering_group")
    page.get_by_label("Begründung").fill("Zuständigkeit zwischen zwei Ämtern klären")
    page.get_by_role("button", name="Eskalieren").click()
    assert page.get_by_text("Der Konflikt wurde eskaliert.").is_visible()

    steering = pages("lenkungsgruppe")
    agenda = steering.page
    agenda.wait_for_url("**/steuerung")
    item = agenda.get_by_text("Köln-Innenstadt, Glasl-Stufe 4")
    for _ in range(30):
        if item.count():
            break
        agenda.wait_for_timeout(300)
        agenda.reload()
    assert item.is_visible()


def test_the_steering_dashboard_renders_its_charts_and_tables(pages: Open) -> None:
    steering = pages("lenkungsgruppe")
    page = steering.page
    page.wait_for_url("**/steuerung")
    steering.check("kennzahlen")
    assert page.locator("svg.chart").count() >= 5
    for table in ("#tabelle-stufen", "#tabelle-dauern", "#tabelle-ueberweisungen"):
        assert page.locator(table).is_visible()
    assert page.get_by_text("Wiederholte Sachbeschädigungen").count() == 0  # no free text


def test_graphiql_starts_from_the_hubs_own_assets(chromium: Any, hub_url: str) -> None:
    context = chromium.new_context()
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(f"{hub_url}/graphql")
    page.locator(".graphiql-editor").first.wait_for(timeout=15_000)
    assert failed == []
    context.close()
