"""The person-free rule: free text that points at a person is found, ordinary text is not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.person_free import PATTERNS, PersonalData, find_personal_data, is_person_free
from tests.unit.kernel.strategies import PERSONAL, embedded, ordinary_text

FAST = settings(max_examples=60, deadline=None)


def test_every_kind_of_personal_data_has_a_pattern() -> None:
    assert set(PATTERNS) == set(PersonalData)
    assert set(PERSONAL) == set(PersonalData)


@FAST
@given(ordinary_text)
def test_ordinary_organisational_text_is_person_free(text: str) -> None:
    found = find_personal_data(text)

    assert found is None
    assert is_person_free(text)


@pytest.mark.parametrize("kind", list(PersonalData))
@FAST
@given(data=st.data())
def test_text_with_any_kind_of_personal_data_is_found(
    kind: PersonalData, data: st.DataObject
) -> None:
    text = data.draw(embedded(PERSONAL[kind]))

    found = find_personal_data(text)

    assert found is not None
    assert not is_person_free(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Bitte an maria.musterfrau@example.org schreiben.", PersonalData.EMAIL),
        ("Die Familie ist unter 0521 51 12 34 erreichbar.", PersonalData.PHONE),
        ("Call +49 (0)521 512345 in the evening.", PersonalData.PHONE),
        ("Geboren am 3.7.1994, seit 2015 in Bielefeld.", PersonalData.DATE),
        ("Der Termin am 2026-02-14 fiel aus.", PersonalData.DATE),
        ("Seit dem 15/01/2024 wartet die Familie.", PersonalData.DATE),
        ("Am 15. Januar 2024 wurde der Antrag abgelehnt.", PersonalData.DATE),
        ("On 3 May the course was cancelled.", PersonalData.DATE),
        ("Die AZR-Nummer 123456789012 zeigt die Übergabe.", PersonalData.FILE_NUMBER),
        ("Frau Schmidt beschwert sich ständig.", PersonalData.SALUTATION),
        ("Herr Müller und Familie", PersonalData.SALUTATION),
        ("Complaint by Mrs. Nowak about the noise.", PersonalData.SALUTATION),
    ],
)
def test_worked_examples_name_the_kind_found(text: str, kind: PersonalData) -> None:
    assert find_personal_data(text) is kind


@pytest.mark.parametrize(
    "text",
    [
        "Between 2019 and 2023 about 10 000 people waited for more than 6 months.",
        "Courses under § 43 AufenthG start only twice a year (40 % fewer places).",
        "Opening hours 8-12 do not fit people who work in shifts at 3 employers.",
        "Die Frauenberatung im Herrenhaus ist nur dienstags geöffnet.",
        "Lärmbeschwerden rund um den Bolzplatz eskalieren.",
    ],
)
def test_years_counts_paragraphs_and_compound_words_are_person_free(text: str) -> None:
    assert find_personal_data(text) is None


def test_the_kind_reads_as_the_object_of_contains() -> None:
    assert f"contains {PersonalData.EMAIL}" == "contains an e-mail address"
    assert f"contains {PersonalData.SALUTATION}" == "contains a salutation with a name"
