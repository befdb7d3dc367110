"""Code lists as data: loaded from files, and every check names the field at fault."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

import pytest

from services.foreigners_authority.codelists import load_codelists
from services.foreigners_authority.domain import InvalidValue

CODES = load_codelists()


def test_the_lists_are_complete_where_the_data_is() -> None:
    assert len(CODES.countries) >= 249
    assert {"SYR", "UKR", "AFG", "XXA"} <= set(CODES.countries)
    assert "DEU" not in CODES.countries
    assert {"ESP", "POL", "CHE", "NOR"} <= CODES.free_movement
    assert len(CODES.lands) == 16
    assert len(CODES.nrw_districts) == 53  # 22 kreisfreie Städte, 31 Kreise
    assert CODES.title_kind("§ 18g AufenthG") == "eu_blue_card"


@pytest.mark.parametrize("codes", [["ZZZ"], ["SYR", "Syria"], ["DEU"]])
def test_unknown_countries_are_refused(codes: list[str]) -> None:
    with pytest.raises(InvalidValue) as refused:
        CODES.check_nationalities(codes)

    assert refused.value.field == "nationalities"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("17000000", "no Land"),
        ("05999000", "no district"),
        ("0531500", "8 digits"),
    ],
)
def test_unknown_municipality_keys_are_refused(key: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        CODES.check_municipality(key)


@pytest.mark.parametrize("key", ["05315000", "05562004", "09162000", "11000000"])
def test_known_keys_pass(key: str) -> None:
    CODES.check_municipality(key)


@pytest.mark.parametrize(
    ("kind", "paragraph"),
    [
        ("residence_permit", "§ 25 Abs. 2 AufenthG"),
        ("residence_permit", "§ 28 Abs. 1 AufenthG"),  # a subsection of a listed section
        ("settlement_permit", "§ 26 Abs. 3 AufenthG"),
        ("national_visa", "§ 18b AufenthG"),  # a visa for the purpose of a later title
        # family reunification (§§ 27-36a AufenthG): the visa for it and the titles after it
        ("national_visa", "§ 30 AufenthG"),
        ("residence_permit", "§ 32 AufenthG"),
        ("residence_permit", "§ 36a AufenthG"),  # to persons with subsidiary protection
        ("national_visa", "§ 36a Abs. 1 AufenthG"),
    ],
)
def test_titles_that_fit_their_paragraph_pass(kind: str, paragraph: str) -> None:
    CODES.check_title(kind, paragraph)


@pytest.mark.parametrize(
    ("kind", "paragraph", "field"),
    [
        ("residence_permit", "§ 9 AufenthG", "title"),
        ("eu_blue_card", "§ 18b AufenthG", "title"),
        ("residence_permit", "§ 25 AufenthG", "paragraph"),  # which subsection?
        ("residence_permit", "§ 99 AufenthG", "paragraph"),
    ],
)
def test_titles_that_contradict_their_paragraph_are_refused(
    kind: str, paragraph: str, field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        CODES.check_title(kind, paragraph)

    assert refused.value.field == field


@pytest.mark.parametrize("paragraph", ["§ 24 AufenthG", "§ 24 Abs. 1 AufenthG"])
def test_the_limit_of_section_24_is_data_checked_in_one_place(paragraph: str) -> None:
    assert CODES.limit(paragraph) == date(2027, 3, 4)
    CODES.check_limit(paragraph, date(2027, 3, 4))

    with pytest.raises(InvalidValue, match="2027-03-04") as refused:
        CODES.check_limit(paragraph, date(2027, 3, 5))

    assert refused.value.field == "validUntil"


def test_paragraphs_without_a_limit_are_not_limited() -> None:
    assert CODES.limit("§ 18b AufenthG") is None
    CODES.check_limit("§ 18b AufenthG", date(2040, 1, 1))
    CODES.check_limit("§ 18b AufenthG", None)


def test_the_section_24_limit_cites_the_eu_decisions_that_set_it() -> None:
    """The limit of § 24 is the end date of the last EU decision extending temporary
    protection: Council Implementing Decision (EU) 2025/1460 (to 2027-03-04), after
    (EU) 2022/382, (EU) 2023/2409 and (EU) 2024/1836."""
    data = json.loads(
        resources.files("services.foreigners_authority.codelists")
        .joinpath("limits.json")
        .read_text(encoding="utf-8")
    )
    (limit,) = [item for item in data["limits"] if item["paragraph"] == "§ 24 AufenthG"]
    decisions = [d["decision"] for d in limit["decisions"]]

    assert decisions == ["(EU) 2022/382", "(EU) 2023/2409", "(EU) 2024/1836", "(EU) 2025/1460"]
    assert limit["decisions"][-1]["until"] == limit["until"] == "2027-03-04"
    assert all(decision in limit["source"] for decision in decisions)
    assert CODES.limit("§ 24 AufenthG") == date.fromisoformat(limit["until"])
