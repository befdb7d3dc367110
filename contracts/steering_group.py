"""Version 1 event payloads published by ``steering_group`` (Lenkungsgruppe). Aggregated and
pseudonymous by nature: no event of the steering group concerns a person."""

from __future__ import annotations

from datetime import date

from contracts.registry import Payload, contract

SERVICE = "steering_group"


@contract(SERVICE, "gap_received")
class GapReceived(Payload):
    """A systemic gap arrived on the steering group's list."""

    gap_id: str
    origin: str
    category: str
    legal_sphere: str | None = None
    affected_count: int | None = None
    reported_on: date


@contract(SERVICE, "gap_triaged")
class GapTriaged(Payload):
    """The steering group set a gap's priority and owner."""

    gap_id: str
    priority: str
    owner: str


@contract(SERVICE, "measure_decided")
class MeasureDecided(Payload):
    """A measure was decided, with owner and due date, for a gap or a goal."""

    measure_id: str
    gap_id: str | None = None
    goal_id: str | None = None
    title: str
    owner: str
    due: date


@contract(SERVICE, "measure_completed")
class MeasureCompleted(Payload):
    """A measure was completed."""

    measure_id: str
    gap_id: str | None = None
    completed_on: date


@contract(SERVICE, "gap_closed")
class GapClosed(Payload):
    """A gap was closed."""

    gap_id: str
    resolution: str


@contract(SERVICE, "escalation_received")
class EscalationReceived(Payload):
    """A conflict escalated to the steering group is on its agenda."""

    escalation_id: str
    conflict_id: str
    district: str
    to_stage: int


@contract(SERVICE, "escalation_heard")
class EscalationHeard(Payload):
    """The steering group heard an escalation and decided."""

    escalation_id: str
    decision: str


@contract(SERVICE, "integration_goal_defined")
class IntegrationGoalDefined(Payload):
    """A goal of the integration concept, with its indicator, baseline, target and due date."""

    goal_id: str
    field_of_action: str
    goal: str
    indicator: str
    unit: str
    baseline: float
    target: float
    defined_on: date
    due: date


@contract(SERVICE, "indicator_value_recorded")
class IndicatorValueRecorded(Payload):
    """A value of a goal's indicator for a period (2026, 2026-Q3, 2026-09)."""

    goal_id: str
    period: str
    value: float
