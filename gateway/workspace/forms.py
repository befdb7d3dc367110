"""Server-side checks of the workspace's forms: each error names its field, in German; what
the user typed is kept for the form shown again. The API checks again (one rule for codes and
limits lives in the contracts); its refusals are mapped back onto the fields here."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from gateway.workspace import labels
from kernel.categories import SPECIAL_CATEGORIES

Form = dict[str, list[str]]
Errors = dict[str, str]

#: the API's input fields (camelCase) -> the workspace's form fields
API_FIELDS = {
    "givenNames": "vorname",
    "familyName": "nachname",
    "birthDate": "geburtsdatum",
    "targetGroup": "zielgruppe",
    "legalSpheres": "rechtskreise",
    "intakeSource": "zugang",
    "recipients": "empfaenger",
    "categories": "kategorien",
    "purposes": "zwecke",
    "validUntil": "gueltig_bis",
    "specialCategoriesExplicit": "ausdruecklich",
    "toAgency": "stelle",
    "service": "angebot",
    "consentId": "einwilligung",
    "sharedCategories": "kategorien",
    "purpose": "zweck",
}
_AGENCY = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def one(form: Form, name: str) -> str:
    values = form.get(name, [])
    return values[0].strip() if values else ""


def kept(form: Form, *many: str) -> dict[str, Any]:
    """The values to show again: single fields as text, ``many`` fields as lists."""
    values: dict[str, Any] = {}
    for name, items in form.items():
        values[name] = [i for i in items if i] if name in many else (items[0] if items else "")
    return values


def parse_date(text: str) -> dt.date | None:
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def open_case(form: Form, today: dt.date) -> tuple[dict[str, Any], Errors]:
    """The ``openCase`` input from the Fallaufnahme form, or the errors."""
    errors: Errors = {}
    given, family = one(form, "vorname"), one(form, "nachname")
    if not given:
        errors["vorname"] = "Bitte geben Sie den Vornamen ein."
    elif len(given) > 200:
        errors["vorname"] = "Der Vorname darf höchstens 200 Zeichen lang sein."
    if not family:
        errors["nachname"] = "Bitte geben Sie den Nachnamen ein."
    elif len(family) > 200:
        errors["nachname"] = "Der Nachname darf höchstens 200 Zeichen lang sein."
    birth_text = one(form, "geburtsdatum")
    birth = parse_date(birth_text) if birth_text else None
    if birth_text and birth is None:
        errors["geburtsdatum"] = "Bitte geben Sie das Geburtsdatum als TT.MM.JJJJ ein."
    elif birth is not None and birth > today:
        errors["geburtsdatum"] = "Das Geburtsdatum darf nicht in der Zukunft liegen."
    group = one(form, "zielgruppe")
    if group not in labels.TARGET_GROUPS:
        errors["zielgruppe"] = "Bitte wählen Sie eine Zielgruppe aus."
    spheres = [s for s in form.get("rechtskreise", []) if s]
    if any(s not in labels.LEGAL_SPHERES for s in spheres):
        errors["rechtskreise"] = "Bitte wählen Sie nur Rechtskreise aus der Liste."
    source = one(form, "zugang")
    if source not in labels.INTAKE_SOURCES:
        errors["zugang"] = "Bitte wählen Sie aus, wie die Person zu Ihnen gekommen ist."
    contact = one(form, "kontakt")
    if len(contact) > 300:
        errors["kontakt"] = "Die Kontaktangabe darf höchstens 300 Zeichen lang sein."
    value: dict[str, Any] = {
        "givenNames": given,
        "familyName": family,
        "targetGroup": group,
        "legalSpheres": spheres,
        "intakeSource": source,
        "interpreterNeeded": one(form, "dolmetschung") == "ja",
    }
    if birth is not None:
        value["birthDate"] = birth.isoformat()
    if contact:
        value["contact"] = contact
    return value, errors


def grant_consent(form: Form, case_id: str, today: dt.date) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    recipients = [r.strip() for r in re.split(r"[,\s]+", one(form, "empfaenger")) if r.strip()]
    if not recipients:
        errors["empfaenger"] = "Bitte nennen Sie mindestens eine empfangende Stelle."
    elif any(not _AGENCY.match(r) for r in recipients):
        errors["empfaenger"] = (
            "Bitte nennen Sie Stellen mit ihrer Kennung, z. B. awo-05315, getrennt durch Kommas."
        )
    categories = [c for c in form.get("kategorien", []) if c]
    if not categories:
        errors["kategorien"] = "Bitte wählen Sie mindestens eine Datenkategorie."
    elif any(c not in labels.CATEGORIES for c in categories):
        errors["kategorien"] = "Bitte wählen Sie nur Kategorien aus der Liste."
    purposes = [p for p in form.get("zwecke", []) if p]
    if not purposes:
        errors["zwecke"] = "Bitte wählen Sie mindestens einen Zweck."
    elif any(p not in labels.PURPOSES for p in purposes):
        errors["zwecke"] = "Bitte wählen Sie nur Zwecke aus der Liste."
    explicit = one(form, "ausdruecklich") == "ja"
    special = sorted(set(categories) & SPECIAL_CATEGORIES)
    if special and not explicit:
        errors["ausdruecklich"] = (
            "Für besondere Kategorien (Gesundheit, Religion, ethnische Herkunft) muss die "
            "ausdrückliche Einwilligung bestätigt sein."
        )
    until_text = one(form, "gueltig_bis")
    until = parse_date(until_text) if until_text else None
    if until is None:
        errors["gueltig_bis"] = "Bitte geben Sie an, bis wann die Einwilligung gilt (TT.MM.JJJJ)."
    elif until <= today:
        errors["gueltig_bis"] = "Das Ende der Einwilligung muss nach dem heutigen Tag liegen."
    value: dict[str, Any] = {
        "caseId": case_id,
        "recipients": recipients,
        "categories": categories,
        "purposes": purposes,
        "specialCategoriesExplicit": explicit,
        "validUntil": until.isoformat() if until else "",
        "language": one(form, "sprache") or "de",
        "mutual": one(form, "gegenseitig") == "ja",
    }
    return value, errors


def send_referral(form: Form, case_id: str) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    agency = one(form, "stelle")
    if not _AGENCY.match(agency):
        errors["stelle"] = "Bitte nennen Sie die Stelle mit ihrer Kennung, z. B. awo-05315."
    service = one(form, "angebot")
    if not service:
        errors["angebot"] = "Bitte nennen Sie das Angebot, an das Sie vermitteln."
    elif len(service) > 200:
        errors["angebot"] = "Das Angebot darf höchstens 200 Zeichen lang sein."
    consent = one(form, "einwilligung")
    if not consent:
        errors["einwilligung"] = "Bitte wählen Sie die Einwilligung, auf die Sie sich stützen."
    categories = [c for c in form.get("kategorien", []) if c]
    if not categories:
        errors["kategorien"] = "Bitte wählen Sie mindestens eine Datenkategorie."
    elif any(c not in labels.CATEGORIES for c in categories):
        errors["kategorien"] = "Bitte wählen Sie nur Kategorien aus der Liste."
    purpose = one(form, "zweck")
    if purpose not in labels.PURPOSES:
        errors["zweck"] = "Bitte wählen Sie den Zweck der Vermittlung."
    return {
        "caseId": case_id,
        "toAgency": agency,
        "service": service,
        "consentId": consent,
        "sharedCategories": categories,
        "purpose": purpose,
    }, errors


def api_errors(
    problems: list[Any], fallback: str = "_", fields: dict[str, str] | None = None
) -> Errors:
    """The API's refusals as form errors: on the field the API names (``fields``: a form's
    own names for the API's input fields, before the shared ones), else at the top."""
    errors: Errors = {}
    names = {**API_FIELDS, **(fields or {})}
    for problem in problems:
        name = names.get(problem.field or "", fallback)
        text = problem.message
        if problem.missing:
            text += " Es fehlt: " + "; ".join(problem.missing) + "."
        errors.setdefault(name, text)
    return errors
