"""Domain events of the residence file -> public contract events (the only place knowing both)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from contracts.foreigners_authority import (
    EntryMode,
    EntryRecorded,
    PersonRegistered,
    ResidenceRegistered,
    ResidenceTitleGranted,
)
from services.foreigners_authority.domain import ResidenceFile
from services.runtime.outbox import OutgoingEvent

_BERLIN = ZoneInfo("Europe/Berlin")


def _day(value: date) -> datetime:
    """Business dates are local (Europe/Berlin) days; events carry them as instants."""
    return datetime.combine(value, time.min, tzinfo=_BERLIN)


def to_contract(event: Any) -> OutgoingEvent | None:
    person_id = str(event.originator_id)
    if isinstance(event, ResidenceFile.PersonRegistered):
        return OutgoingEvent(
            payload=PersonRegistered(
                person_id=person_id,
                names_enc=event.names_enc,
                birth_date_enc=event.birth_date_enc,
                azr_number_enc=event.azr_number_enc,
                nationalities=tuple(event.nationalities),
                abh_id=event.abh_id,
            ),
            occurred_at=event.timestamp,
            person_id=person_id,
        )
    if isinstance(event, ResidenceFile.EntryRecorded):
        return OutgoingEvent(
            payload=EntryRecorded(
                person_id=person_id,
                entry_date=event.entry_date,
                entry_mode=EntryMode(str(event.entry_mode)),
            ),
            occurred_at=_day(event.entry_date),
            person_id=person_id,
        )
    if isinstance(event, ResidenceFile.ResidenceRegistered):
        return OutgoingEvent(
            payload=ResidenceRegistered(
                person_id=person_id,
                municipality_key=event.municipality_key,
                registered_on=event.registered_on,
            ),
            occurred_at=_day(event.registered_on),
            person_id=person_id,
        )
    if isinstance(event, ResidenceFile.ResidenceTitleGranted):
        return OutgoingEvent(
            payload=ResidenceTitleGranted(
                person_id=person_id,
                title=str(event.title),
                paragraph=event.paragraph,
                valid_from=event.valid_from,
                valid_until=event.valid_until,
                conditions=tuple(event.conditions),
                granted_on=event.granted_on,
            ),
            occurred_at=_day(event.granted_on),
            person_id=person_id,
        )
    return None
