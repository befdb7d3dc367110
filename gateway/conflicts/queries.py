"""Conflict management's queries: the conflicts the board follows, and one conflict."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from contracts.roles import BOARD
from gateway.conflicts.types import Conflict, Party
from gateway.context import (
    HubContext,
    HubError,
    ctx,
    read_after,
)
from kernel import glasl
from projections.conflicts import queries

CONSUMER = "conflicts"


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
        rows = await queries.conflicts(context.pool, status=status, district=district)
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
        row = await queries.conflict(context.pool, conflict_id)
        return _conflict(row) if row else None
