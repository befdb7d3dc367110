"""Person-free, one-line summaries of contract events for the timeline.

A summary never contains names, birth dates, file numbers or any ciphertext: only what the
event type and its non-personal fields say.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from contracts import Payload
from contracts.foreigners_authority import (
    EntryRecorded,
    PersonRegistered,
    ResidenceRegistered,
    ResidenceTitleGranted,
)

_ENTRY_MODES = {
    "visa": "with a visa",
    "visa_free": "visa-free",
    "asylum": "seeking asylum",
    "temporary_protection": "for temporary protection (§ 24 AufenthG)",
    "eu_free_movement": "under EU free movement",
    "family_reunification": "for family reunification",
    "other": "",
}

_TITLES = {
    "national_visa": "National visa",
    "residence_permit": "Residence permit",
    "eu_blue_card": "EU Blue Card",
    "ict_card": "ICT card",
    "settlement_permit": "Settlement permit",
    "eu_long_term_residence": "EU long-term residence permit",
}


def _d(value: date | None) -> str:
    return value.isoformat() if value else "open-ended"


def _person_registered(p: Any) -> str:
    return f"Residence file opened at {p.abh_id}"


def _entry(p: Any) -> str:
    mode = _ENTRY_MODES.get(str(p.entry_mode), "")
    return f"Entered Germany on {p.entry_date.isoformat()} {mode}".rstrip()


def _registered(p: Any) -> str:
    return f"Residence registered in municipality {p.municipality_key} on {p.registered_on}"


def _title(p: Any) -> str:
    name = _TITLES.get(p.title, p.title)
    until = f"until {p.valid_until.isoformat()}" if p.valid_until else "unlimited"
    return f"{name} granted ({p.paragraph}), valid from {p.valid_from.isoformat()}, {until}"


SUMMARIES: dict[type[Payload], Callable[[Any], str]] = {
    PersonRegistered: _person_registered,
    EntryRecorded: _entry,
    ResidenceRegistered: _registered,
    ResidenceTitleGranted: _title,
}


def summarise(payload: Payload) -> str | None:
    """The summary, or None when the event does not belong on a timeline."""
    render = SUMMARIES.get(type(payload))
    return render(payload) if render else None
