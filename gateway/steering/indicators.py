"""The steering group's indicators: pseudonymised and aggregated (groups < 5 left out)."""

from __future__ import annotations

import datetime as dt

from strawberry.types import Info

from gateway.context import HubContext, HubError, ctx
from gateway.steering.types import (
    MilestoneDuration,
    MilestoneDurations,
    OpenConflictCounts,
    OpenConflicts,
    ReferralStat,
    ReferralStats,
    StageCount,
    StageCounts,
)
from projections.indicators import queries


async def stage_counts(
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


async def milestone_durations(
    info: Info[HubContext, None], by_entry_year: bool = False
) -> MilestoneDurations:
    result = await queries.milestone_durations(ctx(info).pool, by_entry_year=by_entry_year)
    return MilestoneDurations(
        rows=[MilestoneDuration(**r) for r in result.rows],
        suppressed_groups=result.suppressed_groups,
    )


async def open_conflicts(info: Info[HubContext, None]) -> OpenConflictCounts:
    result = await queries.open_conflicts(ctx(info).pool)
    return OpenConflictCounts(
        rows=[OpenConflicts(**r) for r in result.rows],
        suppressed_groups=result.suppressed_groups,
    )


async def referral_stats(info: Info[HubContext, None]) -> ReferralStats:
    result = await queries.referral_stats(ctx(info).pool)
    return ReferralStats(
        rows=[ReferralStat(**r) for r in result.rows],
        suppressed_groups=result.suppressed_groups,
    )
