"""GraphQL types of case management: cases, consents, referrals, mediation, caseloads."""

from __future__ import annotations

import datetime as dt

import strawberry


@strawberry.type(description="A need per life domain: none, low, medium or high")
class Need:
    domain: str
    level: str


@strawberry.type(description="A goal agreed with the person (its wording stays encrypted)")
class Goal:
    id: strawberry.ID
    domain: str
    target_date: dt.date


@strawberry.type(description="A consent (Schweigepflichtentbindung) as the person gave it")
class Consent:
    id: strawberry.ID
    person_id: strawberry.ID
    case_id: strawberry.ID
    recipients: list[str]
    categories: list[str]
    purposes: list[str]
    special_categories_explicit: bool
    valid_from: dt.date
    valid_until: dt.date
    language: str
    mutual: bool
    status: str = strawberry.field(description="active, withdrawn or expired (as of today)")
    ended_on: dt.date | None


@strawberry.type(description="What a referral shares of the case while its consent is valid")
class SharedCase:
    target_group: str | None
    legal_spheres: list[str] | None
    needs: list[Need]
    goals: list[Goal]


@strawberry.type(description="A referral (Vermittlung) to a partner agency")
class Referral:
    id: strawberry.ID
    case_id: strawberry.ID
    person_id: strawberry.ID
    from_agency: str
    to_agency: str
    service: str
    purpose: str
    shared_categories: list[str]
    status: str
    sent_at: dt.datetime
    answered_at: dt.datetime | None
    decline_reason: str | None
    outcome: str | None
    consent_status: str = strawberry.field(description="active, withdrawn or expired")
    shared_case: SharedCase | None = strawberry.field(
        description="Absent unless the referral's consent is valid today"
    )


@strawberry.type(description="A request for a language and cultural mediator")
class Mediation:
    id: strawberry.ID
    case_id: strawberry.ID
    language: str
    starts_at: dt.datetime
    minutes: int
    status: str = strawberry.field(description="assigned, or unserved with a reason")
    mediator_id: strawberry.ID | None
    reason: str | None


@strawberry.type(description="A change of legal sphere (Rechtskreiswechsel) of a case")
class LegalSphereChange:
    from_sphere: str | None = strawberry.field(
        description="The sphere left (sgb_ii, asylblg, ...); null: the case had none"
    )
    to_sphere: str = strawberry.field(description="The sphere entered")
    effective_on: dt.date = strawberry.field(description="From when the change applies")
    position: int = strawberry.field(
        description="Position of its event in case management's log (as on the timeline)"
    )


@strawberry.type(description="A case conference (Fallkonferenz) of a case")
class CaseConference:
    held_on: dt.date
    participants: list[str] = strawberry.field(
        description="The participating agencies or roles as recorded (never a person)"
    )
    position: int = strawberry.field(
        description="Position of its event in case management's log (as on the timeline)"
    )


@strawberry.type(description="A case, for the case manager who owns it")
class Case:
    id: strawberry.ID
    person_id: strawberry.ID
    agency: str
    target_group: str
    legal_spheres: list[str]
    intake_source: str
    interpreter_needed: bool
    opened_on: dt.date
    status: str
    closed_on: dt.date | None
    close_reason: str | None
    needs: list[Need]
    goals: list[Goal]
    conferences: int = strawberry.field(description="How many case conferences were held")
    last_conference: dt.date | None
    legal_sphere_changes: list[LegalSphereChange] = strawberry.field(
        description="The changes of legal sphere, oldest first"
    )
    case_conferences: list[CaseConference] = strawberry.field(
        description="The case conferences, oldest first"
    )
    consents: list[Consent]
    referrals: list[Referral]
    mediation: list[Mediation]


@strawberry.type(description="A case manager's caseload")
class Caseload:
    open_cases: int
    closed_cases: int
    referrals_waiting: int = strawberry.field(description="Sent, not yet answered")
    unserved_mediation: int
    cases: list[Case]


@strawberry.type(description="A mediator in the pool (the name stays encrypted)")
class Mediator:
    id: strawberry.ID
    languages: list[str]
    availability: list[str]
    pledge_signed_on: dt.date | None
    bookings: list[Mediation]


@strawberry.type(description="The mediator calendar of the caller's agency")
class MediatorCalendar:
    mediators: list[Mediator]
    unserved: list[Mediation]
