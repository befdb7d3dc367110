"""The law versions as data: loading, validation, the version in force, paragraph matching."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Any

import pytest

from projections.pathway.readiness import (
    LawVersion,
    ParagraphRef,
    PathwayFacts,
    Period,
    law_in_force,
    load_rules,
    parse_paragraph,
    parse_rules,
)
from projections.pathway.readiness import (
    _title_qualifies as title_qualifies,
)


def raw_rules() -> dict[str, Any]:
    text = resources.files("projections.pathway").joinpath("rules.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_shipped_versions_are_sorted_and_adjacent() -> None:
    """Given rules.json, when loaded, then the three versions follow each other without gaps."""
    # when
    rules = load_rules()
    # then
    assert [v.id for v in rules] == ["stag-2000", "stag-2024", "stag-2025"]
    assert [(v.valid_from, v.valid_until) for v in rules] == [
        (date(2000, 1, 1), date(2024, 6, 26)),
        (date(2024, 6, 27), date(2025, 10, 29)),
        (date(2025, 10, 30), None),
    ]
    # promulgated in the Bundesgesetzblatt: BGBl. I 1999 S. 1618, 2024 I Nr. 104, 2025 I Nr. 256
    assert [v.promulgated_on for v in rules] == [
        date(1999, 7, 23),
        date(2024, 3, 26),
        date(2025, 10, 29),
    ]
    assert all(v.source for v in rules)
    assert [[r.discretionary for r in v.reduced_periods] for v in rules] == [
        [False, True],
        [True],
        [],
    ]
    assert {v.waivable for v in rules} == {("language", "naturalisation_test")}
    assert {v.knowledge_test_min_points for v in rules} == {17}
    assert [v.residence_years for v in rules] == [8, 5, 5]
    assert [[r.years for r in v.reduced_periods] for v in rules] == [[7, 6], [3], []]
    assert [v.multiple_nationality_allowed for v in rules] == [False, True, True]
    assert {v.language_level for v in rules} == {"B1"}


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2000, 1, 1), "stag-2000"),
        (date(2024, 6, 26), "stag-2000"),
        (date(2024, 6, 27), "stag-2024"),
        (date(2025, 10, 29), "stag-2024"),
        (date(2025, 10, 30), "stag-2025"),
        (date(2040, 1, 1), "stag-2025"),
    ],
)
def test_law_in_force_by_date(on: date, expected: str) -> None:
    """Given a date, when asking for the law in force, then the version whose range holds it."""
    assert law_in_force(on).id == expected


def test_no_law_before_the_first_version() -> None:
    """Given a date before 2000, when asking for the law in force, then LookupError."""
    with pytest.raises(LookupError):
        law_in_force(date(1999, 12, 31))


def test_input_order_of_versions_does_not_matter() -> None:
    """Given the versions in reverse order, when parsed, then they come out sorted."""
    data = raw_rules()
    data["versions"].reverse()
    assert [v.id for v in parse_rules(data)] == ["stag-2000", "stag-2024", "stag-2025"]


def _broken(change: str) -> dict[str, Any]:
    data = raw_rules()
    versions = data["versions"]
    if change == "gap":
        versions[1]["valid_from"] = "2024-07-01"
    elif change == "open_middle":
        versions[0]["valid_until"] = None
    elif change == "unknown_kind":
        versions[0]["counting_kinds"].append("tourist")
    elif change == "unknown_condition":
        versions[0]["reduced_periods"][0]["condition"] = "volunteering"
    elif change == "reduction_not_shorter":
        versions[1]["reduced_periods"][0]["years"] = 5
    elif change == "bad_paragraph":
        versions[2]["non_qualifying_paragraphs"].append("§ 24")
    elif change == "string_years":
        versions[2]["residence_years"] = "5"
    elif change == "duplicate_id":
        versions[2]["id"] = "stag-2024"
    elif change == "promulgated_after_effect":
        versions[2]["promulgated_on"] = "2025-11-01"
    elif change == "no_promulgation":
        del versions[1]["promulgated_on"]
    elif change == "unknown_waivable":
        versions[1]["waivable"] = ["identity"]
    return data


@pytest.mark.parametrize(
    "change",
    [
        "gap",
        "open_middle",
        "unknown_kind",
        "unknown_condition",
        "reduction_not_shorter",
        "bad_paragraph",
        "string_years",
        "duplicate_id",
        "promulgated_after_effect",
        "no_promulgation",
        "unknown_waivable",
    ],
)
def test_malformed_rules_are_rejected(change: str) -> None:
    """Given rules data with a defect, when parsed, then ValueError names the problem."""
    with pytest.raises(ValueError, match="rules"):
        parse_rules(_broken(change))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("§ 24 AufenthG", ParagraphRef("24")),
        ("§ 25 Abs. 3 AufenthG", ParagraphRef("25", 3)),
        ("§25 Abs.3 AufenthG", ParagraphRef("25", 3)),
        ("§ 25 (5) AufenthG", ParagraphRef("25", 5)),
        ("§ 23 Abs. 1 Satz 1 AufenthG", ParagraphRef("23", 1)),
        ("§ 16b Abs. 1 AufenthG", ParagraphRef("16b", 1)),
        ("§ 18B AufenthG", ParagraphRef("18b")),
        ("Aufenthaltserlaubnis", None),
    ],
)
def test_paragraph_parsing(text: str, expected: ParagraphRef | None) -> None:
    """Given a legal basis as written on a title, when parsed, then section and subsection."""
    assert parse_paragraph(text) == expected


STAG_2025 = law_in_force(date(2026, 1, 1))


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("§ 16a AufenthG", False),
        ("§ 16b Abs. 1 AufenthG", False),
        ("§ 16 AufenthG", True),
        ("§ 17 AufenthG", False),
        ("§ 18 AufenthG", True),
        ("§ 18a AufenthG", True),
        ("§ 18b AufenthG", True),
        ("§ 18d AufenthG", False),
        ("§ 18g AufenthG", True),
        ("§ 19 AufenthG", False),
        ("§ 19c AufenthG", True),
        ("§ 20 AufenthG", False),
        ("§ 22 AufenthG", False),
        ("§ 23 Abs. 1 AufenthG", False),
        ("§ 23 Abs. 2 AufenthG", True),
        ("§ 23 Abs. 4 AufenthG", True),
        ("§ 23a AufenthG", False),
        ("§ 24 AufenthG", False),
        ("§ 25 Abs. 1 AufenthG", True),
        ("§ 25 Abs. 2 AufenthG", True),
        ("§ 25 Abs. 3 AufenthG", False),
        ("§ 25 Abs. 4 AufenthG", False),
        ("§ 25 Abs. 5 AufenthG", False),
        ("§ 25a AufenthG", True),
        ("§ 25b AufenthG", True),
        ("§ 28 Abs. 1 AufenthG", True),
        ("§ 36 Abs. 2 AufenthG", True),
        ("§ 25 AufenthG", None),
        ("§ 23 AufenthG", None),
        ("§ 3 FreizügG/EU", True),
        ("§ 55 AsylG", None),
    ],
)
def test_qualifying_titles(paragraph: str, expected: bool | None) -> None:
    """Given a residence title under a paragraph, when checked as the current title, then it
    qualifies unless § 10 Abs. 1 Nr. 2 StAG lists it; a missing subsection is unknown."""
    met, reason = title_qualifies(
        Period("residence_title", date(2020, 1, 1), None, paragraph), STAG_2025
    )
    assert met is expected
    assert reason


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("settlement_permit", True),
        ("eu_long_term", True),
        ("eu_free_movement", True),
        ("temporary_protection", False),
        ("gestattung", False),
        ("duldung", False),
        ("fiktion", False),
        ("visa", False),
    ],
)
def test_qualifying_kinds(kind: str, expected: bool) -> None:
    """Given a status of a kind, when checked as the current title, then only permanent or
    free-movement statuses qualify without a paragraph."""
    met, _ = title_qualifies(Period(kind, date(2020, 1, 1), None), STAG_2025)
    assert met is expected


def test_facts_are_validated() -> None:
    """Given an unknown kind, an end before the start or an unknown level, then ValueError."""
    with pytest.raises(ValueError, match="kind"):
        Period("tourist", date(2020, 1, 1), None)
    with pytest.raises(ValueError, match="before it starts"):
        Period("visa", date(2020, 1, 2), date(2020, 1, 1))
    with pytest.raises(ValueError, match="language level"):
        PathwayFacts(periods=(), language_level="B3")
    assert PathwayFacts(periods=(), language_level=" c1").language_level == "C1"


def test_versions_are_law_version_instances() -> None:
    """The loader is cached and returns typed, immutable versions."""
    assert load_rules() is load_rules()
    assert all(isinstance(version, LawVersion) for version in load_rules())


def test_dated_facts_are_validated() -> None:
    """Given the dated facts, when built with an unknown code or impossible dates, then
    ValueError; levels are normalised and an assessor must be a code, not a name."""
    from projections.pathway.readiness import (
        Assessment,
        CourseCompletion,
        KnowledgeTest,
        LanguageCertificate,
        NationalityFact,
        StayAbroad,
        Waiver,
    )

    day = date(2024, 1, 1)
    assert LanguageCertificate(" b1", day).level == "B1"
    assert CourseCompletion("b1", day, True).successful is True
    assert CourseCompletion("A2", day, True).successful is False
    assert CourseCompletion("B1", day, None).successful is False
    with pytest.raises(ValueError, match="language level"):
        LanguageCertificate("B3", day)
    with pytest.raises(ValueError, match="test kind"):
        KnowledgeTest("driving", day)
    with pytest.raises(ValueError, match="points"):
        KnowledgeTest("leben_in_deutschland", day, 34)
    with pytest.raises(ValueError, match="requirement"):
        Assessment("language", "met", day, "abh_officer")
    with pytest.raises(ValueError, match="outcome"):
        Assessment("livelihood", "maybe", day, "abh_officer")
    with pytest.raises(ValueError, match="code"):
        Assessment("livelihood", "met", day, "Erika Mustermann")
    with pytest.raises(ValueError, match="ground"):
        Waiver("language", "poverty", day)
    with pytest.raises(ValueError, match="returned before"):
        StayAbroad(day, date(2023, 12, 31))
    with pytest.raises(ValueError, match="kind"):
        NationalityFact("dual", day)
    with pytest.raises(ValueError, match="fiktion"):
        Period("residence_title", day, None, "§ 18b AufenthG", continues="§ 18b AufenthG")
    facts = PathwayFacts(periods=[], assessments=[Assessment("livelihood", "met", day, "abh")])
    assert isinstance(facts.periods, tuple)
    assert isinstance(facts.assessments, tuple)


def test_an_evaluation_knows_only_the_versions_promulgated_by_then() -> None:
    """Given the rules, when asked what was known on a day, then only the versions promulgated
    by then, the last of them open-ended (item 14 of issue 11)."""
    from projections.pathway.readiness import known_rules

    assert [(v.id, v.valid_until) for v in known_rules(date(2024, 1, 2))] == [("stag-2000", None)]
    assert [v.id for v in known_rules(date(2024, 3, 26))] == ["stag-2000", "stag-2024"]
    assert known_rules(date(2024, 3, 26))[-1].valid_until is None
    assert known_rules(date(2025, 10, 29)) == load_rules()
    assert known_rules(date(1999, 7, 22)) == ()
