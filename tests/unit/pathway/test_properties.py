"""Properties of the readiness rules over generated paths (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.pathway.readiness import (
    LawVersion,
    PathwayFacts,
    Readiness,
    counted_days,
    evaluate,
    law_in_force,
    parse_rules,
    residence_met_on,
)
from tests.unit.pathway.builders import (
    FIRST,
    LAST,
    dated_facts,
    met,
    pathway_facts,
    periods,
    with_fact,
)

dates = st.dates(FIRST, LAST)


@given(pathway_facts(), dates, st.data())
def test_removing_a_period_never_makes_the_earliest_date_earlier(
    facts: PathwayFacts, as_of: date, data: st.DataObject
) -> None:
    """Given any path, when one period of lawful residence is removed, then the earliest date on
    the known periods does not move earlier (and a date that was unreachable stays unreachable).
    (Removing a Duldung or an uncounted Gestattung may: it can no longer break the residence.)"""
    # given
    lawful = [i for i, p in enumerate(facts.periods) if p.kind not in ("duldung", "gestattung")]
    if not lawful:
        return
    index = data.draw(st.sampled_from(lawful))
    fewer = dataclasses.replace(facts, periods=facts.periods[:index] + facts.periods[index + 1 :])
    # when
    full = evaluate(facts, as_of).earliest_residence_date_without_renewal
    reduced = evaluate(fewer, as_of).earliest_residence_date_without_renewal
    # then
    if reduced is not None:
        assert full is not None
        assert full <= reduced


@given(pathway_facts(), dates, dates)
def test_counted_days_are_bounded_and_grow_with_time(
    facts: PathwayFacts, first: date, second: date
) -> None:
    """Given any path and two dates, when counting, then the count never exceeds the days since
    the first period started and never shrinks as the date moves later; the unbroken residence
    the requirement counts is part of it (a break starts it again)."""
    # given
    early, late = sorted((first, second))
    version = law_in_force(late)
    # when
    counts = [counted_days(facts, on, version) for on in (early, late)]
    readiness = [evaluate(facts, on).counted_residence_days for on in (early, late)]
    # then
    start = min((period.start for period in facts.periods), default=None)
    for on, count in zip((early, late), counts, strict=True):
        assert 0 <= count <= (0 if start is None else max(0, (on - start).days))
    assert counts[0] <= counts[1]
    assert readiness[0] <= counts[0]
    assert readiness[1] <= counts[1]


@given(pathway_facts(kinds=("duldung",)), dates)
def test_a_duldung_only_path_never_meets_the_residence_period(
    facts: PathwayFacts, as_of: date
) -> None:
    """Given only Duldung periods, when evaluated on any date, then nothing counts and the
    residence period is never met."""
    # when
    result = evaluate(facts, as_of)
    # then
    assert result.counted_residence_days == 0
    assert result.earliest_residence_date is None
    assert met(result, "residence_period") is False
    assert met(result, "qualifying_title") is False


@given(pathway_facts(departures=False), dates, st.integers(0, 4000))
def test_after_the_earliest_date_the_period_stays_met_under_the_same_law(
    facts: PathwayFacts, as_of: date, later_by: int
) -> None:
    """Given any path without departure whose periods all go on, and its earliest date, when
    evaluated on a later date under the same law version, then the residence period is met
    (periods that end may break the residence, which § 10 StAG needs unbroken)."""
    # given
    if any(period.end is not None for period in facts.periods):
        return
    earliest = evaluate(facts, as_of).earliest_residence_date
    if earliest is None:
        return
    later = earliest + timedelta(days=later_by)
    if law_in_force(later).id != law_in_force(earliest).id:
        return
    # when
    result = evaluate(facts, later)
    # then
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date is not None
    assert result.earliest_residence_date <= later


@given(pathway_facts(), dates)
def test_ready_means_every_requirement_is_met(facts: PathwayFacts, as_of: date) -> None:
    """Given any path, when evaluated, then ready exactly when every requirement is met (True),
    and residence_period is met exactly when the earliest date is on or before as_of."""
    # when
    result = evaluate(facts, as_of)
    # then
    assert result.ready == all(r.met is True for r in result.requirements)
    if result.ready:
        assert all(r.met is True for r in result.requirements)
    earliest = result.earliest_residence_date
    residence = result.requirement("residence_period")
    assert (residence.met is True) is (earliest is not None and earliest <= as_of)
    assert (residence.met is True) is residence_met_on(facts, as_of)
    if residence.decision_needed:
        assert residence.met is None


# --- the efficient search agrees with a day-by-day scan ------------------------------------------


def _version(vid: str, start: str, end: str | None, years: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": vid,
        "promulgated_on": "2019-01-01",
        "valid_from": start,
        "valid_until": end,
        "residence_years": years,
        "reduced_periods": extra.get("reduced", []),
        "language_level": "B1",
        "multiple_nationality_allowed": True,
        "multiple_nationality_allowed_for_eu_swiss": True,
        "counting_kinds": ["residence_title", "settlement_permit", "fiktion", "visa"],
        "gestattung_counts_after_protection": True,
        "qualifying_kinds": ["settlement_permit"],
        "paragraph_checked_kinds": ["residence_title"],
        "non_qualifying_paragraphs": ["24", "25(3)"],
    }


#: Short periods so a day-by-day scan stays cheap; the shape mirrors the real versions.
SMALL_RULES: tuple[LawVersion, ...] = parse_rules(
    {
        "versions": [
            _version(
                "t-long",
                "2020-01-01",
                "2020-12-31",
                3,
                reduced=[{"years": 2, "condition": "integration_course_successful"}],
            ),
            _version(
                "t-fast",
                "2021-01-01",
                "2021-06-30",
                2,
                reduced=[{"years": 1, "condition": "language_at_least", "level": "C1"}],
            ),
            _version("t-now", "2021-07-01", None, 2),
        ]
    }
)
SCAN_FROM, SCAN_TO = date(2019, 12, 1), date(2026, 12, 31)


@settings(max_examples=25, deadline=None)
@given(
    pathway_facts(
        kinds=("residence_title", "gestattung", "duldung", "fiktion"),
        first=date(2019, 1, 1),
        last=date(2022, 12, 31),
        min_periods=1,
        dated=True,
    ),
    st.lists(st.dates(date(2020, 1, 1), date(2023, 12, 31)), min_size=1, max_size=4),
)
def test_earliest_date_matches_a_day_by_day_scan(facts: PathwayFacts, days: list[date]) -> None:
    """Given small rules and any path, when the earliest date is computed per law window, then
    it equals the one found by checking every day: the start of the run holding as_of, or the
    first met day after it."""
    # given
    met_days = set()
    day = SCAN_FROM
    while day <= SCAN_TO:
        if residence_met_on(facts, day, SMALL_RULES):
            met_days.add(day)
        day += timedelta(days=1)
    for as_of in days:
        # when
        result = evaluate(facts, as_of, SMALL_RULES)
        # then
        expected: date | None
        if as_of in met_days:
            run_start = as_of
            while run_start - timedelta(days=1) in met_days:
                run_start -= timedelta(days=1)
            expected = run_start
        else:
            expected = min((d for d in met_days if d > as_of), default=None)
        assert result.earliest_residence_date_without_renewal == expected


# --- what was known then ----------------------------------------------------------------------


def _verdicts(result: Readiness) -> list[tuple[str, bool | None, bool]]:
    return [(r.key, r.met, r.decision_needed) for r in result.requirements]


@settings(max_examples=150, deadline=None)
@given(pathway_facts(dated=True, undated=False), dates, st.data())
def test_a_fact_dated_after_as_of_never_changes_readiness_on_as_of(
    facts: PathwayFacts, as_of: date, data: st.DataObject
) -> None:
    """Given any path and a fact of any kind dated after as_of (a certificate, a course, a test,
    an assessment, a waiver, a stay abroad, a nationality fact, an application, a period, the
    grant of protection, a departure), when evaluated on as_of, then ready and every
    requirement's verdict (met, decision needed) and the counted days are the same
    (§ 10 StAG: each fact counts only from its date). The older undated fields are left out:
    they have no date, and a dated fact of their kind replaces them."""
    # given
    if as_of >= LAST:
        return
    after = st.dates(as_of + timedelta(days=1), LAST)
    choice = data.draw(st.sampled_from(["fact", "period", "protection", "departure"]))
    if choice == "fact":
        field, fact = data.draw(dated_facts(as_of + timedelta(days=1), LAST))
        later = with_fact(facts, field, fact)
    elif choice == "period":
        period = data.draw(periods(first=as_of + timedelta(days=1)))
        later = dataclasses.replace(facts, periods=(*facts.periods, period))
    elif choice == "protection":
        if facts.protection_granted_on is not None:
            return
        later = dataclasses.replace(facts, protection_granted_on=data.draw(after))
    else:
        if facts.departed_on is not None:
            return
        later = dataclasses.replace(facts, departed_on=data.draw(after))
    # when
    before, with_later = evaluate(facts, as_of), evaluate(later, as_of)
    # then
    assert with_later.ready == before.ready
    assert _verdicts(with_later) == _verdicts(before)
    assert with_later.counted_residence_days == before.counted_residence_days
