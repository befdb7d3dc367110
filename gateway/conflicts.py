"""Conflict management over GraphQL: the board's conflicts, their log, and its commands."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from gateway.context import (
    HubContext,
    HubError,
    ctx,
    read_after,
)
from kernel import glasl

SERVICE = "conflict_management"
CONSUMER = "conflicts"
BOARD = frozenset({"conflict_board", "admin"})
REPORTERS = frozenset({"conflict_board", "case_manager", "partner_agency", "admin"})


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
        rows = await ctx(info).pool.fetch(
            "SELECT * FROM projections.cf_escalations WHERE conflict_id = $1 ORDER BY position",
            UUID(str(self.id)),
        )
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
        rows = await ctx(info).pool.fetch(
            "SELECT * FROM projections.cf_interventions WHERE conflict_id = $1"
            " ORDER BY scheduled_for",
            UUID(str(self.id)),
        )
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
        rows = await ctx(info).pool.fetch(
            "SELECT * FROM projections.cf_log WHERE conflict_id = $1 ORDER BY position",
            UUID(str(self.id)),
        )
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


def _conflict(r: Any) -> Conflict:
    parties = json.loads(r["parties"]) if isinstance(r["parties"], str) else r["parties"]
    return Conflict(
        id=strawberry.ID(str(r["conflict_id"])),
        kind=r["kind"],
        district=r["district"],
        parties=[Party(type=p["type"], name=p["name"]) for p in parties],
        stage=r["stage"],
        phase=glasl.phase(r["stage"]),
        status=r["status"],
        description=r["description"],
        reported_at=r["reported_at"],
        reported_by=r["reported_by"],
        resolved_at=r["resolved_at"],
        outcome=r["outcome"],
        lessons=r["lessons"],
        gap_ids=[strawberry.ID(str(g)) for g in r["gaps"]],
    )


@strawberry.type
class ConflictQueries:
    @strawberry.field(description="Conflicts the board follows, newest first")
    async def conflicts(
        self,
        info: Info[HubContext, None],
        status: str | None = None,
        district: str | None = None,
        at_least: str | None = None,
    ) -> list[Conflict]:
        context = ctx(info)
        context.require(BOARD, "read conflicts")
        await read_after(context, at_least, CONSUMER)
        rows = await context.pool.fetch(
            "SELECT * FROM projections.cf_conflicts WHERE ($1::text IS NULL OR status = $1)"
            " AND ($2::text IS NULL OR district = $2) ORDER BY reported_at DESC LIMIT 500",
            status,
            district,
        )
        return [_conflict(r) for r in rows]

    @strawberry.field(description="One conflict with its escalations, interventions and log")
    async def conflict(
        self,
        info: Info[HubContext, None],
        id: strawberry.ID,
        at_least: str | None = None,
    ) -> Conflict | None:
        context = ctx(info)
        context.require(BOARD, "read conflicts")
        try:
            conflict_id = UUID(str(id))
        except ValueError:
            raise HubError("id is not a conflict id", "invalid_input", "id") from None
        await read_after(context, at_least, CONSUMER)
        row = await context.pool.fetchrow(
            "SELECT * FROM projections.cf_conflicts WHERE conflict_id = $1", conflict_id
        )
        return _conflict(row) if row else None
