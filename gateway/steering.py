"""The steering group's view (Lenkungsgruppe): pseudonymised, aggregated indicators only."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from gateway.context import HubContext, HubError, ctx
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
