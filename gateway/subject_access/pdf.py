"""The Art. 15 report as a printable German PDF (ReportLab)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from kernel.clock import BERLIN

TITLE = "Auskunft nach Art. 15 DSGVO"
DASH = "\u2013"  # what an empty field shows
SERVICE_NAMES = {
    "foreigners_authority": "Ausländerbehörde",
    "case_management": "Kommunales Integrationsmanagement (Case Management)",
    "conflict_management": "Kommunales Konfliktmanagement",
    "steering_group": "Lenkungsgruppe",
}
STATUS_TEXT = {
    "unknown": "Zu dieser Person sind hier keine Daten gespeichert.",
    "erased": "Daten gelöscht: Der Schlüssel der Person wurde vernichtet; die hier gespeicherten "
    "Daten sind nicht mehr lesbar.",
    "none_by_design": "Hier werden keine personenbezogenen Daten gespeichert (so angelegt): "
    "Konflikte betreffen Gruppen oder Organisationen, die Lenkungsgruppe sieht nur "
    "pseudonymisierte, zusammengefasste Zahlen.",
    "unavailable": "Der Dienst hat nicht geantwortet; diese Auskunft ist insoweit unvollständig "
    "und wird nachgereicht.",
}
RESTRICTED_TEXT = (
    "Die Verarbeitung dieser Daten ist eingeschränkt (Art. 18 DSGVO): sie werden nur noch "
    "gespeichert und weder angezeigt noch verändert."
)
CONSENT_STATUS = {"active": "erteilt", "withdrawn": "widerrufen", "expired": "abgelaufen"}
DECISIONS = {"confirmed": "bestätigt", "declined": "abgelehnt"}
CASE_STATUS = {"open": "offen", "closed": "abgeschlossen"}
REFERRAL_STATUS = {
    "sent": "gesendet",
    "accepted": "angenommen",
    "declined": "abgelehnt",
    "completed": "abgeschlossen",
}
LEGAL_NOTES = [
    (
        "Zwecke der Verarbeitung",
        "Aufenthaltsrechtliche Verwaltung durch die Ausländerbehörde (AufenthG, AsylG, StAG); "
        "Beratung und Begleitung im Kommunalen Integrationsmanagement sowie die Vermittlung an "
        "Partnerstellen, soweit Ihre Einwilligung dies abdeckt (Art. 6 Abs. 1 lit. a, Art. 9 "
        "Abs. 2 lit. a DSGVO); die Steuerung der Integrationsarbeit nur mit pseudonymisierten, "
        "zusammengefassten Zahlen.",
    ),
    (
        "Empfänger",
        "Ihre Daten erhalten nur die oben unter „Empfänger“ genannten Stellen: die Stellen, an "
        "die Sie mit Ihrer Einwilligung vermittelt wurden, und die Stellen, die Ihre Daten "
        "gelesen haben. Daten des Case Managements erhält die Ausländerbehörde nie (§ 87 "
        "AufenthG).",
    ),
    (
        "Speicherdauer",
        "Akten der Ausländerbehörde werden zehn Jahre nach ihrer Abgabe aufbewahrt (§ 68 "
        "AufenthV); Daten des Case Managements, solange der Zweck besteht und gesetzliche "
        "Aufbewahrungsfristen es verlangen, danach werden sie gelöscht oder eingeschränkt "
        "(§ 84 SGB X). Eine Einwilligung gilt bis zu dem darin genannten Datum.",
    ),
    (
        "Ihre Rechte",
        "Sie haben das Recht auf Berichtigung unrichtiger Daten (Art. 16 DSGVO), auf Löschung "
        "(Art. 17 DSGVO), auf Einschränkung der Verarbeitung (Art. 18 DSGVO) und auf "
        "Widerspruch (Art. 21 DSGVO). Eine Einwilligung können Sie jederzeit für die Zukunft "
        "widerrufen (Art. 7 Abs. 3 DSGVO).",
    ),
    (
        "Beschwerde",
        "Sie können sich bei der Aufsichtsbehörde beschweren (Art. 77 DSGVO): Landesbeauftragte "
        "für Datenschutz und Informationsfreiheit Nordrhein-Westfalen (LDI NRW), Kavalleriestraße "
        "2-4, 40213 Düsseldorf, www.ldi.nrw.de. Kirchliche Träger (Caritas, Diakonie) "
        "unterliegen zusätzlich der kirchlichen Datenschutzaufsicht.",
    ),
]

#: the recorded steps of a file, case, consent, referral or mediation request, in German
EVENTS = {
    "person_registered": "Akte angelegt",
    "entry_recorded": "Einreise erfasst",
    "residence_registered": "Wohnsitz angemeldet",
    "residence_title_granted": "Aufenthaltstitel erteilt",
    "asylum_application_filed": "Asylantrag gestellt",
    "asylum_decision_received": "Asylentscheidung erhalten",
    "duldung_issued": "Duldung erteilt",
    "residence_title_applied": "Aufenthaltstitel beantragt",
    "fiktionsbescheinigung_issued": "Fiktionsbescheinigung ausgestellt",
    "temporary_protection_granted": "Vorübergehender Schutz gewährt",
    "temporary_protection_extended": "Vorübergehender Schutz verlängert",
    "integration_course_obligation_imposed": "Verpflichtung zum Integrationskurs",
    "integration_course_completed": "Integrationskurs abgeschlossen",
    "language_certificate_recorded": "Sprachzertifikat erfasst",
    "departure_recorded": "Ausreise erfasst",
    "consent_confirmed": "Einwilligung bestätigt",
    "consent_declined": "Einwilligung abgelehnt",
    "case_file_transferred": "Akte abgegeben",
    "naturalisation_applied": "Einbürgerung beantragt",
    "naturalisation_requirement_assessed": "Einbürgerungsvoraussetzung geprüft",
    "naturalisation_test_passed": "Einbürgerungstest bestanden",
    "naturalisation_assured": "Einbürgerung zugesichert",
    "naturalisation_completed": "Einbürgerung vollzogen",
    "opened": "Fall eröffnet",
    "needs_assessed": "Bedarfe festgestellt",
    "goal_agreed": "Ziel vereinbart",
    "conference_held": "Fallkonferenz",
    "legal_sphere_changed": "Rechtskreis gewechselt",
    "closed": "Fall abgeschlossen",
    "reopened": "Fall wieder eröffnet",
    "granted": "Einwilligung erteilt",
    "withdrawn": "Einwilligung widerrufen",
    "expired": "Einwilligung abgelaufen",
    "sent": "Vermittlung gesendet",
    "accepted": "Vermittlung angenommen",
    "declined": "Vermittlung abgelehnt",
    "completed": "Vermittlung abgeschlossen",
    "requested": "Sprachmittlung angefragt",
    "assigned": "Sprachmittlung zugewiesen",
    "unserved": "Sprachmittlung nicht besetzt",
}
#: the fields of recorded steps, in German (others keep their name)
FIELDS = {
    "names": "Namen",
    "given": "Vornamen",
    "family": "Familienname",
    "birth_date": "Geburtsdatum",
    "azr_number": "AZR-Nummer",
    "contact": "Kontakt",
    "nationalities": "Staatsangehörigkeiten",
    "abh_id": "Behörde",
    "to_abh": "an Behörde",
    "entry_date": "Einreise",
    "entry_mode": "Art der Einreise",
    "municipality_key": "Gemeindeschlüssel",
    "registered_on": "angemeldet am",
    "title": "Titel",
    "paragraph": "Paragraf",
    "granted_on": "erteilt am",
    "valid_from": "gültig ab",
    "valid_until": "gültig bis",
    "conditions": "Auflagen",
    "consent_id": "Einwilligung",
    "confirmed_on": "am",
    "declined_on": "am",
    "transferred_on": "am",
    "departed_on": "am",
    "person_id": "Person",
    "case_id": "Fall",
    "goal_id": "Ziel",
    "domain": "Lebensbereich",
    "description": "Beschreibung",
    "target_date": "Zieldatum",
    "needs": "Bedarfe",
    "held_on": "am",
    "participants": "Beteiligte",
    "recipients": "Empfänger",
    "categories": "Datenkategorien",
    "purposes": "Zwecke",
    "purpose": "Zweck",
    "to_agency": "an",
    "from_agency": "von",
    "service": "Angebot",
    "shared_categories": "geteilte Datenkategorien",
    "note": "Notiz",
    "reason": "Grund",
    "outcome": "Ergebnis",
    "agency": "Stelle",
    "case_manager": "Fallverantwortliche Kennung",
    "target_group": "Zielgruppe",
    "legal_spheres": "Rechtskreise",
    "intake_source": "Zugang",
    "interpreter_needed": "Sprachmittlung benötigt",
    "language": "Sprache",
    "starts_at": "Termin",
    "minutes": "Minuten",
}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def german(value: Any) -> str:
    """A value as a German reader expects it: dates ``30.11.2026``, instants in German time
    ``30.11.2026, 09:15 Uhr``, lists joined, booleans ja/nein, nothing as a dash."""
    if value is None or value == "" or value == []:
        return DASH
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, datetime):
        return value.astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, list | tuple):
        return ", ".join(german(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {german(v)}" for k, v in value.items())
    text = str(value)
    if _DATE.match(text):
        return date.fromisoformat(text).strftime("%d.%m.%Y")
    if _INSTANT.match(text):
        try:
            return german(datetime.fromisoformat(text))
        except ValueError:
            return text
    return text


class _Styles:
    def __init__(self) -> None:
        sheet = getSampleStyleSheet()
        self.title = sheet["Title"]
        self.h1 = sheet["Heading1"]
        self.h2 = sheet["Heading2"]
        self.h3 = sheet["Heading3"]
        self.body = sheet["BodyText"]
        self.cell = ParagraphStyle("cell", parent=sheet["BodyText"], fontSize=8, leading=10)
        self.head = ParagraphStyle("head", parent=self.cell, fontName="Helvetica-Bold")


class _Writer:
    def __init__(self) -> None:
        self.s = _Styles()
        self.story: list[Flowable] = []

    def text(self, text: str, style: ParagraphStyle | None = None) -> None:
        self.story.append(Paragraph(escape(text), style or self.s.body))

    def heading(self, text: str, level: int = 1) -> None:
        style = {1: self.s.h1, 2: self.s.h2, 3: self.s.h3}[level]
        self.story.append(Paragraph(escape(text), style))

    def pairs(self, rows: Iterable[tuple[str, Any]]) -> None:
        self.table(["Angabe", "Wert"], [[k, german(v)] for k, v in rows], widths=[5 * cm, 12 * cm])

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        widths: Sequence[float] | None = None,
    ) -> None:
        if not rows:
            self.text("Keine Einträge.")
            return
        data = [[Paragraph(escape(h), self.s.head) for h in header]] + [
            [Paragraph(escape(german(c)), self.s.cell) for c in row] for row in rows
        ]
        table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        self.story.append(table)
        self.story.append(Spacer(1, 0.3 * cm))


def _name(document: dict[str, Any]) -> str:
    for holding in document["services"]:
        data = holding.get("data") or {}
        found = data.get("residence_file") or data.get("client") or {}
        if found.get("family_name"):
            return f"{found.get('given_names', '')} {found['family_name']}".strip()
    return "nicht mehr bekannt (gelöscht) oder nicht gespeichert"


def _fields(fields: dict[str, Any]) -> str:
    return "; ".join(
        f"{FIELDS.get(k, k)}: {_fields(v) if isinstance(v, dict) else german(v)}"
        for k, v in fields.items()
    )


def _recorder(recorded_by: dict[str, Any]) -> str:
    if not recorded_by:
        return DASH
    who = f"{recorded_by.get('agency', DASH)} ({recorded_by.get('role', DASH)})"
    return (
        f"{who}; Rechtsgrundlage: {recorded_by.get('legal_basis', DASH)};"
        f" Zweck: {recorded_by.get('purpose', DASH)}"
    )


def _history(w: _Writer, events: list[dict[str, Any]]) -> None:
    w.table(
        ["erfasst am", "Vorgang", "Angaben", "erfasst von"],
        [
            [
                e.get("recorded_at"),
                EVENTS.get(e["event"], e["event"]),
                _fields(e.get("fields") or {}),
                _recorder(e.get("recorded_by") or {}),
            ]
            for e in events
        ],
        widths=[3 * cm, 3.5 * cm, 6 * cm, 4.5 * cm],
    )


def _authority(w: _Writer, data: dict[str, Any]) -> None:
    file = data.get("residence_file") or {}
    w.heading("Aufenthaltsakte", 3)
    w.pairs(
        [
            ("Vornamen", file.get("given_names")),
            ("Familienname", file.get("family_name")),
            ("Geburtsdatum", file.get("birth_date")),
            ("AZR-Nummer", file.get("azr_number")),
            ("Staatsangehörigkeiten", file.get("nationalities")),
            ("Einreise", file.get("entry_date")),
            ("Art der Einreise", file.get("entry_mode")),
            ("Gemeindeschlüssel des Wohnorts", file.get("municipality_key")),
            ("aktenführende Behörde", data.get("holding_authority")),
        ]
    )
    w.heading("Aufenthaltstitel", 3)
    w.table(
        ["Titel", "Paragraf", "erteilt am", "gültig ab", "gültig bis"],
        [
            [
                t.get("title"),
                t.get("paragraph"),
                t.get("granted_on"),
                t.get("valid_from"),
                t.get("valid_until"),
            ]
            for t in file.get("titles") or []
        ],
    )
    w.heading("Verlauf der Akte (Entscheidungen und Vorgänge)", 3)
    _history(w, data.get("history") or [])


def _cases(w: _Writer, data: dict[str, Any]) -> None:
    client = data.get("client") or {}
    w.heading("Stammdaten", 3)
    w.pairs(
        [
            ("Vornamen", client.get("given_names")),
            ("Familienname", client.get("family_name")),
            ("Geburtsdatum", client.get("birth_date")),
            ("Kontakt", client.get("contact")),
        ]
    )
    for case in data.get("cases") or []:
        w.heading(f"Fall vom {german(case.get('opened_on'))} ({case.get('agency')})", 3)
        w.pairs(
            [
                ("Status", CASE_STATUS.get(case.get("status", ""), case.get("status"))),
                ("Fallverantwortliche Kennung", case.get("case_manager")),
                ("Zielgruppe", case.get("target_group")),
                ("Rechtskreise", case.get("legal_spheres")),
                ("Zugang", case.get("intake_source")),
                ("Sprachmittlung benötigt", case.get("interpreter_needed")),
                ("abgeschlossen am", case.get("closed_on")),
                ("Bedarfe", case.get("needs")),
            ]
        )
        w.table(
            ["Ziel (Lebensbereich)", "Beschreibung", "Zieldatum"],
            [[g["domain"], g["description"], g["target_date"]] for g in case.get("goals") or []],
            widths=[4 * cm, 10 * cm, 3 * cm],
        )
        w.table(
            ["Fallkonferenz am", "Beteiligte Stellen"],
            [[c["held_on"], c["participants"]] for c in case.get("conferences") or []],
        )
        _history(w, case.get("history") or [])
    w.heading("Vermittlungen", 3)
    w.table(
        ["an", "Angebot", "geteilte Datenkategorien", "Zweck", "Status", "Notiz"],
        [
            [
                r["to_agency"],
                r["service"],
                r["shared_categories"],
                r["purpose"],
                REFERRAL_STATUS.get(r["status"], r["status"]),
                r.get("note"),
            ]
            for r in data.get("referrals") or []
        ],
    )
    if data.get("mediation"):
        w.heading("Sprachmittlung", 3)
        w.table(
            ["Sprache", "Termin", "Minuten", "Status"],
            [[m["language"], m["starts_at"], m["minutes"], m["status"]] for m in data["mediation"]],
        )


def render(document: dict[str, Any]) -> bytes:
    """The report as PDF bytes."""
    w = _Writer()
    generated = datetime.fromisoformat(document["generated_at"])
    w.text(TITLE, w.s.title)
    w.pairs(
        [
            ("Betroffene Person", _name(document)),
            ("Pseudonyme Kennung", document["person_id"]),
            ("Erstellt am", generated),
            (
                "Erstellt von",
                f"{document['requested_by']['subject']} ({document['requested_by']['agency']},"
                " Datenschutzbeauftragte/r)",
            ),
        ]
    )
    w.heading("1. Gespeicherte Daten")
    for holding in document["services"]:
        w.heading(SERVICE_NAMES.get(holding["service"], holding["service"]), 2)
        if holding.get("restricted"):
            w.text(RESTRICTED_TEXT)
        if holding["status"] != "found":
            w.text(STATUS_TEXT.get(holding["status"], holding["status"]))
        elif holding["service"] == "foreigners_authority":
            _authority(w, holding["data"])
        elif holding["service"] == "case_management":
            _cases(w, holding["data"])
    w.heading("2. Einwilligungen")
    w.table(
        ["Empfänger", "Datenkategorien", "Zwecke", "gültig", "Status", "Ausländerbehörde"],
        [
            [
                c["recipients"],
                c["categories"],
                c["purposes"],
                f"{german(c['valid_from'])} bis {german(c['valid_until'])}",
                CONSENT_STATUS.get(c["status"], c["status"])
                + (f" ({german(c['ended_on'])})" if c.get("ended_on") else ""),
                [
                    f"{DECISIONS.get(d['decision'], d['decision'])} am {german(d['on'])}"
                    for d in c["authority_decisions"]
                ]
                or DASH,
            ]
            for c in document["consents"]
        ],
    )
    recipients = document["recipients"]
    w.heading("3. Empfänger Ihrer Daten")
    w.heading("Vermittlungen an Partnerstellen", 2)
    w.table(
        ["an", "von", "geteilte Datenkategorien", "Zweck", "gesendet"],
        [
            [r["to_agency"], r["from_agency"], r["shared_categories"], r["purpose"], r["sent_at"]]
            for r in recipients["referrals"]
        ],
    )
    w.heading("Stellen, die Ihre Daten gelesen haben (laut Zugriffsprotokoll)", 2)
    w.table(
        ["Stelle", "Rolle", "Zugriffe", "erster", "letzter"],
        [
            [r["agency"], r["role"], r["reads"], r["first"], r.get("last")]
            for r in recipients["readers"]
        ],
    )
    w.heading("Bestätigungen von Einwilligungen durch die Ausländerbehörde", 2)
    w.table(
        ["Einwilligung", "bestätigt am"],
        [[d["consent_id"], d["on"]] for d in recipients["authority_confirmations"]],
    )
    w.heading("4. Protokoll der Zugriffe")
    w.table(
        ["Zeitpunkt", "Kennung", "Stelle", "Rolle", "Aktion", "Zweck"],
        [
            [e["at"], e["subject"], e["agency"], e["role"], e["action"], e["purpose"]]
            for e in document["access_log"]
        ],
    )
    notes: list[Flowable] = []
    w.heading("5. Hinweise")
    for heading, text in LEGAL_NOTES:
        notes = [Paragraph(escape(heading), w.s.h3), Paragraph(escape(text), w.s.body)]
        w.story.append(KeepTogether(notes))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=TITLE,
        author="Integrationshub",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
    )
    doc.build(w.story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _footer(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    canvas.drawString(2 * cm, 1.2 * cm, f"{TITLE}, vertraulich, Seite {doc.page}")
    canvas.restoreState()
