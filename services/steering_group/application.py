"""The steering group's application. Its reactions to other services' events are saved with
their tracking record (source service, position) in one transaction: exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking
from eventsourcing.utils import EnvType

from kernel.clock import today_in_germany
from services.runtime.eventstore import HubApplication
from services.steering_group.domain import Escalation, Gap, Goal, NotAllowed

SERVICE = "steering_group"
_ESCALATIONS = UUID("3e1f6b8a-52c4-4f0e-9d3a-7b5c2e9f1a60")


@dataclass(frozen=True)
class Result:
    position: int
    ids: dict[str, str]


class SteeringGroup(HubApplication):
    """Lenkungsgruppe: gaps, escalations, goals of the integration concept."""

    name = SERVICE

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        vault: Any = None,
        today: Callable[[], date] = today_in_germany,
    ) -> None:
        super().__init__(env)
        self.vault = vault
        self.today = today

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    # -- reactions (policies) --------------------------------------------------------------
    def _save_tracked(self, tracking: Tracking, aggregate: Aggregate) -> bool:
        """Save with the tracking record; False if this event was processed before."""
        processing = ProcessingEvent[UUID](tracking)
        processing.collect_events(aggregate)
        try:
            recordings = self._record(processing)
        except IntegrityError:
            return False
        self._notify(recordings)
        return True

    def receive_gap(
        self,
        *,
        gap_id: UUID,
        origin: str,
        category: str,
        legal_sphere: str | None,
        description: str,
        affected_count: int | None,
        reported_by: str,
        reported_on: date,
        tracking: Tracking,
    ) -> bool:
        gap = Gap(
            id=gap_id,
            origin=origin,
            category=category,
            legal_sphere=legal_sphere,
            description=description,
            affected_count=affected_count,
            reported_by=reported_by,
            reported_on=reported_on,
        )
        return self._save_tracked(tracking, gap)

    def receive_escalation(
        self,
        *,
        conflict_id: UUID,
        district: str,
        from_stage: int,
        to_stage: int,
        reason: str,
        tracking: Tracking,
    ) -> bool:
        escalation = Escalation(
            id=uuid5(_ESCALATIONS, f"{conflict_id}:{tracking.notification_id}"),
            conflict_id=conflict_id,
            district=district,
            from_stage=from_stage,
            to_stage=to_stage,
            reason=reason,
        )
        return self._save_tracked(tracking, escalation)

    # -- commands -------------------------------------------------------------------------
    def _get(self, cls: type[Any], aggregate_id: UUID, field: str, what: str) -> Any:
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotAllowed(f"no {what} {aggregate_id}", field) from None
        if not isinstance(found, cls):
            raise NotAllowed(f"no {what} {aggregate_id}", field)
        return found

    def _save(self, aggregate: Aggregate, **ids: UUID) -> Result:
        recordings = self.save(aggregate)
        return Result(recordings[-1].notification.id, {k: str(v) for k, v in ids.items()})

    def triage_gap(self, *, gap_id: UUID, priority: str, owner: str) -> Result:
        gap: Gap = self._get(Gap, gap_id, "gapId", "gap")
        gap.triage(priority=priority, owner=owner)
        return self._save(gap, gap_id=gap_id)

    def decide_measure(self, *, gap_id: UUID, title: str, owner: str, due: date) -> Result:
        gap: Gap = self._get(Gap, gap_id, "gapId", "gap")
        measure = uuid.uuid4()
        gap.decide_measure(
            measure_id=measure, title=title, owner=owner, due=due, today=self.today()
        )
        return self._save(gap, gap_id=gap_id, measure_id=measure)

    def complete_measure(self, *, gap_id: UUID, measure_id: UUID, completed_on: date) -> Result:
        gap: Gap = self._get(Gap, gap_id, "gapId", "gap")
        gap.complete_measure(measure_id=measure_id, completed_on=completed_on, today=self.today())
        return self._save(gap, gap_id=gap_id, measure_id=measure_id)

    def close_gap(self, *, gap_id: UUID, resolution: str) -> Result:
        gap: Gap = self._get(Gap, gap_id, "gapId", "gap")
        gap.close(resolution=resolution)
        return self._save(gap, gap_id=gap_id)

    def hear_escalation(self, *, escalation_id: UUID, decision: str) -> Result:
        escalation: Escalation = self._get(Escalation, escalation_id, "escalationId", "escalation")
        escalation.hear(decision=decision)
        return self._save(escalation, escalation_id=escalation_id)

    def define_goal(
        self,
        *,
        field_of_action: str,
        goal: str,
        indicator: str,
        unit: str,
        baseline: float,
        target: float,
        due: date,
    ) -> Result:
        defined = Goal.define(
            field_of_action=field_of_action,
            goal=goal,
            indicator=indicator,
            unit=unit,
            baseline=baseline,
            target=target,
            due=due,
            today=self.today(),
        )
        return self._save(defined, goal_id=defined.id)

    def record_indicator_value(self, *, goal_id: UUID, period: str, value: float) -> Result:
        goal: Goal = self._get(Goal, goal_id, "goalId", "goal")
        goal.record_value(period=period, value=value)
        return self._save(goal, goal_id=goal_id)

    def decide_goal_measure(self, *, goal_id: UUID, title: str, owner: str, due: date) -> Result:
        goal: Goal = self._get(Goal, goal_id, "goalId", "goal")
        measure = uuid.uuid4()
        goal.decide_measure(
            measure_id=measure, title=title, owner=owner, due=due, today=self.today()
        )
        return self._save(goal, goal_id=goal_id, measure_id=measure)
