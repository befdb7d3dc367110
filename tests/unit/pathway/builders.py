"""Builders and hypothesis strategies for pathway tests."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from projections.pathway.readiness import (
    ASSESSED,
    KINDS,
    LEVELS,
    NATIONALITY_KINDS,
    OUTCOMES,
    REQUIREMENT_KEYS,
    TEST_KINDS,
    WAIVER_GROUNDS,
    Assessment,
    CourseCompletion,
    KnowledgeTest,
    LanguageCertificate,
    NationalityFact,
    PathwayFacts,
    Period,
    Readiness,
    StayAbroad,
    TitleApplication,
    Waiver,
)

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


def period(
    kind: str,
    start: date,
    end: date | None = None,
    paragraph: str | None = None,
    continues: str | None = None,
) -> Period:
    return Period(kind, start, end, paragraph, continues)


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
    kind = draw(st.sampled_from(kinds))
    continues = None
    if kind == "fiktion" and draw(st.booleans()):
        continues = draw(st.sampled_from(PARAGRAPHS[1:]))
    return Period(kind, start, end, draw(st.sampled_from(PARAGRAPHS)), continues)


@st.composite
def stays_abroad(draw: st.DrawFn, first: date = FIRST, last: date = LAST) -> StayAbroad:
    left = draw(st.dates(first, last))
    length = draw(st.one_of(st.none(), st.integers(0, 500)))
    returned = None if length is None else left + timedelta(days=length)
    set_until = draw(st.one_of(st.none(), st.dates(left, left + timedelta(days=700))))
    return StayAbroad(left, returned, set_until)


def dated_facts(first: date = FIRST, last: date = LAST) -> st.SearchStrategy[Any]:
    """One dated fact of any kind (not a period), for ``PathwayFacts``' tuples: (field, fact)."""
    day = st.dates(first, last)
    level = st.sampled_from(LEVELS)
    return st.one_of(
        st.tuples(st.just("language_certificates"), st.builds(LanguageCertificate, level, day)),
        st.tuples(
            st.just("integration_courses"),
            st.builds(
                CourseCompletion,
                st.one_of(st.none(), level),
                day,
                st.one_of(st.none(), st.booleans()),
            ),
        ),
        st.tuples(
            st.just("knowledge_tests"),
            st.builds(
                KnowledgeTest,
                st.sampled_from(TEST_KINDS),
                day,
                st.one_of(st.none(), st.integers(0, 33)),
            ),
        ),
        st.tuples(
            st.just("assessments"),
            st.builds(
                Assessment,
                st.sampled_from(ASSESSED),
                st.sampled_from(OUTCOMES),
                day,
                st.sampled_from(["abh_officer", "case_manager"]),
            ),
        ),
        st.tuples(
            st.just("waivers"),
            st.builds(
                Waiver, st.sampled_from(REQUIREMENT_KEYS), st.sampled_from(WAIVER_GROUNDS), day
            ),
        ),
        st.tuples(st.just("stays_abroad"), stays_abroad(first, last)),
        st.tuples(
            st.just("nationality"),
            st.builds(NationalityFact, st.sampled_from(NATIONALITY_KINDS), day),
        ),
        st.tuples(
            st.just("title_applications"),
            st.builds(
                lambda applied, paragraph, after: TitleApplication(
                    applied, paragraph, None if after is None else applied + timedelta(after)
                ),
                day,
                st.sampled_from(PARAGRAPHS),
                st.one_of(st.none(), st.integers(0, 400)),
            ),
        ),
    )


def with_fact(facts: PathwayFacts, field: str, fact: Any) -> PathwayFacts:
    """``facts`` with one more dated fact in the tuple ``field``."""
    return dataclasses.replace(facts, **{field: (*getattr(facts, field), fact)})


@st.composite
def pathway_facts(
    draw: st.DrawFn,
    kinds: tuple[str, ...] = KINDS,
    first: date = FIRST,
    last: date = LAST,
    departures: bool = True,
    min_periods: int = 0,
    dated: bool = False,
    undated: bool = True,
) -> PathwayFacts:
    """Any path; with ``dated`` also dated facts (certificates, stays abroad, applications...);
    without ``undated`` none of the older undated fields (level, assessments as booleans)."""

    def maybe_date() -> date | None:
        return draw(st.one_of(st.none(), st.dates(first, last)))

    departs = departures and draw(st.integers(0, 3)) == 0  # one path in four departs
    departed_on = draw(st.dates(first, last)) if departs else None
    result = PathwayFacts(
        periods=tuple(
            draw(st.lists(periods(kinds, first, last), min_size=min_periods, max_size=5))
        ),
        protection_granted_on=maybe_date(),
        language_level=draw(st.one_of(st.none(), st.sampled_from(LEVELS))) if undated else None,
        naturalisation_test_passed_on=maybe_date(),
        integration_course_completed_on=maybe_date(),
        livelihood_secured=draw(st.one_of(st.none(), st.booleans())) if undated else None,
        no_relevant_conviction=draw(st.one_of(st.none(), st.booleans())) if undated else None,
        commitment_declared=draw(st.one_of(st.none(), st.booleans())) if undated else None,
        eu_or_swiss_citizen=draw(st.booleans()),
        departed_on=departed_on,
    )
    if dated:
        for field, fact in draw(st.lists(dated_facts(first, last), max_size=6)):
            result = with_fact(result, field, fact)
    return result
