"""The workspace in a real browser, per role, over a hub started as ``make up`` starts it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

from kernel.clock import today_in_germany

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
    until = (today_in_germany() + dt.timedelta(days=180)).strftime("%d.%m.%Y")
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


def test_the_board_intervenes_records_the_outcome_and_corrects_its_log(pages: Open) -> None:
    board = pages("konfliktmanagement")
    page = board.page
    page.wait_for_url("**/konflikte")
    page.get_by_role("link", name="Schule").first.click()
    page.wait_for_url(re.compile(r"/konflikte/[0-9a-f-]{36}"))
    page.get_by_role("button", name="Intervention planen").click()
    assert page.locator("#fehler").is_visible()
    assert page.locator("#termin-fehler").is_visible()
    board.check("intervention-fehler")
    page.get_by_label("Art der Intervention").select_option("moderation")
    page.get_by_label("Termin").fill(
        (today_in_germany() + dt.timedelta(days=14)).strftime("%d.%m.%Y")
    )
    page.get_by_label("Moderierende Organisation").fill("Schulsozialarbeit Chorweiler")
    page.get_by_role("button", name="Intervention planen").click()
    assert page.get_by_text("Die Intervention wurde geplant.").is_visible()
    board.check("intervention-geplant")
    for _ in range(30):
        if page.get_by_role("button", name="Ergebnis erfassen").count():
            break
        page.wait_for_timeout(300)
        page.reload()
    page.get_by_label("Intervention", exact=True).select_option(index=1)
    page.get_by_label("Verlauf").select_option("held")
    page.get_by_label("Glasl-Stufe danach").select_option("2")
    page.get_by_role("button", name="Ergebnis erfassen").click()
    assert page.get_by_text("Das Ergebnis der Intervention wurde erfasst.").is_visible()
    page.get_by_label("Eintrag", exact=True).fill("Elternabend am Montag vereinbart")
    page.get_by_role("button", name="Eintrag speichern").click()
    assert page.get_by_text("Der Eintrag wurde ins Gremienprotokoll geschrieben.").is_visible()
    page.get_by_role("link", name=re.compile("^Korrigieren")).last.click()
    page.get_by_label("Eintrag", exact=True).fill("Elternabend am Dienstag vereinbart")
    page.get_by_role("button", name="Eintrag speichern").click()
    assert page.locator("del", has_text="Elternabend am Montag vereinbart").is_visible()
    assert page.locator("ins", has_text="Elternabend am Dienstag vereinbart").first.is_visible()
    board.check("protokoll-korrektur")


def test_the_steering_group_triages_a_gap_and_decides_a_measure(pages: Open) -> None:
    steering = pages("lenkungsgruppe")
    page = steering.page
    page.wait_for_url("**/steuerung")
    page.get_by_role("link", name="Lücken", exact=True).click()
    page.wait_for_url("**/steuerung/luecken")
    steering.check("lücken")
    page.get_by_role("link", name=re.compile("^Wartezeiten")).first.click()
    steering.check("lücke")
    page.get_by_role("button", name="Einordnen").click()
    assert page.locator("#prioritaet-fehler").is_visible()
    steering.check("lücke-fehler")
    page.get_by_label("Priorität").select_option("high")
    page.get_by_label("Zuständige Stelle").fill("Amt für Integration")
    page.get_by_role("button", name="Einordnen").click()
    assert page.get_by_text("Die Lücke wurde eingeordnet.").is_visible()
    page.get_by_label("Maßnahme", exact=True).fill("Zusätzliche B1-Kurse")
    page.get_by_label("Verantwortliche Stelle").fill("Volkshochschule")
    page.get_by_label("Fällig am").fill(
        (today_in_germany() + dt.timedelta(days=90)).strftime("%d.%m.%Y")
    )
    page.get_by_role("button", name="Maßnahme beschließen").click()
    assert page.get_by_text("Die Maßnahme wurde beschlossen.").is_visible()
    assert page.locator("#tabelle-massnahmen").is_visible()
    steering.check("lücke-massnahme")


def test_the_authority_searches_a_person_and_reads_the_status_history(pages: Open) -> None:
    officer = pages("abh")
    page = officer.page
    page.wait_for_url("**/personen")
    page.get_by_role("link", name="Personensuche").click()
    officer.check("suche")
    page.get_by_role("button", name="Suchen").click()
    assert page.locator("#fehler").is_visible()
    officer.check("suche-fehler")
    page.get_by_label("Gemeindeschlüssel (AGS)").fill("05315000")
    page.get_by_role("button", name="Suchen").click()
    assert page.locator("#tabelle-treffer").is_visible()
    officer.check("suche-treffer")
    # by who the person is: a given name alone is not enough, then family name and birth date
    page.get_by_label("Vorname").fill("olena")
    page.get_by_role("button", name="Suchen").click()
    assert page.locator("#familienname-fehler").is_visible()
    assert page.get_by_label("Vorname").input_value() == "olena"
    officer.check("suche-name-fehler")
    # (the synthetic demo paths of abh-05315 hold several persons of this family name)
    page.get_by_label("Gemeindeschlüssel (AGS)").fill("")
    page.get_by_label("Familienname").fill("DEMCHENKO")
    page.get_by_role("button", name="Suchen").click()
    assert page.locator("#tabelle-treffer").is_visible()
    assert "DEMCHENKO" not in page.url  # the terms are posted, never in the address
    officer.check("suche-name-treffer")
    page.get_by_role("link", name=re.compile("^Statusverlauf")).first.click()
    page.wait_for_url(re.compile(r"/personen/[0-9a-f-]{36}/verlauf"))
    assert page.locator("#tabelle-status").is_visible()
    assert page.get_by_text("Ausländerakte angelegt").is_visible()
    officer.check("statusverlauf")


def test_the_data_protection_officer_reports_and_erases_after_confirming(pages: Open) -> None:
    officer = pages("abh")
    officer.page.wait_for_url("**/personen")
    href = officer.page.locator("table a").first.get_attribute("href")
    assert href
    person = href.rsplit("/", 1)[1]

    dpo = pages("datenschutz")
    page = dpo.page
    page.wait_for_url("**/datenschutz")
    dpo.check("datenschutz")
    page.get_by_label("Personenkennung").first.fill(person)
    page.get_by_role("button", name="Auskunft erstellen").click()
    assert page.locator("#tabelle-dienste").is_visible()
    assert page.get_by_role("link", name="Auskunft als PDF herunterladen").is_visible()
    dpo.check("auskunft")
    page.locator("#loeschen-person").fill(person)
    page.get_by_role("button", name="Weiter zur Bestätigung").click()
    assert page.locator("#loeschen-grund-fehler").is_visible()
    dpo.check("löschen-fehler")
    page.get_by_label("Grund der Löschung").select_option("request")
    page.get_by_role("button", name="Weiter zur Bestätigung").click()
    assert page.get_by_role("heading", name="Löschung bestätigen").is_visible()
    dpo.check("löschen-bestätigen")
    page.get_by_role("button", name="Endgültig löschen").click()
    assert page.locator("#bestaetigt-fehler").is_visible()
    dpo.check("löschen-bestätigen-fehler")
    page.get_by_label(re.compile("^Ich bestätige")).check()
    page.get_by_role("button", name="Endgültig löschen").click()
    page.wait_for_url("**/datenschutz?erledigt=loeschung*")
    assert page.get_by_text("Die Daten der Person wurden gelöscht").is_visible()
    dpo.check("gelöscht")


def test_graphiql_starts_from_the_hubs_own_assets(chromium: Any, hub_url: str) -> None:
    context = chromium.new_context()
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(f"{hub_url}/graphql")
    page.locator(".graphiql-editor").first.wait_for(timeout=15_000)
    assert failed == []
    context.close()
