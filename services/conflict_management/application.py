"""Conflict management's application: one command, one conflict."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import EnvType

from services.conflict_management.domain import BoardGap, Conflict, NotAllowed
from services.runtime.eventstore import HubApplication

SERVICE = "conflict_management"


@dataclass(frozen=True)
class Result:
    position: int
    ids: dict[str, str]


class ConflictManagement(HubApplication):
    """Kommunales Konfliktmanagement: event-sourced conflicts and their board log."""

    name = SERVICE

    def __init__(self, env: EnvType | None = None, *, vault: Any = None) -> None:
        super().__init__(env)
        self.vault = vault  # no personal data is kept here; the vault exists for uniformity

    def _conflict(self, conflict_id: UUID) -> Conflict:
        try:
            found: object = self.repository.get(conflict_id)
        except AggregateNotFoundError:
            raise NotAllowed(f"no conflict {conflict_id}", "conflictId") from None
        if not isinstance(found, Conflict):
            raise NotAllowed(f"no conflict {conflict_id}", "conflictId")
        return found

    def _save(self, conflict: Conflict, **ids: UUID) -> Result:
        recordings = self.save(conflict)
        return Result(
            recordings[-1].notification.id,
            {"conflict_id": str(conflict.id), **{k: str(v) for k, v in ids.items()}},
        )

    def report_conflict(
        self,
        *,
        kind: str,
        district: str,
        parties: list[dict[str, str]],
        stage: int,
        description: str,
    ) -> Result:
        conflict = Conflict.report(
            kind=kind, district=district, parties=parties, stage=stage, description=description
        )
        return self._save(conflict)

    def escalate(self, *, conflict_id: UUID, to_stage: int, to_body: str, reason: str) -> Result:
        conflict = self._conflict(conflict_id)
        conflict.escalate(to_stage=to_stage, to_body=to_body, reason=reason)
        return self._save(conflict)

    def schedule_intervention(
        self,
        *,
        conflict_id: UUID,
        format: str,
        scheduled_for: date,
        facilitator: str,
    ) -> Result:
        conflict = self._conflict(conflict_id)
        intervention = uuid.uuid4()
        conflict.schedule_intervention(
            intervention_id=intervention,
            format=format,
            scheduled_for=scheduled_for.isoformat(),
            facilitator=facilitator,
        )
        return self._save(conflict, intervention_id=intervention)

    def record_intervention_outcome(
        self,
        *,
        conflict_id: UUID,
        intervention_id: UUID,
        outcome: str,
        stage_after: int | None,
        note: str,
    ) -> Result:
        conflict = self._conflict(conflict_id)
        conflict.record_intervention_outcome(
            intervention_id=intervention_id, outcome=outcome, stage_after=stage_after, note=note
        )
        return self._save(conflict)

    def resolve(self, *, conflict_id: UUID, outcome: str, lessons: str) -> Result:
        conflict = self._conflict(conflict_id)
        conflict.resolve(outcome=outcome, lessons=lessons)
        return self._save(conflict)

    def link_gap(self, *, conflict_id: UUID, gap_id: UUID) -> Result:
        conflict = self._conflict(conflict_id)
        conflict.link_gap(gap_id=gap_id)
        return self._save(conflict)

    def report_gap(self, *, category: str, description: str, conflict_count: int | None) -> Result:
        gap = BoardGap.report(
            category=category, description=description, conflict_count=conflict_count
        )
        recordings = self.save(gap)
        return Result(recordings[-1].notification.id, {"gap_id": str(gap.id)})

    def add_log_entry(self, *, conflict_id: UUID, text: str, corrects: UUID | None) -> Result:
        conflict = self._conflict(conflict_id)
        entry = uuid.uuid4()
        conflict.add_log_entry(entry_id=entry, text=text, corrects=corrects)
        return self._save(conflict, entry_id=entry)
