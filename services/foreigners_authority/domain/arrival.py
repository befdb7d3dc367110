"""Checks of an arrival before anything is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.foreigners_authority.domain.errors import InvalidValue
from services.foreigners_authority.domain.vocabulary import (
    MUNICIPALITY_KEY,
    NATIONALITY,
    EntryMode,
)


@dataclass(frozen=True)
class ArrivalFacts:
    """The clear-text facts of an arrival that the domain checks (dates, codes)."""

    birth_date: date
    nationalities: list[str]
    entry_date: date
    entry_mode: EntryMode
    municipality_key: str
    registered_on: date


def check_arrival(facts: ArrivalFacts, today: date) -> None:
    """Guard an arrival before anything is recorded (birth date checked in clear text)."""
    if not facts.nationalities:
        raise InvalidValue(
            "at least one nationality is needed (use XXA for stateless)", "nationalities"
        )
    for code in facts.nationalities:
        if not NATIONALITY.match(code):
            raise InvalidValue(
                f"nationality {code!r} is not an ISO 3166-1 alpha-3 code", "nationalities"
            )
    if len(set(facts.nationalities)) != len(facts.nationalities):
        raise InvalidValue("a nationality is listed twice", "nationalities")
    if facts.birth_date > today:
        raise InvalidValue("the birth date lies in the future", "birthDate")
    if facts.entry_date > today:
        raise InvalidValue("the entry date lies in the future", "entryDate")
    if facts.entry_date < facts.birth_date:
        raise InvalidValue("the entry date lies before the birth date", "entryDate")
    if facts.registered_on > today:
        raise InvalidValue("the registration date lies in the future", "registeredOn")
    if facts.registered_on < facts.entry_date:
        raise InvalidValue("the registration (Anmeldung) lies before the entry", "registeredOn")
    if not MUNICIPALITY_KEY.match(facts.municipality_key):
        raise InvalidValue(
            "the municipality key must be an 8-digit official key (AGS), e.g. 05315000",
            "municipalityKey",
        )
