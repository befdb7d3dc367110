"""The steering group's read models: gaps with measures, escalations, goals and indicators."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import steering_group as s
from services.runtime.projection_base import NoHooks

NAME = "steering"
SCHEMA = "projections"


class SteeringProjection(NoHooks):
    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, p: Payload) -> None:
        if isinstance(p, s.GapReceived):
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
        elif isinstance(p, s.GapTriaged):
            await conn.execute(
                "UPDATE projections.sg_gaps SET status = 'triaged', priority = $2, owner = $3"
                " WHERE gap_id = $1",
                UUID(p.gap_id),
                p.priority,
                p.owner,
            )
        elif isinstance(p, s.MeasureDecided):
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
        elif isinstance(p, s.MeasureCompleted):
            await conn.execute(
                "UPDATE projections.sg_measures SET completed_on = $2 WHERE measure_id = $1",
                UUID(p.measure_id),
                p.completed_on,
            )
        elif isinstance(p, s.GapClosed):
            await conn.execute(
                "UPDATE projections.sg_gaps SET status = 'closed', resolution = $2"
                " WHERE gap_id = $1",
                UUID(p.gap_id),
                p.resolution,
            )
        elif isinstance(p, s.EscalationReceived):
            await conn.execute(
                "INSERT INTO projections.sg_escalations (escalation_id, conflict_id, district,"
                " to_stage, received_at) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
                UUID(p.escalation_id),
                UUID(p.conflict_id),
                p.district,
                p.to_stage,
                event.time,
            )
        elif isinstance(p, s.EscalationHeard):
            await conn.execute(
                "UPDATE projections.sg_escalations SET decision = $2 WHERE escalation_id = $1",
                UUID(p.escalation_id),
                p.decision,
            )
        elif isinstance(p, s.IntegrationGoalDefined):
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
        elif isinstance(p, s.IndicatorValueRecorded):
            await conn.execute(
                "INSERT INTO projections.sg_indicator_values VALUES ($1,$2,$3,$4)"
                " ON CONFLICT DO NOTHING",
                UUID(p.goal_id),
                p.period,
                p.value,
                event.recordedtime,
            )
