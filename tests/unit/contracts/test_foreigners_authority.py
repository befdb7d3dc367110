"""Payload rules of the foreigners_authority contracts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import REGISTRY
from contracts.foreigners_authority import (
    EntryMode,
    EntryRecorded,
    PersonRegistered,
    ResidenceRegistered,
    ResidenceTitleGranted,
)


def _person(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "person_id": "p-1",
        "names_enc": "enc:v1:AAAA",
        "birth_date_enc": "enc:v1:BBBB",
        "azr_number_enc": "enc:v1:CCCC",
        "nationalities": ("SYR",),
        "abh_id": "abh-05315000",
    }
    fields.update(overrides)
    return fields


def test_person_registered_accepts_several_nationalities() -> None:
    person = PersonRegistered.model_validate(_person(nationalities=["SYR", "TUR"]))
    assert person.nationalities == ("SYR", "TUR")


@pytest.mark.parametrize("nationalities", [(), ("syr",), ("SY",), ("SYRI",), ("SYR", "D1E")])
def test_person_registered_requires_alpha_3_nationalities(nationalities: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="nationalities"):
        PersonRegistered.model_validate(_person(nationalities=nationalities))


@pytest.mark.parametrize("field", ["person_id", "names_enc", "birth_date_enc", "azr_number_enc"])
def test_person_registered_rejects_empty_identifiers_and_ciphertexts(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        PersonRegistered.model_validate(_person(**{field: ""}))


def test_entry_modes_are_exactly_the_agreed_values() -> None:
    assert [mode.value for mode in EntryMode] == [
        "visa",
        "visa_free",
        "asylum",
        "temporary_protection",
        "eu_free_movement",
        "family_reunification",
        "other",
    ]


def test_entry_recorded_parses_json_values() -> None:
    entry = EntryRecorded.model_validate(
        {"person_id": "p-1", "entry_date": "2022-03-10", "entry_mode": "temporary_protection"}
    )
    assert entry.entry_date == date(2022, 3, 10)
    assert entry.entry_mode is EntryMode.TEMPORARY_PROTECTION


@pytest.mark.parametrize("key", ["0531500", "053150000", "0531500a", "٠٥٣١٥٠٠٠", "05315000\n"])
def test_residence_registered_requires_an_8_digit_municipality_key(key: str) -> None:
    with pytest.raises(ValidationError, match="municipality_key"):
        ResidenceRegistered(person_id="p-1", municipality_key=key, registered_on=date(2024, 1, 2))


def test_residence_title_defaults() -> None:
    title = ResidenceTitleGranted(
        person_id="p-1",
        title="Aufenthaltserlaubnis",
        paragraph="§ 24 AufenthG",
        valid_from=date(2024, 1, 1),
    )
    assert title.valid_until is None
    assert title.conditions == ()


@pytest.mark.parametrize("spec", REGISTRY.all(), ids=lambda spec: spec.type)
def test_every_contract_is_documented(spec: Any) -> None:
    assert spec.description
    assert spec.payload.__doc__
    assert spec.version == 1
