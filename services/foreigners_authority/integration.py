"""Domain events of the residence file -> public contract events (the only place knowing both)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from contracts import Payload
from contracts import foreigners_authority as c
from contracts.foreigners_authority import (
    EntryMode,
    EntryRecorded,
    PersonRegistered,
    ResidenceRegistered,
    ResidenceTitleGranted,
)
from kernel.clock import start_of_day_in_germany
from services.foreigners_authority.domain import ResidenceFile
from services.runtime.outbox import OutgoingEvent


def _day(value: date) -> datetime:
    """Business dates are local (Europe/Berlin) days; events carry them as instants."""
    if isinstance(value, datetime):
        return value
    return start_of_day_in_germany(value)


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
    simple = SIMPLE.get(type(event))
    if simple is not None:
        contract_cls, date_field = simple
        values = {
            name: getattr(event, name) for name in contract_cls.model_fields if name != "person_id"
        }
        return OutgoingEvent(
            payload=contract_cls(person_id=person_id, **values),
            occurred_at=_day(getattr(event, date_field)),
            person_id=person_id,
        )
    return None


#: Events whose contract has the event's own fields: contract class, business-date field.
SIMPLE: dict[type, tuple[type[Payload], str]] = {
    ResidenceFile.AsylumApplicationFiled: (c.AsylumApplicationFiled, "filed_on"),
    ResidenceFile.AsylumDecisionReceived: (c.AsylumDecisionReceived, "decided_on"),
    ResidenceFile.DuldungIssued: (c.DuldungIssued, "valid_from"),
    ResidenceFile.ResidenceTitleApplied: (c.ResidenceTitleApplied, "applied_on"),
    ResidenceFile.ResidenceTitleRefused: (c.ResidenceTitleRefused, "refused_on"),
    ResidenceFile.FiktionsbescheinigungIssued: (c.FiktionsbescheinigungIssued, "issued_on"),
    ResidenceFile.TemporaryProtectionGranted: (c.TemporaryProtectionGranted, "valid_from"),
    ResidenceFile.TemporaryProtectionExtended: (c.TemporaryProtectionExtended, "timestamp"),
    ResidenceFile.IntegrationCourseObligationImposed: (
        c.IntegrationCourseObligationImposed,
        "imposed_on",
    ),
    ResidenceFile.IntegrationCourseCompleted: (c.IntegrationCourseCompleted, "completed_on"),
    ResidenceFile.LanguageCertificateRecorded: (c.LanguageCertificateRecorded, "issued_on"),
    ResidenceFile.DepartureRecorded: (c.DepartureRecorded, "departed_on"),
    ResidenceFile.CaseFileTransferred: (c.CaseFileTransferred, "transferred_on"),
    ResidenceFile.ConsentConfirmed: (c.ConsentConfirmed, "confirmed_on"),
    ResidenceFile.ConsentDeclined: (c.ConsentDeclined, "declined_on"),
    ResidenceFile.NaturalisationApplied: (c.NaturalisationApplied, "applied_on"),
    ResidenceFile.NaturalisationRequirementAssessed: (
        c.NaturalisationRequirementAssessed,
        "assessed_on",
    ),
    ResidenceFile.NaturalisationTestPassed: (c.NaturalisationTestPassed, "passed_on"),
    ResidenceFile.NaturalisationAssured: (c.NaturalisationAssured, "assured_on"),
    ResidenceFile.NaturalisationCompleted: (c.NaturalisationCompleted, "certificate_date"),
    ResidenceFile.AsylumAppealFiled: (c.AsylumAppealFiled, "filed_on"),
    ResidenceFile.AsylumCourtDecided: (c.AsylumCourtDecided, "decided_on"),
    ResidenceFile.AsylumDecisionFinal: (c.AsylumDecisionFinal, "final_on"),
    ResidenceFile.AsylumSuspensiveEffectOrdered: (c.AsylumSuspensiveEffectOrdered, "ordered_on"),
    ResidenceFile.StayAbroadBegan: (c.StayAbroadBegan, "left_on"),
    ResidenceFile.ReturnedFromAbroad: (c.ReturnedFromAbroad, "returned_on"),
    ResidenceFile.NationalityGivenUp: (c.NationalityGivenUp, "given_up_on"),
    ResidenceFile.MultipleNationalityAccepted: (c.MultipleNationalityAccepted, "decided_on"),
}
