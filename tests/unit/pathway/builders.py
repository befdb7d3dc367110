"""Builders and hypothesis strategies for pathway tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from projections.pathway.readiness import KINDS, LEVELS, PathwayFacts, Period, Readiness

#: Facts that meet every requirement apart from residence and title.
ALL_OTHER_MET: dict[str, Any] = {
    "language_level": "B1",
    "naturalisation_test_passed_on": date(2023, 5, 10),
    "livelihood_secured": True,
    "no_relevant_conviction": True,
    "commitment_declared": True,
}


def title(paragraph: str, start: date, end: date | None = None) -> Period:
    """An Aufenthaltserlaubnis (or Visum/Blaue Karte) under ``paragraph``."""
    return Period("residence_title", start, end, paragraph)


def period(kind: str, start: date, end: date | None = None, paragraph: str | None = None) -> Period:
    return Period(kind, start, end, paragraph)


def facts(*periods: Period, **changes: Any) -> PathwayFacts:
    return PathwayFacts(periods=tuple(periods), **changes)


def met(readiness: Readiness, key: str) -> bool | None:
    return readiness.requirement(key).met


def reason(readiness: Readiness, key: str) -> str:
    return readiness.requirement(key).reason


PARAGRAPHS = (
    None,
    "§ 25 Abs. 2 AufenthG",
    "§ 18b AufenthG",
    "§ 16b AufenthG",
    "§ 24 AufenthG",
    "§ 25 Abs. 3 AufenthG",
    "§ 25b AufenthG",
)
FIRST = date(2000, 1, 1)
LAST = date(2035, 12, 31)


@st.composite
def periods(
    draw: st.DrawFn,
    kinds: tuple[str, ...] = KINDS,
    first: date = FIRST,
    last: date = LAST,
) -> Period:
    start = draw(st.dates(first, last))
    length = draw(st.one_of(st.none(), st.integers(0, 3000)))
    end = None if length is None else min(start + timedelta(days=length), last)
    return Period(draw(st.sampled_from(kinds)), start, end, draw(st.sampled_from(PARAGRAPHS)))


@st.composite
def pathway_facts(
    draw: st.DrawFn,
    kinds: tuple[str, ...] = KINDS,
    first: date = FIRST,
    last: date = LAST,
    departures: bool = True,
    min_periods: int = 0,
) -> PathwayFacts:
    def maybe_date() -> date | None:
        return draw(st.one_of(st.none(), st.dates(first, last)))

    departs = departures and draw(st.integers(0, 3)) == 0  # one path in four departs
    departed_on = draw(st.dates(first, last)) if departs else None
    return PathwayFacts(
        periods=tuple(
            draw(st.lists(periods(kinds, first, last), min_size=min_periods, max_size=5))
        ),
        protection_granted_on=maybe_date(),
        language_level=draw(st.one_of(st.none(), st.sampled_from(LEVELS))),
        naturalisation_test_passed_on=maybe_date(),
        integration_course_completed_on=maybe_date(),
        livelihood_secured=draw(st.one_of(st.none(), st.booleans())),
        no_relevant_conviction=draw(st.one_of(st.none(), st.booleans())),
        commitment_declared=draw(st.one_of(st.none(), st.booleans())),
        eu_or_swiss_citizen=draw(st.booleans()),
        departed_on=departed_on,
    )
