"""The Art. 15 report's PDF (gateway/subject_access/pdf.py): German headings, dates and legal
notes, the person's data as the services sent it, and an erased service said so."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from pypdf import PdfReader

from gateway.subject_access.pdf import german, render


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def document(**services: dict[str, Any]) -> dict[str, Any]:
    holdings = {
        "foreigners_authority": {"service": "foreigners_authority", "status": "unknown"},
        "case_management": {"service": "case_management", "status": "unknown"},
        "conflict_management": {"service": "conflict_management", "status": "none_by_design"},
        "steering_group": {"service": "steering_group", "status": "none_by_design"},
    }
    holdings.update(services)
    return {
        "person_id": "5f0c2d4e-0000-4000-8000-000000000001",
        "generated_at": "2026-03-01T08:30:00+00:00",
        "requested_by": {"subject": "dpo-greta", "agency": "datenschutz-05315", "role": "dpo"},
        "services": list(holdings.values()),
        "consents": [],
        "recipients": {"referrals": [], "readers": [], "authority_confirmations": []},
        "access_log": [
            {
                "at": "2026-02-27T13:05:00+00:00",
                "subject": "cm-anna",
                "agency": "kim-05315",
                "role": "case_manager",
                "action": "case",
                "purpose": "case_management",
            }
        ],
    }


def test_dates_and_instants_are_written_the_german_way() -> None:
    assert german("2024-02-01") == "01.02.2024"
    assert german("2026-03-01T08:30:00+00:00") == "01.03.2026, 09:30 Uhr"  # Berlin time
    assert german(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "01.07.2026, 12:00 Uhr"
    assert german(["SYR", "IRQ"]) == "SYR, IRQ"
    assert german(True) == "ja"
    assert german(None) == "\u2013"


def test_the_pdf_holds_the_german_sections_the_data_and_the_legal_notes() -> None:
    file = {
        "residence_file": {
            "given_names": "Lina-Marie",
            "family_name": "Saleh-Haddad",
            "birth_date": "1990-03-04",
            "azr_number": "987654321098",
            "nationalities": ["SYR"],
            "entry_date": "2024-02-01",
            "titles": [],
        },
        "holding_authority": "abh-05315",
        "history": [
            {
                "event": "person_registered",
                "recorded_at": "2024-02-01T09:00:00+00:00",
                "recorded_by": {
                    "agency": "abh-05315",
                    "role": "abh_officer",
                    "legal_basis": "§ 86 AufenthG",
                    "purpose": "residence_administration",
                },
                "fields": {"names": {"given": "Lina-Marie", "family": "Saleh-Haddad"}},
            }
        ],
        "consent_decisions": [],
    }

    text = text_of(
        render(
            document(
                foreigners_authority={
                    "service": "foreigners_authority",
                    "status": "found",
                    "data": file,
                },
                case_management={"service": "case_management", "status": "erased"},
            )
        )
    )

    for heading in (
        "Auskunft nach Art. 15 DSGVO",
        "1. Gespeicherte Daten",
        "Ausländerbehörde",
        "2. Einwilligungen",
        "3. Empfänger Ihrer Daten",
        "4. Protokoll der Zugriffe",
        "5. Hinweise",
        "Berichtigung",
        "Löschung",
        "Einschränkung",
        "LDI NRW",
        "Speicherdauer",
    ):
        assert heading in text, heading
    assert "Saleh-Haddad" in text
    assert "Akte angelegt" in text  # the file's recorded steps, in German
    assert "Rechtsgrundlage" in text
    assert "Rechtsgrundlage: § 86" in text  # who recorded it, on which legal basis
    assert "987654321098" in text
    assert "04.03.1990" in text
    assert "01.03.2026, 09:30 Uhr" in text  # generated at, in German time
    assert "Daten gelöscht" in text  # case management's key was erased
    assert "keine personenbezogenen Daten" in text  # conflict management, steering group
