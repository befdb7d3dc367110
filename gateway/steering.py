"""The steering group's view (Lenkungsgruppe): pseudonymised, aggregated indicators only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.types import Info

from gateway.context import (
    HubContext,
    HubError,
    ctx,
    read_after,
    today,
)
from kernel.indicators import on_track
from projections.indicators import queries

STEERING = frozenset({"steering", "admin"})


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


@strawberry.type(description="Indicators for the steering group: no person, no case, no file")
class Steering:
    @strawberry.field(description="Persons per stage by municipality, target_group or month")
    async def stage_counts(
        self,
        info: Info[HubContext, None],
        by: str = "municipality",
        from_month: dt.date | None = None,
        to_month: dt.date | None = None,
    ) -> StageCounts:
        if by not in queries.GROUPINGS:
            raise HubError(f"by is one of {', '.join(queries.GROUPINGS)}", "invalid_input", "by")
        result = await queries.stage_counts(
            ctx(info).pool, by=by, from_month=from_month, to_month=to_month
        )
        return StageCounts(
            rows=[StageCount(**r) for r in result.rows], suppressed_groups=result.suppressed_groups
        )

    @strawberry.field(description="Median and 90th percentile days between milestones")
    async def milestone_durations(
        self, info: Info[HubContext, None], by_entry_year: bool = False
    ) -> MilestoneDurations:
        result = await queries.milestone_durations(ctx(info).pool, by_entry_year=by_entry_year)
        return MilestoneDurations(
            rows=[MilestoneDuration(**r) for r in result.rows],
            suppressed_groups=result.suppressed_groups,
        )

    @strawberry.field(description="Systemic gaps, with their measures")
    async def gaps(
        self,
        info: Info[HubContext, None],
        status: str | None = None,
        at_least: str | None = None,
    ) -> list[SteeringGap]:
        await read_after(ctx(info), at_least, "steering")
        return await load_gaps(ctx(info).pool, status)

    @strawberry.field(description="Conflicts escalated to the steering group")
    async def escalations(
        self, info: Info[HubContext, None], at_least: str | None = None
    ) -> list[SteeringEscalation]:
        await read_after(ctx(info), at_least, "steering")
        rows = await ctx(info).pool.fetch(
            "SELECT * FROM projections.sg_escalations ORDER BY received_at DESC"
        )
        return [
            SteeringEscalation(
                id=strawberry.ID(str(r["escalation_id"])),
                conflict_id=strawberry.ID(str(r["conflict_id"])),
                district=r["district"],
                to_stage=r["to_stage"],
                received_at=r["received_at"],
                decision=r["decision"],
            )
            for r in rows
        ]

    @strawberry.field(description="The integration concept: goals, indicators, measures")
    async def goals(
        self, info: Info[HubContext, None], at_least: str | None = None
    ) -> list[IntegrationGoal]:
        await read_after(ctx(info), at_least, "steering")
        return await load_goals(ctx(info).pool)

    @strawberry.field(description="Open conflicts per district and Glasl stage")
    async def open_conflicts(self, info: Info[HubContext, None]) -> OpenConflictCounts:
        result = await queries.open_conflicts(ctx(info).pool)
        return OpenConflictCounts(
            rows=[OpenConflicts(**r) for r in result.rows],
            suppressed_groups=result.suppressed_groups,
        )

    @strawberry.field(description="Referral acceptance and answer times per agency")
    async def referral_stats(self, info: Info[HubContext, None]) -> ReferralStats:
        result = await queries.referral_stats(ctx(info).pool)
        return ReferralStats(
            rows=[ReferralStat(**r) for r in result.rows],
            suppressed_groups=result.suppressed_groups,
        )


@strawberry.type
class SteeringQueries:
    @strawberry.field(description="The steering group's indicators (role steering)")
    def steering(self, info: Info[HubContext, None]) -> Steering:
        ctx(info).require(STEERING, "read the steering indicators")
        return Steering()


# -- the steering group's own work: gaps, escalations, the integration concept -------------


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


def _measure(r: Any) -> Measure:
    return Measure(
        id=strawberry.ID(str(r["measure_id"])),
        title=r["title"],
        owner=r["owner"],
        due=r["due"],
        completed_on=r["completed_on"],
    )


async def load_gaps(pool: Any, status: str | None) -> list[SteeringGap]:
    gaps = await pool.fetch(
        "SELECT * FROM projections.sg_gaps WHERE ($1::text IS NULL OR status = $1)"
        " ORDER BY reported_on DESC",
        status,
    )
    measures = await pool.fetch(
        "SELECT * FROM projections.sg_measures WHERE gap_id IS NOT NULL ORDER BY due"
    )
    return [
        SteeringGap(
            id=strawberry.ID(str(g["gap_id"])),
            origin=g["origin"],
            category=g["category"],
            legal_sphere=g["legal_sphere"],
            affected_count=g["affected_count"]
            if (g["affected_count"] or 0) >= queries.MIN_GROUP
            else None,
            reported_on=g["reported_on"],
            status=g["status"],
            priority=g["priority"],
            owner=g["owner"],
            resolution=g["resolution"],
            measures=[_measure(m) for m in measures if m["gap_id"] == g["gap_id"]],
        )
        for g in gaps
    ]


async def load_goals(pool: Any) -> list[IntegrationGoal]:

    goals = await pool.fetch("SELECT * FROM projections.sg_goals ORDER BY field_of_action, due")
    values = await pool.fetch("SELECT * FROM projections.sg_indicator_values ORDER BY period")
    measures = await pool.fetch(
        "SELECT * FROM projections.sg_measures WHERE goal_id IS NOT NULL ORDER BY due"
    )
    out = []
    for g in goals:
        own = [
            IndicatorValue(period=v["period"], value=v["value"])
            for v in values
            if v["goal_id"] == g["goal_id"]
        ]
        out.append(
            IntegrationGoal(
                id=strawberry.ID(str(g["goal_id"])),
                field_of_action=g["field_of_action"],
                goal=g["goal"],
                indicator=g["indicator"],
                unit=g["unit"],
                baseline=g["baseline"],
                target=g["target"],
                defined_on=g["defined_on"],
                due=g["due"],
                values=own,
                on_track=on_track(
                    baseline=g["baseline"],
                    target=g["target"],
                    defined_on=g["defined_on"],
                    due=g["due"],
                    latest_value=own[-1].value if own else None,
                    today=today(),
                ),
                measures=[_measure(m) for m in measures if m["goal_id"] == g["goal_id"]],
            )
        )
    return out
