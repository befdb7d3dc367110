"""The steering group's agenda: systemic gaps with their measures, escalated conflicts, and
the integration concept's goals with their indicators and measures."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from gateway.context import HubContext, ctx, read_after, today
from gateway.steering.types import (
    IndicatorValue,
    IntegrationGoal,
    Measure,
    SteeringEscalation,
    SteeringGap,
)
from kernel.indicators import on_track
from projections.indicators.queries import MIN_GROUP
from projections.steering import queries

CONSUMER = "steering"


async def gaps(
    info: Info[HubContext, None],
    status: str | None = None,
    at_least: str | None = None,
) -> list[SteeringGap]:
    await read_after(ctx(info), at_least, CONSUMER)
    return await load_gaps(ctx(info).pool, status)


async def escalations(
    info: Info[HubContext, None], at_least: str | None = None
) -> list[SteeringEscalation]:
    await read_after(ctx(info), at_least, CONSUMER)
    rows = await queries.escalations(ctx(info).pool)
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


async def goals(info: Info[HubContext, None], at_least: str | None = None) -> list[IntegrationGoal]:
    await read_after(ctx(info), at_least, CONSUMER)
    return await load_goals(ctx(info).pool)


def _measure(r: Any) -> Measure:
    return Measure(
        id=strawberry.ID(str(r["measure_id"])),
        title=r["title"],
        owner=r["owner"],
        due=r["due"],
        completed_on=r["completed_on"],
    )


async def load_gaps(pool: queries.Fetch, status: str | None) -> list[SteeringGap]:
    gaps = await queries.gaps(pool, status)
    measures = await queries.gap_measures(pool)
    return [
        SteeringGap(
            id=strawberry.ID(str(g["gap_id"])),
            origin=g["origin"],
            category=g["category"],
            legal_sphere=g["legal_sphere"],
            affected_count=g["affected_count"] if (g["affected_count"] or 0) >= MIN_GROUP else None,
            reported_on=g["reported_on"],
            status=g["status"],
            priority=g["priority"],
            owner=g["owner"],
            resolution=g["resolution"],
            measures=[_measure(m) for m in measures if m["gap_id"] == g["gap_id"]],
        )
        for g in gaps
    ]


async def load_goals(pool: queries.Fetch) -> list[IntegrationGoal]:
    goals = await queries.goals(pool)
    values = await queries.indicator_values(pool)
    measures = await queries.goal_measures(pool)
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
