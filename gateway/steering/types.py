"""GraphQL types of the steering group's view: indicators, and its agenda (gaps, escalations,
the integration concept's goals)."""

from __future__ import annotations

import datetime as dt

import strawberry

# -- indicators ---------------------------------------------------------------------------


@strawberry.type(description="Persons at a pathway stage within a group (groups < 5 left out)")
class StageCount:
    group: str
    stage: str
    persons: int


@strawberry.type
class StageCounts:
    rows: list[StageCount]
    suppressed_groups: int = strawberry.field(description="Groups of fewer than 5 left out")


@strawberry.type(description="Days between two milestones over persons who reached both")
class MilestoneDuration:
    group: str
    from_milestone: str
    to_milestone: str
    persons: int
    median_days: float
    p90_days: float


@strawberry.type
class MilestoneDurations:
    rows: list[MilestoneDuration]
    suppressed_groups: int


@strawberry.type(description="Referrals to one agency; counts below 5 are suppressed (null)")
class ReferralStat:
    agency: str
    persons: int
    referrals: int
    accepted: int | None
    declined: int | None
    acceptance_rate: float | None
    median_days_to_answer: float | None


@strawberry.type
class ReferralStats:
    rows: list[ReferralStat]
    suppressed_groups: int


@strawberry.type(description="Open conflicts in a district at a Glasl stage (groups < 5 left out)")
class OpenConflicts:
    district: str
    stage: int
    conflicts: int


@strawberry.type
class OpenConflictCounts:
    rows: list[OpenConflicts]
    suppressed_groups: int


# -- the agenda: gaps, escalations, the integration concept --------------------------------


@strawberry.type
class Measure:
    id: strawberry.ID
    title: str
    owner: str
    due: dt.date
    completed_on: dt.date | None


@strawberry.type(description="A systemic gap on the steering group's list")
class SteeringGap:
    id: strawberry.ID
    origin: str
    category: str
    legal_sphere: str | None
    affected_count: int | None = strawberry.field(
        description="As reported; left out when fewer than 5"
    )
    reported_on: dt.date
    status: str
    priority: str | None
    owner: str | None
    resolution: str | None
    measures: list[Measure]


@strawberry.type(description="A conflict escalated to the steering group")
class SteeringEscalation:
    id: strawberry.ID
    conflict_id: strawberry.ID
    district: str
    to_stage: int
    received_at: dt.datetime
    decision: str | None


@strawberry.type
class IndicatorValue:
    period: str
    value: float


@strawberry.type(description="A measurable indicator of a goal, with its values and course")
class Indicator:
    name: str
    unit: str
    baseline: float
    target: float
    due: dt.date
    values: list[IndicatorValue]
    on_track: bool | None


@strawberry.type(description="A goal of the integration concept with its indicator")
class IntegrationGoal:
    id: strawberry.ID
    field_of_action: str
    goal: str
    indicator: str
    unit: str
    baseline: float
    target: float
    defined_on: dt.date
    due: dt.date
    values: list[IndicatorValue]
    on_track: bool | None = strawberry.field(
        description="The latest value against a straight line from baseline to target; "
        "null without values"
    )
    measures: list[Measure]

    @strawberry.field(description="The goal's indicators (one per goal at present)")
    def indicators(self) -> list[Indicator]:
        return [
            Indicator(
                name=self.indicator,
                unit=self.unit,
                baseline=self.baseline,
                target=self.target,
                due=self.due,
                values=self.values,
                on_track=self.on_track,
            )
        ]
