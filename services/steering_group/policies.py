"""What the steering group does when other services report: gaps and escalations arrive."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from nats.js import JetStreamContext

from contracts import CloudEvent, Payload
from contracts import case_management as cm
from contracts import conflict_management as cf
from services.runtime.policy import Execute, PolicyLoop
from services.steering_group.application import SteeringGroup


def on_gap_reported(app: SteeringGroup) -> Any:
    def react(event: CloudEvent, payload: Payload, tracking: Tracking) -> bool:
        assert isinstance(payload, cm.SystemicGapReported)
        return app.receive_gap(
            gap_id=UUID(payload.gap_id),
            origin="case_management",
            category=payload.category,
            legal_sphere=payload.legal_sphere,
            description=payload.description,
            affected_count=payload.affected_count,
            reported_by=payload.agency,
            reported_on=payload.reported_on,
            tracking=tracking,
        )

    return react


def on_board_gap_reported(app: SteeringGroup) -> Any:
    def react(event: CloudEvent, payload: Payload, tracking: Tracking) -> bool:
        assert isinstance(payload, cf.SystemicGapReported)
        return app.receive_gap(
            gap_id=UUID(payload.gap_id),
            origin="conflict_management",
            category=payload.category,
            legal_sphere=None,
            description=payload.description,
            affected_count=None,
            reported_by=event.sourceagency,
            reported_on=payload.reported_on,
            tracking=tracking,
        )

    return react


def on_conflict_escalated(app: SteeringGroup) -> Any:
    def react(event: CloudEvent, payload: Payload, tracking: Tracking) -> bool:
        assert isinstance(payload, cf.ConflictEscalated)
        if payload.to_body != "steering_group":
            return False  # the board or the mayor's office: not ours
        return app.receive_escalation(
            conflict_id=UUID(payload.conflict_id),
            district=payload.district,
            from_stage=payload.from_stage,
            to_stage=payload.to_stage,
            reason=payload.reason,
            tracking=tracking,
        )

    return react


def policies(app: SteeringGroup, js: JetStreamContext, execute: Execute) -> list[PolicyLoop]:
    return [
        PolicyLoop(
            js=js,
            source="case_management",
            event_type="hub.case_management.systemic_gap_reported.v1",
            durable="steering_gaps",
            react=on_gap_reported(app),
            execute=execute,
        ),
        PolicyLoop(
            js=js,
            source="conflict_management",
            event_type="hub.conflict_management.conflict_escalated.v1",
            durable="steering_escalations",
            react=on_conflict_escalated(app),
            execute=execute,
        ),
        PolicyLoop(
            js=js,
            source="conflict_management",
            event_type="hub.conflict_management.systemic_gap_reported.v1",
            durable="steering_board_gaps",
            react=on_board_gap_reported(app),
            execute=execute,
        ),
    ]
