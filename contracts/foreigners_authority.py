"""Version 1 event payloads published by the ``foreigners_authority`` service (Ausländerbehörde).

Personal data never travels in clear text: fields ending in ``_enc`` are ciphertext
tokens, the value encrypted under the person's own key (crypto-shredding: deleting
the key makes every copy unreadable). ``person_id`` is a pseudonymous id.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from contracts.registry import Payload, contract

__all__ = [
    "EntryMode",
    "EntryRecorded",
    "PersonRegistered",
    "ResidenceRegistered",
    "ResidenceTitleGranted",
    "ResidenceTitleKind",
]

SERVICE = "foreigners_authority"

_PersonId = Annotated[str, Field(min_length=1, description="Pseudonymous person id.")]
_Ciphertext = Annotated[
    str,
    Field(
        min_length=1,
        description="Ciphertext token: the value encrypted under the person's key, "
        "never clear text.",
    ),
]
_CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class EntryMode(StrEnum):
    """How the person entered Germany (Einreiseweg / Einreisegrund)."""

    VISA = "visa"
    VISA_FREE = "visa_free"
    ASYLUM = "asylum"
    TEMPORARY_PROTECTION = "temporary_protection"
    EU_FREE_MOVEMENT = "eu_free_movement"
    FAMILY_REUNIFICATION = "family_reunification"
    OTHER = "other"


class ResidenceTitleKind(StrEnum):
    """Kinds of residence title (Aufenthaltstitel, § 4 (1) AufenthG); ``title`` values."""

    NATIONAL_VISA = "national_visa"  # Visum (D), § 6 (3)
    RESIDENCE_PERMIT = "residence_permit"  # Aufenthaltserlaubnis, § 7
    EU_BLUE_CARD = "eu_blue_card"  # Blaue Karte EU, § 18g
    ICT_CARD = "ict_card"  # ICT-Karte, § 19
    SETTLEMENT_PERMIT = "settlement_permit"  # Niederlassungserlaubnis, § 9
    EU_LONG_TERM_RESIDENCE = "eu_long_term_residence"  # Daueraufenthalt-EU, § 9a


@contract(SERVICE, "person_registered")
class PersonRegistered(Payload):
    """A person was registered with a foreigners authority (Personenerfassung).

    ``names_enc``, ``birth_date_enc`` and ``azr_number_enc`` (AZR-Nummer, the
    Ausländerzentralregister number) are ciphertext tokens encrypted under the
    person's key; they never contain clear text.
    """

    person_id: _PersonId
    names_enc: _Ciphertext
    birth_date_enc: _Ciphertext
    azr_number_enc: _Ciphertext
    nationalities: Annotated[
        tuple[_CountryCode, ...],
        Field(min_length=1, description="ISO 3166-1 alpha-3 codes (Staatsangehörigkeiten)."),
    ]
    abh_id: Annotated[
        str, Field(min_length=1, description="Id of the responsible Ausländerbehörde.")
    ]


@contract(SERVICE, "entry_recorded")
class EntryRecorded(Payload):
    """The person's entry into Germany was recorded (Einreise)."""

    person_id: _PersonId
    entry_date: date
    entry_mode: EntryMode


@contract(SERVICE, "residence_registered")
class ResidenceRegistered(Payload):
    """The person registered a residence in a municipality (Anmeldung)."""

    person_id: _PersonId
    municipality_key: Annotated[
        str,
        # [0-9] rather than \d: the regex engine treats \d as any Unicode digit.
        Field(pattern=r"^[0-9]{8}$", description="Amtlicher Gemeindeschlüssel (AGS)."),
    ]
    registered_on: date


@contract(SERVICE, "residence_title_granted")
class ResidenceTitleGranted(Payload):
    """A residence title was granted to the person (Erteilung eines Aufenthaltstitels)."""

    person_id: _PersonId
    title: Annotated[str, Field(description="Kind of title: one of the ResidenceTitleKind values.")]
    paragraph: Annotated[str, Field(description="Legal basis, e.g. § 16b AufenthG.")]
    valid_from: date
    valid_until: date | None = None
    conditions: Annotated[
        tuple[str, ...], Field(description="Nebenbestimmungen (conditions and restrictions).")
    ] = ()
    granted_on: Annotated[
        date | None, Field(description="Date of the decision (added in v1, optional).")
    ] = None
