"""Systemic gaps: reported for the steering group, and free of anything that points at a person."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.case_management.domain import InvalidValue, SystemicGap
from services.case_management.domain.gap import check_person_free
from tests.unit.kernel.strategies import emails, file_numbers, phones

FAST = settings(max_examples=40, deadline=None)
ORDINARY = "Families wait months for a place in an integration course with childcare."


def report(**changes: object) -> SystemicGap:
    values: dict[str, object] = {
        "category": "waiting_times",
        "legal_sphere": "sgb_ii",
        "description": ORDINARY,
        "affected_count": 40,
        "agency": "kim-bielefeld",
    }
    values.update(changes)
    return SystemicGap.report(**values)  # type: ignore[arg-type]


def refusal(description: str) -> InvalidValue:
    with pytest.raises(InvalidValue) as refused:
        report(description=description)
    return refused.value


# -- reporting --------------------------------------------------------------------------------


def test_reporting_a_gap_records_category_sphere_description_and_count() -> None:
    gap = report(description=f"  {ORDINARY}\n")

    (event,) = gap.collect_events()
    assert isinstance(event, SystemicGap.Reported)
    assert event.category == "waiting_times"
    assert event.legal_sphere == "sgb_ii"
    assert event.description == ORDINARY
    assert event.affected_count == 40
    assert event.agency == "kim-bielefeld"


@pytest.mark.parametrize(
    "changes",
    [
        {"legal_sphere": None},
        {"affected_count": None},
        {"affected_count": 1},
        {"affected_count": 100_000},
        {"description": "x" * 20},
        {"description": "x" * 2000},
    ],
)
def test_a_gap_without_sphere_or_count_or_at_the_limits_is_accepted(
    changes: dict[str, object],
) -> None:
    gap = report(**changes)

    assert len(gap.collect_events()) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "bad_weather"}, "category"),
        ({"category": "WAITING_TIMES"}, "category"),
        ({"legal_sphere": "sgb_v"}, "legalSphere"),
        ({"description": "x" * 19}, "description"),
        ({"description": "   short text here   "}, "description"),
        ({"description": "x" * 2001}, "description"),
        ({"affected_count": 0}, "affectedCount"),
        ({"affected_count": -3}, "affectedCount"),
        ({"affected_count": 100_001}, "affectedCount"),
    ],
)
def test_a_report_is_refused_naming_the_field_at_fault(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        report(**changes)

    assert refused.value.field == field


# -- the person-free guard --------------------------------------------------------------------

words = st.sampled_from(
    [
        "Familien",
        "warten",
        "Monate",
        "auf",
        "einen",
        "Kursplatz",
        "Jobcenter",
        "Ausländerbehörde",
        "SGB",
        "II",
        "§",
        "25a",
        "AufenthG",
        "appointments",
        "interpreters",
        "are",
        "missing",
        "in",
        "the",
        "district",
        "Straße",
        "Übergang",
        "ca.",
        "%",
        "-",
    ]
)
small_numbers = st.integers(1, 999).map(str)


@FAST
@given(st.lists(words | small_numbers, min_size=6, max_size=60))
def test_ordinary_text_with_small_numbers_is_accepted(tokens: list[str]) -> None:
    description = " ".join(tokens).ljust(20, ".")

    gap = report(description=description)

    assert gap.description == description.strip()


@pytest.mark.parametrize(
    "description",
    [
        "Between 2019 and 2023 about 10 000 people waited for more than 6 months.",
        "Courses under § 43 AufenthG start only twice a year (40 % fewer places).",
        "Opening hours 8-12 do not fit people who work in shifts at 3 employers.",
        "Waiting time for a B1 course rose from 3 to 9 months in 2025.",
    ],
)
def test_gap_descriptions_with_years_counts_and_paragraphs_are_accepted(description: str) -> None:
    check_person_free(description, "description")


def embedded(pieces: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Ordinary text with the piece somewhere in it."""
    return st.tuples(
        st.lists(words, min_size=3, max_size=10), pieces, st.lists(words, max_size=10)
    ).map(lambda parts: " ".join(["Case managers report:", *parts[0], parts[1], *parts[2]]))


dates = st.tuples(
    st.dates(date(1900, 1, 1), date(2099, 12, 31)),
    st.sampled_from(
        ["{d:02}.{m:02}.{y}", "{d}.{m}.{y}", "{d:02}.{m:02}.{yy:02}", "{y}-{m:02}-{d:02}"]
    ),
).map(lambda p: p[1].format(d=p[0].day, m=p[0].month, y=p[0].year, yy=p[0].year % 100))


@pytest.mark.parametrize(
    ("pieces", "what"),
    [
        (emails, "an e-mail address"),
        (phones, "a phone number"),
        (dates, "a date"),
        (file_numbers, "a file number"),
    ],
)
@FAST
@given(data=st.data())
def test_a_description_that_points_at_a_person_is_refused(
    pieces: st.SearchStrategy[str], what: str, data: st.DataObject
) -> None:
    description = data.draw(embedded(pieces))

    error = refusal(description)

    assert error.field == "description"
    assert what in error.message
    assert "without personal data" in error.message


@pytest.mark.parametrize(
    "description",
    [
        "Please write to maria.musterfrau@example.org about the course.",
        "The family can be reached at 0521 51 12 34 in the evening.",
        "Call +49 (0)521 512345 to speak to the person concerned.",
        "Call (0521) 512345 to speak to the person concerned.",
        "The person was born on 3.7.1994 and arrived last spring.",
        "Her appointment on 2026-02-14 was cancelled twice already.",
        "The AZR number 123456789012 shows the file was transferred.",
    ],
)
def test_worked_examples_of_personal_data_are_refused(description: str) -> None:
    error = refusal(description)

    assert error.field == "description"


@pytest.mark.parametrize(
    "text",
    [
        "Seit dem 15/01/2024 wartet die Familie auf einen Termin beim Amt.",
        "Am 15. Januar 2024 wurde der Antrag ohne Begründung abgelehnt, kein Einzelfall.",
    ],
)
def test_dates_in_other_common_formats_are_refused_as_personal(text: str) -> None:
    with pytest.raises(InvalidValue, match="a date"):
        report(description=text)
