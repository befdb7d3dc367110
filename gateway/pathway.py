"""A person's path to naturalisation: stage, milestones, readiness under § 10 StAG."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types import Info

from gateway import audit
from gateway.context import HubContext, HubError, ctx, read_after, today
from projections.pathway.queries import pathway_access
from projections.pathway.readiness import PathwayFacts, Period, evaluate
from projections.timeline.visibility import Reader

AUTHORITY = frozenset({"abh_officer", "admin"})
WITH_CONSENT = frozenset({"case_manager", "partner_agency"})
CONSUMER = "pathway"


@strawberry.type(description="A milestone on the path (entry, first title, naturalised, ...)")
class Milestone:
    name: str
    reached_on: dt.date


@strawberry.type(description="One requirement of § 10 StAG: met, not met, or unknown (null)")
class ReadinessRequirement:
    key: str
    met: bool | None
    reason: str


@strawberry.type(description="Naturalisation readiness under the law in force on asOf")
class Readiness:
    as_of: dt.date
    law_version: str
    ready: bool
    counted_residence_days: int
    earliest_residence_date: dt.date | None = strawberry.field(
        description="Earliest date the residence-period requirement is met, on the known path"
    )
    requirements: list[ReadinessRequirement]


@strawberry.type(description="A status period on the path (Gestattung, Duldung, title, ...)")
class StatusPeriod:
    kind: str
    start: dt.date
    end: dt.date | None
    paragraph: str | None


@strawberry.type(description="The person's path to naturalisation")
class Pathway:
    stage: str = strawberry.field(
        description="arrival, status_pending, protected_or_tolerated, titled, permanent, "
        "naturalisation_applied, naturalised, departed or transferred"
    )
    stage_since: dt.date
    entry_date: dt.date | None
    municipality_key: str | None
    milestones: list[Milestone]
    periods: list[StatusPeriod]
    facts: strawberry.Private[PathwayFacts]
    language_withheld: strawberry.Private[bool] = False

    @strawberry.field(
        description="Readiness for naturalisation (§ 10 StAG) on a date, on the facts the "
        "caller may see"
    )
    def readiness(self, as_of: dt.date | None = None) -> Readiness:
        result = evaluate(self.facts, as_of or today())
        return Readiness(
            as_of=result.as_of,
            law_version=result.law_version,
            ready=result.ready,
            counted_residence_days=result.counted_residence_days,
            earliest_residence_date=result.earliest_residence_date,
            requirements=[
                ReadinessRequirement(key=r.key, met=None, reason=WITHHELD)
                if self.language_withheld and r.key == "language"
                else ReadinessRequirement(key=r.key, met=r.met, reason=r.reason)
                for r in result.requirements
            ],
        )


LANGUAGE_MILESTONES = frozenset({"integration_course_completed"})
WITHHELD = "not shown: no consent covers the person's language data for your agency"


async def load_pathway(
    pool: asyncpg.Pool, person: UUID, *, with_language: bool = True
) -> Pathway | None:
    """The person's pathway; without its language facts (integration course, language level)
    unless ``with_language``."""
    row = await pool.fetchrow(
        "SELECT * FROM projections.pathway_persons WHERE person_id = $1", person
    )
    if row is None:
        return None
    periods = await pool.fetch(
        "SELECT kind, start_on, end_on, paragraph FROM projections.pathway_periods"
        " WHERE person_id = $1 ORDER BY start_on, position",
        person,
    )
    milestones = await pool.fetch(
        "SELECT milestone, reached_on FROM projections.pathway_milestones WHERE person_id = $1"
        " ORDER BY reached_on, milestone",
        person,
    )
    facts = PathwayFacts(
        periods=tuple(
            Period(p["kind"], p["start_on"], p["end_on"], p["paragraph"]) for p in periods
        ),
        protection_granted_on=row["protection_granted_on"],
        language_level=row["language_level"] if with_language else None,
        naturalisation_test_passed_on=row["test_passed_on"],
        integration_course_completed_on=row["course_completed_on"] if with_language else None,
        livelihood_secured=row["livelihood_secured"],
        no_relevant_conviction=row["no_relevant_conviction"],
        commitment_declared=row["commitment_declared"],
        eu_or_swiss_citizen=row["eu_or_swiss"],
        departed_on=row["departed_on"],
    )
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


async def pathway_for(
    info: Info[HubContext, None], person: UUID, at_least: str | None
) -> Pathway | None:
    context = ctx(info)
    principal = context.require(AUTHORITY | WITH_CONSENT, "read pathways")
    await read_after(context, at_least, CONSUMER)
    access = await pathway_access(
        context.pool, person, Reader(principal.agency, principal.role, today())
    )
    if not access.residence:
        return None  # absent, not an error: no consent covers residence data for this agency
    found = await load_pathway(context.pool, person, with_language=access.language)
    if found is not None:
        await audit.record_read(
            context.pool,
            principal,
            action="pathway",
            person_id=person,
            purpose="residence_administration",
        )
    return found


@strawberry.type(description="A person at a stage (the foreigners authority's worklist)")
class PersonAtStage:
    person_id: strawberry.ID
    stage: str
    stage_since: dt.date
    municipality_key: str | None
    entry_date: dt.date | None


@strawberry.type
class PersonPage:
    items: list[PersonAtStage]
    next_cursor: str | None = strawberry.field(description="Pass as after for the next page")


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
        await read_after(context, at_least, CONSUMER)
        rows = await context.pool.fetch(
            "SELECT person_id, stage, stage_since, municipality_key, entry_date"
            " FROM projections.pathway_persons WHERE stage = $1 AND person_id > $2"
            " ORDER BY person_id LIMIT $3",
            stage,
            _after(after),
            first + 1,
        )
        page = rows[:first]
        await audit.record_read(
            context.pool,
            principal,
            action="persons_at_stage",
            person_id=None,
            purpose="residence_administration",
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
