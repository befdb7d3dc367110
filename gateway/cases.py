"""KIM case management over GraphQL: cases, consent, referrals, mediation, systemic gaps.

Code lists (target groups, legal spheres, life domains, data categories, purposes, reasons)
are plain strings here; the service validates them and names the field at fault.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types import Info

from gateway import audit
from gateway.auth import Principal
from gateway.context import (
    CommandPayload,
    HubContext,
    HubError,
    body,
    ctx,
    forward,
    read_after,
    today,
)
from projections.case_views import queries

SERVICE = "case_management"
CONSUMER = "case_views"
CASE_MANAGERS = frozenset({"case_manager", "admin"})
PARTNERS = frozenset({"partner_agency", "case_manager", "admin"})
LEGAL_BASIS = "§ 9 TIntG NRW; Art. 6 (1) a, 9 (2) a GDPR"
AtLeast = Annotated[
    str | None, strawberry.argument(description="A position token: read your own writes")
]
SPECIAL = {"health", "religion", "ethnicity"}


# -- types --------------------------------------------------------------------------------


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
    conferences: int
    last_conference: dt.date | None
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


# -- reading ------------------------------------------------------------------------------


def _needs(raw: Any, domains: set[str] | None = None) -> list[Need]:
    needs = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    return [
        Need(domain=d, level=lvl)
        for d, lvl in sorted(needs.items())
        if domains is None or d in domains
    ]


def _consent(row: Any) -> Consent:
    return Consent(
        id=strawberry.ID(str(row["consent_id"])),
        person_id=strawberry.ID(str(row["person_id"])),
        case_id=strawberry.ID(str(row["case_id"])),
        recipients=list(row["recipients"]),
        categories=list(row["categories"]),
        purposes=list(row["purposes"]),
        special_categories_explicit=row["special_explicit"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        language=row["language"],
        mutual=row["mutual"],
        status=row["consent_status"],
        ended_on=row["ended_on"],
    )


def _goal(row: Any) -> Goal:
    return Goal(
        id=strawberry.ID(str(row["goal_id"])), domain=row["domain"], target_date=row["target_date"]
    )


def _mediation(row: Any) -> Mediation:
    return Mediation(
        id=strawberry.ID(str(row["request_id"])),
        case_id=strawberry.ID(str(row["case_id"])),
        language=row["language"],
        starts_at=row["starts_at"],
        minutes=row["minutes"],
        status=row["status"],
        mediator_id=strawberry.ID(str(row["mediator_id"])) if row["mediator_id"] else None,
        reason=row["reason"],
    )


async def _referrals(
    pool: asyncpg.Pool,
    *,
    for_partner: bool,
    case_ids: list[UUID] | None = None,
    to_agency: str | None = None,
    status: str | None = None,
    after_version: int | None = None,
) -> list[Referral]:
    """Referrals; a partner sees what a referral shares only while its consent covers it."""
    rows = await queries.referrals(
        pool,
        today(),
        case_ids=case_ids,
        to_agency=to_agency,
        status=status,
        after_version=after_version,
    )
    goals_by_case: dict[UUID, list[Any]] = {}
    if rows:
        for g in await pool.fetch(
            "SELECT * FROM projections.cv_goals WHERE case_id = ANY($1::uuid[])",
            list({r["case_id"] for r in rows}),
        ):
            goals_by_case.setdefault(g["case_id"], []).append(g)
    out = []
    for r in rows:
        shared: SharedCase | None = None
        if r["shared"] or not for_partner:
            categories = set(r["shared_categories"])
            basic = "case_basic" in categories
            shared = SharedCase(
                target_group=r["target_group"] if basic else None,
                legal_spheres=list(r["legal_spheres"]) if basic else None,
                needs=_needs(r["needs"], categories),
                goals=[
                    _goal(g)
                    for g in goals_by_case.get(r["case_id"], [])
                    if g["domain"] in categories
                ],
            )
        out.append(
            Referral(
                id=strawberry.ID(str(r["referral_id"])),
                case_id=strawberry.ID(str(r["case_id"])),
                person_id=strawberry.ID(str(r["person_id"])),
                from_agency=r["from_agency"],
                to_agency=r["to_agency"],
                service=r["service"],
                purpose=r["purpose"],
                shared_categories=list(r["shared_categories"]),
                status=r["status"],
                sent_at=r["sent_at"],
                answered_at=r["answered_at"],
                decline_reason=r["decline_reason"],
                outcome=r["outcome"],
                consent_status=r["consent_status"],
                shared_case=shared,
            )
        )
    return out


async def load_cases(pool: asyncpg.Pool, where: str, *args: Any) -> list[Case]:
    cases = await pool.fetch(
        f"SELECT * FROM projections.cv_cases WHERE {where} ORDER BY opened_on DESC, case_id",
        *args,
    )
    if not cases:
        return []
    ids = [c["case_id"] for c in cases]
    goals = await pool.fetch(
        "SELECT * FROM projections.cv_goals WHERE case_id = ANY($1::uuid[]) ORDER BY target_date",
        ids,
    )
    consents = await queries.consents_of_cases(pool, ids, today())
    mediation = await pool.fetch(
        "SELECT * FROM projections.cv_mediation WHERE case_id = ANY($1::uuid[]) ORDER BY starts_at",
        ids,
    )
    referrals = await _referrals(pool, case_ids=ids, for_partner=False)
    return [
        Case(
            id=strawberry.ID(str(c["case_id"])),
            person_id=strawberry.ID(str(c["person_id"])),
            agency=c["agency"],
            target_group=c["target_group"],
            legal_spheres=list(c["legal_spheres"]),
            intake_source=c["intake_source"],
            interpreter_needed=c["interpreter_needed"],
            opened_on=c["opened_on"],
            status=c["status"],
            closed_on=c["closed_on"],
            close_reason=c["close_reason"],
            needs=_needs(c["needs"]),
            goals=[_goal(g) for g in goals if g["case_id"] == c["case_id"]],
            conferences=c["conferences"],
            last_conference=c["last_conference"],
            consents=[_consent(k) for k in consents if k["case_id"] == c["case_id"]],
            referrals=[r for r in referrals if r.case_id == str(c["case_id"])],
            mediation=[_mediation(m) for m in mediation if m["case_id"] == c["case_id"]],
        )
        for c in cases
    ]


async def _audit(pool: asyncpg.Pool, principal: Principal, action: str, persons: list[str]) -> None:
    for person in sorted(set(persons)):
        await audit.record_read(
            pool, principal, action=action, person_id=UUID(person), purpose="case_processing"
        )


@strawberry.type
class CaseQueries:
    @strawberry.field(description="A case, for the case manager who owns it")
    async def case(
        self,
        info: Info[HubContext, None],
        id: strawberry.ID,
        at_least: AtLeast = None,
    ) -> Case | None:
        context = ctx(info)
        principal = context.require(CASE_MANAGERS, "read cases")
        try:
            case_id = UUID(str(id))
        except ValueError:
            raise HubError("id is not a case id", "invalid_input", "id") from None
        await read_after(context, at_least, CONSUMER)
        if principal.role == "admin":
            found = await load_cases(context.pool, "case_id = $1", case_id)
        else:
            found = await load_cases(
                context.pool,
                "case_id = $1 AND agency = $2 AND case_manager = $3",
                case_id,
                principal.agency,
                principal.subject,
            )
        await _audit(context.pool, principal, "case", [c.person_id for c in found])
        return found[0] if found else None

    @strawberry.field(description="The caller's caseload (case managers)")
    async def caseload(
        self,
        info: Info[HubContext, None],
        at_least: AtLeast = None,
        include_closed: bool = False,
    ) -> Caseload:
        context = ctx(info)
        principal = context.require(CASE_MANAGERS, "read a caseload")
        await read_after(context, at_least, CONSUMER)
        cases = await load_cases(
            context.pool,
            "agency = $1 AND case_manager = $2"
            + ("" if include_closed else " AND status = 'open'"),
            principal.agency,
            principal.subject,
        )
        counts = await context.pool.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'open') AS open,"
            " count(*) FILTER (WHERE status = 'closed') AS closed"
            " FROM projections.cv_cases WHERE agency = $1 AND case_manager = $2",
            principal.agency,
            principal.subject,
        )
        await _audit(context.pool, principal, "caseload", [c.person_id for c in cases])
        return Caseload(
            open_cases=counts["open"],
            closed_cases=counts["closed"],
            referrals_waiting=sum(1 for c in cases for r in c.referrals if r.status == "sent"),
            unserved_mediation=sum(1 for c in cases for m in c.mediation if m.status == "unserved"),
            cases=cases,
        )

    @strawberry.field(description="Referrals sent to the caller's agency, newest first")
    async def referral_inbox(
        self,
        info: Info[HubContext, None],
        status: str | None = None,
        at_least: AtLeast = None,
    ) -> list[Referral]:
        context = ctx(info)
        principal = context.require(PARTNERS, "read a referral inbox")
        await read_after(context, at_least, CONSUMER)
        found = await _referrals(
            context.pool, to_agency=principal.agency, status=status, for_partner=True
        )
        await _audit(
            context.pool,
            principal,
            "referral_inbox",
            [r.person_id for r in found if r.shared_case is not None],
        )
        return found

    @strawberry.field(description="Mediators of the caller's agency and their bookings")
    async def mediator_calendar(
        self,
        info: Info[HubContext, None],
        from_date: dt.date | None = None,
        to_date: dt.date | None = None,
        at_least: AtLeast = None,
    ) -> MediatorCalendar:
        context = ctx(info)
        principal = context.require(CASE_MANAGERS, "read the mediator calendar")
        await read_after(context, at_least, CONSUMER)
        start = from_date or today()
        end = to_date or start + dt.timedelta(days=28)
        if end < start:
            raise HubError("toDate lies before fromDate", "invalid_input", "toDate")
        mediators = await context.pool.fetch(
            "SELECT m.* FROM projections.cv_mediators m JOIN projections.cv_pools p"
            " ON p.pool_id = m.pool_id WHERE p.agency = $1 ORDER BY m.mediator_id",
            principal.agency,
        )
        requests = await context.pool.fetch(
            "SELECT * FROM projections.cv_mediation WHERE agency = $1"
            " AND starts_at >= $2 AND starts_at < $3 ORDER BY starts_at",
            principal.agency,
            dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC),
        )
        return MediatorCalendar(
            mediators=[
                Mediator(
                    id=strawberry.ID(str(m["mediator_id"])),
                    languages=list(m["languages"]),
                    availability=list(m["availability"]),
                    pledge_signed_on=m["pledge_signed_on"],
                    bookings=[
                        _mediation(r) for r in requests if r["mediator_id"] == m["mediator_id"]
                    ],
                )
                for m in mediators
            ],
            unserved=[_mediation(r) for r in requests if r["status"] == "unserved"],
        )


# -- inputs and mutations -----------------------------------------------------------------


@strawberry.input(description="Open a case; a person new to case management is registered")
class OpenCaseInput:
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="The person's id where another service knows them already"
    )
    given_names: str
    family_name: str
    birth_date: dt.date | None = None
    contact: str | None = None
    target_group: str = strawberry.field(
        description="newly_arrived, tolerated, young_adults, families, eu_citizens, other"
    )
    legal_spheres: list[str] = strawberry.field(
        description="sgb_ii, sgb_iii, sgb_viii, sgb_xii, asylblg, aufenthg"
    )
    intake_source: str = strawberry.field(
        description="self_referral, foreigners_authority, jobcenter, social_services, school, "
        "counselling_service, other"
    )
    interpreter_needed: bool = False


@strawberry.input(description="A need level per life domain")
class NeedInput:
    domain: str = strawberry.field(
        description="residence, language, education, work, housing, health, family"
    )
    level: str = strawberry.field(description="none, low, medium, high")


@strawberry.input
class AssessNeedsInput:
    case_id: strawberry.ID
    needs: list[NeedInput]


@strawberry.input
class AgreeGoalInput:
    case_id: strawberry.ID
    domain: str
    description: str = strawberry.field(description="Held encrypted")
    target_date: dt.date


@strawberry.input
class HoldCaseConferenceInput:
    case_id: strawberry.ID
    held_on: dt.date
    participants: list[str] = strawberry.field(description="Agency ids taking part")
    consent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Needed when other agencies take part"
    )


@strawberry.input
class ChangeLegalSphereInput:
    case_id: strawberry.ID
    from_sphere: str | None = None
    to_sphere: str
    effective: dt.date


@strawberry.input
class CloseCaseInput:
    case_id: strawberry.ID
    reason: str = strawberry.field(
        description="goals_reached, handed_over, moved_away, no_contact, declined_by_person, other"
    )


@strawberry.input(description="A consent (Schweigepflichtentbindung) the person signed")
class GrantConsentInput:
    case_id: strawberry.ID
    recipients: list[str] = strawberry.field(description="Agency ids allowed to receive")
    categories: list[str] = strawberry.field(
        description="case_basic, identity, residence, social_benefits, language, education, "
        "work, housing, family, health*, religion*, ethnicity* (* special: explicit needed)"
    )
    purposes: list[str] = strawberry.field(
        description="referral, case_conference, counselling, employment_support, "
        "benefit_processing, education_support, housing_support, health_support"
    )
    special_categories_explicit: bool = False
    valid_until: dt.date
    language: str = strawberry.field(default="de", description="Language of the form")
    mutual: bool = False


@strawberry.input
class WithdrawConsentInput:
    consent_id: strawberry.ID


@strawberry.input(description="A referral to a partner agency, relying on a consent")
class SendReferralInput:
    case_id: strawberry.ID
    to_agency: str
    service: str
    consent_id: strawberry.ID
    shared_categories: list[str]
    purpose: str
    note: str | None = strawberry.field(default=None, description="Held encrypted")


@strawberry.input
class AcceptReferralInput:
    referral_id: strawberry.ID


@strawberry.input
class DeclineReferralInput:
    referral_id: strawberry.ID
    reason: str = strawberry.field(
        description="no_capacity, not_eligible, person_unreachable, wrong_service, other"
    )


@strawberry.input
class CompleteReferralInput:
    referral_id: strawberry.ID
    outcome: str = strawberry.field(
        description="service_provided, person_withdrew, handed_on, other"
    )


@strawberry.input(description="A language and cultural mediator joining the pool")
class RegisterMediatorInput:
    display_name: str = strawberry.field(description="Held encrypted")
    languages: list[str] = strawberry.field(description="Language codes, e.g. ar, fa, uk")
    availability: list[str] = strawberry.field(
        default_factory=list, description="Weekly windows like 'mon 09:00-13:00' (local time)"
    )
    pledge_signed_on: dt.date | None = None


@strawberry.input
class SignMediatorPledgeInput:
    mediator_id: strawberry.ID
    signed_on: dt.date


@strawberry.input
class RequestMediationInput:
    case_id: strawberry.ID
    language: str
    starts_at: dt.datetime = strawberry.field(description="With time zone")
    minutes: int = 60


@strawberry.input
class AssignMediatorInput:
    request_id: strawberry.ID
    mediator_id: strawberry.ID


@strawberry.input(description="A systemic gap, described without personal data")
class ReportSystemicGapInput:
    category: str = strawberry.field(
        description="access_to_service, waiting_times, missing_offer, language_barrier, "
        "interface_between_authorities, digital_access, other"
    )
    legal_sphere: str | None = None
    description: str
    affected_count: int | None = None


async def _command(
    info: Info[HubContext, None],
    command: str,
    value: Any,
    *,
    roles: frozenset[str] = CASE_MANAGERS,
    payload: dict[str, Any] | None = None,
) -> CommandPayload:
    return await forward(
        info,
        service=SERVICE,
        command=command,
        payload=payload if payload is not None else body(value),
        roles=roles,
        legal_basis=LEGAL_BASIS,
        purpose="case_management",
    )


@strawberry.type
class CaseMutations:
    @strawberry.mutation(description="Open a case (Fallaufnahme)")
    async def open_case(self, info: Info[HubContext, None], input: OpenCaseInput) -> CommandPayload:
        return await _command(info, "open_case", input)

    @strawberry.mutation(description="Assess needs per life domain")
    async def assess_needs(
        self,
        info: Info[HubContext, None],
        input: AssessNeedsInput,
    ) -> CommandPayload:
        payload = {"caseId": str(input.case_id), "needs": {n.domain: n.level for n in input.needs}}
        return await _command(info, "assess_needs", input, payload=payload)

    @strawberry.mutation(description="Agree a goal (Zielvereinbarung)")
    async def agree_goal(
        self, info: Info[HubContext, None], input: AgreeGoalInput
    ) -> CommandPayload:
        return await _command(info, "agree_goal", input)

    @strawberry.mutation(description="Record a case conference (Fallkonferenz)")
    async def hold_case_conference(
        self,
        info: Info[HubContext, None],
        input: HoldCaseConferenceInput,
    ) -> CommandPayload:
        return await _command(info, "hold_conference", input)

    @strawberry.mutation(description="Record a change of legal sphere (Rechtskreiswechsel)")
    async def change_legal_sphere(
        self,
        info: Info[HubContext, None],
        input: ChangeLegalSphereInput,
    ) -> CommandPayload:
        return await _command(info, "change_legal_sphere", input)

    @strawberry.mutation(description="Close a case")
    async def close_case(
        self, info: Info[HubContext, None], input: CloseCaseInput
    ) -> CommandPayload:
        return await _command(info, "close_case", input)

    @strawberry.mutation(description="Record a consent the person gave")
    async def grant_consent(
        self,
        info: Info[HubContext, None],
        input: GrantConsentInput,
    ) -> CommandPayload:
        return await _command(info, "grant_consent", input)

    @strawberry.mutation(description="Withdraw a consent: sharing stops at once")
    async def withdraw_consent(
        self,
        info: Info[HubContext, None],
        input: WithdrawConsentInput,
    ) -> CommandPayload:
        return await _command(info, "withdraw_consent", input)

    @strawberry.mutation(description="Refer the person to a partner agency")
    async def send_referral(
        self,
        info: Info[HubContext, None],
        input: SendReferralInput,
    ) -> CommandPayload:
        return await _command(info, "send_referral", input)

    @strawberry.mutation(description="Accept a referral sent to your agency")
    async def accept_referral(
        self,
        info: Info[HubContext, None],
        input: AcceptReferralInput,
    ) -> CommandPayload:
        return await _command(info, "accept_referral", input, roles=PARTNERS)

    @strawberry.mutation(description="Decline a referral sent to your agency")
    async def decline_referral(
        self,
        info: Info[HubContext, None],
        input: DeclineReferralInput,
    ) -> CommandPayload:
        return await _command(info, "decline_referral", input, roles=PARTNERS)

    @strawberry.mutation(description="Complete an accepted referral")
    async def complete_referral(
        self,
        info: Info[HubContext, None],
        input: CompleteReferralInput,
    ) -> CommandPayload:
        return await _command(info, "complete_referral", input, roles=PARTNERS)

    @strawberry.mutation(description="Add a mediator to your agency's pool")
    async def register_mediator(
        self,
        info: Info[HubContext, None],
        input: RegisterMediatorInput,
    ) -> CommandPayload:
        return await _command(info, "register_mediator", input)

    @strawberry.mutation(description="Record a mediator's signed confidentiality pledge")
    async def sign_mediator_pledge(
        self,
        info: Info[HubContext, None],
        input: SignMediatorPledgeInput,
    ) -> CommandPayload:
        return await _command(info, "sign_pledge", input)

    @strawberry.mutation(description="Request a mediator for an appointment")
    async def request_mediation(
        self,
        info: Info[HubContext, None],
        input: RequestMediationInput,
    ) -> CommandPayload:
        return await _command(info, "request_mediation", input)

    @strawberry.mutation(description="Assign a mediator to a request")
    async def assign_mediator(
        self,
        info: Info[HubContext, None],
        input: AssignMediatorInput,
    ) -> CommandPayload:
        return await _command(info, "assign_mediator", input)

    @strawberry.mutation(description="Report a systemic gap to the steering group")
    async def report_systemic_gap(
        self,
        info: Info[HubContext, None],
        input: ReportSystemicGapInput,
    ) -> CommandPayload:
        return await _command(info, "report_gap", input)
