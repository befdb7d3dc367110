"""The new pages' parts without a hub: German timeline labels, the board log's corrections,
the forms' checks of the conflict, gaps board, search and data-protection pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.workspace import authority, cases, conflicts, gaps_board, labels, privacy
from kernel.clock import today_in_germany


def test_timeline_rows_are_german_with_their_dates() -> None:
    entered = "hub.foreigners_authority.entry_recorded.v1"
    assert labels.timeline_de(entered, "Entered Germany on 2022-03-09 visa-free") == (
        "Einreise erfasst (09.03.2022)"
    )
    assert labels.timeline_de("hub.x.something_new.v1", "Something") == "Ereignis"
    # a Rechtskreiswechsel's summary is not parsed: its details come from the case's data
    sphere = "hub.case_management.legal_sphere_changed.v1"
    summary = "Legal sphere changed sgb ii -> sgb xii from 2026-02-01"
    assert labels.timeline_de(sphere, summary) == "Rechtskreiswechsel (01.02.2026)"


CASE: dict[str, list[dict[str, Any]]] = {
    "legalSphereChanges": [
        {"fromSphere": None, "toSphere": "asylblg", "effectiveOn": "2026-01-05", "position": 3},
        {"fromSphere": "sgb_ii", "toSphere": "sgb_xii", "effectiveOn": "2026-02-01", "position": 9},
    ],
    "caseConferences": [
        {"heldOn": "2026-03-04", "participants": ["awo-05315", "kim-05315"], "position": 12}
    ],
}


def test_a_cases_legal_sphere_changes_and_conferences_are_german_from_the_data() -> None:
    first, second = CASE["legalSphereChanges"]
    assert labels.sphere_change(first) == {"von": "keiner", "nach": "AsylbLG", "ab": "05.01.2026"}
    assert labels.sphere_change(second) == {
        "von": "SGB II (Bürgergeld)",
        "nach": "SGB XII (Sozialhilfe)",
        "ab": "01.02.2026",
    }
    assert labels.sphere("unknown_code") == "unknown_code"
    assert labels.conference(CASE["caseConferences"][0]) == {
        "am": "04.03.2026",
        "mit": "awo-05315, kim-05315",
    }
    assert labels.case_history_de(CASE) == {
        3: "Rechtskreiswechsel: keiner → AsylbLG ab 05.01.2026",
        9: "Rechtskreiswechsel: SGB II (Bürgergeld) → SGB XII (Sozialhilfe) ab 01.02.2026",
        12: "Fallkonferenz durchgeführt am 04.03.2026 mit awo-05315, kim-05315",
    }


def test_the_case_file_says_its_own_history_in_full_on_the_timeline() -> None:
    def row(position: int, name: str, service: str = "case_management") -> dict[str, Any]:
        return {
            "position": position,
            "service": service,
            "eventType": f"hub.{service}.{name}.v1",
            "summary": "Something on 2026-02-01",
        }

    rows = [
        row(9, "legal_sphere_changed"),
        row(12, "case_conference_held"),
        row(9, "entry_recorded", "foreigners_authority"),  # same number, another log
        row(20, "case_conference_held"),  # not (yet) in the case's data
    ]
    texts = [r["text"] for r in cases._timeline_de(CASE, rows)]
    assert texts == [
        "Rechtskreiswechsel: SGB II (Bürgergeld) → SGB XII (Sozialhilfe) ab 01.02.2026",
        "Fallkonferenz durchgeführt am 04.03.2026 mit awo-05315, kim-05315",
        "Einreise erfasst (01.02.2026)",
        "Fallkonferenz durchgeführt (01.02.2026)",
    ]
    # the page reads the case again up to the newest such event the case's data lacks
    assert cases._unexplained(CASE, rows) == 20
    assert cases._unexplained(CASE, rows[:3]) is None


def test_every_event_on_a_timeline_has_a_german_label() -> None:
    from contracts import REGISTRY
    from projections.timeline.summaries import DESCRIBE

    for payload in DESCRIBE:
        name = labels.event_name(REGISTRY.for_payload(payload).type)
        assert name in labels.EVENTS, name


def test_the_board_log_shows_a_corrected_entry_with_its_correction() -> None:
    at = "2026-11-30T10:00:00+00:00"
    entries = [
        {
            "position": 1,
            "at": at,
            "agency": "b",
            "role": "r",
            "kind": "reported",
            "text": "Reported at",
            "entryId": None,
            "corrects": None,
        },
        {
            "position": 2,
            "at": at,
            "agency": "b",
            "role": "r",
            "kind": "note",
            "text": "Montag",
            "entryId": "e1",
            "corrects": None,
        },
        {
            "position": 3,
            "at": at,
            "agency": "b",
            "role": "r",
            "kind": "correction",
            "text": "Dienstag",
            "entryId": "e2",
            "corrects": "e1",
        },
    ]
    shown = conflicts.board_log(entries)
    assert [e["label"] for e in shown] == ["Konflikt gemeldet", "Eintrag", "Korrektur"]
    assert not shown[0]["written"]  # the hub's own English text is not shown
    assert [c["text"] for c in shown[1]["corrected_by"]] == ["Dienstag"]
    assert shown[2]["corrects_entry"]["text"] == "Montag"
    assert len(shown) == 3  # nothing is dropped: the log stays append-only


def test_the_conflict_forms_check_their_fields() -> None:
    conflict = {
        "interventions": [{"id": "i1", "outcome": None}, {"id": "i2", "outcome": "held"}],
        "log": [{"entryId": "e1"}],
    }
    _, errors = conflicts.check_intervention({"termin": ["31.02.2026"]}, conflict)
    assert set(errors) == {"format", "termin", "moderation"}
    _, errors = conflicts.check_outcome({"intervention": ["i2"], "ergebnis": ["held"]}, conflict)
    assert set(errors) == {"intervention"}  # its outcome is already recorded
    value, errors = conflicts.check_outcome(
        {"intervention": ["i1"], "ergebnis": ["held"], "stufe_danach": ["2"]}, conflict
    )
    assert errors == {}
    assert value["stageAfter"] == 2
    _, errors = conflicts.check_log_entry({"eintrag": ["ok!"], "korrigiert": ["e9"]}, conflict)
    assert set(errors) == {"korrigiert"}
    value, errors = conflicts.check_log_entry({"eintrag": ["Neu"], "korrigiert": ["e1"]}, conflict)
    assert errors == {}
    assert value == {"text": "Neu", "corrects": "e1"}


def test_a_gap_closes_only_when_its_measures_are_done() -> None:
    gap = {"measures": [{"id": "m1", "completedOn": None}]}
    _, errors = gaps_board.check_closing({"ergebnis": ["Erledigt"]}, gap)
    assert "ergebnis" in errors
    future = (today_in_germany() + dt.timedelta(days=2)).strftime("%d.%m.%Y")
    _, errors = gaps_board.check_completion({"massnahme": ["m1"], "erledigt_am": [future]}, gap)
    assert set(errors) == {"erledigt_am"}


def test_the_person_search_needs_a_criterion_and_valid_values() -> None:
    _, errors = authority.check_search({})
    assert set(errors) == {"kennung"}
    _, errors = authority.check_search(
        {"gemeinde": "0531", "eingereist_ab": "02.01.2024", "eingereist_bis": "01.01.2024"}
    )
    assert set(errors) == {"gemeinde", "eingereist_bis"}
    variables, errors = authority.check_search(
        {"gemeinde": "05315000", "eingereist_ab": "01.01.2024"}
    )
    assert errors == {}
    assert variables == {
        "id": None,
        "ags": "05315000",
        "stage": None,
        "from": "2024-01-01",
        "to": None,
        "familyName": None,
        "givenName": None,
        "birthDate": None,
        "azrNumber": None,
    }


def test_erasure_needs_a_person_a_ground_and_the_confirmation() -> None:
    person = "3f2b8c1e-0d4a-4f6e-9b7a-2c1d5e8f9a0b"
    _, errors = privacy.check(
        {"person": ["x"], "grund": ["retention_elapsed"]}, privacy.ERASURE_GROUNDS
    )
    assert set(errors) == {"person", "grund"}  # the retention run's ground is not the DPO's
    value, errors = privacy.check(
        {"person": [person], "grund": ["request"]}, privacy.ERASURE_GROUNDS, confirm=True
    )
    assert set(errors) == {"bestaetigt"}
    assert value == {"personId": person, "ground": "REQUEST"}
    assert privacy.unprefixed({"loeschen-person": [person]}, "loeschen") == {"person": [person]}
