"""Conflict management's domain events -> public contract events."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts import conflict_management as c
from kernel.clock import date_in_germany, start_of_day_in_germany
from services.conflict_management.domain import BoardGap, Conflict
from services.runtime.outbox import OutgoingEvent


class ConflictMapper:
    """Keeps each conflict's district, which escalation events carry for the steering group."""

    def __init__(self, load: Any) -> None:
        self._load = load
        self._district: dict[Any, str] = {}

    def district(self, conflict_id: Any) -> str:
        if conflict_id not in self._district:
            self._district[conflict_id] = str(self._load(conflict_id).district)
        return self._district[conflict_id]

    def __call__(self, e: Any) -> OutgoingEvent | None:
        cid = str(e.originator_id)
        if isinstance(e, Conflict.Reported):
            self._district[e.originator_id] = e.district
            return OutgoingEvent(
                c.ConflictReported(
                    conflict_id=cid,
                    kind=e.kind,
                    district=e.district,
                    parties=tuple(dict(p) for p in e.parties),
                    stage=e.stage,
                    description=e.description,
                ),
                e.timestamp,
            )
        if isinstance(e, Conflict.Escalated):
            return OutgoingEvent(
                c.ConflictEscalated(
                    conflict_id=cid,
                    district=self.district(e.originator_id),
                    from_stage=e.from_stage,
                    to_stage=e.to_stage,
                    to_body=e.to_body,
                    reason=e.reason,
                ),
                e.timestamp,
            )
        if isinstance(e, Conflict.InterventionScheduled):
            day = date.fromisoformat(e.scheduled_for)
            return OutgoingEvent(
                c.InterventionScheduled(
                    conflict_id=cid,
                    intervention_id=str(e.intervention_id),
                    format=e.format,
                    scheduled_for=day,
                    facilitator=e.facilitator,
                ),
                start_of_day_in_germany(day),
            )
        if isinstance(e, Conflict.InterventionOutcomeRecorded):
            return OutgoingEvent(
                c.InterventionOutcomeRecorded(
                    conflict_id=cid,
                    intervention_id=str(e.intervention_id),
                    outcome=e.outcome,
                    stage_after=e.stage_after,
                    note=e.note,
                ),
                e.timestamp,
            )
        if isinstance(e, Conflict.Resolved):
            return OutgoingEvent(
                c.ConflictResolved(conflict_id=cid, outcome=e.outcome, lessons=e.lessons),
                e.timestamp,
            )
        if isinstance(e, Conflict.LinkedToGap):
            return OutgoingEvent(
                c.ConflictLinkedToGap(conflict_id=cid, gap_id=str(e.gap_id)), e.timestamp
            )
        if isinstance(e, BoardGap.Reported):
            return OutgoingEvent(
                c.SystemicGapReported(
                    gap_id=cid,
                    category=e.category,
                    description=e.description,
                    conflict_count=e.conflict_count,
                    reported_on=date_in_germany(e.timestamp),
                ),
                e.timestamp,
            )
        if isinstance(e, Conflict.LogEntryAdded):
            return OutgoingEvent(
                c.BoardLogEntryAdded(
                    conflict_id=cid,
                    entry_id=str(e.entry_id),
                    text=e.text,
                    corrects=str(e.corrects) if e.corrects else None,
                ),
                e.timestamp,
            )
        return None
