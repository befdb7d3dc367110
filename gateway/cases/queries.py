"""Case management's queries: a case, a caseload, the referral inbox, the mediator calendar."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types import Info

from contracts.roles import CASE_MANAGERS, PARTNERS
from gateway import audit
from gateway.auth import Principal
from gateway.cases.types import (
    Case,
    CaseConference,
    Caseload,
    Consent,
    Goal,
    LegalSphereChange,
    Mediation,
    Mediator,
    MediatorCalendar,
    Need,
    Referral,
    SharedCase,
)
from gateway.context import (
    HubContext,
    HubError,
    ctx,
    read_after,
    today,
)
from projections.case_views import queries

CONSUMER = "case_views"
AtLeast = Annotated[
    str | None, strawberry.argument(description="A position token: read your own writes")
]


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


def _sphere_change(row: Any) -> LegalSphereChange:
    return LegalSphereChange(
        from_sphere=row["from_sphere"],
        to_sphere=row["to_sphere"],
        effective_on=row["effective_on"],
        position=row["position"],
    )


def _conference(row: Any) -> CaseConference:
    return CaseConference(
        held_on=row["held_on"], participants=list(row["participants"]), position=row["position"]
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


async def load_referrals(
    pool: asyncpg.Pool,
    *,
    for_partner: bool,
    case_ids: list[UUID] | None = None,
    to_agency: str | None = None,
    status: str | None = None,
    after_version: int | None = None,
    upto_version: int | None = None,
    purpose: str | None = None,
) -> list[Referral]:
    """Referrals; a partner sees what a referral shares only while its consent covers it and
    names ``purpose``, the purpose of the read (none named: nothing shared)."""
    rows = await queries.referrals(
        pool,
        today(),
        case_ids=case_ids,
        to_agency=to_agency,
        status=status,
        after_version=after_version,
        upto_version=upto_version,
        purpose=purpose,
    )
    goals_by_case: dict[UUID, list[Any]] = {}
    if rows:
        for g in await queries.goals_of_cases(pool, list({r["case_id"] for r in rows})):
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


async def load_cases(
    pool: asyncpg.Pool,
    *,
    case_id: UUID | None = None,
    agency: str | None = None,
    case_manager: str | None = None,
    open_only: bool = False,
) -> list[Case]:
    """Cases (see ``queries.cases``) with their goals, consents, referrals, mediation,
    changes of legal sphere and conferences."""
    cases = await queries.cases(
        pool, case_id=case_id, agency=agency, case_manager=case_manager, open_only=open_only
    )
    if not cases:
        return []
    ids = [c["case_id"] for c in cases]
    goals = await queries.goals_of_cases(pool, ids)
    consents = await queries.consents_of_cases(pool, ids, today())
    mediation = await queries.mediation_of_cases(pool, ids)
    sphere_changes = await queries.sphere_changes_of_cases(pool, ids)
    conferences = await queries.conferences_of_cases(pool, ids)
    referrals = await load_referrals(pool, case_ids=ids, for_partner=False)
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
            legal_sphere_changes=[
                _sphere_change(s) for s in sphere_changes if s["case_id"] == c["case_id"]
            ],
            case_conferences=[_conference(k) for k in conferences if k["case_id"] == c["case_id"]],
            consents=[_consent(k) for k in consents if k["case_id"] == c["case_id"]],
            referrals=[r for r in referrals if r.case_id == str(c["case_id"])],
            mediation=[_mediation(m) for m in mediation if m["case_id"] == c["case_id"]],
        )
        for c in cases
    ]


async def _audit(
    context: HubContext, principal: Principal, action: str, persons: list[str]
) -> None:
    for person in sorted(set(persons)):
        await audit.record_read(
            context.pool,
            principal,
            action=action,
            person_id=UUID(person),
            purpose=context.audit_purpose("case_processing"),
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
            found = await load_cases(context.pool, case_id=case_id)
        else:
            found = await load_cases(
                context.pool,
                case_id=case_id,
                agency=principal.agency,
                case_manager=principal.subject,
            )
        await _audit(context, principal, "case", [c.person_id for c in found])
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
            agency=principal.agency,
            case_manager=principal.subject,
            open_only=not include_closed,
        )
        counts = await queries.case_counts(
            context.pool, agency=principal.agency, case_manager=principal.subject
        )
        await _audit(context, principal, "caseload", [c.person_id for c in cases])
        return Caseload(
            open_cases=counts.open,
            closed_cases=counts.closed,
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
        context.reader(principal)  # notes a missing purpose for the answer
        found = await load_referrals(
            context.pool,
            to_agency=principal.agency,
            status=status,
            for_partner=True,
            purpose=context.purpose,
        )
        await _audit(
            context,
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
        mediators = await queries.mediators_of_agency(context.pool, principal.agency)
        requests = await queries.mediation_of_agency(context.pool, principal.agency, start, end)
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
