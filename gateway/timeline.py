"""Person timelines: every service's events about a person, as far as the reader may see."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.types import Info

from contracts.roles import TIMELINE_READERS
from gateway import audit
from gateway.context import HubContext, HubError, ctx, read_after
from gateway.pathway.queries import pathway_for
from gateway.pathway.types import Pathway
from projections.timeline.queries import person_timeline


@strawberry.type(description="One event in a person's process, from any service.")
class TimelineEntry:
    occurred_at: dt.datetime = strawberry.field(description="Business time: when it happened")
    recorded_at: dt.datetime = strawberry.field(description="When the owning service recorded it")
    service: str
    event_type: str
    summary: str = strawberry.field(description="What happened, without personal data")
    trace_id: str | None
    position: int = strawberry.field(description="Position in the owning service's log")
    person_id: strawberry.ID


def entry(row: object, person_id: strawberry.ID | None = None) -> TimelineEntry:
    """The entry of a timeline row (an asyncpg Record); ``person_id``: the row's person id as
    text, when the caller has it already (a person's timeline: the same for every row)."""
    r = row
    return TimelineEntry(
        occurred_at=r["occurred_at"],  # type: ignore[index]
        recorded_at=r["recorded_at"],  # type: ignore[index]
        service=r["source"],  # type: ignore[index]
        event_type=r["event_type"],  # type: ignore[index]
        summary=r["summary"],  # type: ignore[index]
        trace_id=r["trace_id"],  # type: ignore[index]
        position=r["position"],  # type: ignore[index]
        person_id=person_id or strawberry.ID(str(r["person_id"])),  # type: ignore[index]
    )


@strawberry.type(description="A person, known by a pseudonymous id only.")
class Person:
    id: strawberry.ID

    @strawberry.field(
        description="The person's process across services, oldest first: only the events "
        "the caller's role, agency and the person's consents allow for the request's purpose "
        "(Hub-Purpose); without a purpose, only what the caller's agency controls."
    )
    async def timeline(
        self,
        info: Info[HubContext, None],
        at_least: Annotated[
            str | None,
            strawberry.argument(description="A position token from a mutation: read your writes"),
        ] = None,
        limit: int = 500,
    ) -> list[TimelineEntry]:
        context = ctx(info)
        principal = context.require(TIMELINE_READERS, "read person timelines")
        if not 1 <= limit <= 5000:
            raise HubError("limit must be between 1 and 5000", "invalid_input", "limit")
        person_id = UUID(str(self.id))
        await read_after(context, at_least, "timeline")
        rows = await person_timeline(
            context.pool, person_id, context.reader(principal), limit=limit
        )
        await audit.record_read(
            context.pool,
            principal,
            action="timeline",
            person_id=person_id,
            purpose=context.audit_purpose("case_processing"),
            detail=f"{len(rows)} entries",
        )
        person = strawberry.ID(str(person_id))  # every row's: the query asks for this person
        return [entry(r, person) for r in rows]

    @strawberry.field(
        description="The path to naturalisation; absent unless the caller may see residence data"
    )
    async def pathway(
        self, info: Info[HubContext, None], at_least: str | None = None
    ) -> Pathway | None:
        return await pathway_for(info, UUID(str(self.id)), at_least)
