"""Commands of the steering group (Lenkungsgruppe): gaps, measures, the integration concept."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from contracts.commands.spec import CommandPayload, ServiceCommands
from contracts.roles import STEERING

SERVICE = "steering_group"
LEGAL_BASIS = "§ 9 TIntG NRW"
PURPOSE = "integration_concept"


class TriageGap(CommandPayload):
    gap_id: UUID
    priority: str = Field(description="high, medium or low")
    owner: str = Field(max_length=200)


class DecideMeasure(CommandPayload):
    gap_id: UUID
    title: str = Field(max_length=300)
    owner: str = Field(max_length=200)
    due: date


class CompleteMeasure(CommandPayload):
    gap_id: UUID
    measure_id: UUID
    completed_on: date


class CloseGap(CommandPayload):
    gap_id: UUID
    resolution: str = Field(max_length=2000)


class HearEscalation(CommandPayload):
    escalation_id: UUID
    decision: str = Field(max_length=2000)


class DefineGoal(CommandPayload):
    """A goal of the integration concept with its indicator."""

    field_of_action: str = Field(
        description="language, education, work, housing, health, participation, residence, "
        "social_cohesion, administration"
    )
    goal: str = Field(max_length=500)
    indicator: str = Field(max_length=300)
    unit: str = Field(max_length=40)
    baseline: float
    target: float
    due: date


class RecordIndicatorValue(CommandPayload):
    goal_id: UUID
    period: str = Field(description="2026, 2026-Q3 or 2026-09", max_length=10)
    value: float


class DecideGoalMeasure(CommandPayload):
    goal_id: UUID
    title: str = Field(max_length=300)
    owner: str = Field(max_length=200)
    due: date


_SERVICE = ServiceCommands(SERVICE, STEERING, LEGAL_BASIS, PURPOSE)

COMMANDS = (
    _SERVICE.command(
        "triage_gap", "triageGap", TriageGap, "Triage a systemic gap (priority, owner)", ("gap_id",)
    ),
    _SERVICE.command(
        "decide_measure",
        "decideMeasure",
        DecideMeasure,
        "Decide a measure for a gap (owner, due date)",
        ("gap_id", "measure_id"),
    ),
    _SERVICE.command(
        "complete_measure",
        "completeMeasure",
        CompleteMeasure,
        "Mark a gap's measure completed",
        ("gap_id", "measure_id"),
    ),
    _SERVICE.command(
        "close_gap",
        "closeGap",
        CloseGap,
        "Close a gap once its measures are completed",
        ("gap_id",),
    ),
    _SERVICE.command(
        "hear_escalation",
        "hearEscalation",
        HearEscalation,
        "Hear an escalated conflict and record the decision",
        ("escalation_id",),
    ),
    _SERVICE.command(
        "define_goal",
        "defineIntegrationGoal",
        DefineGoal,
        "Define a goal of the integration concept",
        ("goal_id",),
    ),
    _SERVICE.command(
        "record_indicator_value",
        "recordIndicatorValue",
        RecordIndicatorValue,
        "Record an indicator value for a period",
        ("goal_id",),
    ),
    _SERVICE.command(
        "decide_goal_measure",
        "decideGoalMeasure",
        DecideGoalMeasure,
        "Decide a measure for a goal",
        ("goal_id", "measure_id"),
    ),
)
