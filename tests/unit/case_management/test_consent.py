"""Consent (Schweigepflichtentbindung): granting, withdrawing, lapsing, and what it covers."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.case_management.domain import Consent, InvalidValue, NotAllowed

TODAY = date(2026, 11, 21)
FAST = settings(max_examples=60, deadline=None)


def grant(**changes: object) -> Consent:
    values: dict[str, object] = {
        "person_id": uuid4(),
        "case_id": uuid4(),
        "recipients": ["caritas", "awo", "awo"],
        "categories": ["case_basic", "language", "health"],
        "purposes": ["referral", "case_conference"],
        "special_categories_explicit": True,
        "valid_until": date(2027, 11, 20),
        "language": "ar",
        "mutual": True,
        "today": TODAY,
    }
    values.update(changes)
    return Consent.grant(**values)  # type: ignore[arg-type]


def granted(**changes: object) -> Consent:
    """A granted consent whose Granted event has been collected already."""
    consent = grant(**changes)
    consent.collect_events()
    return consent


def covers_everything_it_names(consent: Consent, on: date) -> bool:
    return consent.covers(
        recipient=consent.recipients[0],
        categories=list(consent.categories),
        purpose=consent.purposes[0],
        on=on,
    ).covered


# -- grant ------------------------------------------------------------------------------------


def test_granting_a_consent_records_what_it_names_from_today() -> None:
    person_id, case_id = uuid4(), uuid4()

    consent = grant(person_id=person_id, case_id=case_id)

    (event,) = consent.collect_events()
    assert isinstance(event, Consent.Granted)
    assert event.person_id == person_id
    assert event.case_id == case_id
    assert event.recipients == ["awo", "caritas"]
    assert event.categories == ["case_basic", "health", "language"]
    assert event.purposes == ["case_conference", "referral"]
    assert event.special_categories_explicit is True
    assert event.valid_from == TODAY
    assert event.valid_until == date(2027, 11, 20)
    assert event.language == "ar"
    assert event.mutual is True
    assert consent.status == "active"
    assert consent.is_active(TODAY)


def test_a_granted_consent_covers_its_recipients_categories_and_purposes() -> None:
    consent = grant()

    result = consent.covers(
        recipient="caritas", categories=["health", "language"], purpose="referral", on=TODAY
    )

    assert result.covered


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"recipients": []}, "recipients", None),
        ({"recipients": ["awo", "  "]}, "recipients", None),
        ({"categories": []}, "categories", None),
        ({"categories": ["case_basic", "shoe_size"]}, "categories", "shoe_size"),
        ({"purposes": []}, "purposes", None),
        ({"purposes": ["referral", "marketing"]}, "purposes", "marketing"),
        (
            {"categories": ["health"], "special_categories_explicit": False},
            "specialCategoriesExplicit",
            None,
        ),
        (
            {"categories": ["religion"], "special_categories_explicit": False},
            "specialCategoriesExplicit",
            None,
        ),
        (
            {"categories": ["ethnicity", "work"], "special_categories_explicit": False},
            "specialCategoriesExplicit",
            None,
        ),
        ({"valid_until": TODAY - timedelta(days=1)}, "validUntil", None),
        ({"valid_until": date(2029, 11, 22)}, "validUntil", None),
        ({"language": "xx"}, "language", "xx"),
        ({"language": "DE"}, "language", "DE"),
    ],
)
def test_a_grant_is_refused_naming_the_field_at_fault(
    changes: dict[str, object], field: str, named: str | None
) -> None:
    with pytest.raises(InvalidValue) as refused:
        grant(**changes)

    assert refused.value.field == field
    if named is not None:
        assert named in refused.value.message


def test_ordinary_categories_need_no_explicit_flag() -> None:
    consent = grant(categories=["case_basic", "work"], special_categories_explicit=False)

    assert consent.categories == ["case_basic", "work"]


def test_a_consent_may_end_today_or_exactly_three_years_from_today() -> None:
    ends_today = grant(valid_until=TODAY)
    ends_in_three_years = grant(valid_until=date(2029, 11, 21))

    assert ends_today.valid_until == TODAY
    assert ends_in_three_years.valid_until == date(2029, 11, 21)


def test_a_consent_granted_on_29_february_lasts_until_28_february_three_years_on() -> None:
    leap_day = date(2028, 2, 29)

    consent = grant(today=leap_day, valid_until=date(2031, 2, 28))

    assert consent.valid_until == date(2031, 2, 28)
    with pytest.raises(InvalidValue) as refused:
        grant(today=leap_day, valid_until=date(2031, 3, 1))
    assert refused.value.field == "validUntil"


@FAST
@given(
    today=st.dates(date(2020, 1, 1), date(2040, 12, 31)),
    offset=st.integers(-30, 30) | st.integers(3 * 365 - 5, 3 * 366 + 5),
)
def test_a_consent_lasts_from_today_to_at_most_three_calendar_years(
    today: date, offset: int
) -> None:
    valid_until = today + timedelta(days=offset)
    end = (valid_until.year, valid_until.month, valid_until.day)

    accepted = today <= valid_until and end <= (today.year + 3, today.month, today.day)

    if accepted:
        assert grant(today=today, valid_until=valid_until).valid_until == valid_until
    else:
        with pytest.raises(InvalidValue) as refused:
            grant(today=today, valid_until=valid_until)
        assert refused.value.field == "validUntil"


# -- withdraw ---------------------------------------------------------------------------------


def test_withdrawing_records_the_day_and_who_recorded_it() -> None:
    consent = granted()

    consent.withdraw(today=date(2026, 12, 1), recorded_by="caritas")

    (event,) = consent.collect_events()
    assert isinstance(event, Consent.Withdrawn)
    assert event.withdrawn_on == date(2026, 12, 1)
    assert event.recorded_by == "caritas"
    assert consent.status == "withdrawn"
    assert consent.ended_on == date(2026, 12, 1)


def test_a_withdrawal_is_effective_at_once() -> None:
    consent = granted()

    consent.withdraw(today=TODAY, recorded_by="caritas")

    result = consent.covers(
        recipient="awo", categories=["case_basic"], purpose="referral", on=TODAY
    )
    assert not result.covered
    assert "the consent was withdrawn" in result.missing
    assert not consent.is_active(TODAY)


def test_a_consent_can_be_withdrawn_on_its_last_day() -> None:
    consent = granted()

    consent.withdraw(today=consent.valid_until, recorded_by="caritas")

    assert consent.status == "withdrawn"


def test_withdrawing_twice_is_refused() -> None:
    consent = granted()
    consent.withdraw(today=TODAY, recorded_by="caritas")
    consent.collect_events()

    with pytest.raises(NotAllowed) as refused:
        consent.withdraw(today=TODAY, recorded_by="caritas")

    assert refused.value.field == "consentId"
    assert consent.collect_events() == []


def test_withdrawing_a_consent_whose_expiry_was_recorded_is_refused() -> None:
    consent = granted(valid_until=date(2026, 12, 31))
    consent.expire(today=date(2027, 1, 1))
    consent.collect_events()

    with pytest.raises(NotAllowed) as refused:
        consent.withdraw(today=date(2027, 1, 2), recorded_by="caritas")

    assert refused.value.field == "consentId"
    assert consent.collect_events() == []


def test_withdrawing_a_consent_past_its_end_date_is_refused_even_before_the_sweeper_ran() -> None:
    consent = granted(valid_until=date(2026, 12, 31))

    with pytest.raises(NotAllowed) as refused:
        consent.withdraw(today=date(2027, 1, 1), recorded_by="caritas")

    assert refused.value.field == "consentId"
    assert "expired" in refused.value.message
    assert consent.collect_events() == []


# -- expire -----------------------------------------------------------------------------------


def test_expiring_after_the_end_date_records_the_lapse() -> None:
    consent = granted(valid_until=date(2026, 12, 31))

    consent.expire(today=date(2027, 1, 1))

    (event,) = consent.collect_events()
    assert isinstance(event, Consent.Expired)
    assert event.expired_on == date(2027, 1, 1)
    assert consent.status == "expired"
    assert consent.ended_on == date(2027, 1, 1)


@pytest.mark.parametrize("today", [TODAY, date(2026, 12, 30), date(2026, 12, 31)])
def test_expiring_on_or_before_the_end_date_is_refused(today: date) -> None:
    consent = granted(valid_until=date(2026, 12, 31))

    with pytest.raises(NotAllowed) as refused:
        consent.expire(today=today)

    assert refused.value.field == "consentId"
    assert consent.status == "active"
    assert consent.collect_events() == []


def test_expiring_twice_is_refused() -> None:
    consent = granted(valid_until=date(2026, 12, 31))
    consent.expire(today=date(2027, 1, 1))

    with pytest.raises(NotAllowed) as refused:
        consent.expire(today=date(2027, 1, 2))

    assert refused.value.field == "consentId"
    assert "expired" in refused.value.message


def test_expiring_a_withdrawn_consent_is_refused() -> None:
    consent = granted(valid_until=date(2026, 12, 31))
    consent.withdraw(today=TODAY, recorded_by="caritas")

    with pytest.raises(NotAllowed) as refused:
        consent.expire(today=date(2027, 1, 1))

    assert "withdrawn" in refused.value.message
    assert consent.status == "withdrawn"


# -- what an ended consent covers -------------------------------------------------------------


@FAST
@given(
    lasts=st.integers(0, 3 * 365),
    withdrawn_after=st.integers(0, 3 * 365),
    read_offset=st.integers(-30, 4 * 365),
)
def test_a_withdrawn_consent_covers_nothing_on_any_day(
    lasts: int, withdrawn_after: int, read_offset: int
) -> None:
    consent = granted(valid_until=TODAY + timedelta(days=lasts))
    withdrawn_on = TODAY + timedelta(days=min(withdrawn_after, lasts))
    consent.withdraw(today=withdrawn_on, recorded_by="caritas")

    on = TODAY + timedelta(days=read_offset)

    assert not covers_everything_it_names(consent, on)
    assert not consent.is_active(on)


@FAST
@given(
    lasts=st.integers(0, 3 * 365),
    expired_after_end=st.integers(1, 365),
    read_offset=st.integers(-30, 4 * 365),
)
def test_an_expired_consent_covers_nothing_on_any_day(
    lasts: int, expired_after_end: int, read_offset: int
) -> None:
    valid_until = TODAY + timedelta(days=lasts)
    consent = granted(valid_until=valid_until)
    consent.expire(today=valid_until + timedelta(days=expired_after_end))

    on = TODAY + timedelta(days=read_offset)

    result = consent.covers(recipient="awo", categories=["case_basic"], purpose="referral", on=on)
    assert not result.covered
    assert f"the consent expired on {valid_until.isoformat()}" in result.missing


@FAST
@given(lasts=st.integers(0, 3 * 365), read_offset=st.integers(-30, 4 * 365))
def test_an_active_consent_covers_until_its_end_date_and_never_after(
    lasts: int, read_offset: int
) -> None:
    consent = granted(valid_until=TODAY + timedelta(days=lasts))

    on = TODAY + timedelta(days=read_offset)

    assert covers_everything_it_names(consent, on) == (on <= consent.valid_until)
    assert consent.is_active(on) == (on <= consent.valid_until)


def test_replaying_the_events_rebuilds_the_consent() -> None:
    consent = grant(valid_until=date(2026, 12, 31))
    consent.withdraw(today=TODAY, recorded_by="caritas")

    rebuilt = None
    for event in consent.collect_events():
        rebuilt = event.mutate(rebuilt)

    assert isinstance(rebuilt, Consent)
    assert rebuilt.status == "withdrawn"
    assert rebuilt.ended_on == TODAY
    assert rebuilt.recipients == consent.recipients
    assert rebuilt.version == consent.version == 2
