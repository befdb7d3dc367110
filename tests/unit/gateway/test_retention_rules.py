"""Retention rules as data: the hub's defaults, the periods, and clear errors for bad files."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.retention import Period, RuleError, load_rules, parse_rules

RULE = """
[[rule]]
name = "case_management_after_closure"
record = "case"
trigger = "case_closed"
period = "P3Y"
action = "erase"
services = ["case_management"]
legal_source = "§ 84 SGB X"
"""


def test_the_default_rules_name_their_legal_source_and_period() -> None:
    rules = {rule.name: rule for rule in load_rules()}
    assert set(rules) == {
        "residence_file_after_departure",
        "residence_file_after_naturalisation",
        "case_management_after_closure",
    }
    assert str(rules["residence_file_after_departure"].period) == "P10Y"
    assert "§ 68 AufenthV" in rules["residence_file_after_departure"].legal_source
    assert rules["case_management_after_closure"].services == ("case_management",)
    assert all(rule.legal_source for rule in rules.values())


def test_a_period_runs_back_by_calendar_years_months_and_days() -> None:
    assert Period.parse("P10Y").before(date(2026, 11, 30)) == date(2016, 11, 30)
    assert Period.parse("P18M").before(date(2026, 3, 31)) == date(2024, 9, 30)
    assert Period.parse("P1Y").before(date(2028, 2, 29)) == date(2027, 2, 28)
    assert Period.parse("P1M").before(date(2026, 3, 31)) == date(2026, 2, 28)
    assert Period.parse("P90D").before(date(2026, 3, 31)) == date(2025, 12, 31)


@given(st.integers(0, 30), st.integers(0, 24), st.dates(date(1990, 1, 1), date(2100, 1, 1)))
def test_a_longer_period_never_reaches_further_forward(years: int, months: int, day: date) -> None:
    shorter = Period(years, months).before(day)
    longer = Period(years, months + 1).before(day)
    assert longer <= shorter <= day


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("P3Y", "three years"), "not an ISO 8601 period"),
        (('"case_closed"', '"case_reopened"'), "trigger 'case_reopened' is not one of"),
        (('"erase"', '"shred"'), "action 'shred' is not one of"),
        (('["case_management"]', '["registry"]'), "services must name some of"),
        (('record = "case"', 'record = "residence_file"'), "concerns case records"),
        (('legal_source = "§ 84 SGB X"\n', 'legal_source = "§ 84 SGB X"\nx = ['), "not a TOML"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_the_fault(
    change: tuple[str, str], message: str
) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rules(RULE.replace(*change))


def test_a_rule_may_restrict_instead_of_erasing() -> None:
    (rule,) = parse_rules(RULE.replace('"erase"', '"restrict"'))
    assert rule.action == "restrict"


def test_rule_names_are_unique() -> None:
    with pytest.raises(RuleError, match="unique"):
        parse_rules(RULE + RULE)
