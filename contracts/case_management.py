"""Version 1 event payloads published by the ``case_management`` service (KIM-Case-Management).

Personal data never travels in clear text: fields ending in ``_enc`` are ciphertext tokens
under the person's key, held by case management. ``person_id`` is pseudonymous. Who may
receive which of these events is decided by consent (see ``ConsentGranted``) and, for the
foreigners authority, never: case-management data must not reach it (§ 87 AufenthG).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, Field

from contracts.registry import Payload, contract

SERVICE = "case_management"

_Id = Annotated[str, Field(min_length=1)]
_Ciphertext = Annotated[
    str, Field(min_length=1, description="Ciphertext token under the person's key.")
]
_Agency = Annotated[str, Field(min_length=1, description="Agency id, e.g. awo-05315.")]


@contract(SERVICE, "client_registered")
class ClientRegistered(Payload):
    """Case management registered a person it serves (Klient/in); personal data encrypted."""

    person_id: _Id
    names_enc: _Ciphertext
    birth_date_enc: str | None = None
    contact_enc: str | None = None


@contract(SERVICE, "case_opened")
class CaseOpened(Payload):
    """A case was opened (Fallaufnahme)."""

    case_id: _Id
    person_id: _Id
    target_group: str
    legal_spheres: tuple[str, ...]
    intake_source: str
    interpreter_needed: bool
    case_manager: Annotated[str, Field(description="Pseudonymous id of the case manager.")]
    agency: _Agency
    opened_on: date


@contract(SERVICE, "needs_assessed")
class NeedsAssessed(Payload):
    """Needs were assessed per life domain (Bedarfsfeststellung): domain -> none|low|medium|high."""

    case_id: _Id
    person_id: _Id
    assessed_on: date
    needs: dict[str, str]


@contract(SERVICE, "goal_agreed")
class GoalAgreed(Payload):
    """A goal was agreed (Zielvereinbarung); its wording is encrypted."""

    case_id: _Id
    person_id: _Id
    goal_id: _Id
    domain: str
    description_enc: _Ciphertext
    target_date: date


@contract(SERVICE, "case_conference_held")
class CaseConferenceHeld(Payload):
    """A case conference (Fallkonferenz) was held with these agencies."""

    case_id: _Id
    person_id: _Id
    held_on: date
    participants: tuple[str, ...]
    consent_id: str | None = None


@contract(SERVICE, "legal_sphere_changed")
class LegalSphereChanged(Payload):
    """The person changed benefit system (Rechtskreiswechsel)."""

    case_id: _Id
    person_id: _Id
    from_sphere: str | None = None
    to_sphere: str
    effective: date


@contract(SERVICE, "case_closed")
class CaseClosed(Payload):
    """The case was closed (Fallabschluss)."""

    case_id: _Id
    person_id: _Id
    reason: str
    closed_on: date


@contract(SERVICE, "case_reopened")
class CaseReopened(Payload):
    """A closed case was reopened (Wiederaufnahme)."""

    case_id: _Id
    person_id: _Id
    reason: str
    reopened_on: date


@contract(SERVICE, "consent_granted")
class ConsentGranted(Payload):
    """A consent (Schweigepflichtentbindung) was granted."""

    consent_id: _Id
    person_id: _Id
    case_id: _Id
    recipients: tuple[str, ...]
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    special_categories_explicit: bool
    valid_from: date
    valid_until: date
    language: str
    mutual: bool = False


@contract(SERVICE, "consent_withdrawn")
class ConsentWithdrawn(Payload):
    """The person withdrew a consent (Widerruf); sharing stops at once."""

    consent_id: _Id
    person_id: _Id
    withdrawn_on: date


@contract(SERVICE, "consent_expired")
class ConsentExpired(Payload):
    """A consent lapsed at its end date."""

    consent_id: _Id
    person_id: _Id
    expired_on: date


@contract(SERVICE, "referral_sent")
class ReferralSent(Payload):
    """A referral (Vermittlung) was sent to a partner agency, relying on a consent."""

    referral_id: _Id
    case_id: _Id
    person_id: _Id
    from_agency: _Agency
    to_agency: _Agency
    service: str
    consent_id: _Id
    shared_categories: tuple[str, ...]
    purpose: str
    note_enc: str | None = None


@contract(SERVICE, "referral_accepted")
class ReferralAccepted(Payload):
    """The partner agency accepted the referral."""

    referral_id: _Id
    person_id: _Id
    by: _Agency


@contract(SERVICE, "referral_declined")
class ReferralDeclined(Payload):
    """The partner agency declined the referral, with a coded reason."""

    referral_id: _Id
    person_id: _Id
    by: _Agency
    reason: str


@contract(SERVICE, "referral_completed")
class ReferralCompleted(Payload):
    """The partner agency completed the referral, with a coded outcome."""

    referral_id: _Id
    person_id: _Id
    by: _Agency
    outcome: str


@contract(SERVICE, "mediator_pool_created")
class MediatorPoolCreated(Payload):
    """A municipality's pool of language and cultural mediators was set up."""

    pool_id: _Id
    municipality: str


@contract(SERVICE, "mediator_registered")
class MediatorRegistered(Payload):
    """A mediator (Sprach- und Kulturmittler/in) joined the pool; name encrypted."""

    pool_id: _Id
    mediator_id: _Id
    display_name_enc: _Ciphertext
    languages: tuple[str, ...]
    availability: tuple[str, ...]
    pledge_signed_on: date | None = None


@contract(SERVICE, "mediator_pledge_signed")
class MediatorPledgeSigned(Payload):
    """A mediator signed the confidentiality pledge (Verschwiegenheitserklärung)."""

    pool_id: _Id
    mediator_id: _Id
    signed_on: date


@contract(SERVICE, "mediator_booked")
class MediatorBooked(Payload):
    """A mediator was booked for an appointment."""

    pool_id: _Id
    request_id: _Id
    mediator_id: _Id
    starts_at: AwareDatetime
    minutes: int


@contract(SERVICE, "mediation_requested")
class MediationRequested(Payload):
    """Mediation was requested for an appointment in a case."""

    request_id: _Id
    case_id: _Id
    person_id: _Id
    language: str
    starts_at: AwareDatetime
    minutes: int
    agency: _Agency


@contract(SERVICE, "mediator_assigned")
class MediatorAssigned(Payload):
    """A mediator was assigned to a mediation request."""

    request_id: _Id
    person_id: _Id
    mediator_id: _Id


@contract(SERVICE, "mediation_unserved")
class MediationUnserved(Payload):
    """No mediator could serve the request; it stays visible as unserved."""

    request_id: _Id
    person_id: _Id
    reason: str


@contract(SERVICE, "systemic_gap_reported")
class SystemicGapReported(Payload):
    """A systemic gap was reported for the steering group (no personal data)."""

    gap_id: _Id
    category: str
    legal_sphere: str | None = None
    description: str
    affected_count: int | None = None
    agency: _Agency
    reported_on: date


@contract(SERVICE, "precheck_assessed")
class PrecheckAssessed(Payload):
    """A case manager assessed a naturalisation requirement for a pre-check on their case
    (livelihood, no_conviction or commitment: met or not_met). Case-management data: it never
    reaches the foreigners authority (§ 87 AufenthG)."""

    case_id: _Id
    person_id: _Id
    requirement: str
    outcome: str
    assessed_on: date
