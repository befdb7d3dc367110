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
    HubContext,
    HubError,
    ctx,
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
