"""The consent rule, pure: which sharings a consent covers, and what is missing otherwise."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.case_management.domain import SPECIAL_CATEGORIES, Coverage, coverage
from services.case_management.domain.vocabulary import DataCategory, Purpose

AGENCIES = ("awo", "caritas", "diakonie", "jobcenter", "sozialamt")
CATEGORIES = tuple(c.value for c in DataCategory)
PURPOSES = tuple(p.value for p in Purpose)
STATUSES = ("active", "withdrawn", "expired")
FIRST_DAY = date(2026, 1, 1)
THOROUGH = settings(max_examples=100, deadline=None)
FAST = settings(max_examples=40, deadline=None)


@dataclass(frozen=True)
class Terms:
    """What a consent says."""

    status: str
    valid_until: date
    recipients: frozenset[str]
    categories: frozenset[str]
    purposes: frozenset[str]
    special_categories_explicit: bool


@dataclass(frozen=True)
class Sharing:
    """What someone wants to share, with whom, why and when."""

    recipient: str
    wanted_categories: frozenset[str]
    purpose: str
    on: date


def check(terms: Terms, sharing: Sharing) -> Coverage:
    return coverage(
        status=terms.status,
        valid_until=terms.valid_until,
        recipients=terms.recipients,
        categories=terms.categories,
        purposes=terms.purposes,
        special_categories_explicit=terms.special_categories_explicit,
        recipient=sharing.recipient,
        wanted_categories=sharing.wanted_categories,
        purpose=sharing.purpose,
        on=sharing.on,
    )


def days(low: int, high: int) -> st.SearchStrategy[date]:
    return st.integers(low, high).map(lambda n: FIRST_DAY + timedelta(days=n))


terms_strategy = st.builds(
    Terms,
    status=st.sampled_from(STATUSES),
    valid_until=days(0, 60),
    recipients=st.frozensets(st.sampled_from(AGENCIES)),
    categories=st.frozensets(st.sampled_from(CATEGORIES)),
    purposes=st.frozensets(st.sampled_from(PURPOSES)),
    special_categories_explicit=st.booleans(),
)


@st.composite
def terms_and_sharing(draw: st.DrawFn) -> tuple[Terms, Sharing]:
    """A consent and a sharing that often, but not always, fits it part by part."""
    terms = draw(terms_strategy)

    def one_of_named_or_any(named: frozenset[str], every: tuple[str, ...]) -> str:
        if named and draw(st.booleans()):
            return draw(st.sampled_from(sorted(named)))
        return draw(st.sampled_from(every))

    named_part = (
        draw(st.frozensets(st.sampled_from(sorted(terms.categories))))
        if terms.categories
        else frozenset()
    )
    extra = draw(st.frozensets(st.sampled_from(CATEGORIES), max_size=1))
    sharing = Sharing(
        recipient=one_of_named_or_any(terms.recipients, AGENCIES),
        wanted_categories=named_part | (extra if draw(st.booleans()) else frozenset()),
        purpose=one_of_named_or_any(terms.purposes, PURPOSES),
        on=draw(days(0, 60)),
    )
    return terms, sharing


def rule_holds(terms: Terms, sharing: Sharing) -> bool:
    """The rule as the domain reference states it."""
    special = sharing.wanted_categories & SPECIAL_CATEGORIES
    return (
        terms.status == "active"
        and sharing.on <= terms.valid_until
        and sharing.recipient in terms.recipients
        and sharing.wanted_categories <= terms.categories
        and (not special or terms.special_categories_explicit)
        and sharing.purpose in terms.purposes
    )


def everything_for(on: date) -> tuple[Terms, Sharing]:
    terms = Terms(
        status="active",
        valid_until=on,
        recipients=frozenset({"awo"}),
        categories=frozenset({"case_basic", "health"}),
        purposes=frozenset({"referral"}),
        special_categories_explicit=True,
    )
    return terms, Sharing("awo", frozenset({"case_basic", "health"}), "referral", on)


# -- (a) covered exactly when every part is there ---------------------------------------------


def test_a_consent_that_names_everything_covers_the_sharing_on_its_last_day() -> None:
    terms, sharing = everything_for(date(2026, 3, 31))

    result = check(terms, sharing)

    assert result.covered
    assert result.missing == []


@THOROUGH
@given(terms_and_sharing())
def test_a_sharing_is_covered_exactly_when_status_date_recipient_categories_and_purpose_fit(
    case: tuple[Terms, Sharing],
) -> None:
    terms, sharing = case

    result = check(terms, sharing)

    assert result.covered == rule_holds(terms, sharing)


def test_a_read_that_names_no_purpose_is_covered_by_no_consent() -> None:
    # purpose at read time: a consent naming every purpose still covers no read without one
    terms, sharing = everything_for(date(2026, 3, 31))
    terms = replace(terms, purposes=frozenset(PURPOSES))

    result = coverage(
        status=terms.status,
        valid_until=terms.valid_until,
        recipients=terms.recipients,
        categories=terms.categories,
        purposes=terms.purposes,
        special_categories_explicit=terms.special_categories_explicit,
        recipient=sharing.recipient,
        wanted_categories=sharing.wanted_categories,
        purpose=None,
        on=sharing.on,
    )

    assert result.missing == ["no purpose was named"]


@FAST
@given(st.sampled_from(STATUSES) | st.text(max_size=12))
def test_a_consent_in_any_status_but_active_covers_nothing(status: str) -> None:
    terms, sharing = everything_for(date(2026, 3, 31))

    result = check(replace(terms, status=status), sharing)

    assert result.covered == (status == "active")
    if status != "active":
        assert any(status in m for m in result.missing)


def test_special_categories_are_covered_only_with_the_explicit_flag() -> None:
    terms, sharing = everything_for(date(2026, 3, 31))
    without_flag = replace(terms, special_categories_explicit=False)

    result = check(without_flag, sharing)

    assert not result.covered
    assert result.missing == [
        "special categories (health) need explicit consent (Art. 9 GDPR)",
    ]


def test_an_ordinary_category_needs_no_explicit_flag() -> None:
    terms, _ = everything_for(date(2026, 3, 31))
    terms = replace(terms, special_categories_explicit=False)
    sharing = Sharing("awo", frozenset({"case_basic"}), "referral", date(2026, 3, 1))

    result = check(terms, sharing)

    assert result.covered


# -- (b) every missing part is named ---------------------------------------------------------


@THOROUGH
@given(terms_and_sharing())
def test_every_missing_part_is_named_once(case: tuple[Terms, Sharing]) -> None:
    terms, sharing = case

    missing = check(terms, sharing).missing

    uncovered = sharing.wanted_categories - terms.categories
    special = sharing.wanted_categories & SPECIAL_CATEGORIES
    lapsed = terms.status == "expired" or sharing.on > terms.valid_until
    expected_parts = [
        terms.status == "withdrawn",
        terms.status != "withdrawn" and lapsed,
        sharing.recipient not in terms.recipients,
        bool(uncovered),
        bool(special) and not terms.special_categories_explicit,
        sharing.purpose not in terms.purposes,
    ]
    assert len(missing) == sum(expected_parts)
    if terms.status == "withdrawn":
        assert any("withdrawn" in m for m in missing)
    elif lapsed:
        assert any("expired" in m and terms.valid_until.isoformat() in m for m in missing)
    if sharing.recipient not in terms.recipients:
        assert any(f"recipient {sharing.recipient}" in m for m in missing)
    for category in uncovered:
        assert any(m.startswith("data categories not covered") and category in m for m in missing)
    if special and not terms.special_categories_explicit:
        (entry,) = [m for m in missing if "explicit" in m]
        assert all(category in entry for category in special)
    if sharing.purpose not in terms.purposes:
        assert any(f"purpose {sharing.purpose}" in m for m in missing)


def test_a_sharing_that_fails_on_every_count_lists_each_part_in_order() -> None:
    terms = Terms(
        status="expired",
        valid_until=date(2026, 1, 31),
        recipients=frozenset({"awo"}),
        categories=frozenset({"case_basic"}),
        purposes=frozenset({"counselling"}),
        special_categories_explicit=False,
    )
    sharing = Sharing("jobcenter", frozenset({"work", "religion"}), "referral", date(2026, 2, 1))

    missing = check(terms, sharing).missing

    assert missing == [
        "the consent expired on 2026-01-31",
        "recipient jobcenter is not named in the consent",
        "data categories not covered: religion, work",
        "special categories (religion) need explicit consent (Art. 9 GDPR)",
        "purpose referral is not named in the consent",
    ]


# -- (c) monotonicity: less consent, or a later day, never covers more ------------------------


@FAST
@given(terms_and_sharing(), st.data())
def test_removing_a_recipient_never_turns_not_covered_into_covered(
    case: tuple[Terms, Sharing], data: st.DataObject
) -> None:
    terms, sharing = case
    before = check(terms, sharing)

    dropped = data.draw(st.sampled_from(AGENCIES))
    after = check(replace(terms, recipients=terms.recipients - {dropped}), sharing)

    assert before.covered or not after.covered
    if dropped == sharing.recipient:
        assert not after.covered


@FAST
@given(terms_and_sharing(), st.data())
def test_removing_a_category_never_turns_not_covered_into_covered(
    case: tuple[Terms, Sharing], data: st.DataObject
) -> None:
    terms, sharing = case
    before = check(terms, sharing)

    dropped = data.draw(st.sampled_from(CATEGORIES))
    after = check(replace(terms, categories=terms.categories - {dropped}), sharing)

    assert before.covered or not after.covered
    if dropped in sharing.wanted_categories:
        assert not after.covered


@FAST
@given(terms_and_sharing(), st.data())
def test_removing_a_purpose_never_turns_not_covered_into_covered(
    case: tuple[Terms, Sharing], data: st.DataObject
) -> None:
    terms, sharing = case
    before = check(terms, sharing)

    dropped = data.draw(st.sampled_from(PURPOSES))
    after = check(replace(terms, purposes=terms.purposes - {dropped}), sharing)

    assert before.covered or not after.covered
    if dropped == sharing.purpose:
        assert not after.covered


@FAST
@given(terms_and_sharing())
def test_dropping_the_explicit_flag_never_turns_not_covered_into_covered(
    case: tuple[Terms, Sharing],
) -> None:
    terms, sharing = case
    before = check(terms, sharing)

    after = check(replace(terms, special_categories_explicit=False), sharing)

    assert before.covered or not after.covered


@FAST
@given(terms_and_sharing(), st.integers(0, 2000))
def test_a_later_day_never_turns_not_covered_into_covered(
    case: tuple[Terms, Sharing], later_by: int
) -> None:
    terms, sharing = case
    before = check(terms, sharing)

    after = check(terms, replace(sharing, on=sharing.on + timedelta(days=later_by)))

    assert before.covered or not after.covered


@FAST
@given(terms_and_sharing(), st.integers(1, 2000))
def test_once_the_end_date_has_passed_no_later_read_is_covered(
    case: tuple[Terms, Sharing], after_end_by: int
) -> None:
    terms, sharing = case

    result = check(terms, replace(sharing, on=terms.valid_until + timedelta(days=after_end_by)))

    assert not result.covered
    if terms.status != "withdrawn":
        assert f"the consent expired on {terms.valid_until.isoformat()}" in result.missing
