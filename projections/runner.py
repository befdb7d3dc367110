"""Runs the projectors: one durable consumer per (projection, source service stream)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.js import JetStreamContext

from contracts import REGISTRY, stream_name
from projections.case_views import projector as case_views
from projections.conflicts import projector as conflicts
from projections.pathway import projector as pathway
from projections.schema import ensure
from projections.steering import projector as steering
from projections.timeline import projector as timeline
from services.runtime.consumer import ConsumerLoop
from services.runtime.memory import freeze_startup_objects

log = logging.getLogger(__name__)
SCHEMA = timeline.SCHEMA


def source_services() -> list[str]:
    return REGISTRY.services()


@dataclass(frozen=True)
class Projection:
    """A read model: its name, the services it reads and its handler (its tables are in
    its package's ``schema.sql``, see :mod:`projections.schema`)."""

    name: str
    sources: Callable[[], list[str]]
    handler: Callable[[], Any]


PROJECTIONS = (
    Projection(timeline.NAME, source_services, timeline.TimelineProjection),
    Projection(case_views.NAME, lambda: ["case_management"], case_views.CaseViewsProjection),
    Projection(pathway.NAME, lambda: ["foreigners_authority"], pathway.PathwayProjection),
    Projection(conflicts.NAME, lambda: ["conflict_management"], conflicts.ConflictsProjection),
    Projection(steering.NAME, lambda: ["steering_group"], steering.SteeringProjection),
)


def durable_name(projection: Projection, service: str) -> str:
    """The projector's durable consumer for ``projection`` on ``service``'s stream (the
    projector's NATS user may create only these: deploy/nats/hub.conf)."""
    return f"{projection.name}_{service}"


def durable_names() -> list[tuple[str, str]]:
    """Every (stream, durable consumer) the projector runs."""
    return [
        (stream_name(service), durable_name(projection, service))
        for projection in PROJECTIONS
        for service in projection.sources()
    ]


async def consumers_for(
    projection: Projection,
    js: JetStreamContext,
    pool: asyncpg.Pool,
    *,
    batch_size: int = 500,
    linger: float = 0.0,
) -> list[ConsumerLoop]:
    """``projection``'s live loops, one per source stream. ``linger``: seconds a loop waits,
    after the first message that ends an idle wait, for more before applying (0: at once;
    ``HUB_PROJECTOR_LINGER_MS``)."""
    loops = []
    for service in projection.sources():
        loop = ConsumerLoop(
            js=js,
            pool=pool,
            stream=stream_name(service),
            source=service,
            durable=durable_name(projection, service),
            position_name=projection.name,
            handler=projection.handler(),
            schema=SCHEMA,
            batch_size=batch_size,
            linger=linger,
        )
        await loop.setup()
        loops.append(loop)
    return loops


async def all_consumers(
    js: JetStreamContext, pool: asyncpg.Pool, *, linger: float = 0.0
) -> list[ConsumerLoop]:
    await ensure(pool)
    loops: list[ConsumerLoop] = []
    for projection in PROJECTIONS:
        loops += await consumers_for(projection, js, pool, linger=linger)
    return loops


async def run_projectors(
    js: JetStreamContext, pool: asyncpg.Pool, stop: asyncio.Event, *, linger: float = 0.0
) -> None:
    loops = await all_consumers(js, pool, linger=linger)
    log.info("projector: %s", ", ".join(p.name for p in PROJECTIONS))
    freeze_startup_objects("projector")
    await asyncio.gather(*(loop.run(stop) for loop in loops))
