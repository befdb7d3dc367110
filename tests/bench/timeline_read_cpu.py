"""CPU per timeline read in the gateway's own code (in process, over ASGI: no uvicorn, no
sockets to the client), for each way of completing the answer, interleaved on the same data:
graphql-core's ordinary execution, plain objects completed one by one, and lists of plain
objects completed in one loop (gateway/execution.py). Checks that all three answer the same
bytes. The timeline is the one of ``hub bench reads`` (a person with 50 events, on a throwaway
embedded PostgreSQL and NATS).

    .venv/bin/python -m tests.bench.timeline_read_cpu --rounds 10

The CPU is this process's (``time.process_time``), the httpx client's share included, so
the differences between the rows are the figure to read, not the rows themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import asyncpg
import httpx
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.execution import PlainObjectsExecutionContext
from hub import bench_reads


class ItemByItem(PlainObjectsExecutionContext):
    """Plain objects completed directly, but a list item by item (graphql-core's loop)."""

    complete_iterable_value = StrawberryGraphQLCoreExecutionContext.complete_iterable_value


VARIANTS: dict[str, type[Any]] = {
    "graphql-core's ordinary execution": StrawberryGraphQLCoreExecutionContext,
    "plain objects, one by one": ItemByItem,
    "lists of plain objects in one loop": PlainObjectsExecutionContext,
}


async def measure(bench: bench_reads.Bench, rounds: int, batch: int) -> None:
    from gateway import schema as schema_module
    from gateway.app import GatewayResources, create_app
    from services.runtime.messaging import close, connect

    await bench_reads.grow(bench, bench_reads.SMALL)
    await bench_reads.rebuild_all(bench)
    settings = bench.settings.model_copy(update={"retention_every_hours": 0})
    nc = await connect(settings, "bench-timeline-cpu", user="gateway")
    pool = await asyncpg.create_pool(bench.db_url, min_size=4, max_size=16)
    served = schema_module.schema
    original = served.execution_context_class
    app = create_app(settings, GatewayResources(pool=pool, nc=nc, url=bench.db_url))
    token = bench.token("abh_officer", bench_reads.AGENCY)
    body = {"query": bench_reads.TIMELINE, "variables": {"id": bench.target}}
    headers = {"Authorization": f"Bearer {token}"}
    cpu = dict.fromkeys(VARIANTS, 0.0)
    reads = dict.fromkeys(VARIANTS, 0)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
            ) as client,
        ):

            async def read_many(n: int) -> None:
                await asyncio.gather(
                    *(client.post("/graphql", json=body, headers=headers) for _ in range(n))
                )

            answers = set()
            for context in VARIANTS.values():
                served.execution_context_class = context
                answer = await client.post("/graphql", json=body, headers=headers)
                answers.add(answer.content)
                await read_many(batch)  # warm-up
            if len(answers) != 1:
                raise RuntimeError("the variants answered different bytes")
            for _ in range(rounds):
                for name, context in VARIANTS.items():
                    served.execution_context_class = context
                    began = time.process_time()
                    await read_many(batch)
                    cpu[name] += time.process_time() - began
                    reads[name] += batch
    finally:
        served.execution_context_class = original
        await pool.close()
        await close(nc)
    print(
        f"\ntimeline of {bench_reads.PERSON_EVENTS} entries, {len(next(iter(answers))):,} bytes,"
        f" the same in every variant; {batch} reads at once, {rounds} rounds interleaved"
    )
    for name in VARIANTS:
        each = cpu[name] / reads[name] * 1000
        print(f"  {name:40} {each:6.3f} ms CPU per read ({reads[name]:,} reads)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    bench = bench_reads.start(with_gateway=False)
    try:
        asyncio.run(measure(bench, args.rounds, args.batch))
    finally:
        bench_reads.stop(bench, keep=False)


if __name__ == "__main__":
    main()
