"""German labels for the hub's codes, and the plain explanations the consent form shows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
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


#: German labels of the timeline's event types (``hub.<service>.<name>.v<n>``: the name). The
#: API's ``summary`` stays English; the workspace shows these instead.
EVENTS = {
    # foreigners authority
    "person_registered": "Ausländerakte angelegt",
    "entry_recorded": "Einreise erfasst",
    "residence_registered": "Wohnsitz angemeldet",
    "residence_title_granted": "Aufenthaltstitel erteilt",
    "residence_title_refused": "Aufenthaltstitel abgelehnt",
    "asylum_application_filed": "Asylantrag gestellt (Aufenthaltsgestattung)",
    "asylum_decision_received": "Asylentscheidung erhalten",
    "duldung_issued": "Duldung erteilt",
    "residence_title_applied": "Aufenthaltstitel beantragt",
    "fiktionsbescheinigung_issued": "Fiktionsbescheinigung ausgestellt",
    "temporary_protection_granted": "Vorübergehender Schutz (§ 24 AufenthG) gewährt",
    "temporary_protection_extended": "Vorübergehender Schutz verlängert",
    "integration_course_obligation_imposed": "Verpflichtung zum Integrationskurs",
    "integration_course_completed": "Integrationskurs abgeschlossen",
    "language_certificate_recorded": "Sprachzertifikat erfasst",
    "departure_recorded": "Ausreise erfasst",
    "stay_abroad_began": "Auslandsaufenthalt begonnen",
    "returned_from_abroad": "Rückkehr aus dem Ausland",
    "asylum_appeal_filed": "Klage gegen die Asylentscheidung erhoben",
    "asylum_court_decided": "Gerichtsentscheidung im Asylverfahren",
    "asylum_suspensive_effect_ordered": "Aufschiebende Wirkung der Klage angeordnet",
    "asylum_decision_final": "Asylentscheidung bestandskräftig",
    "nationality_given_up": "Staatsangehörigkeit aufgegeben",
    "multiple_nationality_accepted": "Mehrstaatigkeit hingenommen",
    "consent_confirmed": "Einwilligung von der Ausländerbehörde bestätigt",
    "consent_declined": "Einwilligung von der Ausländerbehörde abgelehnt",
    "case_file_transferred": "Akte abgegeben",
    "naturalisation_applied": "Einbürgerung beantragt",
    "naturalisation_requirement_assessed": "Einbürgerungsvoraussetzung geprüft",
    "naturalisation_test_passed": "Einbürgerungstest bestanden",
    "naturalisation_assured": "Einbürgerungszusicherung erteilt",
    "naturalisation_completed": "Eingebürgert (Urkunde ausgehändigt)",
    # case management
    "client_registered": "Beim KIM-Case-Management registriert",
    "case_opened": "Fall aufgenommen",
    "needs_assessed": "Bedarfe eingeschätzt",
    "goal_agreed": "Ziel vereinbart",
    "case_conference_held": "Fallkonferenz durchgeführt",
    "legal_sphere_changed": "Rechtskreiswechsel",
    "case_closed": "Fall abgeschlossen",
    "case_reopened": "Fall wieder aufgenommen",
    "consent_granted": "Einwilligung erteilt",
    "consent_withdrawn": "Einwilligung widerrufen",
    "consent_expired": "Einwilligung abgelaufen",
    "referral_sent": "Überweisung gesendet",
    "referral_accepted": "Überweisung angenommen",
    "referral_declined": "Überweisung abgelehnt",
    "referral_completed": "Überweisung abgeschlossen",
    "mediation_requested": "Sprachmittlung angefragt",
    "mediator_assigned": "Sprachmittlung zugeteilt",
    "mediation_unserved": "Keine Sprachmittlung verfügbar",
}

SERVICES = {
    "foreigners_authority": "Ausländerbehörde",
    "case_management": "KIM-Case-Management",
    "conflict_management": "Konfliktmanagement",
    "steering_group": "Lenkungsgruppe",
}

_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def event_name(event_type: str) -> str:
    """``hub.case_management.legal_sphere_changed.v1`` -> ``legal_sphere_changed``."""
    parts = event_type.split(".")
    return parts[2] if len(parts) >= 3 else event_type


def sphere(code: str | None) -> str:
    """A legal sphere's code (``sgb_ii``; ``None``: none) in German."""
    if code is None:
        return "keiner"
    return LEGAL_SPHERES.get(code, code)


def sphere_change(change: dict[str, Any]) -> dict[str, str]:
    """From, to and the day of a Rechtskreiswechsel (a ``LegalSphereChange`` of the API), in
    German."""
    return {
        "von": sphere(change["fromSphere"]),
        "nach": sphere(change["toSphere"]),
        "ab": date_de(change["effectiveOn"]),
    }


def conference(held: dict[str, Any]) -> dict[str, str]:
    """The day and the participating agencies of a case conference (a ``CaseConference``
    of the API), in German."""
    return {"am": date_de(held["heldOn"]), "mit": ", ".join(held["participants"])}


def case_history_de(case: dict[str, Any]) -> dict[int, str]:
    """The timeline texts, in German, of a case's changes of legal sphere and conferences,
    by the position of their event in case management's log (the timeline's ``position``)."""
    texts: dict[int, str] = {}
    for change in case.get("legalSphereChanges") or []:
        c = sphere_change(change)
        texts[change["position"]] = (
            f"{EVENTS['legal_sphere_changed']}: {c['von']} → {c['nach']} ab {c['ab']}"
        )
    for held in case.get("caseConferences") or []:
        k = conference(held)
        texts[held["position"]] = f"{EVENTS['case_conference_held']} am {k['am']} mit {k['mit']}"
    return texts


def timeline_de(event_type: str, summary: str) -> str:
    """A timeline row in German: the event type's label with the dates of its summary (the
    Fallakte says a case's Rechtskreiswechsel and conferences in full from the case's data,
    :func:`case_history_de`)."""
    text = EVENTS.get(event_name(event_type), "Ereignis")
    dates = [date_de(d) for d in _ISO_DATE.findall(summary)]
    return f"{text} ({', '.join(dates)})" if dates else text
