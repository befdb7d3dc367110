"""GraphQL types of conflict management: conflicts, their escalations, interventions and log."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import strawberry
from strawberry.types import Info

from gateway.context import HubContext, ctx
from projections.conflicts import queries


@strawberry.type(description="A party: an organisation or a group, never an individual")
class Party:
    type: str
    name: str


@strawberry.type
class Escalation:
    at: dt.datetime
    from_stage: int
    to_stage: int
    to_body: str
    reason: str
    agency: str


@strawberry.type
class Intervention:
    id: strawberry.ID
    format: str
    scheduled_for: dt.date
    facilitator: str
    outcome: str | None
    stage_after: int | None
    note: str | None


@strawberry.type(description="One line of the append-only board log: who, when, what")
class LogEntry:
    position: int
    at: dt.datetime
    agency: str
    role: str
    actor: str | None = strawberry.field(description="Pseudonymous id of who logged it")
    kind: str
    text: str
    entry_id: strawberry.ID | None
    corrects: strawberry.ID | None = strawberry.field(description="The entry this corrects")


@strawberry.type
class Conflict:
    id: strawberry.ID
    kind: str
    district: str
    parties: list[Party]
    stage: int
    phase: str = strawberry.field(
        description="Glasl: win-win (1-3), win-lose (4-6), lose-lose (7-9)"
    )
    status: str
    description: str
    reported_at: dt.datetime
    reported_by: str
    resolved_at: dt.datetime | None
    outcome: str | None
    lessons: str | None
    gap_ids: list[strawberry.ID]

    @strawberry.field
    async def escalations(self, info: Info[HubContext, None]) -> list[Escalation]:
        rows = await queries.escalations(ctx(info).pool, UUID(str(self.id)))
        return [
            Escalation(
                at=r["at"],
                from_stage=r["from_stage"],
                to_stage=r["to_stage"],
                to_body=r["to_body"],
                reason=r["reason"],
                agency=r["agency"],
            )
            for r in rows
        ]

    @strawberry.field
    async def interventions(self, info: Info[HubContext, None]) -> list[Intervention]:
        rows = await queries.interventions(ctx(info).pool, UUID(str(self.id)))
        return [
            Intervention(
                id=strawberry.ID(str(r["intervention_id"])),
                format=r["format"],
                scheduled_for=r["scheduled_for"],
                facilitator=r["facilitator"],
                outcome=r["outcome"],
                stage_after=r["stage_after"],
                note=r["note"],
            )
            for r in rows
        ]

    @strawberry.field
    async def log(self, info: Info[HubContext, None]) -> list[LogEntry]:
        rows = await queries.log(ctx(info).pool, UUID(str(self.id)))
        return [
            LogEntry(
                position=r["position"],
                at=r["at"],
                agency=r["agency"],
                role=r["role"],
                actor=r["actor"],
                kind=r["kind"],
                text=r["text"],
                entry_id=strawberry.ID(str(r["entry_id"])) if r["entry_id"] else None,
                corrects=strawberry.ID(str(r["corrects"])) if r["corrects"] else None,
            )
            for r in rows
        ]
