"""The steering group's read models: gaps with measures, escalations, goals and indicators."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import steering_group as s
from services.runtime.projection_base import Dispatch, NoHooks

NAME = "steering"
SCHEMA = "projections"

on_event: Dispatch[asyncpg.Connection, None] = Dispatch()


@on_event.handles(s.GapReceived)
async def _gap_received(conn: asyncpg.Connection, event: CloudEvent, p: s.GapReceived) -> None:
    await conn.execute(
        "INSERT INTO projections.sg_gaps (gap_id, origin, category, legal_sphere,"
        " affected_count, reported_on, status) VALUES ($1,$2,$3,$4,$5,$6,'new')"
        " ON CONFLICT DO NOTHING",
        UUID(p.gap_id),
        p.origin,
        p.category,
        p.legal_sphere,
        p.affected_count,
        p.reported_on,
    )


@on_event.handles(s.GapTriaged)
async def _gap_triaged(conn: asyncpg.Connection, event: CloudEvent, p: s.GapTriaged) -> None:
    await conn.execute(
        "UPDATE projections.sg_gaps SET status = 'triaged', priority = $2, owner = $3"
        " WHERE gap_id = $1",
        UUID(p.gap_id),
        p.priority,
        p.owner,
    )


@on_event.handles(s.MeasureDecided)
async def _measure_decided(
    conn: asyncpg.Connection, event: CloudEvent, p: s.MeasureDecided
) -> None:
    await conn.execute(
        "INSERT INTO projections.sg_measures (measure_id, gap_id, goal_id, title, owner,"
        " due) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
        UUID(p.measure_id),
        UUID(p.gap_id) if p.gap_id else None,
        UUID(p.goal_id) if p.goal_id else None,
        p.title,
        p.owner,
        p.due,
    )


@on_event.handles(s.MeasureCompleted)
async def _measure_completed(
    conn: asyncpg.Connection, event: CloudEvent, p: s.MeasureCompleted
) -> None:
    await conn.execute(
        "UPDATE projections.sg_measures SET completed_on = $2 WHERE measure_id = $1",
        UUID(p.measure_id),
        p.completed_on,
    )


@on_event.handles(s.GapClosed)
async def _gap_closed(conn: asyncpg.Connection, event: CloudEvent, p: s.GapClosed) -> None:
    await conn.execute(
        "UPDATE projections.sg_gaps SET status = 'closed', resolution = $2 WHERE gap_id = $1",
        UUID(p.gap_id),
        p.resolution,
    )


@on_event.handles(s.EscalationReceived)
async def _escalation_received(
    conn: asyncpg.Connection, event: CloudEvent, p: s.EscalationReceived
) -> None:
    await conn.execute(
        "INSERT INTO projections.sg_escalations (escalation_id, conflict_id, district,"
        " to_stage, received_at) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
        UUID(p.escalation_id),
        UUID(p.conflict_id),
        p.district,
        p.to_stage,
        event.time,
    )


@on_event.handles(s.EscalationHeard)
async def _escalation_heard(
    conn: asyncpg.Connection, event: CloudEvent, p: s.EscalationHeard
) -> None:
    await conn.execute(
        "UPDATE projections.sg_escalations SET decision = $2 WHERE escalation_id = $1",
        UUID(p.escalation_id),
        p.decision,
    )


@on_event.handles(s.IntegrationGoalDefined)
async def _goal_defined(
    conn: asyncpg.Connection, event: CloudEvent, p: s.IntegrationGoalDefined
) -> None:
    await conn.execute(
        "INSERT INTO projections.sg_goals VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        " ON CONFLICT DO NOTHING",
        UUID(p.goal_id),
        p.field_of_action,
        p.goal,
        p.indicator,
        p.unit,
        p.baseline,
        p.target,
        p.defined_on,
        p.due,
    )


@on_event.handles(s.IndicatorValueRecorded)
async def _indicator_value(
    conn: asyncpg.Connection, event: CloudEvent, p: s.IndicatorValueRecorded
) -> None:
    await conn.execute(
        "INSERT INTO projections.sg_indicator_values VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
        UUID(p.goal_id),
        p.period,
        p.value,
        event.recordedtime,
    )


class SteeringProjection(NoHooks):
    """Applies the steering group's events to the ``sg_*`` tables (idempotent by their keys)."""

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        await on_event(conn, event, payload)
