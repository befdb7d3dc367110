"""Domain events of case management -> public contract events (the only place knowing both).

Every domain event has a contract, so every position a command returns is on the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from contracts import case_management as c
from kernel.clock import date_in_germany, start_of_day_in_germany
from services.case_management.domain import (
    Case,
    Client,
    Consent,
    MediationRequest,
    MediatorPool,
    Referral,
    SystemicGap,
)
from services.runtime.outbox import OutgoingEvent


def _day(value: date) -> datetime:
    return start_of_day_in_germany(value)


def _s(value: object) -> str:
    return str(value)


def _client_registered(e: Any) -> OutgoingEvent:
    person = _s(e.originator_id)
    payload = c.ClientRegistered(
        person_id=person,
        names_enc=e.names_enc,
        birth_date_enc=e.birth_date_enc,
        contact_enc=e.contact_enc,
    )
    return OutgoingEvent(payload, e.timestamp, person)


def _case_opened(e: Any) -> OutgoingEvent:
    payload = c.CaseOpened(
        case_id=_s(e.originator_id),
        person_id=_s(e.person_id),
        target_group=e.target_group,
        legal_spheres=tuple(e.legal_spheres),
        intake_source=e.intake_source,
        interpreter_needed=e.interpreter_needed,
        case_manager=e.case_manager,
        agency=e.agency,
        opened_on=e.opened_on,
    )
    return OutgoingEvent(payload, _day(e.opened_on), _s(e.person_id))


def _case_event(build: Callable[[Any, str, str], tuple[Any, datetime]]) -> Callable[..., Any]:
    """Case events need the case's person id, which ``mapper`` keeps per case."""

    def mapper(e: Any, person: str) -> OutgoingEvent:
        payload, occurred = build(e, _s(e.originator_id), person)
        return OutgoingEvent(payload, occurred, person)

    return mapper


CASE_EVENTS: dict[type, Callable[..., OutgoingEvent]] = {
    Case.NeedsAssessed: _case_event(
        lambda e, case, person: (
            c.NeedsAssessed(
                case_id=case, person_id=person, assessed_on=e.assessed_on, needs=dict(e.needs)
            ),
            _day(e.assessed_on),
        )
    ),
    Case.PrecheckAssessed: _case_event(
        lambda e, case, person: (
            c.PrecheckAssessed(
                case_id=case,
                person_id=person,
                requirement=e.requirement,
                outcome=e.outcome,
                assessed_on=e.assessed_on,
            ),
            _day(e.assessed_on),
        )
    ),
    Case.GoalAgreed: _case_event(
        lambda e, case, person: (
            c.GoalAgreed(
                case_id=case,
                person_id=person,
                goal_id=_s(e.goal_id),
                domain=e.domain,
                description_enc=e.description_enc,
                target_date=e.target_date,
            ),
            e.timestamp,
        )
    ),
    Case.ConferenceHeld: _case_event(
        lambda e, case, person: (
            c.CaseConferenceHeld(
                case_id=case,
                person_id=person,
                held_on=e.held_on,
                participants=tuple(e.participants),
                consent_id=_s(e.consent_id) if e.consent_id else None,
            ),
            _day(e.held_on),
        )
    ),
    Case.LegalSphereChanged: _case_event(
        lambda e, case, person: (
            c.LegalSphereChanged(
                case_id=case,
                person_id=person,
                from_sphere=e.from_sphere,
                to_sphere=e.to_sphere,
                effective=e.effective,
            ),
            _day(e.effective),
        )
    ),
    Case.Closed: _case_event(
        lambda e, case, person: (
            c.CaseClosed(case_id=case, person_id=person, reason=e.reason, closed_on=e.closed_on),
            _day(e.closed_on),
        )
    ),
    Case.Reopened: _case_event(
        lambda e, case, person: (
            c.CaseReopened(
                case_id=case, person_id=person, reason=e.reason, reopened_on=e.reopened_on
            ),
            _day(e.reopened_on),
        )
    ),
}


def _consent(e: Any) -> OutgoingEvent | None:
    consent = _s(e.originator_id)
    if isinstance(e, Consent.Granted):
        person = _s(e.person_id)
        return OutgoingEvent(
            c.ConsentGranted(
                consent_id=consent,
                person_id=person,
                case_id=_s(e.case_id),
                recipients=tuple(e.recipients),
                categories=tuple(e.categories),
                purposes=tuple(e.purposes),
                special_categories_explicit=e.special_categories_explicit,
                valid_from=e.valid_from,
                valid_until=e.valid_until,
                language=e.language,
                mutual=e.mutual,
            ),
            e.timestamp,
            person,
        )
    return None


class PersonIndex:
    """Which person a case, consent, referral or request concerns. Filled from creation
    events as they pass (they always come first in the log); otherwise read from the
    repository."""

    def __init__(self, load: Callable[[Any], Any], size: int = 100_000) -> None:
        self._load = load
        self._size = size
        self._known: dict[Any, str] = {}

    def remember(self, aggregate_id: Any, person_id: Any) -> None:
        if len(self._known) >= self._size:
            self._known.pop(next(iter(self._known)))
        self._known[aggregate_id] = str(person_id)

    def __call__(self, aggregate_id: Any) -> str:
        person = self._known.get(aggregate_id)
        if person is None:
            person = str(self._load(aggregate_id).person_id)
            self.remember(aggregate_id, person)
        return person


_CREATED_WITH_PERSON = (Case.Opened, Consent.Granted, Referral.Sent, MediationRequest.Requested)


class CaseManagementMapper:
    """Maps domain events to contracts. Later events of a case, consent, referral or request
    carry only their own fields; their person id comes from ``person_of``."""

    def __init__(self, person_of: PersonIndex) -> None:
        self.person_of = person_of

    def __call__(self, e: Any) -> OutgoingEvent | None:
        if isinstance(e, _CREATED_WITH_PERSON):
            self.person_of.remember(e.originator_id, e.person_id)
        if isinstance(e, Client.Registered):
            return _client_registered(e)
        if isinstance(e, Case.Opened):
            return _case_opened(e)
        mapper = CASE_EVENTS.get(type(e))
        if mapper is not None:
            return mapper(e, self.person_of(e.originator_id))
        if isinstance(e, Consent.Granted):
            return _consent(e)
        if isinstance(e, Consent.Withdrawn):
            person = self.person_of(e.originator_id)
            return OutgoingEvent(
                c.ConsentWithdrawn(
                    consent_id=_s(e.originator_id), person_id=person, withdrawn_on=e.withdrawn_on
                ),
                e.timestamp,
                person,
            )
        if isinstance(e, Consent.Expired):
            person = self.person_of(e.originator_id)
            return OutgoingEvent(
                c.ConsentExpired(
                    consent_id=_s(e.originator_id), person_id=person, expired_on=e.expired_on
                ),
                e.timestamp,
                person,
            )
        if isinstance(e, Referral.Sent):
            person = _s(e.person_id)
            return OutgoingEvent(
                c.ReferralSent(
                    referral_id=_s(e.originator_id),
                    case_id=_s(e.case_id),
                    person_id=person,
                    from_agency=e.from_agency,
                    to_agency=e.to_agency,
                    service=e.service,
                    consent_id=_s(e.consent_id),
                    shared_categories=tuple(e.shared_categories),
                    purpose=e.purpose,
                    note_enc=e.note_enc,
                ),
                e.timestamp,
                person,
            )
        if isinstance(e, Referral.Accepted | Referral.Declined | Referral.Completed):
            person = self.person_of(e.originator_id)
            referral = _s(e.originator_id)
            if isinstance(e, Referral.Accepted):
                payload: Any = c.ReferralAccepted(referral_id=referral, person_id=person, by=e.by)
            elif isinstance(e, Referral.Declined):
                payload = c.ReferralDeclined(
                    referral_id=referral, person_id=person, by=e.by, reason=e.reason
                )
            else:
                payload = c.ReferralCompleted(
                    referral_id=referral, person_id=person, by=e.by, outcome=e.outcome
                )
            return OutgoingEvent(payload, e.timestamp, person)
        if isinstance(e, MediatorPool.Created):
            return OutgoingEvent(
                c.MediatorPoolCreated(pool_id=_s(e.originator_id), municipality=e.municipality),
                e.timestamp,
            )
        if isinstance(e, MediatorPool.MediatorRegistered):
            return OutgoingEvent(
                c.MediatorRegistered(
                    pool_id=_s(e.originator_id),
                    mediator_id=_s(e.mediator_id),
                    display_name_enc=e.display_name_enc,
                    languages=tuple(e.languages),
                    availability=tuple(e.availability),
                    pledge_signed_on=e.pledge_signed_on,
                ),
                e.timestamp,
            )
        if isinstance(e, MediatorPool.PledgeSigned):
            return OutgoingEvent(
                c.MediatorPledgeSigned(
                    pool_id=_s(e.originator_id),
                    mediator_id=_s(e.mediator_id),
                    signed_on=e.signed_on,
                ),
                _day(e.signed_on),
            )
        if isinstance(e, MediatorPool.Booked):
            return OutgoingEvent(
                c.MediatorBooked(
                    pool_id=_s(e.originator_id),
                    request_id=_s(e.request_id),
                    mediator_id=_s(e.mediator_id),
                    starts_at=e.starts_at,
                    minutes=e.minutes,
                ),
                e.timestamp,
            )
        if isinstance(e, MediationRequest.Requested):
            person = _s(e.person_id)
            return OutgoingEvent(
                c.MediationRequested(
                    request_id=_s(e.originator_id),
                    case_id=_s(e.case_id),
                    person_id=person,
                    language=e.language,
                    starts_at=e.starts_at,
                    minutes=e.minutes,
                    agency=e.agency,
                ),
                e.timestamp,
                person,
            )
        if isinstance(e, MediationRequest.Assigned):
            person = self.person_of(e.originator_id)
            return OutgoingEvent(
                c.MediatorAssigned(
                    request_id=_s(e.originator_id), person_id=person, mediator_id=_s(e.mediator_id)
                ),
                e.timestamp,
                person,
            )
        if isinstance(e, MediationRequest.Unserved):
            person = self.person_of(e.originator_id)
            return OutgoingEvent(
                c.MediationUnserved(
                    request_id=_s(e.originator_id), person_id=person, reason=e.reason
                ),
                e.timestamp,
                person,
            )
        if isinstance(e, SystemicGap.Reported):
            return OutgoingEvent(
                c.SystemicGapReported(
                    gap_id=_s(e.originator_id),
                    category=e.category,
                    legal_sphere=e.legal_sphere,
                    description=e.description,
                    affected_count=e.affected_count,
                    agency=e.agency,
                    reported_on=date_in_germany(e.timestamp),
                ),
                e.timestamp,
            )
        return None
