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


# -- status history and naturalisation (added in v1; every field as the event names it) ----


@contract(SERVICE, "asylum_application_filed")
class AsylumApplicationFiled(Payload):
    """Asylum applied for (Asylantrag); the person holds an Aufenthaltsgestattung (§ 55 AsylG)."""

    person_id: _PersonId
    filed_on: date


@contract(SERVICE, "asylum_decision_received")
class AsylumDecisionReceived(Payload):
    """The BAMF decided: asylum, refugee, subsidiary, deportation_ban or rejected."""

    person_id: _PersonId
    outcome: str
    decided_on: date
    manifestly_unfounded: Annotated[
        bool,
        Field(
            description="Rejected as manifestly unfounded (§ 30 AsylG): an action has no "
            "suspensive effect (§ 75 (1) AsylG), the Aufenthaltsgestattung ends with the "
            "decision (§ 67 (1) Nr. 4 AsylG)."
        ),
    ] = False


@contract(SERVICE, "duldung_issued")
class DuldungIssued(Payload):
    """Deportation suspended (Duldung, § 60a ff. AufenthG), with its ground."""

    person_id: _PersonId
    ground: str
    valid_from: date
    valid_until: date


@contract(SERVICE, "residence_title_applied")
class ResidenceTitleApplied(Payload):
    """A residence title was applied for."""

    person_id: _PersonId
    paragraph: str
    applied_on: date


@contract(SERVICE, "fiktionsbescheinigung_issued")
class FiktionsbescheinigungIssued(Payload):
    """A Fiktionsbescheinigung (§ 81 (3), (4) or (5) AufenthG) bridges a pending application."""

    person_id: _PersonId
    kind: str
    issued_on: date
    valid_until: date


@contract(SERVICE, "temporary_protection_granted")
class TemporaryProtectionGranted(Payload):
    """Temporary protection (§ 24 AufenthG)."""

    person_id: _PersonId
    valid_from: date
    valid_until: date


@contract(SERVICE, "temporary_protection_extended")
class TemporaryProtectionExtended(Payload):
    """§ 24 protection extended."""

    person_id: _PersonId
    valid_until: date


@contract(SERVICE, "integration_course_obligation_imposed")
class IntegrationCourseObligationImposed(Payload):
    """Obligation to attend an integration course (§ 44a AufenthG), by ABH or Jobcenter."""

    person_id: _PersonId
    by: str
    imposed_on: date


@contract(SERVICE, "integration_course_completed")
class IntegrationCourseCompleted(Payload):
    """Integration course completed (DTZ level reached)."""

    person_id: _PersonId
    level: str
    completed_on: date
    final_test_passed: Annotated[
        bool | None,
        Field(description="Whether the course's final test (DTZ) was passed; null: not reported."),
    ] = None


@contract(SERVICE, "language_certificate_recorded")
class LanguageCertificateRecorded(Payload):
    """A language certificate at a CEFR level was recorded."""

    person_id: _PersonId
    cefr_level: str
    issued_on: date


@contract(SERVICE, "departure_recorded")
class DepartureRecorded(Payload):
    """The person left Germany (Ausreise)."""

    person_id: _PersonId
    departed_on: date


@contract(SERVICE, "consent_confirmed")
class ConsentConfirmed(Payload):
    """The authority confirmed a consent: it may release the authority's records."""

    person_id: _PersonId
    consent_id: str
    confirmed_on: date


@contract(SERVICE, "consent_declined")
class ConsentDeclined(Payload):
    """The authority declined a consent (or revoked its confirmation)."""

    person_id: _PersonId
    consent_id: str
    declined_on: date


@contract(SERVICE, "case_file_transferred")
class CaseFileTransferred(Payload):
    """The file went to another foreigners authority (Aktenabgabe)."""

    person_id: _PersonId
    to_abh: str
    transferred_on: date


@contract(SERVICE, "naturalisation_applied")
class NaturalisationApplied(Payload):
    """Naturalisation applied for (Einbürgerungsantrag), online or on paper."""

    person_id: _PersonId
    channel: str
    applied_on: date


@contract(SERVICE, "naturalisation_requirement_assessed")
class NaturalisationRequirementAssessed(Payload):
    """One requirement of § 10 StAG assessed, with the law version applied."""

    person_id: _PersonId
    requirement: str
    outcome: str
    law_version: str
    assessed_on: date
    ground: Annotated[
        str | None,
        Field(description="A waiver's ground under § 10 (6) StAG: illness, disability or age."),
    ] = None


@contract(SERVICE, "naturalisation_test_passed")
class NaturalisationTestPassed(Payload):
    """The naturalisation test (Einbürgerungstest) was passed."""

    person_id: _PersonId
    passed_on: date
    test: Annotated[
        str | None,
        Field(
            description="einbuergerungstest (also when null) or leben_in_deutschland (the "
            "integration course's test, which uses the same questions)."
        ),
    ] = None
    points: Annotated[int | None, Field(description="Correct answers out of 33, if known.")] = None


@contract(SERVICE, "naturalisation_assured")
class NaturalisationAssured(Payload):
    """Naturalisation was assured (Einbürgerungszusicherung)."""

    person_id: _PersonId
    assured_on: date


@contract(SERVICE, "naturalisation_completed")
class NaturalisationCompleted(Payload):
    """The naturalisation certificate was handed over (Einbürgerungsurkunde)."""

    person_id: _PersonId
    certificate_date: date


# -- added for issue 11: the asylum procedure in court, stays abroad, single nationality ----


@contract(SERVICE, "asylum_appeal_filed")
class AsylumAppealFiled(Payload):
    """An action against the BAMF's decision was brought (Klage, § 74 AsylG)."""

    person_id: _PersonId
    filed_on: date


@contract(SERVICE, "asylum_court_decided")
class AsylumCourtDecided(Payload):
    """A court decided on the asylum application: asylum, refugee, subsidiary,
    deportation_ban or rejected."""

    person_id: _PersonId
    outcome: str
    decided_on: date


@contract(SERVICE, "residence_title_refused")
class ResidenceTitleRefused(Payload):
    """The pending application for a title was refused: the fiction of a timely application
    ends (§ 81 (4) AufenthG)."""

    person_id: _PersonId
    paragraph: str
    refused_on: date


@contract(SERVICE, "asylum_suspensive_effect_ordered")
class AsylumSuspensiveEffectOrdered(Payload):
    """A court ordered the suspensive effect of the action against a rejection as manifestly
    unfounded (§ 80 (5) VwGO, § 36 (3) AsylG): the rejection becomes ineffective and the
    asylum procedure, with the Aufenthaltsgestattung, goes on (§ 37 (1) AsylG)."""

    person_id: _PersonId
    ordered_on: date


@contract(SERVICE, "asylum_decision_final")
class AsylumDecisionFinal(Payload):
    """The last decision on the asylum application became final; the Aufenthaltsgestattung
    ends (§ 67 (1) Nr. 6 AsylG)."""

    person_id: _PersonId
    final_on: date


@contract(SERVICE, "stay_abroad_began")
class StayAbroadBegan(Payload):
    """The person left for a stay abroad that is not a departure (§ 12b (1) StAG)."""

    person_id: _PersonId
    left_on: date
    permitted_until: Annotated[
        date | None,
        Field(description="A longer period the authority set for the return, if any."),
    ] = None


@contract(SERVICE, "returned_from_abroad")
class ReturnedFromAbroad(Payload):
    """The person came back from a stay abroad."""

    person_id: _PersonId
    returned_on: date


@contract(SERVICE, "nationality_given_up")
class NationalityGivenUp(Payload):
    """The person gave up (or lost) a nationality the file records."""

    person_id: _PersonId
    nationality: Annotated[str, Field(description="ISO 3166-1 alpha-3 code.")]
    given_up_on: date


@contract(SERVICE, "multiple_nationality_accepted")
class MultipleNationalityAccepted(Payload):
    """The authority accepts that a nationality is kept (an exception under § 12 StAG)."""

    person_id: _PersonId
    nationality: Annotated[str, Field(description="ISO 3166-1 alpha-3 code.")]
    paragraph: str
    decided_on: date
