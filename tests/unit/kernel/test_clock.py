"""The Berlin-date clock: business dates are days in Germany, whatever the server's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.clock import (
    BERLIN,
    date_in_germany,
    start_of_day_in_germany,
    today_in_germany,
)


def test_today_is_the_date_in_berlin() -> None:
    before = datetime.now(BERLIN).date()

    today = today_in_germany()

    assert before <= today <= datetime.now(BERLIN).date()


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        # winter (CET, UTC+1): 23:30 UTC is already the next day in Germany
        (datetime(2026, 1, 14, 23, 30, tzinfo=UTC), date(2026, 1, 15)),
        (datetime(2026, 1, 14, 22, 59, tzinfo=UTC), date(2026, 1, 14)),
        # summer (CEST, UTC+2)
        (datetime(2026, 7, 14, 22, 0, tzinfo=UTC), date(2026, 7, 15)),
        (datetime(2026, 7, 14, 21, 59, tzinfo=UTC), date(2026, 7, 14)),
        # another zone: 08:00 in New York is 14:00 in Germany, same day
        (datetime(2026, 7, 14, 8, 0, tzinfo=timezone(timedelta(hours=-4))), date(2026, 7, 14)),
    ],
)
def test_an_instant_falls_on_the_day_it_is_in_germany(instant: datetime, day: date) -> None:
    assert date_in_germany(instant) == day


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        date_in_germany(datetime(2026, 1, 14, 23, 30))


def test_a_day_starts_at_midnight_in_germany() -> None:
    winter = start_of_day_in_germany(date(2026, 1, 15))
    summer = start_of_day_in_germany(date(2026, 7, 15))

    assert winter.astimezone(UTC) == datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    assert summer.astimezone(UTC) == datetime(2026, 7, 14, 22, 0, tzinfo=UTC)


@given(st.dates(date(1980, 1, 1), date(2100, 12, 31)))
def test_the_start_of_a_day_falls_on_that_day(day: date) -> None:
    assert date_in_germany(start_of_day_in_germany(day)) == day
