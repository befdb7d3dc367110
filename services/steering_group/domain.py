"""Lenkungsgruppe: systemic gaps to triage, escalations to hear, the integration concept.

The integration concept is fields of action -> goals -> measures; each goal has a measurable
indicator with a baseline and a target by a due date, and values recorded per period show
whether it is on track (the "transparent and measurable" process councils ask for).
"""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from kernel.errors import DomainError as DomainError
from kernel.errors import InvalidValue as InvalidValue
from kernel.errors import NotAllowed as NotAllowed
from kernel.indicators import on_track as on_track

PRIORITIES = ("high", "medium", "low")
PERIOD = re.compile(r"^\d{4}(-(Q[1-4]|0[1-9]|1[0-2]))?$")
FIELDS_OF_ACTION = (
    "language",
    "education",
    "work",
    "housing",
    "health",
    "participation",
    "residence",
    "social_cohesion",
    "administration",
)


def _text(value: str, field: str, low: int = 3, high: int = 2000) -> str:
    text = value.strip()
    if not low <= len(text) <= high:
        raise InvalidValue(f"{field} has {low} to {high} characters", field)
    return text


class Gap(Aggregate):
    """A systemic gap on the steering group's list (from case or conflict management)."""

    class Received(Aggregate.Created):
        origin: str
        category: str
        legal_sphere: str | None
        description: str
        affected_count: int | None
        reported_by: str
        reported_on: date

    class Triaged(Aggregate.Event):
        priority: str
        owner: str

    class MeasureDecided(Aggregate.Event):
        measure_id: UUID
        title: str
        owner: str
        due: date

    class MeasureCompleted(Aggregate.Event):
        measure_id: UUID
        completed_on: date

    class Closed(Aggregate.Event):
        resolution: str

    @event(Received)
    def __init__(
        self,
        *,
        id: UUID,
        origin: str,
        category: str,
        legal_sphere: str | None,
        description: str,
        affected_count: int | None,
        reported_by: str,
        reported_on: date,
    ) -> None:
        self.origin = origin
        self.category = category
        self.status = "new"
        self.priority: str | None = None
        self.measures: dict[UUID, bool] = {}

    def _require_open(self) -> None:
        if self.status == "closed":
            raise NotAllowed("the gap is closed", "gapId")

    def triage(self, *, priority: str, owner: str) -> None:
        self._require_open()
        if priority not in PRIORITIES:
            raise InvalidValue(f"priority is one of {', '.join(PRIORITIES)}", "priority")
        self._triaged(priority=priority, owner=_text(owner, "owner", 2, 200))

    @event(Triaged)
    def _triaged(self, priority: str, owner: str) -> None:
        self.status = "triaged"
        self.priority = priority

    def decide_measure(
        self, *, measure_id: UUID, title: str, owner: str, due: date, today: date
    ) -> None:
        self._require_open()
        if self.status == "new":
            raise NotAllowed("triage the gap before deciding measures", "gapId")
        if due < today:
            raise InvalidValue("the due date has passed", "due")
        self._measure(
            measure_id=measure_id,
            title=_text(title, "title", 3, 300),
            owner=_text(owner, "owner", 2, 200),
            due=due,
        )

    @event(MeasureDecided)
    def _measure(self, measure_id: UUID, title: str, owner: str, due: date) -> None:
        self.measures[measure_id] = False

    def complete_measure(self, *, measure_id: UUID, completed_on: date, today: date) -> None:
        self._require_open()
        if measure_id not in self.measures:
            raise NotAllowed("no such measure for this gap", "measureId")
        if self.measures[measure_id]:
            raise NotAllowed("the measure is already completed", "measureId")
        if completed_on > today:
            raise InvalidValue("the completion lies in the future", "completedOn")
        self._completed(measure_id=measure_id, completed_on=completed_on)

    @event(MeasureCompleted)
    def _completed(self, measure_id: UUID, completed_on: date) -> None:
        self.measures[measure_id] = True

    def close(self, *, resolution: str) -> None:
        self._require_open()
        if self.status == "new":
            raise NotAllowed("triage the gap before closing it", "gapId")
        open_measures = [m for m, done in self.measures.items() if not done]
        if open_measures:
            raise NotAllowed(f"{len(open_measures)} measure(s) are not completed", "gapId")
        self._closed(resolution=_text(resolution, "resolution", 5, 2000))

    @event(Closed)
    def _closed(self, resolution: str) -> None:
        self.status = "closed"


class Escalation(Aggregate):
    """A conflict escalated to the steering group, on its agenda until heard."""

    class Received(Aggregate.Created):
        conflict_id: UUID
        district: str
        from_stage: int
        to_stage: int
        reason: str

    class Heard(Aggregate.Event):
        decision: str

    @event(Received)
    def __init__(
        self,
        *,
        id: UUID,
        conflict_id: UUID,
        district: str,
        from_stage: int,
        to_stage: int,
        reason: str,
    ) -> None:
        self.conflict_id = conflict_id
        self.heard = False

    def hear(self, *, decision: str) -> None:
        if self.heard:
            raise NotAllowed("the escalation was already heard", "escalationId")
        self._heard(decision=_text(decision, "decision", 5, 2000))

    @event(Heard)
    def _heard(self, decision: str) -> None:
        self.heard = True


class Goal(Aggregate):
    """A goal of the integration concept with its indicator (Ziel mit Kennzahl)."""

    class Defined(Aggregate.Created):
        field_of_action: str
        goal: str
        indicator: str
        unit: str
        baseline: float
        target: float
        defined_on: date
        due: date

    class IndicatorValueRecorded(Aggregate.Event):
        period: str
        value: float

    class MeasureDecided(Aggregate.Event):
        measure_id: UUID
        title: str
        owner: str
        due: date

    @event(Defined)
    def __init__(
        self,
        *,
        field_of_action: str,
        goal: str,
        indicator: str,
        unit: str,
        baseline: float,
        target: float,
        defined_on: date,
        due: date,
    ) -> None:
        self.baseline = baseline
        self.target = target
        self.defined_on = defined_on
        self.due = due
        self.values: dict[str, float] = {}

    @classmethod
    def define(
        cls,
        *,
        field_of_action: str,
        goal: str,
        indicator: str,
        unit: str,
        baseline: float,
        target: float,
        due: date,
        today: date,
    ) -> Goal:
        if field_of_action not in FIELDS_OF_ACTION:
            raise InvalidValue(
                f"field of action is one of {', '.join(FIELDS_OF_ACTION)}", "fieldOfAction"
            )
        if target == baseline:
            raise InvalidValue("the target must differ from the baseline", "target")
        if due <= today:
            raise InvalidValue("the due date must lie in the future", "due")
        return cls(
            field_of_action=field_of_action,
            goal=_text(goal, "goal", 5, 500),
            indicator=_text(indicator, "indicator", 3, 300),
            unit=_text(unit, "unit", 1, 40),
            baseline=baseline,
            target=target,
            defined_on=today,
            due=due,
        )

    def record_value(self, *, period: str, value: float) -> None:
        if not PERIOD.match(period):
            raise InvalidValue("a period is like 2026, 2026-Q3 or 2026-09", "period")
        if period in self.values:
            raise NotAllowed(f"a value for {period} is already recorded", "period")
        self._value(period=period, value=value)

    @event(IndicatorValueRecorded)
    def _value(self, period: str, value: float) -> None:
        self.values[period] = value

    def decide_measure(
        self, *, measure_id: UUID, title: str, owner: str, due: date, today: date
    ) -> None:
        if due < today:
            raise InvalidValue("the due date has passed", "due")
        self._measure(
            measure_id=measure_id,
            title=_text(title, "title", 3, 300),
            owner=_text(owner, "owner", 2, 200),
            due=due,
        )

    @event(MeasureDecided)
    def _measure(self, measure_id: UUID, title: str, owner: str, due: date) -> None:
        pass
