"""Commands of the foreigners authority (Ausländerbehörde)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from contracts.commands.spec import Command, CommandPayload, ServiceCommands, personal
from contracts.foreigners_authority import EntryMode, ResidenceTitleKind
from contracts.roles import AUTHORITY

SERVICE = "foreigners_authority"
LEGAL_BASIS = "§ 86 AufenthG"
PURPOSE = "residence_administration"


class RegisterArrival(CommandPayload):
    """An arrival, as the foreigners authority registers it."""

    given_names: str = personal(description="Given names (held encrypted)", max_length=200)
    family_name: str = personal(
        description="Family name (held encrypted)", min_length=1, max_length=200
    )
    birth_date: date = personal(description="Date of birth (held encrypted)")
    azr_number: str = personal(description="AZR number, 12 digits (held encrypted)", max_length=20)
    nationalities: list[str] = Field(description="ISO 3166-1 alpha-3 codes", max_length=10)
    entry_date: date
    entry_mode: EntryMode
    municipality_key: str = Field(description="Official municipality key (AGS)", max_length=8)
    abh_id: str = Field(
        description="The responsible foreigners authority", min_length=1, max_length=64
    )
    registered_on: date | None = Field(
        default=None, description="Date of registration (Anmeldung); defaults to entry date"
    )


class GrantResidenceTitle(CommandPayload):
    """A residence title decision."""

    person_id: UUID
    title: ResidenceTitleKind
    paragraph: str = Field(description="Legal basis, e.g. '§ 25 Abs. 2 AufenthG'", max_length=80)
    valid_from: date
    valid_until: date | None = None
    granted_on: date | None = Field(
        default=None, description="Decision date; defaults to validFrom (or today)"
    )
    conditions: list[str] = Field(default_factory=list, max_length=20)


class DecideOnConsent(CommandPayload):
    """The authority's decision on a consent it holds the signed form of: only the consent's
    id reaches the authority, never case-management data (§ 87 AufenthG)."""

    person_id: UUID
    consent_id: UUID = Field(description="The consent's id, as printed on the signed form")


_SERVICE = ServiceCommands(SERVICE, AUTHORITY, LEGAL_BASIS, PURPOSE)

COMMANDS = (
    _SERVICE.command(
        "register_arrival",
        "registerArrival",
        RegisterArrival,
        "Register a person's arrival (Ausländerbehörde)",
        ("person_id",),
    ),
    _SERVICE.command(
        "grant_residence_title",
        "grantResidenceTitle",
        GrantResidenceTitle,
        "Grant a residence title (Aufenthaltstitel)",
        ("person_id",),
    ),
    _SERVICE.command(
        "confirm_consent",
        "confirmConsent",
        DecideOnConsent,
        "Confirm a consent: it may now release the authority's records to its recipients",
        ("person_id",),
    ),
    _SERVICE.command(
        "decline_consent",
        "declineConsent",
        DecideOnConsent,
        "Decline (or revoke the confirmation of) a consent for the authority's records",
        ("person_id",),
    ),
)


class PersonSearchTerms(CommandPayload):
    """The authority's search by identity (the gateway's ``personSearch``): every term given
    must match the normalised value of a file the caller's authority holds; the given name
    only together with the family name. The terms travel sealed for the service."""

    family_name: str | None = personal(None, description="Family name", max_length=200)
    given_name: str | None = personal(
        None, description="One given name, or all of them", max_length=200
    )
    birth_date: date | None = personal(None, description="Date of birth")
    azr_number: str | None = personal(None, description="AZR number, 12 digits", max_length=20)
    limit: int = Field(default=1000, ge=1, le=1000, description="At most this many person ids")


#: a read, not a catalogue command (no mutation, no event): the gateway sends it with
#: ``CommandClient.send(..., declaration=SEARCH_PERSONS)`` so that its terms are sealed
SEARCH_PERSONS = Command(
    name="search_persons",
    service=SERVICE,
    mutation="personSearch",
    payload=PersonSearchTerms,
    roles=AUTHORITY,
    legal_basis=LEGAL_BASIS,
    purpose=PURPOSE,
    description="Person ids whose files the caller's authority holds, by identity terms",
    exposed=False,
)
