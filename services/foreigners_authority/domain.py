"""The residence file (Aufenthaltsakte) kept by the foreigners authority (Ausländerbehörde).

One aggregate per person, identified by the person's pseudonymous id. Personal data arrives
already encrypted (``*_enc`` ciphertext tokens from the service's vault): the domain never
sees names, birth dates or AZR numbers in clear text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

_NATIONALITY = re.compile(r"^[A-Z]{3}$")
_MUNICIPALITY_KEY = re.compile(r"^(0[1-9]|1[0-6])\d{6}$")
_PARAGRAPH = re.compile(
    r"^§ \d+[a-z]?( Abs\. \d+)?( (Satz|S\.) \d+)?( Nr\. \d+)?"
    r" (AufenthG|AsylG|FreizügG/EU|BeschV|StAG)$"
)


class DomainError(Exception):
    """A command breaks a rule of the residence file. ``field`` names the input at fault."""

    code = "rule_violated"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidValue(DomainError):
    code = "invalid_value"


class UnknownPerson(DomainError):
    code = "unknown_person"


class EntryMode(StrEnum):
    """How the person entered Germany (Einreise)."""

    VISA = "visa"
    VISA_FREE = "visa_free"
    ASYLUM = "asylum"
    TEMPORARY_PROTECTION = "temporary_protection"
    EU_FREE_MOVEMENT = "eu_free_movement"
    FAMILY_REUNIFICATION = "family_reunification"
    OTHER = "other"


class TitleKind(StrEnum):
    """Kinds of residence title (Aufenthaltstitel, § 4 (1) AufenthG)."""

    NATIONAL_VISA = "national_visa"  # Visum (D), § 6 (3)
    RESIDENCE_PERMIT = "residence_permit"  # Aufenthaltserlaubnis, § 7
    EU_BLUE_CARD = "eu_blue_card"  # Blaue Karte EU, § 18g
    ICT_CARD = "ict_card"  # ICT-Karte, § 19
    SETTLEMENT_PERMIT = "settlement_permit"  # Niederlassungserlaubnis, § 9
    EU_LONG_TERM_RESIDENCE = "eu_long_term_residence"  # Daueraufenthalt-EU, § 9a


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
        if not _NATIONALITY.match(code):
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
    if not _MUNICIPALITY_KEY.match(facts.municipality_key):
        raise InvalidValue(
            "the municipality key must be an 8-digit official key (AGS), e.g. 05315000",
            "municipalityKey",
        )


class ResidenceFile(Aggregate):
    """A person's residence file at the foreigners authority (Ausländerakte)."""

    class PersonRegistered(Aggregate.Created):
        """A person's file was opened (personal data as ciphertext tokens only)."""

        names_enc: str
        birth_date_enc: str
        azr_number_enc: str
        nationalities: list[str]
        abh_id: str

    class EntryRecorded(Aggregate.Event):
        """The entry into Germany (Einreise) was recorded."""

        entry_date: date
        entry_mode: str

    class ResidenceRegistered(Aggregate.Event):
        """The residents' office registered the residence (Anmeldung, § 72 AufenthV)."""

        municipality_key: str
        registered_on: date

    class ResidenceTitleGranted(Aggregate.Event):
        """A residence title was granted (Aufenthaltstitel erteilt)."""

        title: str
        paragraph: str
        granted_on: date
        valid_from: date
        valid_until: date | None
        conditions: list[str]

    @event(PersonRegistered)
    def __init__(
        self,
        *,
        id: UUID,
        names_enc: str,
        birth_date_enc: str,
        azr_number_enc: str,
        nationalities: list[str],
        abh_id: str,
    ) -> None:
        self.names_enc = names_enc
        self.birth_date_enc = birth_date_enc
        self.azr_number_enc = azr_number_enc
        self.nationalities = list(nationalities)
        self.abh_id = abh_id
        self.entry_date: date | None = None
        self.entry_mode: EntryMode | None = None
        self.municipality_key: str | None = None
        self.registered_on: date | None = None
        self.titles: list[dict[str, object]] = []

    @classmethod
    def register_arrival(
        cls,
        *,
        person_id: UUID,
        names_enc: str,
        birth_date_enc: str,
        azr_number_enc: str,
        abh_id: str,
        facts: ArrivalFacts,
        today: date,
    ) -> ResidenceFile:
        """Open the file: person registered, entry recorded, residence registered."""
        check_arrival(facts, today)
        if not abh_id.strip():
            raise InvalidValue("the responsible foreigners authority is missing", "abhId")
        file = cls(
            id=person_id,
            names_enc=names_enc,
            birth_date_enc=birth_date_enc,
            azr_number_enc=azr_number_enc,
            nationalities=list(facts.nationalities),
            abh_id=abh_id,
        )
        file.record_entry(entry_date=facts.entry_date, entry_mode=facts.entry_mode)
        file.register_residence(
            municipality_key=facts.municipality_key, registered_on=facts.registered_on
        )
        return file

    @event(EntryRecorded)
    def record_entry(self, entry_date: date, entry_mode: EntryMode) -> None:
        self.entry_date = entry_date
        self.entry_mode = EntryMode(entry_mode)

    @event(ResidenceRegistered)
    def register_residence(self, municipality_key: str, registered_on: date) -> None:
        self.municipality_key = municipality_key
        self.registered_on = registered_on

    def grant_residence_title(
        self,
        *,
        title: TitleKind,
        paragraph: str,
        granted_on: date,
        valid_from: date,
        valid_until: date | None,
        conditions: list[str],
        today: date,
    ) -> None:
        """Record a residence title decision (Erteilung eines Aufenthaltstitels)."""
        if not _PARAGRAPH.match(paragraph):
            raise InvalidValue(
                f"paragraph {paragraph!r} is not a legal reference such as '§ 18b AufenthG'",
                "paragraph",
            )
        if granted_on > today:
            raise InvalidValue("the decision date lies in the future", "grantedOn")
        if valid_until is not None and valid_until <= valid_from:
            raise InvalidValue("the title ends before it starts", "validUntil")
        if valid_until is not None and valid_until < granted_on:
            raise InvalidValue("the title would already have expired when granted", "validUntil")
        permanent = title in (TitleKind.SETTLEMENT_PERMIT, TitleKind.EU_LONG_TERM_RESIDENCE)
        if permanent and valid_until is not None:
            raise InvalidValue("a permanent title has no end date", "validUntil")
        if not permanent and valid_until is None:
            raise InvalidValue("a temporary title needs an end date", "validUntil")
        before_entry = self.entry_date is not None and granted_on < self.entry_date
        if title is not TitleKind.NATIONAL_VISA and before_entry:
            raise InvalidValue("the decision lies before the person's entry", "grantedOn")
        if any(not c.strip() for c in conditions):
            raise InvalidValue("a condition (Nebenbestimmung) is empty", "conditions")
        self._title_granted(
            title=title,
            paragraph=paragraph,
            granted_on=granted_on,
            valid_from=valid_from,
            valid_until=valid_until,
            conditions=list(conditions),
        )

    @event(ResidenceTitleGranted)
    def _title_granted(
        self,
        title: TitleKind,
        paragraph: str,
        granted_on: date,
        valid_from: date,
        valid_until: date | None,
        conditions: list[str],
    ) -> None:
        self.titles.append(
            {
                "title": TitleKind(title),
                "paragraph": paragraph,
                "granted_on": granted_on,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "conditions": list(conditions),
            }
        )
