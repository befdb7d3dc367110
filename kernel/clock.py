"""The Berlin-date clock: business dates in the hub are days in Germany.

A date such as "consent valid until", "decided on" or "today" means a calendar day in
Europe/Berlin, whatever the server's own time zone; an instant becomes such a day, and such a
day becomes an instant (its start), only through the functions here.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def today_in_germany() -> date:
    """Today's date in Germany (Europe/Berlin), not the server's local date."""
    return datetime.now(BERLIN).date()


def date_in_germany(instant: datetime) -> date:
    """The day in Germany on which ``instant`` (timezone-aware) falls."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; give it a timezone")
    return instant.astimezone(BERLIN).date()


def start_of_day_in_germany(day: date) -> datetime:
    """The instant a day begins in Germany (midnight, Europe/Berlin)."""
    return datetime.combine(day, time.min, tzinfo=BERLIN)
