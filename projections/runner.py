"""Runs the projectors: one durable consumer per (projection, source service stream)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from nats.js import JetStreamContext

from contracts import REGISTRY, stream_name
from projections.case_views.projector import NAME as CASE_VIEWS
from projections.case_views.projector import CaseViewsProjection
from projections.case_views.projector import create_tables as create_case_view_tables
from projections.conflicts.projector import NAME as CONFLICTS
from projections.conflicts.projector import ConflictsProjection
from projections.conflicts.projector import create_tables as create_conflict_tables
from projections.pathway.projector import NAME as PATHWAY
from projections.pathway.projector import PathwayProjection
from projections.pathway.projector import create_tables as create_pathway_tables
from projections.steering.projector import NAME as STEERING
from projections.steering.projector import SteeringProjection
from projections.steering.projector import create_tables as create_steering_tables
from projections.timeline.projector import NAME, SCHEMA, TimelineProjection, create_tables
from services.runtime.consumer import ConsumerLoop
from services.runtime.messaging import ensure_service_stream

log = logging.getLogger(__name__)


def source_services() -> list[str]:
    return REGISTRY.services()


async def timeline_consumers(
    js: JetStreamContext, pool: asyncpg.Pool, *, batch_size: int = 500
) -> list[ConsumerLoop]:
    await create_tables(pool)
    loops = []
    for service in source_services():
        await ensure_service_stream(js, service)
        loop = ConsumerLoop(
            js=js,
            pool=pool,
            stream=stream_name(service),
            source=service,
            durable=f"{NAME}_{service}",
            position_name=NAME,
            handler=TimelineProjection(),
            schema=SCHEMA,
            batch_size=batch_size,
        )
        await loop.setup()
        loops.append(loop)
    return loops


async def case_view_consumers(
    js: JetStreamContext, pool: asyncpg.Pool, *, batch_size: int = 500
) -> list[ConsumerLoop]:
    await create_case_view_tables(pool)
    await ensure_service_stream(js, "case_management")
    loop = ConsumerLoop(
        js=js,
        pool=pool,
        stream=stream_name("case_management"),
        source="case_management",
        durable=f"{CASE_VIEWS}_case_management",
        position_name=CASE_VIEWS,
        handler=CaseViewsProjection(),
        schema=SCHEMA,
        batch_size=batch_size,
    )
    await loop.setup()
    return [loop]


async def pathway_consumers(
    js: JetStreamContext, pool: asyncpg.Pool, *, batch_size: int = 500
) -> list[ConsumerLoop]:
    await create_pathway_tables(pool)
    await ensure_service_stream(js, "foreigners_authority")
    loop = ConsumerLoop(
        js=js,
        pool=pool,
        stream=stream_name("foreigners_authority"),
        source="foreigners_authority",
        durable=f"{PATHWAY}_foreigners_authority",
        position_name=PATHWAY,
        handler=PathwayProjection(),
        schema=SCHEMA,
        batch_size=batch_size,
    )
    await loop.setup()
    return [loop]


async def conflict_consumers(
    js: JetStreamContext, pool: asyncpg.Pool, *, batch_size: int = 500
) -> list[ConsumerLoop]:
    await create_conflict_tables(pool)
    await ensure_service_stream(js, "conflict_management")
    loop = ConsumerLoop(
        js=js,
        pool=pool,
        stream=stream_name("conflict_management"),
        source="conflict_management",
        durable=f"{CONFLICTS}_conflict_management",
        position_name=CONFLICTS,
        handler=ConflictsProjection(),
        schema=SCHEMA,
        batch_size=batch_size,
    )
    await loop.setup()
    return [loop]


async def steering_consumers(
    js: JetStreamContext, pool: asyncpg.Pool, *, batch_size: int = 500
) -> list[ConsumerLoop]:
    await create_steering_tables(pool)
    await ensure_service_stream(js, "steering_group")
    loop = ConsumerLoop(
        js=js,
        pool=pool,
        stream=stream_name("steering_group"),
        source="steering_group",
        durable=f"{STEERING}_steering_group",
        position_name=STEERING,
        handler=SteeringProjection(),
        schema=SCHEMA,
        batch_size=batch_size,
    )
    await loop.setup()
    return [loop]


async def all_consumers(js: JetStreamContext, pool: asyncpg.Pool) -> list[ConsumerLoop]:
    return [
        *await steering_consumers(js, pool),
        *await timeline_consumers(js, pool),
        *await case_view_consumers(js, pool),
        *await pathway_consumers(js, pool),
        *await conflict_consumers(js, pool),
    ]


async def run_projectors(js: JetStreamContext, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    loops = await all_consumers(js, pool)
    log.info("projector: timeline following %s; case views", ", ".join(source_services()))
    await asyncio.gather(*(loop.run(stop) for loop in loops))
