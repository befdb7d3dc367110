"""Naturalisation readiness (Einbürgerung, § 10 StAG): pure, data-driven rules.

The law versions live in ``rules.json`` (one entry per version of § 10 StAG, by date); this
module only interprets them. Eligibility is evaluated under the version in force on the
evaluation date (``as_of``).

Counting lawful habitual residence (rechtmäßiger gewöhnlicher Aufenthalt), simplified:

- A ``Period`` covers the calendar days ``start`` to ``end``, both inclusive; ``end=None`` means
  ongoing (it runs on indefinitely, so also beyond the evaluation date when projecting).
- Counted kinds come from the law version's ``counting_kinds`` (residence titles of any
  paragraph including § 24, Niederlassungserlaubnis, Daueraufenthalt-EU, Freizügigkeit,
  temporary protection, Fiktionsbescheinigung, visa). Time on an Aufenthaltsgestattung counts
  only once protection has been granted (§ 55 Abs. 3 AsylG): for an evaluation date ``d`` it
  counts when ``protection_granted_on <= d``, and then the whole time before recognition counts.
  A Duldung never counts. Overlapping periods count once.
- The counted days *up to* ``d`` are the counted days strictly before ``d``: someone who arrived
  on 2020-01-01 has 1827 days (exactly five calendar years) counted on 2025-01-01.
- ``departed_on`` is the first day abroad: nothing counts from it on, and from it on the
  residence requirements fail.
- Required length (calendar years): N years are the days from the first counted day ``f`` to
  ``f + N years`` (Feb 29 + N years = Mar 1, as a period starting Feb 29 ends on Feb 28 under
  § 188 Abs. 3 BGB). The requirement is met on ``d`` when the counted days up to ``d`` reach
  that number, i.e. on ``f + N years`` exactly when the residence was continuous; with gaps the
  counted days are laid end to end from ``f``. Gaps are simply not counted: § 12b StAG
  (harmless interruptions up to six months, crediting earlier stays) is not modelled.
- N is the version's ``residence_years``, or the shortest reduced period whose condition holds
  on ``d`` (an integration course completed by ``d``; a language level, which the facts record
  without a date and is therefore assumed to hold throughout).

``Readiness.earliest_residence_date`` is, when the residence period is met on ``as_of``, the
first day of the unbroken run of days (up to ``as_of``) on which it is met under the law in
force on each day; otherwise the next day after ``as_of`` on which it will be met, assuming
ongoing periods continue and dated periods end. So ``residence_period`` is met exactly when
``earliest_residence_date <= as_of``, also after the 2025 repeal of the fast track.
"""

from __future__ import annotations

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
CONDITIONS: Final = ("integration_course_completed", "language_at_least")

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
    """

    kind: str
    start: date
    end: date | None
    paragraph: str | None = None
    continues: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown period kind {self.kind!r}; expected one of {KINDS}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        if self.continues is not None and self.kind != "fiktion":
            raise ValueError("only a fiktion period can continue a title")


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
    """An application for a residence title or its renewal, filed on ``applied_on``.

    The engine uses it to tell why a gap lies between two titles: an application filed while
    the old title was still valid continues it (§ 81 Abs. 4 AufenthG: the gap counts); one
    filed after it expired makes the gap harmless but uncounted (§ 12b Abs. 3 StAG). Either
    needs the next title (or Fiktionsbescheinigung) to follow.
    """

    applied_on: date
    paragraph: str | None = None


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

    Older, undated fields (kept so existing callers work; prefer the dated ones):
    ``language_level`` counts on every date; ``naturalisation_test_passed_on`` is an
    Einbürgerungstest passed that day; ``integration_course_completed_on`` is a course whose
    level and final test are not known (it does not shorten the old-law period, which needs
    B1 and the final test); ``livelihood_secured``, ``no_relevant_conviction`` and
    ``commitment_declared`` hold on every date unless a dated assessment of the same
    requirement exists on or before the evaluation day. ``None`` in a tri-state field means
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


@dataclass(frozen=True)
class Requirement:
    """One requirement of § 10 StAG (Einbürgerungsvoraussetzung); ``met=None`` = not known."""

    key: str
    met: bool | None
    reason: str


@dataclass(frozen=True)
class Readiness:
    """The result of ``evaluate``: each requirement under the law version in force on ``as_of``."""

    as_of: date
    law_version: str
    requirements: tuple[Requirement, ...]
    ready: bool
    counted_residence_days: int
    earliest_residence_date: date | None

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
    """A shortened residence period (verkürzte Mindestaufenthaltsdauer, § 10 Abs. 3 StAG)."""

    years: int
    condition: str
    label: str
    level: str | None = None

    def holds(self, facts: PathwayFacts, on: date) -> bool:
        """Whether the condition is fulfilled on ``on`` according to the facts."""
        if self.condition == "integration_course_completed":
            completed = facts.integration_course_completed_on
            return completed is not None and completed <= on
        return _level_at_least(facts.language_level, self.level or "C2")


@dataclass(frozen=True)
class LawVersion:
    """One version of § 10 StAG (Anspruchseinbürgerung), in force ``valid_from``-``valid_until``.

    Loaded from rules.json; ``valid_until`` is inclusive and ``None`` for the current version.
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

    def in_force(self, on: date) -> bool:
        """Whether this version is in force on ``on``."""
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)

    def required_years(self, facts: PathwayFacts, on: date) -> tuple[int, ReducedPeriod | None]:
        """The shortest residence period that applies on ``on``, and the reduction used."""
        years, used = self.residence_years, None
        for reduced in self.reduced_periods:
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
    return ReducedPeriod(
        years=years,
        condition=condition,
        label=str(item.get("label", condition)),
        level=level if isinstance(level, str) else None,
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
    kind = period.kind
    named = f" under {period.paragraph}" if period.paragraph else ""
    if kind in version.qualifying_kinds:
        return True, f"{_KIND_NAMES[kind]}{named} qualifies"
    if kind not in version.paragraph_checked_kinds:
        if kind == "temporary_protection":
            paragraph = period.paragraph or "§ 24 AufenthG"
            return False, f"{paragraph} (temporary protection) does not qualify: {_CHANGE}"
        return False, f"{_KIND_NAMES[kind]}{named} is not a qualifying title: {_NEXT_STEP[kind]}"
    if period.paragraph is None:
        return (
            None,
            "legal basis of the residence title not known (§§ 16a-20, 22-25 may not qualify)",
        )
    if _FREE_MOVEMENT_LAW.search(period.paragraph):
        return True, f"{period.paragraph} qualifies"
    if _OTHER_LAW.search(period.paragraph):
        return None, f"{period.paragraph}: not a residence title under the AufenthG"
    ref = parse_paragraph(period.paragraph)
    if ref is None:
        return None, f"legal basis {period.paragraph!r} not recognised"
    unknown: list[ParagraphRef] = []
    for rule in version.non_qualifying_paragraphs:
        covered = rule.covers(ref)
        if covered:
            purpose = _PURPOSES.get(rule.code, "")
            label = f" ({purpose})" if purpose else ""
            return False, f"{ref}{label} does not qualify: {_CHANGE}"
        if covered is None:
            unknown.append(rule)
    if unknown:
        listed = ", ".join(f"Abs. {rule.subsection}" for rule in unknown)
        return None, f"{ref} without subsection: {listed} do not qualify"
    return True, f"{ref} qualifies"


_CHANGE: Final = "change to another title first"
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


# --- counting ------------------------------------------------------------------------------------


def _level_at_least(level: str | None, minimum: str) -> bool:
    return level is not None and LEVELS.index(level) >= LEVELS.index(minimum)


def _gestattung_counts(facts: PathwayFacts, version: LawVersion, on: int) -> bool:
    granted = facts.protection_granted_on
    return (
        version.gestattung_counts_after_protection
        and granted is not None
        and granted.toordinal() <= on
    )


def _counted_intervals(facts: PathwayFacts, version: LawVersion, on: int) -> list[tuple[int, int]]:
    """Merged half-open ordinal intervals of counted days, as counted on day ``on``."""
    kinds = set(version.counting_kinds)
    if _gestattung_counts(facts, version, on):
        kinds.add("gestattung")
    stop = _INF if facts.departed_on is None else facts.departed_on.toordinal()
    raw = sorted(
        (period.start.toordinal(), min(stop, _end(period)))
        for period in facts.periods
        if period.kind in kinds
    )
    merged: list[tuple[int, int]] = []
    for start, end in raw:
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _end(period: Period) -> int:
    return _INF if period.end is None else period.end.toordinal() + 1


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
    try:
        return start.replace(year=year).toordinal()
    except ValueError:  # Feb 29 in a common year
        return date(year, 3, 1).toordinal()


def _required_days(first: int, years: int) -> int:
    return _add_years(first, years) - first


def counted_days(facts: PathwayFacts, until: date, rules_version: LawVersion) -> int:
    """Days of lawful habitual residence counted strictly before ``until`` (see module docs)."""
    on = until.toordinal()
    return _days_before(_counted_intervals(facts, rules_version, on), on)


def residence_met_on(
    facts: PathwayFacts, on: date, rules: Sequence[LawVersion] | None = None
) -> bool:
    """Whether the residence period is met on ``on`` under the law version in force that day."""
    day = on.toordinal()
    if facts.departed_on is not None and on >= facts.departed_on:
        return False
    version = _version_on(on, load_rules() if rules is None else rules)
    if version is None:
        return False
    years, _ = version.required_years(facts, on)
    intervals = _counted_intervals(facts, version, day)
    if not intervals:
        return False
    return _days_before(intervals, day) >= _required_days(intervals[0][0], years)


def _met_runs(facts: PathwayFacts, rules: Sequence[LawVersion]) -> list[tuple[int, int]]:
    """Half-open ordinal runs of days on which the residence period is met.

    Between consecutive breakpoints (a law version starts or ends, the integration course is
    completed, protection is granted, departure) the required number of days is fixed and the
    counted days only grow, so each window holds one candidate: the day after the required-th
    counted day.
    """
    points = {version.valid_from.toordinal() for version in rules}
    points.update(
        version.valid_until.toordinal() + 1 for version in rules if version.valid_until is not None
    )
    for event in (facts.integration_course_completed_on, facts.protection_granted_on):
        if event is not None:
            points.add(event.toordinal())
    stop = _INF if facts.departed_on is None else facts.departed_on.toordinal()
    first_law = min(version.valid_from for version in rules).toordinal()
    bounds = sorted(point for point in points if first_law <= point < stop)
    bounds.append(stop)
    runs: list[tuple[int, int]] = []
    for window_start, window_end in itertools.pairwise(bounds):
        on = date.fromordinal(window_start)
        version = _version_on(on, rules)
        if version is None:
            continue
        years, _ = version.required_years(facts, on)
        intervals = _counted_intervals(facts, version, window_start)
        if not intervals:
            continue
        reached = _nth_day(intervals, _required_days(intervals[0][0], years))
        if reached is None:
            continue
        start = max(window_start, reached + 1)
        if start >= window_end:
            continue
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], window_end)
        else:
            runs.append((start, window_end))
    return runs


def _earliest(runs: Iterable[tuple[int, int]], as_of: int) -> int | None:
    for start, end in runs:
        if start <= as_of < end or start > as_of:
            return start
    return None


# --- evaluation ----------------------------------------------------------------------------------


def evaluate(
    facts: PathwayFacts, as_of: date, rules: tuple[LawVersion, ...] | None = None
) -> Readiness:
    """Readiness for naturalisation on ``as_of`` under the version of § 10 StAG then in force.

    Raises ``LookupError`` if no version in ``rules`` (default: rules.json) is in force on
    ``as_of``.
    """
    versions = load_rules() if rules is None else rules
    version = law_in_force(as_of, versions)
    departed = facts.departed_on is not None and facts.departed_on <= as_of
    counted = counted_days(facts, as_of, version)
    earliest_ordinal = _earliest(_met_runs(facts, versions), as_of.toordinal())
    earliest = None if earliest_ordinal is None else date.fromordinal(earliest_ordinal)
    requirements = (
        _residence_requirement(facts, as_of, version, versions, counted, earliest),
        _title_requirement(facts, as_of, version),
        _tri_state(
            "livelihood",
            facts.livelihood_secured,
            "livelihood secured without SGB II / SGB XII",
            "livelihood depends on SGB II / SGB XII (exceptions not assessed)",
            "livelihood not known",
        ),
        _language_requirement(facts, version),
        _test_requirement(facts, as_of),
        _tri_state(
            "commitment",
            facts.commitment_declared,
            "commitment to the free democratic order declared (Bekenntnis zur FDGO)",
            "commitment to the free democratic order not declared",
            "commitment to the free democratic order not known",
        ),
        _tri_state(
            "no_conviction",
            facts.no_relevant_conviction,
            "no relevant conviction (§ 12a StAG)",
            "relevant conviction recorded (§ 12a StAG)",
            "convictions not known",
        ),
        _nationality_requirement(facts, version),
    )
    return Readiness(
        as_of=as_of,
        law_version=version.id,
        requirements=requirements,
        ready=all(requirement.met is True for requirement in requirements),
        counted_residence_days=counted,
        earliest_residence_date=None if departed else earliest,
    )


def _residence_requirement(
    facts: PathwayFacts,
    as_of: date,
    version: LawVersion,
    versions: Sequence[LawVersion],
    counted: int,
    earliest: date | None,
) -> Requirement:
    key = "residence_period"
    if facts.departed_on is not None and facts.departed_on <= as_of:
        return Requirement(
            key, False, f"departed on {facts.departed_on}: residence in Germany ended"
        )
    years, reduced = version.required_years(facts, as_of)
    intervals = _counted_intervals(facts, version, as_of.toordinal())
    span = _span_text(intervals[0][0] if intervals else as_of.toordinal(), counted)
    basis = version.id if reduced is None else f"{version.id}, {reduced.label}"
    text = f"{span} of {_plural(years, 'year')} counted ({basis})"
    notes = _counting_notes(facts, version, as_of)
    if earliest is not None and earliest <= as_of:
        return Requirement(key, True, f"{text}; met since {earliest}{notes}")
    if earliest is not None:
        later = law_in_force(earliest, versions)
        under = "" if later.id == version.id else f" under {later.id}"
        when = f"met on {earliest}{under} if the periods known continue"
        return Requirement(key, False, f"{text}; {when}{notes}")
    ongoing = any(
        period.end is None and period.kind in _counting_kinds(facts, version, as_of)
        for period in facts.periods
    )
    if facts.departed_on is not None:
        why = f" (departure on {facts.departed_on})"
    else:
        why = "" if ongoing else " (no ongoing counted period)"
    return Requirement(key, False, f"{text}; not reachable with the periods known{why}{notes}")


def _counting_kinds(facts: PathwayFacts, version: LawVersion, as_of: date) -> set[str]:
    kinds = set(version.counting_kinds)
    if _gestattung_counts(facts, version, as_of.toordinal()):
        kinds.add("gestattung")
    return kinds


def _counting_notes(facts: PathwayFacts, version: LawVersion, as_of: date) -> str:
    kinds = {period.kind for period in facts.periods if period.start <= as_of}
    notes = []
    if "gestattung" in kinds and "gestattung" not in version.counting_kinds:
        if _gestattung_counts(facts, version, as_of.toordinal()):
            notes.append("Aufenthaltsgestattung counted as protection was granted")
        else:
            notes.append("Aufenthaltsgestattung not counted without protection granted")
    if "duldung" in kinds and "duldung" not in version.counting_kinds:
        notes.append("Duldung not counted")
    return "" if not notes else " (" + "; ".join(notes) + ")"


def _title_requirement(facts: PathwayFacts, as_of: date, version: LawVersion) -> Requirement:
    key = "qualifying_title"
    if facts.departed_on is not None and facts.departed_on <= as_of:
        return Requirement(key, False, f"departed on {facts.departed_on}: no residence title")
    current = [
        period
        for period in facts.periods
        if period.start <= as_of and (period.end is None or as_of <= period.end)
    ]
    if not current:
        return Requirement(key, False, f"no residence status recorded on {as_of}")
    verdicts = [_title_qualifies(period, version) for period in current]
    for wanted in (True, None, False):
        for met, reason in verdicts:
            if met is wanted:
                return Requirement(key, met, reason)
    raise AssertionError("unreachable")  # pragma: no cover


def _language_requirement(facts: PathwayFacts, version: LawVersion) -> Requirement:
    required = version.language_level
    level = facts.language_level
    if level is None:
        return Requirement(
            "language", None, f"no German language certificate known ({required} required)"
        )
    if _level_at_least(level, required):
        return Requirement("language", True, f"German at {level} ({required} required)")
    return Requirement("language", False, f"German at {level}; {required} required")


def _test_requirement(facts: PathwayFacts, as_of: date) -> Requirement:
    passed = facts.naturalisation_test_passed_on
    key = "naturalisation_test"
    if passed is None:
        return Requirement(
            key,
            False,
            "naturalisation test (Einbürgerungstest) not passed;"
            " 'Leben in Deutschland' is not enough",
        )
    if passed > as_of:
        return Requirement(key, False, f"naturalisation test passed only on {passed}")
    return Requirement(key, True, f"naturalisation test passed on {passed}")


def _nationality_requirement(facts: PathwayFacts, version: LawVersion) -> Requirement:
    key = "single_nationality"
    if version.multiple_nationality_allowed:
        return Requirement(key, True, f"multiple nationality allowed ({version.id})")
    if facts.eu_or_swiss_citizen and version.multiple_nationality_allowed_for_eu_swiss:
        return Requirement(
            key, True, f"EU or Swiss citizen: multiple nationality allowed ({version.id})"
        )
    return Requirement(
        key,
        None,
        "previous nationality must be given up unless an exception of § 12 StAG applies"
        f" ({version.id})",
    )


def _tri_state(key: str, value: bool | None, yes: str, no: str, unknown: str) -> Requirement:
    if value is None:
        return Requirement(key, None, unknown)
    return Requirement(key, value, yes if value else no)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _span_text(first: int, days: int) -> str:
    """``days`` as calendar years and months laid end to end from the ordinal ``first``."""
    start = date.fromordinal(first)
    end = date.fromordinal(min(first + days, date.max.toordinal()))
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    years, months = divmod(max(months, 0), 12)
    parts = [_plural(n, unit) for n, unit in ((years, "year"), (months, "month")) if n]
    return " ".join(parts) if parts else _plural(days, "day")
