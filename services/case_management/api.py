"""Case management's command endpoints (NATS request/reply), one body model per command."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.case_management.application import Actor, CaseManagement, Result
from services.runtime.commands import CommandServer, register_table
from services.runtime.context import SYSTEM_CONTEXT, CommandContext

CASE_MANAGERS = frozenset({"case_manager", "admin"})
PARTNERS = frozenset({"partner_agency", "case_manager", "admin"})
EXPIRY_SWEEP_SECONDS = 600.0


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


_Text = Field(max_length=200)
_Agencies = Field(min_length=1, max_length=30)


class OpenCase(Body):
    person_id: UUID | None = None
    given_names: str = _Text
    family_name: str = _Text
    birth_date: date | None = None
    contact: str | None = Field(default=None, max_length=300)
    target_group: str
    legal_spheres: list[str] = Field(default_factory=list, max_length=6)
    intake_source: str
    interpreter_needed: bool = False


class AssessNeeds(Body):
    case_id: UUID
    needs: dict[str, str] = Field(max_length=7)


class AgreeGoal(Body):
    case_id: UUID
    domain: str
    description: str = Field(max_length=1000)
    target_date: date


class HoldConference(Body):
    case_id: UUID
    held_on: date
    participants: list[str] = _Agencies
    consent_id: UUID | None = None


class ChangeLegalSphere(Body):
    case_id: UUID
    from_sphere: str | None = None
    to_sphere: str
    effective: date


class CloseCase(Body):
    case_id: UUID
    reason: str


class GrantConsent(Body):
    case_id: UUID
    recipients: list[str] = _Agencies
    categories: list[str] = Field(min_length=1, max_length=12)
    purposes: list[str] = Field(min_length=1, max_length=8)
    special_categories_explicit: bool = False
    valid_until: date
    language: str = "de"
    mutual: bool = False


class WithdrawConsent(Body):
    consent_id: UUID


class SendReferral(Body):
    case_id: UUID
    to_agency: str = _Text
    service: str = _Text
    consent_id: UUID
    shared_categories: list[str] = Field(min_length=1, max_length=12)
    purpose: str
    note: str | None = Field(default=None, max_length=2000)


class AcceptReferral(Body):
    referral_id: UUID


class DeclineReferral(Body):
    referral_id: UUID
    reason: str


class CompleteReferral(Body):
    referral_id: UUID
    outcome: str


class RegisterMediator(Body):
    display_name: str = _Text
    languages: list[str] = Field(min_length=1, max_length=10)
    availability: list[str] = Field(default_factory=list, max_length=21)
    pledge_signed_on: date | None = None


class SignPledge(Body):
    mediator_id: UUID
    signed_on: date


class RequestMediation(Body):
    case_id: UUID
    language: str
    starts_at: AwareDatetime
    minutes: int = 60


class AssignMediator(Body):
    request_id: UUID
    mediator_id: UUID


class ReportGap(Body):
    category: str
    legal_sphere: str | None = None
    description: str = Field(max_length=2000)
    affected_count: int | None = None


#: command name -> (body model, application method, roles allowed)
COMMANDS: dict[str, tuple[type[Body], str, frozenset[str]]] = {
    "open_case": (OpenCase, "open_case", CASE_MANAGERS),
    "assess_needs": (AssessNeeds, "assess_needs", CASE_MANAGERS),
    "agree_goal": (AgreeGoal, "agree_goal", CASE_MANAGERS),
    "hold_conference": (HoldConference, "hold_conference", CASE_MANAGERS),
    "change_legal_sphere": (ChangeLegalSphere, "change_legal_sphere", CASE_MANAGERS),
    "close_case": (CloseCase, "close_case", CASE_MANAGERS),
    "grant_consent": (GrantConsent, "grant_consent", CASE_MANAGERS),
    "withdraw_consent": (WithdrawConsent, "withdraw_consent", CASE_MANAGERS),
    "send_referral": (SendReferral, "send_referral", CASE_MANAGERS),
    "accept_referral": (AcceptReferral, "accept_referral", PARTNERS),
    "decline_referral": (DeclineReferral, "decline_referral", PARTNERS),
    "complete_referral": (CompleteReferral, "complete_referral", PARTNERS),
    "register_mediator": (RegisterMediator, "register_mediator", CASE_MANAGERS),
    "sign_pledge": (SignPledge, "sign_pledge", CASE_MANAGERS),
    "request_mediation": (RequestMediation, "request_mediation", CASE_MANAGERS),
    "assign_mediator": (AssignMediator, "assign_mediator", CASE_MANAGERS),
    "report_gap": (ReportGap, "report_gap", CASE_MANAGERS),
}


def register_routes(server: CommandServer, app: CaseManagement) -> None:
    def as_actor(method: Any, kwargs: dict[str, Any], context: CommandContext) -> Result:
        actor = Actor(subject=context.subject or "", agency=context.agency, role=context.role)
        result: Result = method(actor, **kwargs)
        return result

    register_table(server, app, COMMANDS, call=as_actor)
    server.schedule(EXPIRY_SWEEP_SECONDS, lambda: app.expire_consents(), SYSTEM_CONTEXT)
