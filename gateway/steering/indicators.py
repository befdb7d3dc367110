"""The steering group's indicators: pseudonymised, aggregated and perturbed by the cell-key
method (published counts below 5 left out; kernel/disclosure.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def _source(info: Info[HubContext, None]) -> tuple[Any, str]:
    """The read models and the cell keys' secret every indicator query takes."""
    context = ctx(info)
    return context.pool, context.settings.indicator_key


async def stage_counts(
    info: Info[HubContext, None],
    by: str = "municipality",
    from_month: dt.date | None = None,
    to_month: dt.date | None = None,
) -> StageCounts:
    if by not in queries.GROUPINGS:
        raise HubError(f"by is one of {', '.join(queries.GROUPINGS)}", "invalid_input", "by")
    pool, key = _source(info)
    result = await queries.stage_counts(
        pool,
        key=key,
        by=by,
        from_month=from_month,
        to_month=to_month,
    )
    return StageCounts(
        rows=[StageCount(**r) for r in result.rows], suppressed_groups=result.suppressed_groups
    )


async def milestone_durations(
    info: Info[HubContext, None], by_entry_year: bool = False
) -> MilestoneDurations:
    pool, key = _source(info)
    result = await queries.milestone_durations(pool, key=key, by_entry_year=by_entry_year)
    return MilestoneDurations(
        rows=[MilestoneDuration(**r) for r in result.rows],
        suppressed_groups=result.suppressed_groups,
    )


async def open_conflicts(info: Info[HubContext, None]) -> OpenConflictCounts:
    pool, key = _source(info)
    result = await queries.open_conflicts(pool, key=key)
    return OpenConflictCounts(
        rows=[OpenConflicts(**r) for r in result.rows],
        suppressed_groups=result.suppressed_groups,
    )


async def referral_stats(info: Info[HubContext, None]) -> ReferralStats:
    pool, key = _source(info)
    result = await queries.referral_stats(pool, key=key)
    return ReferralStats(
        rows=[ReferralStat(**r) for r in result.rows],
        suppressed_groups=result.suppressed_groups,
    )
