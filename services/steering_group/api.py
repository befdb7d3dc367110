"""The steering group's command endpoints (NATS request/reply)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.runtime.commands import CommandServer, register_table
from services.steering_group.application import SteeringGroup

STEERING = frozenset({"steering", "admin"})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class TriageGap(Body):
    gap_id: UUID
    priority: str
    owner: str = Field(max_length=200)


class DecideMeasure(Body):
    gap_id: UUID
    title: str = Field(max_length=300)
    owner: str = Field(max_length=200)
    due: date


class CompleteMeasure(Body):
    gap_id: UUID
    measure_id: UUID
    completed_on: date


class CloseGap(Body):
    gap_id: UUID
    resolution: str = Field(max_length=2000)


class HearEscalation(Body):
    escalation_id: UUID
    decision: str = Field(max_length=2000)


class DefineGoal(Body):
    field_of_action: str
    goal: str = Field(max_length=500)
    indicator: str = Field(max_length=300)
    unit: str = Field(max_length=40)
    baseline: float
    target: float
    due: date


class RecordIndicatorValue(Body):
    goal_id: UUID
    period: str = Field(max_length=10)
    value: float


class DecideGoalMeasure(Body):
    goal_id: UUID
    title: str = Field(max_length=300)
    owner: str = Field(max_length=200)
    due: date


COMMANDS: dict[str, tuple[type[Body], str, frozenset[str]]] = {
    "triage_gap": (TriageGap, "triage_gap", STEERING),
    "decide_measure": (DecideMeasure, "decide_measure", STEERING),
    "complete_measure": (CompleteMeasure, "complete_measure", STEERING),
    "close_gap": (CloseGap, "close_gap", STEERING),
    "hear_escalation": (HearEscalation, "hear_escalation", STEERING),
    "define_goal": (DefineGoal, "define_goal", STEERING),
    "record_indicator_value": (RecordIndicatorValue, "record_indicator_value", STEERING),
    "decide_goal_measure": (DecideGoalMeasure, "decide_goal_measure", STEERING),
}


def register_routes(server: CommandServer, app: SteeringGroup) -> None:
    register_table(server, app, COMMANDS)
