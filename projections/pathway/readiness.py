"""Naturalisation readiness (Einbürgerung, § 10 StAG): pure, data-driven rules.

The law versions live in ``rules.json`` (one entry per version of § 10 StAG, with its
promulgation and effective dates); this module only interprets them. Eligibility is evaluated
under the version in force on the evaluation date (``as_of``) as known on ``as_of``: only the
versions promulgated by then (``known_rules``), only the facts dated by then (see
``PathwayFacts``).

Counting lawful habitual residence (rechtmäßiger gewöhnlicher Aufenthalt), simplified:

- A ``Period`` covers the calendar days ``start`` to ``end``, both inclusive; ``end=None`` means
  ongoing (it runs on indefinitely, so also beyond the evaluation date when projecting).
- Counted kinds come from the law version's ``counting_kinds`` (residence titles of any
  paragraph including § 24, Niederlassungserlaubnis, Daueraufenthalt-EU, Freizügigkeit,
  temporary protection, Fiktionsbescheinigung, visa). Time on an Aufenthaltsgestattung counts
  only once protection has been granted (§ 55 Abs. 3 AsylG): for an evaluation date ``d`` it
  counts when ``protection_granted_on <= d``, and then the whole time before recognition counts.
  A Duldung never counts. Overlapping periods count once.
- The residence must be unbroken (§ 10 Abs. 1 StAG). The counted days form runs; a gap between
  two of them starts a new run unless (as known on ``d``) a Fiktionsbescheinigung continuing
  the old title begins the next status, or a title application was filed while the old title
  was valid (both § 81 Abs. 4 AufenthG: the gap counts), or one was filed in the gap (§ 12b
  Abs. 3 StAG: the gap does not interrupt but does not count); nothing of the kind helps when
  a Duldung or an uncounted Gestattung lies in the gap. A stay abroad of up to six months (or
  back within the period the authority set) does not interrupt and its days count (§ 12b
  Abs. 1 StAG); a longer one removes its days and starts a new run on return, and the
  earlier run may be credited up to five years at the authority's discretion (§ 12b Abs. 2).
- The counted days *up to* ``d`` are the counted days of the run holding ``d`` strictly before
  ``d``: someone who arrived on 2020-01-01 has 1827 days (exactly five calendar years)
  counted on 2025-01-01. On a day outside every run (a gap, abroad too long, after
  ``departed_on``, the first day abroad) the residence requirement is not met.
- Required length (calendar years): N years are the days from the run's first day ``f`` to
  ``f + N years`` (Feb 29 + N years = Mar 1, as a period starting Feb 29 ends on Feb 28 under
  § 188 Abs. 3 BGB). The requirement is met on ``d`` when the counted days of the run up to
  ``d`` reach that number (uncounted harmless gaps push the day later).
- N is the version's ``residence_years``, or the shortest reduced period whose condition holds
  on ``d`` (a successful integration course, B1 and the final test, completed by ``d``; a
  language level proven by ``d``). A ``discretionary`` reduction ("kann") is never applied:
  when only it (or a § 12b Abs. 2 credit) would meet the period, the requirement says that
  the authority must decide (``Requirement.decision_needed``).

``Readiness.earliest_residence_date`` is the first day on which the residence requirement is
met under the law in force on that day, as known on ``as_of``: when it is met on ``as_of``, the
first day of the unbroken run of such days holding ``as_of``; otherwise the next such day after
``as_of``, assuming ongoing periods continue and dated periods end, and, when the current
residence title ends first with nothing known after it, that it is renewed on time (said in
``Readiness.assumption``; ``earliest_residence_date_without_renewal`` is the date without).
So ``residence_period`` is met exactly when ``earliest_residence_date <= as_of``.
"""

from __future__ import annotations

import calendar
import dataclasses
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Final

KINDS: Final = (
    "gestattung",
    "duldung",
    "fiktion",
    "temporary_protection",
    "residence_title",
    "settlement_permit",
    "eu_long_term",
    "eu_free_movement",
    "visa",
)
#: CEFR levels (Gemeinsamer Europäischer Referenzrahmen), lowest first.
LEVELS: Final = ("A1", "A2", "B1", "B2", "C1", "C2")
#: Keys of ``Readiness.requirements``, in this order.
REQUIREMENT_KEYS: Final = (
    "residence_period",
    "qualifying_title",
    "livelihood",
    "language",
    "naturalisation_test",
    "commitment",
    "no_conviction",
    "single_nationality",
)
#: Conditions a reduced residence period (verkürzte Aufenthaltsdauer) may name in rules.json.
CONDITIONS: Final = ("integration_course_successful", "language_at_least")

_INF: Final = date.max.toordinal() + 1  # exclusive end of an ongoing period, in ordinals
_ONE_DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A stretch of the person's residence status (Aufenthaltsstatus), ``start``/``end`` inclusive.

    ``kind`` is one of ``KINDS``: Aufenthaltsgestattung, Duldung, Fiktionsbescheinigung,
    vorübergehender Schutz (§ 24 AufenthG), Aufenthaltserlaubnis, Niederlassungserlaubnis,
    Daueraufenthalt-EU, Freizügigkeit (FreizügG/EU) or Visum. ``paragraph`` is the legal basis of
    a title, e.g. "§ 25 Abs. 2 AufenthG"; ``end=None`` means ongoing.

    ``continues`` is only for ``kind="fiktion"``: the legal basis of the title whose validity a
    timely application continues (Fortgeltungsfiktion, § 81 Abs. 4 AufenthG), e.g.
    "§ 18b AufenthG". Set it when the Fiktionsbescheinigung says the old title is deemed to
    continue; leave it None for § 81 Abs. 3 (Erlaubnis-/Duldungsfiktion) or when not known. A
    continuing fiction counts as lawful residence from the continued title's expiry on (it
    bridges the days up to the certificate) and, as the current status, qualifies when the
    continued title would (§ 10 Abs. 1 Nr. 2 StAG).

    ``applied_on`` and ``continues_kind`` are only for the fiction the engine derives from a
    timely application that no certificate documents (yet): the day the renewal was applied
    for and the kind of the continued title, a residence title or a visa (see
    ``pending_fictions``). Callers leave them None.
    """

    kind: str
    start: date
    end: date | None
    paragraph: str | None = None
    continues: str | None = None
    applied_on: date | None = None
    continues_kind: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown period kind {self.kind!r}; expected one of {KINDS}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        derived = (self.continues, self.applied_on, self.continues_kind)
        if any(value is not None for value in derived) and self.kind != "fiktion":
            raise ValueError("only a fiktion period can continue a title")
        if self.continues_kind is not None and self.continues_kind not in KINDS:
            raise ValueError(f"unknown period kind {self.continues_kind!r}")


@dataclass(frozen=True)
class LanguageCertificate:
    """A German language certificate (Sprachzertifikat) at a CEFR ``level``, from ``issued_on``."""

    level: str
    issued_on: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _level(self.level))


@dataclass(frozen=True)
class CourseCompletion:
    """An integration course (Integrationskurs) finished on ``completed_on``.

    ``level`` is the CEFR level the language test (Deutsch-Test für Zuwanderer) showed, None if
    not known; it proves that level from ``completed_on`` like a certificate.
    ``final_test_passed`` says whether the course's final test was passed as a whole (B1 in
    the DTZ and the test "Leben in Deutschland", § 17 Abs. 2 IntV: "erfolgreiche Teilnahme",
    Zertifikat Integrationskurs); None if not known.
    """

    level: str | None
    completed_on: date
    final_test_passed: bool | None = None

    def __post_init__(self) -> None:
        if self.level is not None:
            object.__setattr__(self, "level", _level(self.level))

    @property
    def successful(self) -> bool:
        """Successful participation (§ 10 Abs. 3 Satz 1 StAG a.F., § 17 Abs. 2 IntV)."""
        return (
            self.final_test_passed is True
            and self.level is not None
            and _level_at_least(self.level, "B1")
        )


#: Kinds of ``KnowledgeTest``: the Einbürgerungstest (EinbTestV) or the integration course's
#: test "Leben in Deutschland" (§ 17 Abs. 1 Nr. 2 IntV), which uses the same questions.
TEST_KINDS: Final = ("einbuergerungstest", "leben_in_deutschland")


@dataclass(frozen=True)
class KnowledgeTest:
    """A passed test of the knowledge of the legal and social order (§ 10 Abs. 1 Nr. 7 StAG).

    ``kind`` is one of ``TEST_KINDS``; ``passed_on`` the day of the test; ``points`` the
    correct answers out of 33 when known. An Einbürgerungstest is passed with 17 points; the
    test "Leben in Deutschland" proves the knowledge only with at least 17 points
    (§ 1 Abs. 3 EinbTestV; it is passed for the orientation course already with 15).
    """

    kind: str
    passed_on: date
    points: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in TEST_KINDS:
            raise ValueError(f"unknown test kind {self.kind!r}; expected one of {TEST_KINDS}")
        if self.points is not None and not 0 <= self.points <= 33:
            raise ValueError("points must be 0 to 33")


#: Requirements an ``Assessment`` may decide (the others follow from the facts).
ASSESSED: Final = ("livelihood", "no_conviction", "commitment")
#: Outcomes of an ``Assessment``; "waived" means a statutory exception applies (e.g. the
#: livelihood exceptions of § 10 Abs. 1 Satz 1 Nr. 3 StAG) and counts as met.
OUTCOMES: Final = ("met", "not_met", "waived")
_ASSESSOR = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class Assessment:
    """One dated assessment of livelihood, convictions or commitment.

    ``requirement`` is one of ``ASSESSED``, ``outcome`` one of ``OUTCOMES``; it holds from
    ``assessed_on`` until a later assessment of the same requirement. ``assessed_by`` says who
    assessed as an agency or role code (e.g. "abh_officer", "case_manager" or
    "abh:05315000"), never a person's name: lower-case letters, digits and ``_.:-`` only.
    The engine takes what it is given: the caller decides whose assessments count (the
    authority's readiness must not use a case manager's assessment, § 87 AufenthG).
    """

    requirement: str
    outcome: str
    assessed_on: date
    assessed_by: str

    def __post_init__(self) -> None:
        if self.requirement not in ASSESSED:
            raise ValueError(
                f"unknown requirement {self.requirement!r}; expected one of {ASSESSED}"
            )
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; expected one of {OUTCOMES}")
        if not _ASSESSOR.match(self.assessed_by):
            raise ValueError("assessed_by must be an agency or role code")


#: Grounds of a waiver under § 10 Abs. 6 StAG.
WAIVER_GROUNDS: Final = ("illness", "disability", "age")


@dataclass(frozen=True)
class Waiver:
    """A waiver under § 10 Abs. 6 StAG, decided on ``decided_on``.

    The authority waives the language requirement (Nr. 6, ``"language"``) or the knowledge
    requirement (Nr. 7, ``"naturalisation_test"``) when the person cannot meet it because of
    illness, disability or age (``ground``, one of ``WAIVER_GROUNDS``). From ``decided_on`` on
    the waived requirement is met. ``requirement`` may name any key of ``REQUIREMENT_KEYS``;
    the engine applies it only where the law version lists the requirement as waivable
    (rules.json ``waivable``) and otherwise says so in the reason.
    """

    requirement: str
    ground: str
    decided_on: date

    def __post_init__(self) -> None:
        if self.requirement not in REQUIREMENT_KEYS:
            raise ValueError(f"unknown requirement {self.requirement!r}")
        if self.ground not in WAIVER_GROUNDS:
            raise ValueError(f"unknown ground {self.ground!r}; expected one of {WAIVER_GROUNDS}")


@dataclass(frozen=True)
class StayAbroad:
    """A stay abroad (Auslandsaufenthalt) that is not a departure (§ 12b Abs. 1 StAG).

    ``left_on`` is the first day abroad, ``returned_on`` the day of return (None: still
    abroad), ``authority_set_until`` the last day of a longer period the foreigners authority
    set for the return (§ 51 Abs. 1 Nr. 7 AufenthG), if any. A stay of up to six months, or a
    return within the period set, does not interrupt the habitual residence and its days count;
    a longer one interrupts it: its days do not count and residence starts again on return,
    where the earlier time may be credited at the authority's discretion (§ 12b Abs. 2 StAG).
    The stay is known from ``left_on``, the return from ``returned_on``.
    """

    left_on: date
    returned_on: date | None = None
    authority_set_until: date | None = None

    def __post_init__(self) -> None:
        if self.returned_on is not None and self.returned_on < self.left_on:
            raise ValueError("returned before leaving")
        if self.authority_set_until is not None and self.authority_set_until < self.left_on:
            raise ValueError("the period set for the return ends before the stay began")


#: Kinds of ``NationalityFact`` (single nationality, § 10 Abs. 1 Nr. 4 and § 12 StAG a.F.).
NATIONALITY_KINDS: Final = ("given_up", "section_12_exception", "stateless")


@dataclass(frozen=True)
class NationalityFact:
    """A dated fact about the previous nationality, for the laws that require single
    nationality (``stag-2000``): ``"given_up"`` (given up or lost, § 10 Abs. 1 Nr. 4 StAG
    a.F.), ``"section_12_exception"`` (the authority found an exception of § 12 StAG a.F.:
    multiple nationality accepted) or ``"stateless"`` (no nationality to give up). From
    ``on`` the single-nationality requirement is met.
    """

    kind: str
    on: date

    def __post_init__(self) -> None:
        if self.kind not in NATIONALITY_KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {NATIONALITY_KINDS}")


@dataclass(frozen=True)
class TitleApplication:
    """An application for a residence title or its renewal, filed on ``applied_on``, for the
    title under ``paragraph`` (None: not known).

    Filed while a residence title (or national visa) was valid, it continues that title from
    its expiry until the authority decides (§ 81 Abs. 4 Satz 1 AufenthG, Fortgeltungsfiktion):
    the engine counts that time and treats the continued title as the current status from the
    application's date on, also while no Fiktionsbescheinigung documents it (the certificate
    only certifies the fiction, § 81 Abs. 5). The fiction ends when the next status begins (a
    title, a certificate, a Duldung) or on departure.

    Filed after the title expired, it makes the gap harmless but uncounted (§ 12b Abs. 3
    StAG) only once the title applied for is granted on it: the person then had the claim
    during the gap. While it is pending, a person who would meet the period with the gap
    disregarded gets "decision of the authority needed" (``decision_12b3``).

    ``refused_on``: the day the application was refused (known from that day): the fiction
    ends the day before, and a refused late application bridges nothing.
    """

    applied_on: date
    paragraph: str | None = None
    refused_on: date | None = None

    def __post_init__(self) -> None:
        if self.refused_on is not None and self.refused_on < self.applied_on:
            raise ValueError("refused before it was applied for")

    def refused_by(self, on: date) -> bool:
        """Whether the refusal is known on ``on``."""
        return self.refused_on is not None and self.refused_on <= on


@dataclass(frozen=True)
class PathwayFacts:
    """What is known about a person's path to naturalisation (Einbürgerung).

    Every fact is dated and counts only from its date: on an evaluation day ``d`` the engine
    uses the certificates, courses, tests, assessments, waivers and nationality facts dated on
    or before ``d`` (and the stays abroad and applications begun by then), so a fact dated after
    ``as_of`` never changes whether a requirement is met on ``as_of``. Periods describe the
    status over time and are used as they are (also future ones, for the projected date).

    Dated facts (the shape to map events into):

    - ``periods``: the residence statuses (``Period``); a Fiktionsbescheinigung continuing a
      title (§ 81 Abs. 4 AufenthG) names it in ``Period.continues``.
    - ``protection_granted_on``: the positive asylum decision (Asylberechtigung,
      Flüchtlingseigenschaft § 3 AsylG or subsidiärer Schutz § 4 AsylG).
    - ``language_certificates``: ``LanguageCertificate(level, issued_on)``.
    - ``integration_courses``: ``CourseCompletion(level, completed_on, final_test_passed)``.
    - ``knowledge_tests``: ``KnowledgeTest(kind, passed_on, points)`` (Einbürgerungstest or
      "Leben in Deutschland").
    - ``assessments``: ``Assessment(requirement, outcome, assessed_on, assessed_by)`` for
      livelihood, convictions (§ 12a StAG) and the commitment to the free democratic order
      (Bekenntnis zur FDGO); the latest on or before ``d`` counts (on one day, the last given).
    - ``waivers``: ``Waiver(requirement, ground, decided_on)`` under § 10 Abs. 6 StAG.
    - ``stays_abroad``: ``StayAbroad(left_on, returned_on, authority_set_until)``, § 12b StAG.
    - ``nationality``: ``NationalityFact(kind, on)``: given up, § 12 exception, stateless.
    - ``title_applications``: ``TitleApplication(applied_on, paragraph)``, for late or timely
      renewals between two titles.
    - ``eu_or_swiss_citizen``; ``departed_on``: the first day abroad after a final departure.

    Older, undated fields (kept so existing callers work; prefer the dated ones). They are a
    fallback only, used when no dated fact of the same kind is given at all (so passing both,
    e.g. a level derived from the certificates, cannot date a certificate back):
    ``language_level`` counts on every date unless ``language_certificates`` or an
    ``integration_courses`` entry with a level is given; ``naturalisation_test_passed_on`` is
    an Einbürgerungstest passed that day; ``integration_course_completed_on`` is a course whose
    level and final test are not known (it does not shorten the old-law period, which needs
    B1 and the final test); ``livelihood_secured``, ``no_relevant_conviction`` and
    ``commitment_declared`` hold on every date unless some dated assessment of the same
    requirement is given. ``None`` in a tri-state field means
    "not known"; it never counts as met.
    """

    periods: tuple[Period, ...]
    protection_granted_on: date | None = None
    language_level: str | None = None
    naturalisation_test_passed_on: date | None = None
    integration_course_completed_on: date | None = None
    livelihood_secured: bool | None = None
    no_relevant_conviction: bool | None = None
    commitment_declared: bool | None = None
    eu_or_swiss_citizen: bool = False
    departed_on: date | None = None
    language_certificates: tuple[LanguageCertificate, ...] = ()
    integration_courses: tuple[CourseCompletion, ...] = ()
    knowledge_tests: tuple[KnowledgeTest, ...] = ()
    assessments: tuple[Assessment, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    stays_abroad: tuple[StayAbroad, ...] = ()
    nationality: tuple[NationalityFact, ...] = ()
    title_applications: tuple[TitleApplication, ...] = ()

    def __post_init__(self) -> None:
        for name in (
            "periods",
            "language_certificates",
            "integration_courses",
            "knowledge_tests",
            "assessments",
            "waivers",
            "stays_abroad",
            "nationality",
            "title_applications",
        ):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if self.language_level is not None:
            object.__setattr__(self, "language_level", _level(self.language_level))


def _level(value: str) -> str:
    level = value.strip().upper()
    if level not in LEVELS:
        raise ValueError(f"unknown language level {value!r}")
    return level


#: ``Requirement.state`` values.
STATES: Final = ("met", "not_met", "unknown", "decision_needed")


@dataclass(frozen=True)
class Requirement:
    """One requirement of § 10 StAG (Einbürgerungsvoraussetzung).

    ``met`` is True, False, or None: not known, or ``decision_needed`` when the law leaves the
    answer to the authority's discretion (e.g. § 12b Abs. 2 StAG); the engine then does not
    guess. ``reason`` explains it in English, ``reason_de`` in German (for case managers);
    ``code`` is a stable reason code (e.g. ``"met"``, ``"not_yet"``, ``"decision_12b2"``).
    """

    key: str
    met: bool | None
    reason: str
    reason_de: str = ""
    code: str = ""
    decision_needed: bool = False

    @property
    def state(self) -> str:
        """One of ``STATES``."""
        if self.decision_needed:
            return "decision_needed"
        return {True: "met", False: "not_met", None: "unknown"}[self.met]


@dataclass(frozen=True)
class Readiness:
    """The result of ``evaluate``: each requirement under the law version in force on ``as_of``,
    as known on ``as_of`` (only versions promulgated by then, only facts dated by then).

    ``earliest_residence_date`` is the first day on which the residence requirement is met
    under the law in force on that day, as known on ``as_of``: when it is met on ``as_of``, the
    first day of the unbroken run of such days that holds ``as_of``; otherwise the next such
    day after ``as_of``, projected on the known periods and, where the current residence title
    ends before, under the assumption that it is renewed on time (``renewal_assumed``; the
    assumption is then spelled out in ``assumption``/``assumption_de``).
    ``earliest_residence_date_without_renewal`` is the same date on the known periods only
    (None when they do not reach it). Discretionary shortenings and § 12b Abs. 2 credits are
    never assumed. ``counted_residence_days`` are the days of the current unbroken residence
    (the run that holds ``as_of``, or the last one before it) counted before ``as_of``.
    """

    as_of: date
    law_version: str
    requirements: tuple[Requirement, ...]
    ready: bool
    counted_residence_days: int
    earliest_residence_date: date | None
    earliest_residence_date_without_renewal: date | None = None
    renewal_assumed: bool = False
    assumption: str | None = None
    assumption_de: str | None = None
    known_law_versions: tuple[str, ...] = ()

    def requirement(self, key: str) -> Requirement:
        """The requirement named ``key`` (one of ``REQUIREMENT_KEYS``)."""
        for requirement in self.requirements:
            if requirement.key == key:
                return requirement
        raise KeyError(key)


@dataclass(frozen=True)
class ParagraphRef:
    """A section of the AufenthG, optionally one subsection (Absatz): § 25 Abs. 3 = ("25", 3)."""

    section: str
    subsection: int | None = None

    def covers(self, other: ParagraphRef) -> bool | None:
        """Whether this rule entry covers ``other``; None if ``other`` lacks the subsection."""
        if self.section != other.section:
            return False
        if self.subsection is None:
            return True
        if other.subsection is None:
            return None
        return self.subsection == other.subsection

    @property
    def code(self) -> str:
        """The rules.json notation, e.g. ``"25(3)"``."""
        return self.section if self.subsection is None else f"{self.section}({self.subsection})"

    def __str__(self) -> str:
        subsection = "" if self.subsection is None else f" Abs. {self.subsection}"
        return f"§ {self.section}{subsection} AufenthG"


@dataclass(frozen=True)
class ReducedPeriod:
    """A shortened residence period (verkürzte Mindestaufenthaltsdauer, § 10 Abs. 3 StAG).

    ``discretionary`` marks a "kann" rule: the authority decides, so the engine reports
    "decision of the authority needed" instead of applying it.
    """

    years: int
    condition: str
    label: str
    level: str | None = None
    discretionary: bool = False
    label_de: str = ""

    def holds(self, facts: PathwayFacts, on: date) -> bool:
        """Whether the condition is fulfilled on ``on`` according to the facts dated by then."""
        if self.condition == "integration_course_successful":
            return any(
                course.successful and course.completed_on <= on
                for course in facts.integration_courses
            )
        return _level_at_least(_best_level(facts, on)[0], self.level or "C2")


@dataclass(frozen=True)
class LawVersion:
    """One version of § 10 StAG (Anspruchseinbürgerung), in force ``valid_from``-``valid_until``.

    Loaded from rules.json; ``valid_until`` is inclusive and ``None`` for the current version.
    ``promulgated_on`` is the day the amending law was promulgated (verkündet): before it, the
    version was not known, and an evaluation as of an earlier day does not use it.
    """

    id: str
    title: str
    valid_from: date
    valid_until: date | None
    residence_years: int
    reduced_periods: tuple[ReducedPeriod, ...]
    language_level: str
    multiple_nationality_allowed: bool
    multiple_nationality_allowed_for_eu_swiss: bool
    counting_kinds: tuple[str, ...]
    gestattung_counts_after_protection: bool
    qualifying_kinds: tuple[str, ...]
    paragraph_checked_kinds: tuple[str, ...]
    non_qualifying_paragraphs: tuple[ParagraphRef, ...]
    promulgated_on: date = date.min
    source: str = ""
    waivable: tuple[str, ...] = ("language", "naturalisation_test")
    knowledge_test_min_points: int = 17
    harmless_absence_months: int = 6
    creditable_years: int = 5

    def in_force(self, on: date) -> bool:
        """Whether this version is in force on ``on``."""
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)

    def required_years(
        self, facts: PathwayFacts, on: date, *, discretion: bool = False
    ) -> tuple[int, ReducedPeriod | None]:
        """The shortest residence period that applies on ``on``, and the reduction used;
        discretionary reductions only with ``discretion``."""
        years, used = self.residence_years, None
        for reduced in self.reduced_periods:
            if reduced.discretionary and not discretion:
                continue
            if reduced.years < years and reduced.holds(facts, on):
                years, used = reduced.years, reduced
        return years, used


# --- rules data --------------------------------------------------------------------------------


def parse_rules(data: object) -> tuple[LawVersion, ...]:
    """Law versions from the rules.json structure, sorted by ``valid_from`` and validated.

    Raises ``ValueError`` on malformed data, overlapping or non-adjacent versions.
    """
    root = _mapping(data, "rules")
    raw_versions = root.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        raise ValueError("rules: 'versions' must be a non-empty list")
    versions = sorted((_parse_version(raw) for raw in raw_versions), key=lambda v: v.valid_from)
    ids = [version.id for version in versions]
    if len(set(ids)) != len(ids):
        raise ValueError(f"rules: duplicate version ids in {ids}")
    for earlier, later in itertools.pairwise(versions):
        if earlier.valid_until is None or earlier.valid_until + _ONE_DAY != later.valid_from:
            raise ValueError(
                f"rules: {earlier.id} must end on the day before {later.id} starts"
                f" ({later.valid_from})"
            )
    return tuple(versions)


@cache
def load_rules() -> tuple[LawVersion, ...]:
    """The law versions shipped in ``projections/pathway/rules.json``, sorted by ``valid_from``."""
    text = resources.files(__package__).joinpath("rules.json").read_text(encoding="utf-8")
    return parse_rules(json.loads(text))


def law_in_force(on: date, rules: Sequence[LawVersion] | None = None) -> LawVersion:
    """The version of § 10 StAG in force on ``on``; ``LookupError`` if none is."""
    version = _version_on(on, load_rules() if rules is None else rules)
    if version is None:
        raise LookupError(f"no version of § 10 StAG in the rules is in force on {on}")
    return version


def _version_on(on: date, rules: Sequence[LawVersion]) -> LawVersion | None:
    for version in rules:
        if version.in_force(on):
            return version
    return None


def _parse_version(raw: object) -> LawVersion:
    item = _mapping(raw, "version")
    vid = _str(item, "id")
    where = f"rules: version {vid}"
    valid_from = _date(item, "valid_from", where)
    until_raw = item.get("valid_until")
    valid_until = None if until_raw is None else _date(item, "valid_until", where)
    if valid_until is not None and valid_until < valid_from:
        raise ValueError(f"{where}: valid_until before valid_from")
    years = _int(item, "residence_years", where)
    if years < 1:
        raise ValueError(f"{where}: residence_years must be at least 1")
    reduced_raw = item.get("reduced_periods", [])
    if not isinstance(reduced_raw, list):
        raise ValueError(f"{where}: reduced_periods must be a list")
    reduced = tuple(_parse_reduced(entry, years, where) for entry in reduced_raw)
    language = _str(item, "language_level", where)
    if language not in LEVELS:
        raise ValueError(f"{where}: unknown language level {language!r}")
    promulgated_on = _date(item, "promulgated_on", where)
    if promulgated_on > valid_from:
        raise ValueError(f"{where}: promulgated_on after valid_from")
    waivable = (
        _str_list(item, "waivable", where)
        if "waivable" in item
        else ("language", "naturalisation_test")
    )
    unknown = set(waivable) - set(REQUIREMENT_KEYS)
    if unknown:
        raise ValueError(f"{where}: 'waivable' names unknown requirements {sorted(unknown)}")
    return LawVersion(
        id=vid,
        title=str(item.get("title", vid)),
        valid_from=valid_from,
        valid_until=valid_until,
        residence_years=years,
        reduced_periods=reduced,
        language_level=language,
        multiple_nationality_allowed=_bool(item, "multiple_nationality_allowed", where),
        multiple_nationality_allowed_for_eu_swiss=_bool(
            item, "multiple_nationality_allowed_for_eu_swiss", where
        ),
        counting_kinds=_kinds(item, "counting_kinds", where),
        gestattung_counts_after_protection=_bool(item, "gestattung_counts_after_protection", where),
        qualifying_kinds=_kinds(item, "qualifying_kinds", where),
        paragraph_checked_kinds=_kinds(item, "paragraph_checked_kinds", where),
        non_qualifying_paragraphs=tuple(
            _parse_code(code, where) for code in _str_list(item, "non_qualifying_paragraphs", where)
        ),
        promulgated_on=promulgated_on,
        source=str(item.get("source", "")),
        waivable=waivable,
        knowledge_test_min_points=_int_or(item, "knowledge_test_min_points", 17, where),
        harmless_absence_months=_int_or(item, "harmless_absence_months", 6, where),
        creditable_years=_int_or(item, "creditable_years", 5, where),
    )


def _parse_reduced(raw: object, base_years: int, where: str) -> ReducedPeriod:
    item = _mapping(raw, f"{where}: reduced period")
    years = _int(item, "years", where)
    if not 1 <= years < base_years:
        raise ValueError(f"{where}: a reduced period must be 1 to {base_years - 1} years")
    condition = _str(item, "condition", where)
    if condition not in CONDITIONS:
        raise ValueError(f"{where}: unknown condition {condition!r}; expected one of {CONDITIONS}")
    level = item.get("level")
    if condition == "language_at_least" and (not isinstance(level, str) or level not in LEVELS):
        raise ValueError(f"{where}: condition language_at_least needs a CEFR 'level'")
    discretionary = item.get("discretionary", False)
    if not isinstance(discretionary, bool):
        raise ValueError(f"{where}: 'discretionary' must be true or false")
    return ReducedPeriod(
        years=years,
        condition=condition,
        label=str(item.get("label", condition)),
        level=level if isinstance(level, str) else None,
        discretionary=discretionary,
        label_de=str(item.get("label_de", item.get("label", condition))),
    )


_CODE = re.compile(r"^(\d+[a-z]?)(?:\((\d+)\))?$")


def _parse_code(code: str, where: str) -> ParagraphRef:
    match = _CODE.match(code.strip())
    if match is None:
        raise ValueError(f"{where}: bad paragraph code {code!r} (expected e.g. '16b' or '25(3)')")
    subsection = match.group(2)
    return ParagraphRef(match.group(1), None if subsection is None else int(subsection))


def _mapping(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, dict) or not all(isinstance(key, str) for key in raw):
        raise ValueError(f"{where}: expected an object")
    return raw


def _str(item: dict[str, object], key: str, where: str = "rules") -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: {key!r} must be a non-empty string")
    return value


def _int(item: dict[str, object], key: str, where: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: {key!r} must be an integer")
    return value


def _int_or(item: dict[str, object], key: str, default: int, where: str) -> int:
    return default if key not in item else _int(item, key, where)


def _bool(item: dict[str, object], key: str, where: str) -> bool:
    value = item.get(key)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key!r} must be true or false")
    return value


def _date(item: dict[str, object], key: str, where: str) -> date:
    try:
        return date.fromisoformat(_str(item, key, where))
    except ValueError as error:
        raise ValueError(f"{where}: {key!r} must be an ISO date") from error


def _str_list(item: dict[str, object], key: str, where: str) -> tuple[str, ...]:
    value = item.get(key)
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise ValueError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def _kinds(item: dict[str, object], key: str, where: str) -> tuple[str, ...]:
    kinds = _str_list(item, key, where)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"{where}: {key!r} names unknown kinds {sorted(unknown)}")
    return kinds


# --- paragraphs ----------------------------------------------------------------------------------

_SECTION = re.compile(r"§+\s*(\d+)([a-z])?(?![a-z])", re.IGNORECASE)
_SUBSECTION = re.compile(r"^\s*(?:Abs\.?\s*(\d+)|\(\s*(\d+)\s*\))", re.IGNORECASE)
_OTHER_LAW = re.compile(r"\b(AsylG|StAG|BeschV|AufenthV|SGB)\b", re.IGNORECASE)
_FREE_MOVEMENT_LAW = re.compile(r"Freiz[üu]e?gG", re.IGNORECASE)

#: Purposes of the titles that do not qualify, for readable reasons.
_PURPOSES: Final = {
    "16a": "vocational training",
    "16b": "study",
    "16d": "recognition of foreign qualifications",
    "16e": "study-related internship",
    "16f": "language course or school",
    "17": "search for a training or study place",
    "18d": "research",
    "18f": "mobile researchers",
    "19": "ICT card",
    "19b": "mobile ICT card",
    "19e": "European voluntary service",
    "20": "job search",
    "22": "admission from abroad",
    "23(1)": "admission by a Land",
    "23a": "hardship commission",
    "24": "temporary protection",
    "25(3)": "deportation ban",
    "25(4)": "temporary stay for urgent reasons",
    "25(5)": "departure impossible",
}


def parse_paragraph(text: str) -> ParagraphRef | None:
    """The AufenthG section/subsection named in ``text`` ("§ 25 Abs. 3 AufenthG", "§25 (3)").

    Returns None when no section number is found.
    """
    match = _SECTION.search(text)
    if match is None:
        return None
    section = match.group(1) + (match.group(2) or "").lower()
    sub = _SUBSECTION.match(text[match.end() :])
    subsection = None if sub is None else int(sub.group(1) or sub.group(2))
    return ParagraphRef(section, subsection)


def _title_qualifies(period: Period, version: LawVersion) -> tuple[bool | None, str]:
    """Whether ``period`` as the current status is a qualifying title (§ 10 Abs. 1 Nr. 2 StAG)."""
    met, reason, _ = _title_verdict(period, version)
    return met, reason


def _title_verdict(period: Period, version: LawVersion) -> tuple[bool | None, str, str]:
    """The verdict on ``period`` as the current status, with its reason in English and German.

    A Fiktionsbescheinigung continuing a title (§ 81 Abs. 4 AufenthG) is judged as that title.
    """
    kind = period.kind
    if kind == "fiktion" and period.applied_on is not None:
        continued = Period(
            period.continues_kind or "residence_title",
            period.start,
            period.end,
            period.continues or None,
        )
        met, en, de = _title_verdict(continued, version)
        if continued.kind == "visa":
            named = f"the visa ({period.continues})" if period.continues else "the visa"
            named_de = f"das Visum ({period.continues})" if period.continues else "das Visum"
        else:
            named = period.continues or "the residence title"
            named_de = period.continues or "der Aufenthaltstitel"
        return (
            met,
            f"{named} is deemed to continue while the application filed in time on"
            f" {period.applied_on} is pending (§ 81 Abs. 4 AufenthG, no certificate needed):"
            f" {en}",
            f"{named_de} gilt fort, solange über den rechtzeitig am {period.applied_on}"
            f" gestellten Antrag nicht entschieden ist (§ 81 Abs. 4 AufenthG, auch ohne"
            f" Fiktionsbescheinigung): {de}",
        )
    if kind == "fiktion" and period.continues:
        continued = Period("residence_title", period.start, period.end, period.continues)
        met, en, de = _title_verdict(continued, version)
        return (
            met,
            f"Fiktionsbescheinigung continuing {period.continues} (§ 81 Abs. 4 AufenthG): {en}",
            f"Fiktionsbescheinigung, Fortgeltung von {period.continues}"
            f" (§ 81 Abs. 4 AufenthG): {de}",
        )
    named = f" under {period.paragraph}" if period.paragraph else ""
    named_de = f" nach {period.paragraph}" if period.paragraph else ""
    if kind in version.qualifying_kinds:
        return (
            True,
            f"{_KIND_NAMES[kind]}{named} qualifies",
            f"{_KIND_NAMES_DE[kind]}{named_de} genügt",
        )
    if kind not in version.paragraph_checked_kinds:
        if kind == "temporary_protection":
            paragraph = period.paragraph or "§ 24 AufenthG"
            return (
                False,
                f"{paragraph} (temporary protection) does not qualify: {_CHANGE}",
                f"{paragraph} (vorübergehender Schutz) genügt nicht: {_CHANGE_DE}",
            )
        return (
            False,
            f"{_KIND_NAMES[kind]}{named} is not a qualifying title: {_NEXT_STEP[kind]}",
            f"{_KIND_NAMES_DE[kind]}{named_de} genügt nicht: {_NEXT_STEP_DE[kind]}",
        )
    if period.paragraph is None:
        return (
            None,
            "legal basis of the residence title not known (§§ 16a-20, 22-25 may not qualify)",
            "Rechtsgrundlage des Aufenthaltstitels nicht bekannt (§§ 16a-20, 22-25 AufenthG"
            " genügen teils nicht)",
        )
    if _FREE_MOVEMENT_LAW.search(period.paragraph):
        return True, f"{period.paragraph} qualifies", f"{period.paragraph} genügt"
    if _OTHER_LAW.search(period.paragraph):
        return (
            None,
            f"{period.paragraph}: not a residence title under the AufenthG",
            f"{period.paragraph}: kein Aufenthaltstitel nach dem AufenthG",
        )
    ref = parse_paragraph(period.paragraph)
    if ref is None:
        return (
            None,
            f"legal basis {period.paragraph!r} not recognised",
            f"Rechtsgrundlage {period.paragraph!r} nicht erkannt",
        )
    unknown: list[ParagraphRef] = []
    for rule in version.non_qualifying_paragraphs:
        covered = rule.covers(ref)
        if covered:
            purpose = _PURPOSES.get(rule.code, "")
            purpose_de = _PURPOSES_DE.get(rule.code, "")
            label = f" ({purpose})" if purpose else ""
            label_de = f" ({purpose_de})" if purpose_de else ""
            return (
                False,
                f"{ref}{label} does not qualify: {_CHANGE}",
                f"{ref}{label_de} genügt nicht: {_CHANGE_DE}",
            )
        if covered is None:
            unknown.append(rule)
    if unknown:
        listed = ", ".join(f"Abs. {rule.subsection}" for rule in unknown)
        return (
            None,
            f"{ref} without subsection: {listed} do not qualify",
            f"{ref} ohne Absatz: {listed} genügen nicht",
        )
    return True, f"{ref} qualifies", f"{ref} genügt"


_CHANGE: Final = "change to another title first"
_CHANGE_DE: Final = "zuerst ist ein Wechsel in einen anderen Aufenthaltstitel nötig"
_KIND_NAMES: Final = {
    "gestattung": "Aufenthaltsgestattung (§ 55 AsylG)",
    "duldung": "Duldung (§ 60a AufenthG)",
    "fiktion": "Fiktionsbescheinigung (§ 81 AufenthG)",
    "temporary_protection": "temporary protection (§ 24 AufenthG)",
    "residence_title": "residence title (Aufenthaltserlaubnis)",
    "settlement_permit": "settlement permit (Niederlassungserlaubnis)",
    "eu_long_term": "EU long-term residence (Daueraufenthalt-EU)",
    "eu_free_movement": "EU free movement (Freizügigkeit)",
    "visa": "visa (Visum)",
}
_KIND_NAMES_DE: Final = {
    "gestattung": "Aufenthaltsgestattung (§ 55 AsylG)",
    "duldung": "Duldung (§ 60a AufenthG)",
    "fiktion": "Fiktionsbescheinigung (§ 81 AufenthG)",
    "temporary_protection": "vorübergehender Schutz (§ 24 AufenthG)",
    "residence_title": "Aufenthaltserlaubnis",
    "settlement_permit": "Niederlassungserlaubnis",
    "eu_long_term": "Erlaubnis zum Daueraufenthalt-EU",
    "eu_free_movement": "Freizügigkeit (FreizügG/EU)",
    "visa": "Visum",
}
_NEXT_STEP: Final = {
    "gestattung": "protection or a residence title is needed first",
    "duldung": "a residence title is needed first (e.g. §§ 25a, 25b AufenthG)",
    "fiktion": "the title applied for must be granted first",
    "temporary_protection": _CHANGE,
    "residence_title": _CHANGE,
    "settlement_permit": _CHANGE,
    "eu_long_term": _CHANGE,
    "eu_free_movement": _CHANGE,
    "visa": "a residence title is needed first",
}
_NEXT_STEP_DE: Final = {
    "gestattung": "zuerst ist Schutz oder ein Aufenthaltstitel nötig",
    "duldung": "zuerst ist ein Aufenthaltstitel nötig (z. B. §§ 25a, 25b AufenthG)",
    "fiktion": "zuerst muss der beantragte Titel erteilt werden",
    "temporary_protection": _CHANGE_DE,
    "residence_title": _CHANGE_DE,
    "settlement_permit": _CHANGE_DE,
    "eu_long_term": _CHANGE_DE,
    "eu_free_movement": _CHANGE_DE,
    "visa": "zuerst ist ein Aufenthaltstitel nötig",
}
_PURPOSES_DE: Final = {
    "16a": "Berufsausbildung",
    "16b": "Studium",
    "16d": "Anerkennung ausländischer Berufsqualifikationen",
    "16e": "studienbezogenes Praktikum",
    "16f": "Sprachkurs oder Schulbesuch",
    "17": "Suche nach einem Ausbildungs- oder Studienplatz",
    "18d": "Forschung",
    "18f": "mobile Forscher",
    "19": "ICT-Karte",
    "19b": "Mobiler-ICT-Karte",
    "19e": "Europäischer Freiwilligendienst",
    "20": "Arbeitsplatzsuche",
    "22": "Aufnahme aus dem Ausland",
    "23(1)": "Aufnahme durch ein Land",
    "23a": "Härtefallkommission",
    "24": "vorübergehender Schutz",
    "25(3)": "Abschiebungsverbot",
    "25(4)": "vorübergehender Aufenthalt aus dringenden Gründen",
    "25(5)": "Ausreise unmöglich",
}


# --- dated facts --------------------------------------------------------------------------------


def _level_at_least(level: str | None, minimum: str) -> bool:
    return level is not None and LEVELS.index(level) >= LEVELS.index(minimum)


def _best_level(facts: PathwayFacts, on: date) -> tuple[str | None, date | None]:
    """The highest German level proven on ``on`` and since when (None: the undated level)."""
    proofs = [(c.level, c.issued_on) for c in facts.language_certificates]
    proofs += [(c.level, c.completed_on) for c in facts.integration_courses if c.level]
    # the undated level is a fallback for callers that know no dated proof at all
    best: tuple[str | None, date | None] = (None if proofs else facts.language_level, None)
    for level, day in sorted(proofs, key=lambda proof: proof[1]):
        if day <= on and level is not None and not _level_at_least(best[0], level):
            best = (level, day)
    return best


def _waiver(facts: PathwayFacts, key: str, on: date) -> Waiver | None:
    waivers = [w for w in facts.waivers if w.requirement == key and w.decided_on <= on]
    return min(waivers, key=lambda waiver: waiver.decided_on, default=None)


def _latest_assessment(facts: PathwayFacts, key: str, on: date) -> Assessment | None:
    """The latest assessment of ``key`` on or before ``on``; on one day, the last given."""
    latest: Assessment | None = None
    for assessment in facts.assessments:
        if assessment.requirement != key or assessment.assessed_on > on:
            continue
        if latest is None or assessment.assessed_on >= latest.assessed_on:
            latest = assessment
    return latest


# --- counting ------------------------------------------------------------------------------------


def _gestattung_counts(facts: PathwayFacts, version: LawVersion, on: int) -> bool:
    granted = facts.protection_granted_on
    return (
        version.gestattung_counts_after_protection
        and granted is not None
        and granted.toordinal() <= on
    )


def _kinds_on(facts: PathwayFacts, version: LawVersion, on: int) -> frozenset[str]:
    kinds = set(version.counting_kinds)
    if _gestattung_counts(facts, version, on):
        kinds.add("gestattung")
    return frozenset(kinds)


def _end(period: Period) -> int:
    return _INF if period.end is None else period.end.toordinal() + 1


def _merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(
    intervals: Sequence[tuple[int, int]], holes: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    result = list(intervals)
    for hole_start, hole_end in holes:
        pieces: list[tuple[int, int]] = []
        for start, end in result:
            if end <= hole_start or start >= hole_end:
                pieces.append((start, end))
                continue
            if start < hole_start:
                pieces.append((start, hole_start))
            if end > hole_end:
                pieces.append((hole_end, end))
        result = pieces
    return result


def _days_before(intervals: Iterable[tuple[int, int]], day: int) -> int:
    return sum(min(end, day) - start for start, end in intervals if start < day)


def _nth_day(intervals: Iterable[tuple[int, int]], n: int) -> int | None:
    """The ordinal of the ``n``-th counted day (1-based), or None if there are fewer."""
    remaining = n
    for start, end in intervals:
        if remaining <= end - start:
            return start + remaining - 1
        remaining -= end - start
    return None


def _add_years(day: int, years: int) -> int:
    """``day + years`` calendar years as an ordinal; Feb 29 becomes Mar 1 in common years."""
    start = date.fromordinal(day)
    year = start.year + years
    if year > date.max.year:
        return _INF
    if year < 1:
        return 1
    try:
        return start.replace(year=year).toordinal()
    except ValueError:  # Feb 29 in a common year
        return date(year, 3, 1).toordinal()


def _add_months(day: int, months: int) -> int:
    """``day + months`` calendar months (the month's last day if it is shorter, § 188 BGB)."""
    start = date.fromordinal(day)
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    if year > date.max.year:
        return _INF
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last)).toordinal()


def _required_days(first: int, years: int) -> int:
    return _add_years(first, years) - first


def _allowed_return(stay: StayAbroad, months: int) -> int:
    """The last day a return keeps the stay harmless (§ 12b Abs. 1 StAG), as an ordinal."""
    allowed = _add_months(stay.left_on.toordinal(), months)
    if stay.authority_set_until is not None:
        allowed = max(allowed, stay.authority_set_until.toordinal())
    return allowed


def _stays(facts: PathwayFacts, version: LawVersion, on: int) -> list[tuple[int, int, bool]]:
    """The stays abroad known on ``on``: (left, back or _INF, interrupting)."""
    stays = []
    for stay in facts.stays_abroad:
        left = stay.left_on.toordinal()
        if left > on:
            continue
        back = None
        if stay.returned_on is not None and stay.returned_on.toordinal() <= on:
            back = stay.returned_on.toordinal()
        allowed = _allowed_return(stay, version.harmless_absence_months)
        interrupting = back > allowed if back is not None else on > allowed
        stays.append((left, _INF if back is None else back, interrupting))
    return stays


#: Statuses a renewal or first grant can follow a gap with (§ 81 Abs. 4 AufenthG, § 12b Abs. 3).
_GRANTED_KINDS: Final = frozenset(
    {"residence_title", "settlement_permit", "eu_long_term", "fiktion"}
)
#: Residence titles a late application can be granted on (§ 12b Abs. 3 StAG).
_TITLE_KINDS: Final = frozenset({"residence_title", "settlement_permit", "eu_long_term"})
#: Titles whose timely renewal application continues them (§ 81 Abs. 4 Satz 1 AufenthG; a
#: national visa is a title, § 4 Abs. 1 Nr. 1, a Schengen visa is excluded by Satz 2).
_CONTINUABLE_KINDS: Final = frozenset({"residence_title", "visa"})


def pending_fictions(facts: PathwayFacts, on: date) -> tuple[Period, ...]:
    """The fictions of § 81 Abs. 4 Satz 1 AufenthG that timely applications known on ``on``
    give and no recorded status documents: from the day after the continued title expired
    until the day before the next status begins (a title, a Fiktionsbescheinigung, a Duldung:
    the authority decided), open-ended while nothing follows. A timely application continues
    the title by law; a certificate only documents it (§ 81 Abs. 5 AufenthG)."""
    fictions: dict[date, Period] = {}
    for application in facts.title_applications:
        applied = application.applied_on
        if applied > on:
            continue
        valid = [
            period
            for period in facts.periods
            if period.kind in _CONTINUABLE_KINDS
            and period.end is not None
            and period.start <= applied <= period.end
        ]
        if not valid:
            continue
        title = max(valid, key=lambda period: (period.end or date.max, period.start))
        assert title.end is not None
        if title.end >= date.max:
            continue
        first = title.end + _ONE_DAY
        if any(
            period is not title
            and period.start <= first
            and (period.end is None or first <= period.end)
            for period in facts.periods
        ):
            continue  # renewed in time, or a certificate or a Duldung follows at once
        following = [period.start for period in facts.periods if period.start > first]
        if application.refused_on is not None and application.refused_by(on):
            following.append(application.refused_on)
        end = min(following) - _ONE_DAY if following else None
        if end is not None and end < first:
            continue  # refused before the title expired
        if first not in fictions or applied < (fictions[first].applied_on or date.max):
            fictions[first] = Period(
                "fiktion",
                first,
                end,
                None,
                title.paragraph or "",
                applied_on=applied,
                continues_kind=title.kind,
            )
    return tuple(fictions[first] for first in sorted(fictions))


def _periods_on(facts: PathwayFacts, on: date) -> tuple[Period, ...]:
    """The recorded periods and the fictions of timely applications known on ``on``."""
    return (*facts.periods, *pending_fictions(facts, on))


def _same_paragraph(applied: str | None, granted: str | None) -> bool:
    """Whether a title under ``granted`` can be the one applied for under ``applied`` (either
    not known: it can)."""
    if applied is None or granted is None:
        return True
    first, second = parse_paragraph(applied), parse_paragraph(granted)
    if first is None or second is None:
        return applied.strip() == granted.strip()
    if first.section != second.section:
        return False
    return first.subsection is None or second.subsection is None or first == second


def _granted_on_late_application(facts: PathwayFacts, on: int, gap_start: int, start: int) -> bool:
    """Whether a title was granted on an application filed in the gap (§ 12b Abs. 3 StAG):
    a title that begins with or after the status ending the gap, known on ``on``, under the
    paragraph applied for."""
    for application in facts.title_applications:
        day = application.applied_on.toordinal()
        if not gap_start <= day < start or day > on:
            continue
        if application.refused_by(date.fromordinal(min(on, date.max.toordinal()))):
            continue  # refused: no title was granted on it
        for period in facts.periods:
            begins = period.start.toordinal()
            if (
                period.kind in _TITLE_KINDS
                and start <= begins <= on
                and _same_paragraph(application.paragraph, period.paragraph)
            ):
                return True
    return False


def _late_pending(facts: PathwayFacts, chain: _Chain, day: int) -> date | None:
    """The late application (§ 12b Abs. 3 StAG) filed after ``chain`` ended and pending on
    ``day``: nothing has followed the gap yet. None if there is none."""
    if chain.end > day or chain.end >= _INF:
        return None
    if any(period.start.toordinal() < day and _end(period) > chain.end for period in facts.periods):
        return None  # a status followed (a Duldung, a title...)
    on = date.fromordinal(min(day, date.max.toordinal()))
    applied = [
        a.applied_on
        for a in facts.title_applications
        if chain.end <= a.applied_on.toordinal() <= day and not a.refused_by(on)
    ]
    return min(applied, default=None)


@dataclass(frozen=True)
class _Chain:
    """An unbroken run of lawful residence: ``start``-``end`` (ordinals, end exclusive).

    ``intervals`` are the counted days; ``gap`` the break before it (previous run's end, this
    start); ``abroad`` the interrupting stay abroad before it with the days of earlier residence
    the authority may credit (``credit``, § 12b Abs. 2 StAG); ``bridges`` the gaps inside it
    that do not interrupt it: (kind, start, end) with kind "fiktion", "timely" or "late".
    """

    start: int
    end: int
    intervals: tuple[tuple[int, int], ...]
    gap: tuple[int, int] | None = None
    abroad: tuple[int, int] | None = None
    credit: int = 0
    bridges: tuple[tuple[str, int, int], ...] = ()

    def days_before(self, day: int) -> int:
        return _days_before(self.intervals, day)


def _bridge(
    facts: PathwayFacts, kinds: frozenset[str], on: int, prev: _Chain, start: int
) -> str | None:
    """Why the gap from ``prev.end`` to ``start`` does not interrupt the residence, if it
    does not: a Fiktionsbescheinigung continuing the title ("fiktion"), a timely application
    ("timely", both § 81 Abs. 4 AufenthG, counted) or a late one ("late", § 12b Abs. 3 StAG,
    not counted). Known only once the following status has begun (``start <= on``)."""
    gap_start = prev.end
    if start > on:
        return None
    for period in facts.periods:
        if (
            period.kind not in kinds
            and period.start.toordinal() < start
            and _end(period) > gap_start
        ):
            return None  # another status (a Duldung, an uncounted Gestattung) fills the gap
    following = [period for period in facts.periods if period.start.toordinal() == start]
    if any(period.kind == "fiktion" and period.continues for period in following):
        return "fiktion"
    if not any(period.kind in _GRANTED_KINDS for period in following):
        return None
    applied = [a.applied_on.toordinal() for a in facts.title_applications]
    title_start = prev.intervals[-1][0]
    if any(title_start <= day < gap_start and day <= on for day in applied):
        return "timely"
    if _granted_on_late_application(facts, on, gap_start, start):
        return "late"
    return None


def _chains(facts: PathwayFacts, version: LawVersion, on: int) -> list[_Chain]:
    """The unbroken runs of lawful residence as known on day ``on`` (ordinal), oldest first."""
    kinds = _kinds_on(facts, version, on)
    stop = _INF if facts.departed_on is None else facts.departed_on.toordinal()
    lawful = _merge(
        (period.start.toordinal(), min(stop, _end(period)))
        for period in _periods_on(facts, date.fromordinal(min(on, date.max.toordinal())))
        if period.kind in kinds
    )
    abroad = [
        (left, back) for left, back, interrupting in _stays(facts, version, on) if interrupting
    ]
    chains: list[_Chain] = []
    for start, end in _subtract(lawful, abroad):
        if not chains:
            chains.append(_Chain(start, end, ((start, end),)))
            continue
        prev = chains[-1]
        gap = (prev.end, start)
        stay = next((s for s in abroad if s[0] < start and s[1] > prev.end - 1), None)
        if stay is not None:
            cap = stay[0] - _add_years(stay[0], -version.creditable_years)
            credit = min(cap, prev.days_before(_INF))
            chains.append(_Chain(start, end, ((start, end),), gap, stay, credit))
            continue
        bridge = _bridge(facts, kinds, on, prev, start)
        if bridge is None:
            chains.append(_Chain(start, end, ((start, end),), gap))
            continue
        if bridge == "late":
            intervals = (*prev.intervals, (start, end))
        else:
            intervals = (*prev.intervals[:-1], (prev.intervals[-1][0], end))
        chains[-1] = dataclasses.replace(
            prev, end=end, intervals=intervals, bridges=(*prev.bridges, (bridge, *gap))
        )
    return chains


def _current(chains: Sequence[_Chain], day: int) -> tuple[_Chain | None, _Chain | None]:
    """The run holding ``day`` (or None), and the run to report: that one or the last before."""
    holding = next((chain for chain in chains if chain.start <= day < chain.end), None)
    if holding is not None:
        return holding, holding
    before = [chain for chain in chains if chain.start < day]
    return None, before[-1] if before else None


def counted_days(facts: PathwayFacts, until: date, rules_version: LawVersion) -> int:
    """All days of lawful habitual residence counted strictly before ``until``, in every run
    (the requirement itself needs them unbroken: see ``Readiness.counted_residence_days``)."""
    on = until.toordinal()
    return sum(chain.days_before(on) for chain in _chains(facts, rules_version, on))


@dataclass(frozen=True)
class _ResidenceState:
    met: bool | None
    decision: str | None  # "12b2", "12b3" or "reduction": decision of the authority needed
    holding: _Chain | None
    shown: _Chain | None
    counted: int
    years: int
    reduced: ReducedPeriod | None
    discretionary: ReducedPeriod | None = None


def _residence_state(facts: PathwayFacts, version: LawVersion, day: int) -> _ResidenceState:
    on = date.fromordinal(day)
    holding, shown = _current(_chains(facts, version, day), day)
    counted = 0 if shown is None else shown.days_before(day)
    years, reduced = version.required_years(facts, on)
    state = _ResidenceState(False, None, holding, shown, counted, years, reduced)
    if holding is None:
        if (
            shown is not None
            and _late_pending(facts, shown, day) is not None
            and counted >= _required_days(shown.start, years)
        ):
            return dataclasses.replace(state, met=None, decision="12b3")
        return state
    if counted >= _required_days(holding.start, years):
        return dataclasses.replace(state, met=True)
    if holding.credit and counted + holding.credit >= _required_days(holding.start, years):
        return dataclasses.replace(state, met=None, decision="12b2")
    short, discretionary = version.required_years(facts, on, discretion=True)
    if short < years and counted + holding.credit >= _required_days(holding.start, short):
        return dataclasses.replace(
            state, met=None, decision="reduction", discretionary=discretionary
        )
    return state


def residence_met_on(
    facts: PathwayFacts, on: date, rules: Sequence[LawVersion] | None = None
) -> bool:
    """Whether the residence period is met on ``on`` under the law version in force that day
    (unbroken, without discretionary shortenings or credits)."""
    version = _version_on(on, load_rules() if rules is None else rules)
    if version is None:
        return False
    return _residence_state(facts, version, on.toordinal()).met is True


def _breakpoints(facts: PathwayFacts, rules: Sequence[LawVersion]) -> set[int]:
    """The days on which what is known, or the law, may change."""
    points = {version.valid_from.toordinal() for version in rules}
    points.update(
        version.valid_until.toordinal() + 1 for version in rules if version.valid_until is not None
    )
    days = [facts.protection_granted_on, facts.integration_course_completed_on]
    days += [period.start for period in facts.periods]
    days += [period.end + _ONE_DAY for period in facts.periods if period.end is not None]
    days += [certificate.issued_on for certificate in facts.language_certificates]
    days += [course.completed_on for course in facts.integration_courses]
    days += [application.applied_on for application in facts.title_applications]
    days += [application.refused_on for application in facts.title_applications]
    for stay in facts.stays_abroad:
        days += [stay.left_on, stay.returned_on]
        for months in {version.harmless_absence_months for version in rules}:
            points.add(_allowed_return(stay, months) + 1)
    points.update(day.toordinal() for day in days if day is not None)
    return points


def _met_runs(
    facts: PathwayFacts, rules: Sequence[LawVersion], *, discretion: bool = False
) -> list[tuple[int, int]]:
    """Half-open ordinal runs of days on which the residence period is met.

    Between consecutive breakpoints (the law changes, or what is known does) the required
    number of days and the runs of lawful residence are fixed, and the counted days of a run
    only grow: each run holds one candidate, the day after its required-th counted day.
    """
    stop = _INF if facts.departed_on is None else facts.departed_on.toordinal()
    first_law = min(version.valid_from for version in rules).toordinal()
    bounds = sorted(p for p in _breakpoints(facts, rules) if first_law <= p < stop)
    bounds.append(stop)
    runs: list[tuple[int, int]] = []
    for window_start, window_end in itertools.pairwise(bounds):
        on = date.fromordinal(window_start)
        version = _version_on(on, rules)
        if version is None:
            continue
        years, _ = version.required_years(facts, on, discretion=discretion)
        for chain in _chains(facts, version, window_start):
            if chain.end <= window_start or chain.start >= window_end:
                continue
            reached = _nth_day(chain.intervals, _required_days(chain.start, years))
            if reached is None:
                continue
            start, end = max(window_start, reached + 1), min(window_end, chain.end)
            if start >= end:
                continue
            if runs and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], end)
            else:
                runs.append((start, end))
    return runs


def _earliest(runs: Iterable[tuple[int, int]], as_of: int) -> int | None:
    for start, end in runs:
        if start <= as_of < end or start > as_of:
            return start
    return None


def _earliest_date(
    facts: PathwayFacts, rules: Sequence[LawVersion], as_of: date, *, discretion: bool = False
) -> date | None:
    found = _earliest(_met_runs(facts, rules, discretion=discretion), as_of.toordinal())
    return None if found is None else date.fromordinal(found)


def known_rules(on: date, rules: Sequence[LawVersion] | None = None) -> tuple[LawVersion, ...]:
    """The law versions known on ``on``: those promulgated by then. The last of them stays in
    force indefinitely when its successor was not promulgated yet."""
    versions = load_rules() if rules is None else rules
    known = [version for version in versions if version.promulgated_on <= on]
    if known and len(known) < len(versions) and known[-1].valid_until is not None:
        known[-1] = dataclasses.replace(known[-1], valid_until=None)
    return tuple(known)


def _renewed(facts: PathwayFacts, as_of: date) -> tuple[PathwayFacts, Period | None]:
    """The facts with the current time-limited title renewed on time (continued indefinitely),
    and that title; unchanged when nothing needs the assumption or later facts are known."""
    if facts.departed_on is not None:
        return facts, None
    current = [
        period
        for period in facts.periods
        if (period.kind == "residence_title" or (period.kind == "fiktion" and period.continues))
        and period.end is not None
        and period.start <= as_of <= period.end
    ]
    if not current:
        return facts, None
    title = max(current, key=lambda period: (period.end or date.max, period.start))
    assert title.end is not None
    if any(period.start > title.end for period in facts.periods):
        return facts, None  # what follows is known
    periods = tuple(
        dataclasses.replace(period, end=None) if period is title else period
        for period in facts.periods
    )
    return dataclasses.replace(facts, periods=periods), title


# --- evaluation ----------------------------------------------------------------------------------


def evaluate(
    facts: PathwayFacts, as_of: date, rules: tuple[LawVersion, ...] | None = None
) -> Readiness:
    """Readiness for naturalisation on ``as_of`` under the version of § 10 StAG then in force,
    as known on ``as_of``: only the versions promulgated by then, only the facts dated by then.

    Raises ``LookupError`` if no version in ``rules`` (default: rules.json) is in force on
    ``as_of``.
    """
    versions = known_rules(as_of, rules)
    version = law_in_force(as_of, versions)
    departed = facts.departed_on is not None and facts.departed_on <= as_of
    state = _residence_state(facts, version, as_of.toordinal())
    without = _earliest_date(facts, versions, as_of)
    renewed, title = _renewed(facts, as_of)
    earliest = without if title is None else _earliest_date(renewed, versions, as_of)
    assumed = title is not None and earliest != without
    discretionary = None
    if any(
        reduced.discretionary and reduced.holds(renewed, date.max)
        for v in versions
        for reduced in v.reduced_periods
    ):
        discretionary = _earliest_date(renewed, versions, as_of, discretion=True)
    if departed:
        earliest = without = discretionary = None
        assumed = False
    assumption = assumption_de = None
    if assumed and title is not None:
        named = f" ({title.paragraph})" if title.paragraph else ""
        assumption = (
            f"assumes the residence title{named} valid until {title.end} is renewed on time"
        )
        assumption_de = (
            f"unter der Annahme, dass der bis {title.end} gültige Aufenthaltstitel{named}"
            " rechtzeitig verlängert wird"
        )
    residence = _residence_requirement(
        facts,
        as_of,
        version,
        versions,
        state,
        _Dates(earliest, without, assumption, assumption_de, discretionary),
    )
    requirements = (
        residence,
        _title_requirement(facts, as_of, version),
        _assessed_requirement(facts, "livelihood", facts.livelihood_secured, as_of, version),
        _language_requirement(facts, as_of, version),
        _test_requirement(facts, as_of, version),
        _assessed_requirement(facts, "commitment", facts.commitment_declared, as_of, version),
        _assessed_requirement(facts, "no_conviction", facts.no_relevant_conviction, as_of, version),
        _nationality_requirement(facts, as_of, version),
    )
    return Readiness(
        as_of=as_of,
        law_version=version.id,
        requirements=requirements,
        ready=all(requirement.met is True for requirement in requirements),
        counted_residence_days=state.counted,
        earliest_residence_date=earliest,
        earliest_residence_date_without_renewal=without,
        renewal_assumed=assumed,
        assumption=assumption,
        assumption_de=assumption_de,
        known_law_versions=tuple(v.id for v in versions),
    )


@dataclass(frozen=True)
class _Dates:
    earliest: date | None
    without_renewal: date | None
    assumption: str | None
    assumption_de: str | None
    discretionary: date | None


def _residence_requirement(
    facts: PathwayFacts,
    as_of: date,
    version: LawVersion,
    versions: Sequence[LawVersion],
    state: _ResidenceState,
    dates: _Dates,
) -> Requirement:
    key = "residence_period"
    if facts.departed_on is not None and facts.departed_on <= as_of:
        return Requirement(
            key,
            False,
            f"departed on {facts.departed_on}: residence in Germany ended",
            f"ausgereist am {facts.departed_on}: der Aufenthalt in Deutschland hat geendet",
            "departed",
        )
    first = state.shown.start if state.shown is not None else as_of.toordinal()
    span, span_de = _span_text(first, state.counted)
    years = state.years
    basis, basis_de = version.id, version.id
    if state.reduced is not None:
        basis = f"{version.id}, {state.reduced.label}"
        basis_de = f"{version.id}, {state.reduced.label_de}"
    text = f"{span} of {_plural(years, 'year')} counted ({basis})"
    text_de = f"{span_de} von {years} Jahren angerechnet ({basis_de})"
    notes, notes_de = _counting_notes(facts, version, as_of, state)
    earliest = dates.earliest
    if state.met is True and earliest is not None:
        return Requirement(
            key,
            True,
            f"{text}; met since {earliest}{notes}",
            f"{text_de}; erfüllt seit {earliest}{notes_de}",
            "met",
        )
    if state.decision == "12b2":
        credit = version.creditable_years
        return Requirement(
            key,
            None,
            f"{text}; with up to {_plural(credit, 'year')} of the residence before the stay abroad"
            " credited it would be met: decision of the authority needed (§ 12b Abs. 2 StAG)"
            f"{notes}",
            f"{text_de}; mit Anrechnung von bis zu {credit} Jahren des Aufenthalts vor dem"
            " Auslandsaufenthalt wäre sie erfüllt: Entscheidung der Behörde nötig"
            f" (§ 12b Abs. 2 StAG){notes_de}",
            "decision_12b2",
            decision_needed=True,
        )
    if state.decision == "12b3" and state.shown is not None:
        expired = _day(state.shown.end - 1)
        applied = _late_pending(facts, state.shown, as_of.toordinal())
        return Requirement(
            key,
            None,
            f"{text}; the residence title expired on {expired} and the application filed late"
            f" on {applied} is pending: the gap is disregarded only if the title is granted on"
            " it (§ 12b Abs. 3 StAG): decision of the authority needed"
            f"{notes}",
            f"{text_de}; der Aufenthaltstitel ist am {expired} abgelaufen, über den verspäteten"
            f" Antrag vom {applied} ist noch nicht entschieden: die Lücke bleibt nur außer"
            " Betracht, wenn der Titel darauf erteilt wird (§ 12b Abs. 3 StAG): Entscheidung"
            f" der Behörde nötig{notes_de}",
            "decision_12b3",
            decision_needed=True,
        )
    if state.decision == "reduction" and state.discretionary is not None:
        reduced = state.discretionary
        later, later_de = "", ""
        if earliest is not None:
            later, later_de = f"; otherwise met on {earliest}", f"; sonst erfüllt am {earliest}"
        return Requirement(
            key,
            None,
            f"{text}; met with {_plural(reduced.years, 'year')} only at the authority's discretion"
            f" ({reduced.label}): decision of the authority needed{later}{notes}",
            f"{text_de}; mit {reduced.years} Jahren nur nach Ermessen der Behörde erfüllt"
            f" ({reduced.label_de}): Entscheidung der Behörde nötig{later_de}{notes_de}",
            "decision_reduction",
            decision_needed=True,
        )
    discretion, discretion_de = "", ""
    if dates.discretionary is not None and (earliest is None or dates.discretionary < earliest):
        discretion = f"; from {dates.discretionary} at the authority's discretion (§ 10 Abs. 3)"
        discretion_de = f"; ab {dates.discretionary} nach Ermessen der Behörde (§ 10 Abs. 3)"
    if earliest is not None:
        later_version = law_in_force(earliest, versions)
        under = "" if later_version.id == version.id else f" under {later_version.id}"
        under_de = "" if later_version.id == version.id else f" nach {later_version.id}"
        when = f"met on {earliest}{under} if the periods known continue"
        when_de = f"erfüllt am {earliest}{under_de}, wenn die bekannten Zeiten fortdauern"
        if dates.assumption is not None and dates.assumption_de is not None:
            when += f" ({dates.assumption}"
            when_de += f" ({dates.assumption_de}"
            if dates.without_renewal is not None:
                when += f"; without it on {dates.without_renewal})"
                when_de += f"; ohne diese Annahme am {dates.without_renewal})"
            else:
                when += "; not reached without it)"
                when_de += "; ohne diese Annahme nicht erreicht)"
        return Requirement(
            key,
            False,
            f"{text}; {when}{discretion}{notes}",
            f"{text_de}; {when_de}{discretion_de}{notes_de}",
            "not_yet",
        )
    if facts.departed_on is not None:
        why = f" (departure on {facts.departed_on})"
        why_de = f" (Ausreise am {facts.departed_on})"
    elif any(
        period.end is None for period in facts.periods if period.kind in version.counting_kinds
    ):
        why, why_de = "", ""
    else:
        why, why_de = " (no ongoing counted period)", " (keine fortdauernde angerechnete Zeit)"
    return Requirement(
        key,
        False,
        f"{text}; not reachable with the periods known{why}{discretion}{notes}",
        f"{text_de}; mit den bekannten Zeiten nicht erreichbar{why_de}{discretion_de}{notes_de}",
        "not_reachable",
    )


def _counting_notes(
    facts: PathwayFacts, version: LawVersion, as_of: date, state: _ResidenceState
) -> tuple[str, str]:
    day = as_of.toordinal()
    kinds = {period.kind for period in facts.periods if period.start <= as_of}
    notes: list[tuple[str, str]] = []
    if "gestattung" in kinds and "gestattung" not in version.counting_kinds:
        if _gestattung_counts(facts, version, day):
            notes.append(
                (
                    "Aufenthaltsgestattung counted as protection was granted",
                    "Aufenthaltsgestattung angerechnet, da Schutz zuerkannt wurde",
                )
            )
        else:
            notes.append(
                (
                    "Aufenthaltsgestattung not counted without protection granted",
                    "Aufenthaltsgestattung ohne Schutzzuerkennung nicht angerechnet",
                )
            )
    if "duldung" in kinds and "duldung" not in version.counting_kinds:
        notes.append(("Duldung not counted", "Duldung nicht angerechnet"))
    chain = state.shown
    if chain is not None:
        for fiction in pending_fictions(facts, as_of):
            begins = fiction.start.toordinal()
            if not chain.start <= begins < chain.end or fiction.start > as_of:
                continue
            title = f" ({fiction.continues})" if fiction.continues else ""
            if fiction.end is not None and fiction.end < as_of:
                notes.append(
                    (
                        f"{fiction.start} to {fiction.end} counted: applied in time on"
                        f" {fiction.applied_on}, the title{title} continued until the decision"
                        " (§ 81 Abs. 4 AufenthG)",
                        f"{fiction.start} bis {fiction.end} angerechnet: am {fiction.applied_on}"
                        f" rechtzeitig beantragt, der Titel{title} galt bis zur Entscheidung"
                        " fort (§ 81 Abs. 4 AufenthG)",
                    )
                )
            else:
                notes.append(
                    (
                        f"since {fiction.start} the residence title{title} is deemed to continue"
                        f" while the application filed in time on {fiction.applied_on} is"
                        " pending, counted: applied in time (§ 81 Abs. 4 AufenthG)",
                        f"seit {fiction.start} gilt der Aufenthaltstitel{title} fort, solange über"
                        f" den rechtzeitig am {fiction.applied_on} gestellten Antrag nicht"
                        " entschieden ist, angerechnet (§ 81 Abs. 4 AufenthG)",
                    )
                )
        late = _late_pending(facts, chain, day) if state.holding is None else None
        if late is not None and state.decision != "12b3":
            notes.append(
                (
                    f"application filed late on {late} pending: the gap is disregarded only if"
                    " the title is granted on it (§ 12b Abs. 3 StAG)",
                    f"verspäteter Antrag vom {late} noch nicht entschieden: die Lücke bleibt nur"
                    " außer Betracht, wenn der Titel darauf erteilt wird (§ 12b Abs. 3 StAG)",
                )
            )
        for kind, start, end in chain.bridges:
            first, last = _day(start), _day(end - 1)
            if kind == "fiktion":
                notes.append(
                    (
                        f"Fiktionsbescheinigung bridges {first} to {last} (§ 81 Abs. 4 AufenthG)",
                        f"Fiktionsbescheinigung überbrückt {first} bis {last}"
                        " (§ 81 Abs. 4 AufenthG)",
                    )
                )
            elif kind == "timely":
                notes.append(
                    (
                        f"{first} to {last} counted: applied in time (§ 81 Abs. 4 AufenthG)",
                        f"{first} bis {last} angerechnet: rechtzeitig beantragt"
                        " (§ 81 Abs. 4 AufenthG)",
                    )
                )
            else:
                notes.append(
                    (
                        f"{first} to {last} not counted but no interruption: late application"
                        " (§ 12b Abs. 3 StAG)",
                        f"{first} bis {last} nicht angerechnet, aber keine Unterbrechung:"
                        " verspäteter Antrag (§ 12b Abs. 3 StAG)",
                    )
                )
        for left, back, interrupting in _stays(facts, version, day):
            if not interrupting and chain.start <= left < chain.end:
                if back == _INF:
                    span, span_de = f"since {_day(left)}", f"seit {_day(left)}"
                else:
                    span = f"from {_day(left)} to {_day(back - 1)}"
                    span_de = f"vom {_day(left)} bis {_day(back - 1)}"
                notes.append(
                    (
                        f"stay abroad {span} does not interrupt (§ 12b Abs. 1 StAG)",
                        f"Auslandsaufenthalt {span_de} unterbricht nicht (§ 12b Abs. 1 StAG)",
                    )
                )
        if chain.abroad is not None:
            left, back = chain.abroad
            notes.append(
                (
                    f"stay abroad from {_day(left)} to {_day(back - 1)} longer than allowed"
                    f" interrupts the residence (§ 12b Abs. 1 StAG): counted from {_day(back)}",
                    f"Auslandsaufenthalt vom {_day(left)} bis {_day(back - 1)} länger als"
                    f" zulässig unterbricht den Aufenthalt (§ 12b Abs. 1 StAG): angerechnet ab"
                    f" {_day(back)}",
                )
            )
        elif chain.gap is not None:
            gap_start, gap_end = chain.gap
            notes.append(
                (
                    f"lawful residence interrupted from {_day(gap_start)} to {_day(gap_end - 1)}"
                    f" (§ 10 Abs. 1 StAG requires it unbroken): counted from {_day(gap_end)}",
                    f"rechtmäßiger Aufenthalt unterbrochen vom {_day(gap_start)} bis"
                    f" {_day(gap_end - 1)} (§ 10 Abs. 1 StAG verlangt ihn ununterbrochen):"
                    f" angerechnet ab {_day(gap_end)}",
                )
            )
        if state.holding is None and chain.end <= day:
            stays = [s for s in _stays(facts, version, day) if s[2] and s[1] == _INF]
            if stays:
                notes.append(
                    (
                        f"abroad since {_day(stays[-1][0])} longer than allowed"
                        " (§ 12b Abs. 1 StAG)",
                        f"seit {_day(stays[-1][0])} länger als zulässig im Ausland"
                        " (§ 12b Abs. 1 StAG)",
                    )
                )
            else:
                notes.append(
                    (
                        f"no lawful residence known since {_day(chain.end)}",
                        f"kein rechtmäßiger Aufenthalt bekannt seit {_day(chain.end)}",
                    )
                )
    if not notes:
        return "", ""
    return (
        " (" + "; ".join(en for en, _ in notes) + ")",
        " (" + "; ".join(de for _, de in notes) + ")",
    )


def _day(ordinal: int) -> date:
    return date.fromordinal(min(ordinal, date.max.toordinal()))


def _title_requirement(facts: PathwayFacts, as_of: date, version: LawVersion) -> Requirement:
    key = "qualifying_title"
    if facts.departed_on is not None and facts.departed_on <= as_of:
        return Requirement(
            key,
            False,
            f"departed on {facts.departed_on}: no residence title",
            f"ausgereist am {facts.departed_on}: kein Aufenthaltstitel",
            "departed",
        )
    current = [
        period
        for period in _periods_on(facts, as_of)
        if period.start <= as_of and (period.end is None or as_of <= period.end)
    ]
    if not current:
        return Requirement(
            key,
            False,
            f"no residence status recorded on {as_of}",
            f"kein Aufenthaltsstatus am {as_of} erfasst",
            "no_status",
        )
    verdicts = [_title_verdict(period, version) for period in current]
    for wanted, code in ((True, "met"), (None, "unknown"), (False, "not_qualifying")):
        for met, reason, reason_de in verdicts:
            if met is wanted:
                return Requirement(key, met, reason, reason_de, code)
    raise AssertionError("unreachable")  # pragma: no cover


def _waived(key: str, waiver: Waiver) -> Requirement:
    ground, ground_de = _GROUNDS[waiver.ground]
    return Requirement(
        key,
        True,
        f"waived on {waiver.decided_on} for {ground} (§ 10 Abs. 6 StAG)",
        f"am {waiver.decided_on} wegen {ground_de} abgesehen (§ 10 Abs. 6 StAG)",
        "waived",
    )


_GROUNDS: Final = {
    "illness": ("illness", "Krankheit"),
    "disability": ("disability", "Behinderung"),
    "age": ("age", "Alters"),
}


def _language_requirement(facts: PathwayFacts, as_of: date, version: LawVersion) -> Requirement:
    key = "language"
    waiver = _waiver(facts, key, as_of)
    if waiver is not None and key in version.waivable:
        return _waived(key, waiver)
    required = version.language_level
    level, since = _best_level(facts, as_of)
    if level is None:
        return Requirement(
            key,
            None,
            f"no German language certificate known ({required} required)",
            f"kein Nachweis der Deutschkenntnisse bekannt ({required} erforderlich)",
            "unknown",
        )
    proven = "" if since is None else f", proven on {since}"
    proven_de = "" if since is None else f", nachgewiesen am {since}"
    if _level_at_least(level, required):
        return Requirement(
            key,
            True,
            f"German at {level}{proven} ({required} required)",
            f"Deutsch auf Niveau {level}{proven_de} ({required} erforderlich)",
            "met",
        )
    return Requirement(
        key,
        False,
        f"German at {level}{proven}; {required} required",
        f"Deutsch auf Niveau {level}{proven_de}; {required} erforderlich",
        "below_level",
    )


_TEST_SOURCE: Final = "§ 10 Abs. 5 StAG, § 1 Abs. 3 EinbTestV"


def _test_requirement(facts: PathwayFacts, as_of: date, version: LawVersion) -> Requirement:
    key = "naturalisation_test"
    waiver = _waiver(facts, key, as_of)
    if waiver is not None and key in version.waivable:
        return _waived(key, waiver)
    minimum = version.knowledge_test_min_points
    tests = [test for test in facts.knowledge_tests if test.passed_on <= as_of]
    legacy = facts.naturalisation_test_passed_on
    if legacy is not None and legacy <= as_of:
        tests.append(KnowledgeTest("einbuergerungstest", legacy))
    tests.sort(key=lambda test: test.passed_on)
    for test in tests:
        if test.kind == "einbuergerungstest":
            return Requirement(
                key,
                True,
                f"naturalisation test passed on {test.passed_on}",
                f"Einbürgerungstest bestanden am {test.passed_on}",
                "met",
            )
    lid = [test for test in tests if test.kind == "leben_in_deutschland"]
    for test in lid:
        if test.points is not None and test.points >= minimum:
            return Requirement(
                key,
                True,
                f"'Leben in Deutschland' passed on {test.passed_on} with {test.points} of 33"
                f" points: proves the knowledge like the naturalisation test ({_TEST_SOURCE})",
                f"Test 'Leben in Deutschland' am {test.passed_on} mit {test.points} von 33"
                f" Punkten: weist die Kenntnisse wie der Einbürgerungstest nach ({_TEST_SOURCE})",
                "met_leben_in_deutschland",
            )
    if any(test.points is None for test in lid):
        test = next(test for test in lid if test.points is None)
        return Requirement(
            key,
            None,
            f"'Leben in Deutschland' passed on {test.passed_on}, points not known: it proves the"
            f" knowledge with at least {minimum} of 33 points ({_TEST_SOURCE})",
            f"Test 'Leben in Deutschland' am {test.passed_on} bestanden, Punktzahl nicht"
            f" bekannt: er weist die Kenntnisse ab {minimum} von 33 Punkten nach ({_TEST_SOURCE})",
            "points_unknown",
        )
    if lid:
        test = lid[-1]
        return Requirement(
            key,
            False,
            f"'Leben in Deutschland' passed on {test.passed_on} with {test.points} of 33 points:"
            f" the knowledge needs at least {minimum} ({_TEST_SOURCE})",
            f"Test 'Leben in Deutschland' am {test.passed_on} mit {test.points} von 33 Punkten:"
            f" für die Kenntnisse sind mindestens {minimum} nötig ({_TEST_SOURCE})",
            "points_below",
        )
    return Requirement(
        key,
        False,
        "no passed naturalisation test known (Einbürgerungstest, or 'Leben in Deutschland'"
        f" with at least {minimum} of 33 points: {_TEST_SOURCE})",
        "kein bestandener Einbürgerungstest bekannt (Einbürgerungstest oder Test 'Leben in"
        f" Deutschland' mit mindestens {minimum} von 33 Punkten: {_TEST_SOURCE})",
        "not_passed",
    )


#: English and German texts of the assessed requirements: met, not met, waived, unknown.
_ASSESSED_TEXTS: Final = {
    "livelihood": (
        (
            "livelihood secured without SGB II / SGB XII",
            "Lebensunterhalt ohne SGB II / XII gesichert",
        ),
        (
            "livelihood depends on SGB II / SGB XII (exceptions not assessed)",
            "Lebensunterhalt hängt von SGB II / XII ab (Ausnahmen nicht geprüft)",
        ),
        (
            "livelihood: a statutory exception applies (§ 10 Abs. 1 Satz 1 Nr. 3 StAG)",
            "Lebensunterhalt: eine gesetzliche Ausnahme greift (§ 10 Abs. 1 Satz 1 Nr. 3 StAG)",
        ),
        ("livelihood not known", "Lebensunterhalt nicht bekannt"),
    ),
    "commitment": (
        (
            "commitment to the free democratic order declared (Bekenntnis zur FDGO)",
            "Bekenntnis zur freiheitlichen demokratischen Grundordnung abgegeben",
        ),
        (
            "commitment to the free democratic order not declared",
            "Bekenntnis zur freiheitlichen demokratischen Grundordnung nicht abgegeben",
        ),
        (
            "commitment: exception found (§ 10 Abs. 1 Satz 2 StAG)",
            "Bekenntnis: Ausnahme festgestellt (§ 10 Abs. 1 Satz 2 StAG)",
        ),
        (
            "commitment to the free democratic order not known",
            "Bekenntnis zur freiheitlichen demokratischen Grundordnung nicht bekannt",
        ),
    ),
    "no_conviction": (
        ("no relevant conviction (§ 12a StAG)", "keine relevante Verurteilung (§ 12a StAG)"),
        (
            "relevant conviction recorded (§ 12a StAG)",
            "relevante Verurteilung erfasst (§ 12a StAG)",
        ),
        (
            "convictions disregarded (§ 12a StAG)",
            "Verurteilungen bleiben außer Betracht (§ 12a StAG)",
        ),
        ("convictions not known", "Verurteilungen nicht bekannt"),
    ),
}


def _assessed_requirement(
    facts: PathwayFacts, key: str, legacy: bool | None, as_of: date, version: LawVersion
) -> Requirement:
    yes, no, waived, unknown = _ASSESSED_TEXTS[key]
    note = note_de = ""
    waiver = _waiver(facts, key, as_of)
    if waiver is not None and key not in version.waivable:
        note = f" (a waiver under § 10 Abs. 6 StAG does not cover {key})"
        note_de = " (ein Absehen nach § 10 Abs. 6 StAG erfasst diese Voraussetzung nicht)"
    assessment = _latest_assessment(facts, key, as_of)
    if assessment is not None:
        text, met, code = {
            "met": (yes, True, "met"),
            "not_met": (no, False, "not_met"),
            "waived": (waived, True, "exception"),
        }[assessment.outcome]
        by = f"assessed on {assessment.assessed_on} by {assessment.assessed_by}"
        by_de = f"geprüft am {assessment.assessed_on} durch {assessment.assessed_by}"
        return Requirement(
            key, met, f"{text[0]} ({by}){note}", f"{text[1]} ({by_de}){note_de}", code
        )
    if any(assessment.requirement == key for assessment in facts.assessments):
        legacy = None  # the undated value is a fallback only: dated assessments exist
    if legacy is None:
        return Requirement(key, None, unknown[0] + note, unknown[1] + note_de, "unknown")
    text = yes if legacy else no
    return Requirement(
        key, legacy, text[0] + note, text[1] + note_de, "met" if legacy else "not_met"
    )


_NATIONALITY_TEXTS: Final = {
    "given_up": (
        "previous nationality given up on {on}",
        "bisherige Staatsangehörigkeit am {on} aufgegeben",
    ),
    "section_12_exception": (
        "multiple nationality accepted under § 12 StAG (found on {on})",
        "Mehrstaatigkeit nach § 12 StAG hingenommen (festgestellt am {on})",
    ),
    "stateless": (
        "stateless (recorded on {on}): no nationality to give up",
        "staatenlos (erfasst am {on}): keine Staatsangehörigkeit aufzugeben",
    ),
}


def _nationality_requirement(facts: PathwayFacts, as_of: date, version: LawVersion) -> Requirement:
    key = "single_nationality"
    if version.multiple_nationality_allowed:
        return Requirement(
            key,
            True,
            f"multiple nationality allowed ({version.id})",
            f"Mehrstaatigkeit zulässig ({version.id})",
            "multiple_allowed",
        )
    if facts.eu_or_swiss_citizen and version.multiple_nationality_allowed_for_eu_swiss:
        return Requirement(
            key,
            True,
            f"EU or Swiss citizen: multiple nationality allowed ({version.id})",
            f"Unionsbürger oder Schweizer: Mehrstaatigkeit zulässig ({version.id})",
            "eu_swiss",
        )
    known = [fact for fact in facts.nationality if fact.on <= as_of]
    if known:
        fact = min(known, key=lambda fact: fact.on)
        en, de = _NATIONALITY_TEXTS[fact.kind]
        return Requirement(
            key,
            True,
            f"{en.format(on=fact.on)} ({version.id})",
            f"{de.format(on=fact.on)} ({version.id})",
            fact.kind,
        )
    return Requirement(
        key,
        None,
        "previous nationality must be given up unless an exception of § 12 StAG applies"
        f" ({version.id})",
        "die bisherige Staatsangehörigkeit muss aufgegeben werden, außer eine Ausnahme nach"
        f" § 12 StAG greift ({version.id})",
        "unknown",
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


_GERMAN_UNITS: Final = {
    "year": ("Jahr", "Jahre"),
    "month": ("Monat", "Monate"),
    "day": ("Tag", "Tage"),
}


def _german(count: int, unit: str) -> str:
    one, many = _GERMAN_UNITS[unit]
    return f"{count} {one if count == 1 else many}"


def _span_text(first: int, days: int) -> tuple[str, str]:
    """``days`` as calendar years and months laid end to end from the ordinal ``first``,
    in English and German."""
    start = date.fromordinal(first)
    end = date.fromordinal(min(first + days, date.max.toordinal()))
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    years, months = divmod(max(months, 0), 12)
    units = [(n, unit) for n, unit in ((years, "year"), (months, "month")) if n]
    if not units:
        return _plural(days, "day"), _german(days, "day")
    return (
        " ".join(_plural(n, unit) for n, unit in units),
        " ".join(_german(n, unit) for n, unit in units),
    )
