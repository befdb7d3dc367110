"""Conflict management read models; every event is also a line of the append-only board log."""

from __future__ import annotations

import json
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import conflict_management as c
from services.runtime.projection_base import NoHooks

NAME = "conflicts"
SCHEMA = "projections"


def log_text(p: Payload) -> tuple[str, str]:
    """The log line's kind and text for an event."""
    if isinstance(p, c.ConflictReported):
        return "reported", f"Reported at Glasl stage {p.stage}: {p.description}"
    if isinstance(p, c.ConflictEscalated):
        return "escalated", (
            f"Escalated from stage {p.from_stage} to {p.to_stage}, to the "
            f"{p.to_body.replace('_', ' ')}: {p.reason}"
        )
    if isinstance(p, c.InterventionScheduled):
        return "intervention_scheduled", (
            f"{p.format.title()} scheduled for {p.scheduled_for} with {p.facilitator}"
        )
    if isinstance(p, c.InterventionOutcomeRecorded):
        after = f", stage now {p.stage_after}" if p.stage_after else ""
        return "intervention_outcome", f"Intervention {p.outcome}{after}. {p.note}".strip()
    if isinstance(p, c.ConflictResolved):
        return "resolved", f"Resolved ({p.outcome.replace('_', ' ')}). Lessons: {p.lessons}"
    if isinstance(p, c.ConflictLinkedToGap):
        return "linked_to_gap", f"Linked to systemic gap {p.gap_id}"
    if isinstance(p, c.BoardLogEntryAdded):
        return ("correction" if p.corrects else "note"), p.text
    return "other", ""


class ConflictsProjection(NoHooks):
    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        if isinstance(payload, c.SystemicGapReported):
            return  # the steering group's list holds it
        cid = UUID(getattr(payload, "conflict_id"))  # noqa: B009
        p = payload
        if isinstance(p, c.ConflictReported):
            await conn.execute(
                "INSERT INTO projections.cf_conflicts (conflict_id, kind, district, parties,"
                " stage, status, description, reported_at, reported_by) VALUES"
                " ($1, $2, $3, $4::jsonb, $5, 'open', $6, $7, $8) ON CONFLICT DO NOTHING",
                cid,
                p.kind,
                p.district,
                json.dumps(list(p.parties)),
                p.stage,
                p.description,
                event.time,
                event.sourceagency,
            )
        elif isinstance(p, c.ConflictEscalated):
            await conn.execute(
                "INSERT INTO projections.cf_escalations VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
                " ON CONFLICT DO NOTHING",
                cid,
                event.sourceposition,
                event.time,
                p.from_stage,
                p.to_stage,
                p.to_body,
                p.reason,
                event.sourceagency,
            )
            await conn.execute(
                "UPDATE projections.cf_conflicts SET stage = $2 WHERE conflict_id = $1",
                cid,
                p.to_stage,
            )
        elif isinstance(p, c.InterventionScheduled):
            await conn.execute(
                "INSERT INTO projections.cf_interventions (intervention_id, conflict_id, format,"
                " scheduled_for, facilitator) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
                UUID(p.intervention_id),
                cid,
                p.format,
                p.scheduled_for,
                p.facilitator,
            )
        elif isinstance(p, c.InterventionOutcomeRecorded):
            await conn.execute(
                "UPDATE projections.cf_interventions SET outcome = $2, stage_after = $3,"
                " note = $4 WHERE intervention_id = $1",
                UUID(p.intervention_id),
                p.outcome,
                p.stage_after,
                p.note,
            )
            if p.stage_after is not None:
                await conn.execute(
                    "UPDATE projections.cf_conflicts SET stage = $2 WHERE conflict_id = $1",
                    cid,
                    p.stage_after,
                )
        elif isinstance(p, c.ConflictResolved):
            await conn.execute(
                "UPDATE projections.cf_conflicts SET status = 'resolved', resolved_at = $2,"
                " outcome = $3, lessons = $4 WHERE conflict_id = $1",
                cid,
                event.time,
                p.outcome,
                p.lessons,
            )
        elif isinstance(p, c.ConflictLinkedToGap):
            await conn.execute(
                "UPDATE projections.cf_conflicts SET gaps = array_append(gaps, $2)"
                " WHERE conflict_id = $1 AND NOT $2 = ANY(gaps)",
                cid,
                UUID(p.gap_id),
            )
        kind, text = log_text(p)
        entry = UUID(p.entry_id) if isinstance(p, c.BoardLogEntryAdded) else None
        corrects = UUID(p.corrects) if isinstance(p, c.BoardLogEntryAdded) and p.corrects else None
        await conn.execute(
            "INSERT INTO projections.cf_log VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
            " ON CONFLICT DO NOTHING",
            cid,
            event.sourceposition,
            event.recordedtime,
            event.sourceagency,
            event.actingrole,
            event.actorid,
            kind,
            text,
            entry,
            corrects,
        )
