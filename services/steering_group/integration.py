"""The steering group's domain events -> public contract events."""

from __future__ import annotations

from typing import Any

from contracts import steering_group as c
from services.runtime.outbox import OutgoingEvent
from services.steering_group.domain import Escalation, Gap, Goal


def to_contract(e: Any) -> OutgoingEvent | None:
    aid = str(e.originator_id)
    at = e.timestamp
    if isinstance(e, Gap.Received):
        return OutgoingEvent(
            c.GapReceived(
                gap_id=aid,
                origin=e.origin,
                category=e.category,
                legal_sphere=e.legal_sphere,
                affected_count=e.affected_count,
                reported_on=e.reported_on,
            ),
            at,
        )
    if isinstance(e, Gap.Triaged):
        return OutgoingEvent(c.GapTriaged(gap_id=aid, priority=e.priority, owner=e.owner), at)
    if isinstance(e, Gap.MeasureDecided):
        return OutgoingEvent(
            c.MeasureDecided(
                measure_id=str(e.measure_id), gap_id=aid, title=e.title, owner=e.owner, due=e.due
            ),
            at,
        )
    if isinstance(e, Gap.MeasureCompleted):
        return OutgoingEvent(
            c.MeasureCompleted(
                measure_id=str(e.measure_id), gap_id=aid, completed_on=e.completed_on
            ),
            at,
        )
    if isinstance(e, Gap.Closed):
        return OutgoingEvent(c.GapClosed(gap_id=aid, resolution=e.resolution), at)
    if isinstance(e, Escalation.Received):
        return OutgoingEvent(
            c.EscalationReceived(
                escalation_id=aid,
                conflict_id=str(e.conflict_id),
                district=e.district,
                to_stage=e.to_stage,
            ),
            at,
        )
    if isinstance(e, Escalation.Heard):
        return OutgoingEvent(c.EscalationHeard(escalation_id=aid, decision=e.decision), at)
    if isinstance(e, Goal.Defined):
        return OutgoingEvent(
            c.IntegrationGoalDefined(
                goal_id=aid,
                field_of_action=e.field_of_action,
                goal=e.goal,
                indicator=e.indicator,
                unit=e.unit,
                baseline=e.baseline,
                target=e.target,
                defined_on=e.defined_on,
                due=e.due,
            ),
            at,
        )
    if isinstance(e, Goal.IndicatorValueRecorded):
        return OutgoingEvent(
            c.IndicatorValueRecorded(goal_id=aid, period=e.period, value=e.value), at
        )
    if isinstance(e, Goal.MeasureDecided):
        return OutgoingEvent(
            c.MeasureDecided(
                measure_id=str(e.measure_id), goal_id=aid, title=e.title, owner=e.owner, due=e.due
            ),
            at,
        )
    return None
