"""Conflict management read models; every event is also a line of the append-only board log."""

from __future__ import annotations

import json
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import conflict_management as c
from contracts.privacy import PersonalDataErased, ProcessingRestricted
from services.runtime.projection_base import Dispatch, NoHooks

NAME = "conflicts"
SCHEMA = "projections"

on_event: Dispatch[asyncpg.Connection, None] = Dispatch()


async def _log(
    conn: asyncpg.Connection,
    event: CloudEvent,
    conflict: UUID,
    kind: str,
    text: str,
    *,
    entry: UUID | None = None,
    corrects: UUID | None = None,
) -> None:
    """The event's line of the board log: written last, after the event's own effect."""
    await conn.execute(
        "INSERT INTO projections.cf_log VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT DO NOTHING",
        conflict,
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


@on_event.handles(c.ConflictReported)
async def _reported(conn: asyncpg.Connection, event: CloudEvent, p: c.ConflictReported) -> None:
    cid = UUID(p.conflict_id)
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
    await _log(conn, event, cid, "reported", f"Reported at Glasl stage {p.stage}: {p.description}")


@on_event.handles(c.ConflictEscalated)
async def _escalated(conn: asyncpg.Connection, event: CloudEvent, p: c.ConflictEscalated) -> None:
    cid = UUID(p.conflict_id)
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
    await _log(
        conn,
        event,
        cid,
        "escalated",
        f"Escalated from stage {p.from_stage} to {p.to_stage}, to the "
        f"{p.to_body.replace('_', ' ')}: {p.reason}",
    )


@on_event.handles(c.InterventionScheduled)
async def _scheduled(
    conn: asyncpg.Connection, event: CloudEvent, p: c.InterventionScheduled
) -> None:
    cid = UUID(p.conflict_id)
    await conn.execute(
        "INSERT INTO projections.cf_interventions (intervention_id, conflict_id, format,"
        " scheduled_for, facilitator) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
        UUID(p.intervention_id),
        cid,
        p.format,
        p.scheduled_for,
        p.facilitator,
    )
    await _log(
        conn,
        event,
        cid,
        "intervention_scheduled",
        f"{p.format.title()} scheduled for {p.scheduled_for} with {p.facilitator}",
    )


@on_event.handles(c.InterventionOutcomeRecorded)
async def _outcome(
    conn: asyncpg.Connection, event: CloudEvent, p: c.InterventionOutcomeRecorded
) -> None:
    cid = UUID(p.conflict_id)
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
    after = f", stage now {p.stage_after}" if p.stage_after else ""
    await _log(
        conn,
        event,
        cid,
        "intervention_outcome",
        f"Intervention {p.outcome}{after}. {p.note}".strip(),
    )


@on_event.handles(c.ConflictResolved)
async def _resolved(conn: asyncpg.Connection, event: CloudEvent, p: c.ConflictResolved) -> None:
    cid = UUID(p.conflict_id)
    await conn.execute(
        "UPDATE projections.cf_conflicts SET status = 'resolved', resolved_at = $2,"
        " outcome = $3, lessons = $4 WHERE conflict_id = $1",
        cid,
        event.time,
        p.outcome,
        p.lessons,
    )
    await _log(
        conn,
        event,
        cid,
        "resolved",
        f"Resolved ({p.outcome.replace('_', ' ')}). Lessons: {p.lessons}",
    )


@on_event.handles(c.ConflictLinkedToGap)
async def _linked(conn: asyncpg.Connection, event: CloudEvent, p: c.ConflictLinkedToGap) -> None:
    cid = UUID(p.conflict_id)
    await conn.execute(
        "UPDATE projections.cf_conflicts SET gaps = array_append(gaps, $2)"
        " WHERE conflict_id = $1 AND NOT $2 = ANY(gaps)",
        cid,
        UUID(p.gap_id),
    )
    await _log(conn, event, cid, "linked_to_gap", f"Linked to systemic gap {p.gap_id}")


@on_event.handles(c.BoardLogEntryAdded)
async def _entry(conn: asyncpg.Connection, event: CloudEvent, p: c.BoardLogEntryAdded) -> None:
    await _log(
        conn,
        event,
        UUID(p.conflict_id),
        "correction" if p.corrects else "note",
        p.text,
        entry=UUID(p.entry_id),
        corrects=UUID(p.corrects) if p.corrects else None,
    )


@on_event.handles(c.SystemicGapReported)
async def _gap(conn: asyncpg.Connection, event: CloudEvent, p: c.SystemicGapReported) -> None:
    return None  # the steering group's list holds it


@on_event.handles(PersonalDataErased, ProcessingRestricted)
async def _erased(
    conn: asyncpg.Connection, event: CloudEvent, p: PersonalDataErased | ProcessingRestricted
) -> None:
    return None  # conflicts concern groups and organisations, never a person: nothing to drop


@on_event.handles(Payload)
async def _other(conn: asyncpg.Connection, event: CloudEvent, p: Payload) -> None:
    """Any other event about a conflict is a line of the log, too."""
    await _log(conn, event, UUID(getattr(p, "conflict_id")), "other", "")  # noqa: B009


class ConflictsProjection(NoHooks):
    """Applies conflict-management events to the ``cf_*`` tables and the board log
    (idempotent by their keys)."""

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        await on_event(conn, event, payload)
