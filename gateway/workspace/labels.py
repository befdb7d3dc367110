"""German labels for the hub's codes, and the plain explanations the consent form shows."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")

ROLES = {
    "case_manager": "KIM-Case-Management",
    "partner_agency": "Partnerstelle",
    "abh_officer": "Ausländerbehörde",
    "conflict_board": "Kommunales Konfliktmanagement",
    "steering": "Lenkungsgruppe",
    "admin": "Betrieb (Administration)",
    "dpo": "Datenschutzbeauftragte Person",
}

TARGET_GROUPS = {
    "newly_arrived": "Neu Zugewanderte",
    "tolerated": "Geduldete",
    "young_adults": "Junge Erwachsene",
    "families": "Familien",
    "eu_citizens": "EU-Bürgerinnen und -Bürger",
    "other": "Andere",
}

LEGAL_SPHERES = {
    "sgb_ii": "SGB II (Bürgergeld)",
    "sgb_iii": "SGB III (Arbeitsförderung)",
    "sgb_viii": "SGB VIII (Kinder- und Jugendhilfe)",
    "sgb_xii": "SGB XII (Sozialhilfe)",
    "asylblg": "AsylbLG",
    "aufenthg": "AufenthG",
}

INTAKE_SOURCES = {
    "self_referral": "Selbstmeldung",
    "foreigners_authority": "Ausländerbehörde",
    "jobcenter": "Jobcenter",
    "social_services": "Sozialdienst",
    "school": "Schule",
    "counselling_service": "Beratungsstelle",
    "other": "Andere",
}

DOMAINS = {
    "residence": "Aufenthalt",
    "language": "Sprache",
    "education": "Bildung",
    "work": "Arbeit",
    "housing": "Wohnen",
    "health": "Gesundheit",
    "family": "Familie",
}

LEVELS = {"none": "kein Bedarf", "low": "gering", "medium": "mittel", "high": "hoch"}

#: data categories with what releasing them means, in plain words
CATEGORIES = {
    "case_basic": (
        "Grunddaten des Falls",
        "Dass es einen Fall gibt, die Zielgruppe und die Rechtskreise, ohne Namen.",
    ),
    "identity": ("Identität", "Name und Geburtsdatum der Person."),
    "residence": (
        "Aufenthalt",
        "Aufenthaltsstatus und Titel, wie sie der Stelle vorliegen.",
    ),
    "social_benefits": ("Sozialleistungen", "Welche Leistungen die Person bezieht (Sozialdaten)."),
    "language": ("Sprache", "Sprachstand, Sprachkurse und der Bedarf im Lebensbereich Sprache."),
    "education": ("Bildung", "Schul- und Berufsabschlüsse und der Bedarf im Bereich Bildung."),
    "work": ("Arbeit", "Bedarf und Ziele im Lebensbereich Arbeit."),
    "housing": ("Wohnen", "Bedarf und Ziele im Lebensbereich Wohnen."),
    "family": ("Familie", "Familiensituation und der Bedarf im Bereich Familie."),
    "health": (
        "Gesundheit (besondere Kategorie)",
        "Gesundheitsdaten. Nur mit ausdrücklicher Einwilligung (Art. 9 DSGVO).",
    ),
    "religion": (
        "Religion (besondere Kategorie)",
        "Religiöse Überzeugung. Nur mit ausdrücklicher Einwilligung (Art. 9 DSGVO).",
    ),
    "ethnicity": (
        "Ethnische Herkunft (besondere Kategorie)",
        "Ethnische Herkunft. Nur mit ausdrücklicher Einwilligung (Art. 9 DSGVO).",
    ),
}

#: purposes with what a consent for them allows
PURPOSES = {
    "referral": (
        "Vermittlung",
        "Die Empfänger dürfen die Daten nutzen, um eine Vermittlung an ihre Stelle zu bearbeiten.",
    ),
    "case_conference": (
        "Fallkonferenz",
        "Die Daten dürfen in einer Fallkonferenz mit den Empfängern besprochen werden.",
    ),
    "counselling": ("Beratung", "Die Empfänger dürfen die Daten für ihre Beratung nutzen."),
    "employment_support": (
        "Arbeitsförderung",
        "Die Empfänger dürfen die Daten nutzen, um bei der Arbeitssuche zu unterstützen.",
    ),
    "benefit_processing": (
        "Leistungsbearbeitung",
        "Die Empfänger dürfen die Daten nutzen, um Leistungen zu bearbeiten.",
    ),
    "education_support": (
        "Bildungsförderung",
        "Die Empfänger dürfen die Daten für Schule, Ausbildung und Kurse nutzen.",
    ),
    "housing_support": (
        "Wohnungssuche",
        "Die Empfänger dürfen die Daten nutzen, um bei der Wohnungssuche zu unterstützen.",
    ),
    "health_support": (
        "Gesundheitsversorgung",
        "Die Empfänger dürfen die Daten nutzen, um Gesundheitsleistungen zu vermitteln.",
    ),
}

CONSENT_STATUS = {"active": "gültig", "withdrawn": "widerrufen", "expired": "abgelaufen"}
REFERRAL_STATUS = {
    "sent": "gesendet",
    "accepted": "angenommen",
    "declined": "abgelehnt",
    "completed": "abgeschlossen",
}
DECLINE_REASONS = {
    "no_capacity": "Keine Kapazität",
    "not_eligible": "Keine Zuständigkeit / nicht anspruchsberechtigt",
    "person_unreachable": "Person nicht erreichbar",
    "wrong_service": "Falsches Angebot",
    "other": "Anderer Grund",
}
OUTCOMES = {
    "service_provided": "Leistung erbracht",
    "person_withdrew": "Person hat zurückgezogen",
    "handed_on": "Weitervermittelt",
    "other": "Anderes Ergebnis",
}
CASE_STATUS = {"open": "offen", "closed": "abgeschlossen"}

STAGES = {
    "arrival": "Ankunft",
    "status_pending": "Status offen",
    "protected_or_tolerated": "Schutz oder Duldung",
    "titled": "Aufenthaltstitel",
    "permanent": "Niederlassungserlaubnis",
    "naturalisation_applied": "Einbürgerung beantragt",
    "naturalised": "Eingebürgert",
    "departed": "Ausgereist",
    "transferred": "Abgegeben",
}

PERIODS = {
    "gestattung": "Aufenthaltsgestattung",
    "duldung": "Duldung",
    "fiktion": "Fiktionsbescheinigung",
    "temporary_protection": "Vorübergehender Schutz (§ 24)",
    "residence_title": "Aufenthaltstitel",
    "settlement_permit": "Niederlassungserlaubnis",
    "eu_long_term": "Daueraufenthalt-EU",
    "eu_free_movement": "EU-Freizügigkeit",
    "visa": "Visum",
    "naturalised": "Einbürgerung",
}

REQUIREMENTS = {
    "residence_period": "Aufenthaltsdauer",
    "qualifying_title": "Aufenthaltsrecht",
    "livelihood": "Lebensunterhalt",
    "language": "Sprachkenntnisse",
    "naturalisation_test": "Einbürgerungstest",
    "commitment": "Bekenntnis zur freiheitlichen demokratischen Grundordnung",
    "no_conviction": "Keine Verurteilung",
    "single_nationality": "Staatsangehörigkeit",
}

MILESTONES = {
    "entry": "Einreise",
    "registered": "Registrierung",
    "first_title": "Erster Titel",
    "integration_course_completed": "Integrationskurs abgeschlossen",
    "permanent_status": "Unbefristeter Aufenthalt",
    "permanent": "Niederlassungserlaubnis",
    "naturalisation_applied": "Einbürgerung beantragt",
    "naturalised": "Eingebürgert",
}


#: shown for a missing or suppressed value
DASH = "\u2013"


def label(table: dict[str, str], code: str | None) -> str:
    """The German label of a code; the code itself when the table has none."""
    if code is None:
        return DASH
    return table.get(code, code)


def date_de(value: dt.date | str | None) -> str:
    """dd.mm.yyyy; an ISO string is read first."""
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.astimezone(BERLIN).date() if value.tzinfo else value.date()
    return value.strftime("%d.%m.%Y")


def datetime_de(value: dt.datetime | str | None) -> str:
    """dd.mm.yyyy, HH:MM Uhr in Europe/Berlin."""
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(BERLIN)
    return value.strftime("%d.%m.%Y, %H:%M Uhr")


def number_de(value: float | int | None, digits: int = 0) -> str:
    """German number format (decimal comma); a dash for a suppressed or missing value."""
    if value is None:
        return DASH
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")
