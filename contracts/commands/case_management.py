"""Commands of KIM case management: cases, consent, referrals, mediation, systemic gaps.

Code lists (target groups, legal spheres, life domains, data categories, purposes, reasons)
are plain strings here; the service checks them and names the field at fault.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.commands.spec import CommandPayload, ServiceCommands, personal
from contracts.roles import CASE_MANAGERS, PARTNERS

SERVICE = "case_management"
LEGAL_BASIS = "§ 9 TIntG NRW; Art. 6 (1) a, 9 (2) a GDPR"
PURPOSE = "case_management"

_AGENCIES = "Agency ids"
CATEGORIES = (
    "case_basic, identity, residence, social_benefits, language, education, work, housing, "
    "family, health*, religion*, ethnicity* (* special: explicit consent needed)"
)
PURPOSES = (
    "referral, case_conference, counselling, employment_support, benefit_processing, "
    "education_support, housing_support, health_support"
)


class OpenCase(CommandPayload):
    """Open a case; a person new to case management is registered."""

    person_id: UUID | None = Field(
        default=None, description="The person's id where another service knows them already"
    )
    given_names: str = personal(description="Held encrypted", max_length=200)
    family_name: str = personal(description="Held encrypted", max_length=200)
    birth_date: date | None = personal(None, description="Held encrypted")
    contact: str | None = personal(None, description="Held encrypted", max_length=300)
    target_group: str = Field(
        description="newly_arrived, tolerated, young_adults, families, eu_citizens, other"
    )
    legal_spheres: list[str] = Field(
        default_factory=list,
        description="sgb_ii, sgb_iii, sgb_viii, sgb_xii, asylblg, aufenthg",
        max_length=6,
    )
    intake_source: str = Field(
        description="self_referral, foreigners_authority, jobcenter, social_services, school, "
        "counselling_service, other"
    )
    interpreter_needed: bool = False


class Need(CommandPayload):
    """A need level per life domain."""

    domain: str = Field(description="residence, language, education, work, housing, health, family")
    level: str = Field(description="none, low, medium, high")


class AssessNeeds(CommandPayload):
    case_id: UUID
    needs: list[Need] = Field(max_length=7)

    def by_domain(self) -> dict[str, str]:
        return {need.domain: need.level for need in self.needs}


class AgreeGoal(CommandPayload):
    case_id: UUID
    domain: str
    description: str = personal(description="Held encrypted", max_length=1000)
    target_date: date


class HoldCaseConference(CommandPayload):
    case_id: UUID
    held_on: date
    participants: list[str] = Field(
        description="Agency ids taking part", min_length=1, max_length=30
    )
    consent_id: UUID | None = Field(
        default=None, description="Needed when other agencies take part"
    )


class ChangeLegalSphere(CommandPayload):
    case_id: UUID
    from_sphere: str | None = None
    to_sphere: str
    effective: date


class CloseCase(CommandPayload):
    case_id: UUID
    reason: str = Field(
        description="goals_reached, handed_over, moved_away, no_contact, declined_by_person, other"
    )


class ReopenCase(CommandPayload):
    """Reopen a closed case, for example when the person comes back."""

    case_id: UUID
    reason: str = Field(description="person_returned, new_need, closed_by_mistake, other")


class GrantConsent(CommandPayload):
    """A consent (Schweigepflichtentbindung) the person signed."""

    case_id: UUID
    recipients: list[str] = Field(
        description="Agency ids allowed to receive", min_length=1, max_length=30
    )
    categories: list[str] = Field(description=CATEGORIES, min_length=1, max_length=12)
    purposes: list[str] = Field(description=PURPOSES, min_length=1, max_length=8)
    special_categories_explicit: bool = False
    valid_until: date
    language: str = Field(default="de", description="Language of the form")
    mutual: bool = False


class WithdrawConsent(CommandPayload):
    consent_id: UUID


class SendReferral(CommandPayload):
    """A referral to a partner agency, relying on a consent."""

    case_id: UUID
    to_agency: str = Field(max_length=200)
    service: str = Field(max_length=200)
    consent_id: UUID
    shared_categories: list[str] = Field(min_length=1, max_length=12)
    purpose: str
    note: str | None = personal(None, description="Held encrypted", max_length=2000)


class AcceptReferral(CommandPayload):
    referral_id: UUID


class DeclineReferral(CommandPayload):
    referral_id: UUID
    reason: str = Field(
        description="no_capacity, not_eligible, person_unreachable, wrong_service, other"
    )


class CompleteReferral(CommandPayload):
    referral_id: UUID
    outcome: str = Field(description="service_provided, person_withdrew, handed_on, other")


class RegisterMediator(CommandPayload):
    """A language and cultural mediator joining the pool."""

    display_name: str = personal(description="Held encrypted", max_length=200)
    languages: list[str] = Field(
        description="Language codes, e.g. ar, fa, uk", min_length=1, max_length=10
    )
    availability: list[str] = Field(
        default_factory=list,
        description="Weekly windows like 'mon 09:00-13:00' (local time)",
        max_length=21,
    )
    pledge_signed_on: date | None = None


class SignMediatorPledge(CommandPayload):
    mediator_id: UUID
    signed_on: date


class RequestMediation(CommandPayload):
    case_id: UUID
    language: str
    starts_at: AwareDatetime = Field(description="With time zone")
    minutes: int = 60


class AssignMediator(CommandPayload):
    request_id: UUID
    mediator_id: UUID


class RecordPrecheckAssessment(CommandPayload):
    """A case manager's own assessment for a pre-check before any naturalisation application.
    It stays in case management: it never reaches the foreigners authority (§ 87 AufenthG)."""

    case_id: UUID
    requirement: str = Field(description="livelihood, no_conviction, commitment")
    outcome: str = Field(description="met, not_met")
    assessed_on: date


class ReportSystemicGap(CommandPayload):
    """A systemic gap, described without personal data."""

    category: str = Field(
        description="access_to_service, waiting_times, missing_offer, language_barrier, "
        "interface_between_authorities, digital_access, other"
    )
    legal_sphere: str | None = None
    description: str = Field(max_length=2000)
    affected_count: int | None = None


_SERVICE = ServiceCommands(SERVICE, CASE_MANAGERS, LEGAL_BASIS, PURPOSE)

COMMANDS = (
    _SERVICE.command(
        "open_case",
        "openCase",
        OpenCase,
        "Open a case (Fallaufnahme)",
        ("case_id", "person_id"),
    ),
    _SERVICE.command(
        "assess_needs", "assessNeeds", AssessNeeds, "Assess needs per life domain", ("case_id",)
    ),
    _SERVICE.command(
        "agree_goal",
        "agreeGoal",
        AgreeGoal,
        "Agree a goal (Zielvereinbarung)",
        ("case_id", "goal_id"),
    ),
    _SERVICE.command(
        "hold_conference",
        "holdCaseConference",
        HoldCaseConference,
        "Record a case conference (Fallkonferenz)",
        ("case_id",),
    ),
    _SERVICE.command(
        "change_legal_sphere",
        "changeLegalSphere",
        ChangeLegalSphere,
        "Record a change of legal sphere (Rechtskreiswechsel)",
        ("case_id",),
    ),
    _SERVICE.command("close_case", "closeCase", CloseCase, "Close a case", ("case_id",)),
    _SERVICE.command(
        "reopen_case",
        "reopenCase",
        ReopenCase,
        "Reopen a closed case (Wiederaufnahme)",
        ("case_id",),
    ),
    _SERVICE.command(
        "grant_consent",
        "grantConsent",
        GrantConsent,
        "Record a consent the person gave",
        ("consent_id", "case_id"),
    ),
    _SERVICE.command(
        "withdraw_consent",
        "withdrawConsent",
        WithdrawConsent,
        "Withdraw a consent: sharing stops at once",
        ("consent_id",),
    ),
    _SERVICE.command(
        "send_referral",
        "sendReferral",
        SendReferral,
        "Refer the person to a partner agency",
        ("referral_id", "case_id"),
    ),
    _SERVICE.command(
        "accept_referral",
        "acceptReferral",
        AcceptReferral,
        "Accept a referral sent to your agency",
        ("referral_id",),
        roles=PARTNERS,
    ),
    _SERVICE.command(
        "decline_referral",
        "declineReferral",
        DeclineReferral,
        "Decline a referral sent to your agency",
        ("referral_id",),
        roles=PARTNERS,
    ),
    _SERVICE.command(
        "complete_referral",
        "completeReferral",
        CompleteReferral,
        "Complete an accepted referral",
        ("referral_id",),
        roles=PARTNERS,
    ),
    _SERVICE.command(
        "register_mediator",
        "registerMediator",
        RegisterMediator,
        "Add a mediator to your agency's pool",
        ("mediator_id",),
    ),
    _SERVICE.command(
        "sign_pledge",
        "signMediatorPledge",
        SignMediatorPledge,
        "Record a mediator's signed confidentiality pledge",
        ("mediator_id",),
    ),
    _SERVICE.command(
        "request_mediation",
        "requestMediation",
        RequestMediation,
        "Request a mediator for an appointment",
        ("request_id",),
        may_return=("mediator_id",),
    ),
    _SERVICE.command(
        "assign_mediator",
        "assignMediator",
        AssignMediator,
        "Assign a mediator to a request",
        ("request_id", "mediator_id"),
    ),
    _SERVICE.command(
        "record_precheck",
        "recordPrecheckAssessment",
        RecordPrecheckAssessment,
        "Record your own pre-check assessment on your case (never sent to the authority)",
        ("case_id",),
    ),
    _SERVICE.command(
        "report_gap",
        "reportSystemicGap",
        ReportSystemicGap,
        "Report a systemic gap to the steering group",
        ("gap_id",),
    ),
)
