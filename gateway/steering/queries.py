"""The steering group's queries: one ``steering`` field, for the steering role, whose fields
are its indicators (gateway.steering.indicators) and its agenda (gateway.steering.agenda)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from contracts.roles import STEERING
from gateway.context import HubContext, ctx
from gateway.steering import agenda, indicators


@strawberry.type(description="Indicators for the steering group: no person, no case, no file")
class Steering:
    # the schema's field order, indicators and agenda interleaved as they always were
    stage_counts = strawberry.field(
        resolver=indicators.stage_counts,
        description="Persons per stage by municipality, target_group or month",
    )
    milestone_durations = strawberry.field(
        resolver=indicators.milestone_durations,
        description="Median and 90th percentile days between milestones",
    )
    gaps = strawberry.field(resolver=agenda.gaps, description="Systemic gaps, with their measures")
    escalations = strawberry.field(
        resolver=agenda.escalations, description="Conflicts escalated to the steering group"
    )
    goals = strawberry.field(
        resolver=agenda.goals, description="The integration concept: goals, indicators, measures"
    )
    open_conflicts = strawberry.field(
        resolver=indicators.open_conflicts,
        description="Open conflicts per district and Glasl stage",
    )
    referral_stats = strawberry.field(
        resolver=indicators.referral_stats,
        description="Referral acceptance and answer times per agency",
    )


@strawberry.type
class SteeringQueries:
    @strawberry.field(description="The steering group's indicators (role steering)")
    def steering(self, info: Info[HubContext, None]) -> Steering:
        ctx(info).require(STEERING, "read the steering indicators")
        return Steering()
