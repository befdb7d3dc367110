"""The pathway's queries: a person's pathway (for the person's timeline field) and the
foreigners authority's worklist of persons at a stage."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types import Info

from contracts.roles import AUTHORITY, WITH_CONSENT, Role
from gateway import audit
from gateway.consistency import BadToken, Position
from gateway.context import HubContext, HubError, ctx, read_after
from gateway.pathway.types import Milestone, Pathway, PersonAtStage, PersonPage, StatusPeriod
from projections.case_views import queries as case_views
from projections.pathway import queries
from projections.pathway.queries import assessor_code
from projections.pathway.readiness import Assessment

CONSUMER = "pathway"
#: a case manager's pre-check assessments are in the case views
PRECHECK_CONSUMER = "case_views"
#: the timeline's side tables (consents, decisions, holders) decide who sees a pathway
VISIBILITY = "timeline"
LANGUAGE_MILESTONES = frozenset({"integration_course_completed"})


async def load_pathway(
    pool: asyncpg.Pool, person: UUID, *, with_language: bool = True
) -> Pathway | None:
    """The person's pathway; without its language facts (integration course, language level)
    unless ``with_language``."""
    row = await queries.person(pool, person)
    if row is None:
        return None
    periods = await queries.periods(pool, person)
    milestones = await queries.milestones(pool, person)
    facts = await queries.facts(pool, row, with_language=with_language)
    return Pathway(
        stage=row["stage"],
        stage_since=row["stage_since"],
        entry_date=row["entry_date"],
        municipality_key=row["municipality_key"],
        milestones=[
            Milestone(name=m["milestone"], reached_on=m["reached_on"])
            for m in milestones
            if with_language or m["milestone"] not in LANGUAGE_MILESTONES
        ],
        periods=[
            StatusPeriod(
                kind=p["kind"], start=p["start_on"], end=p["end_on"], paragraph=p["paragraph"]
            )
            for p in periods
        ],
        facts=facts,
        language_withheld=not with_language,
    )


def _consumers(at_least: str | None) -> tuple[str, ...]:
    """The read models a pathway read waits for: a case-management position (a case manager's
    pre-check assessment) is read by the case views, every other by the pathway."""
    try:
        source = Position.parse(at_least).service if at_least else None
    except BadToken:
        source = None  # read_after refuses it
    if source == "case_management":
        return (PRECHECK_CONSUMER, VISIBILITY)
    return (CONSUMER, VISIBILITY)


async def pathway_for(
    info: Info[HubContext, None], person: UUID, at_least: str | None
) -> Pathway | None:
    context = ctx(info)
    principal = context.require(AUTHORITY | WITH_CONSENT, "read pathways")
    await read_after(context, at_least, *_consumers(at_least))
    access = await queries.pathway_access(context.pool, person, context.reader(principal))
    if not access.residence:
        return None  # absent, not an error: no consent covers residence data for this agency
    found = await load_pathway(context.pool, person, with_language=access.language)
    if found is not None and principal.role == Role.CASE_MANAGER:
        # the case manager's own pre-check assessments, for ``precheck`` only: never for the
        # authority, whose answers use its own records alone (§ 87 AufenthG)
        rows = await case_views.precheck_assessments(context.pool, person, principal.agency)
        found.own_assessments = tuple(
            Assessment(r["requirement"], r["outcome"], r["assessed_on"], assessor_code(r["agency"]))
            for r in rows
        )
    if found is not None:
        await audit.record_read(
            context.pool,
            principal,
            action="pathway",
            person_id=person,
            purpose=context.audit_purpose("residence_administration"),
        )
    return found


def _cursor(person: UUID) -> str:
    return base64.urlsafe_b64encode(person.bytes).rstrip(b"=").decode()


def _after(cursor: str | None) -> UUID:
    if not cursor:
        return UUID(int=0)
    try:
        return UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise HubError("after is not a cursor from this list", "invalid_input", "after") from None


@strawberry.type
class PathwayQueries:
    @strawberry.field(description="Persons at a pathway stage, for the foreigners authority")
    async def persons_at_stage(
        self,
        info: Info[HubContext, None],
        stage: str,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 200")] = 50,
        after: str | None = None,
        at_least: str | None = None,
    ) -> PersonPage:
        context = ctx(info)
        principal = context.require(AUTHORITY, "list persons by stage")
        if not 1 <= first <= 200:
            raise HubError("first must be between 1 and 200", "invalid_input", "first")
        await read_after(context, at_least, CONSUMER, VISIBILITY)
        rows = await queries.persons_at_stage(
            context.pool,
            stage,
            context.reader(principal),
            after=_after(after),
            limit=first + 1,
        )
        page = rows[:first]
        await audit.record_read(
            context.pool,
            principal,
            action="persons_at_stage",
            person_id=None,
            purpose=context.audit_purpose("residence_administration"),
            detail=f"{stage}: {len(page)} persons",
        )
        items: list[Any] = [
            PersonAtStage(
                person_id=strawberry.ID(str(r["person_id"])),
                stage=r["stage"],
                stage_since=r["stage_since"],
                municipality_key=r["municipality_key"],
                entry_date=r["entry_date"],
            )
            for r in page
        ]
        return PersonPage(
            items=items, next_cursor=_cursor(page[-1]["person_id"]) if len(rows) > first else None
        )
