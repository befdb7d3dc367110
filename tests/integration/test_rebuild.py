"""Rebuilding any read model beside the live one while events keep coming in: the result equals
the live model, and a reader never sees it empty or partial during the switch."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from contracts import stream_name
from projections.rebuild import rebuild, shadow_ddl, tables
from projections.runner import PROJECTIONS
from tests.helpers import arrival_input
from tests.integration.case_flow import CASE_MANAGER, consent_for_awo, ok, open_case, refer_to_awo
from tests.integration.conftest import InProcessHub, settle
from tests.integration.test_conflicts_gateway import BOARD, ESCALATE, report
from tests.integration.test_gateway import REGISTER
from tests.integration.test_steering_flow import GAP

NAMES = [projection.name for projection in PROJECTIONS]


async def produce(hub: InProcessHub) -> None:
    """One round of events on every stream: an arrival (foreigners authority), a case with a
    consent and a referral (case management), a conflict escalated (conflict management) and
    a gap that the steering group's policy takes over (steering group)."""
    body = await hub.graphql(REGISTER, {"input": arrival_input()})
    assert "errors" not in body, body
    case_id = (await open_case(hub))["caseId"]
    consent = await consent_for_awo(hub, case_id)
    await refer_to_awo(hub, case_id, consent["consentId"])
    conflict = (await report(hub))["conflictId"]
    await ok(
        hub,
        ESCALATE,
        {
            "input": {
                "conflictId": conflict,
                "toStage": 6,
                "toBody": "steering_group",
                "reason": "Die Lage spitzt sich zu.",
            }
        },
        BOARD,
    )
    await ok(
        hub,
        GAP,
        {
            "input": {
                "category": "waiting_times",
                "legalSphere": "sgb_ii",
                "description": "Wartezeiten auf Kurse.",
                "affectedCount": 7,
            }
        },
        CASE_MANAGER,
    )


async def stored(hub: InProcessHub) -> int:
    """Events on all streams."""
    total = 0
    for service in {s for p in PROJECTIONS for s in p.sources()}:
        total += (await hub.js.stream_info(stream_name(service))).state.last_seq
    return total


async def snapshot(hub: InProcessHub, name: str) -> dict[str, list[str]]:
    """Every row of the projection's tables, as sorted text."""
    return {
        table: sorted(
            repr(tuple(row)) for row in await hub.pool.fetch(f"SELECT * FROM projections.{table}")
        )
        for table in tables(name)
    }


async def counts(hub: InProcessHub, name: str) -> tuple[int, ...]:
    """The row counts of every table of the projection, read in one statement (one snapshot)."""
    parts = ", ".join(f"(SELECT count(*) FROM projections.{t})" for t in tables(name))
    row = await hub.pool.fetchrow(f"SELECT {parts}")
    assert row is not None
    return tuple(int(value) for value in row)


def test_every_read_model_has_shadow_tables_with_their_own_names() -> None:
    for name in NAMES:
        ddl = shadow_ddl(name)
        for table in tables(name):
            assert f"projections.{table}_rebuild " in ddl or f"projections.{table}_rebuild\n" in ddl
            assert f"projections.{table} " not in ddl
        assert "INDEX IF NOT EXISTS" not in ddl or "_idx_rebuild" in ddl


@pytest.mark.parametrize("name", NAMES)
async def test_a_rebuild_while_events_keep_coming_equals_the_live_model(
    hub: InProcessHub, name: str
) -> None:
    # Given a live read model with some history, of which some rows were lost
    for _ in range(3):
        await produce(hub)
    await settle(hub)
    before = await snapshot(hub, name)
    assert any(before.values()), before
    first = tables(name)[0]
    await hub.pool.execute(
        f"DELETE FROM projections.{first} WHERE ctid IN"
        f" (SELECT ctid FROM projections.{first} LIMIT 1)"
    )

    # When it is rebuilt while events keep coming in and a reader keeps counting its rows
    seen: list[tuple[int, ...]] = []
    stop = asyncio.Event()

    async def read() -> None:
        while not stop.is_set():
            seen.append(await counts(hub, name))
            await asyncio.sleep(0)

    async def write() -> None:
        for _ in range(3):
            await produce(hub)

    reader = asyncio.create_task(read())
    writer = asyncio.create_task(write())
    started = await stored(hub)
    report = await rebuild(hub.js, hub.pool, name, batch_size=7)
    assert await stored(hub) > started  # events did come in while it rebuilt
    await writer
    stop.set()
    await reader
    await settle(hub)

    # Then the lost rows are back, nothing was lost or doubled, and the live model equals a
    # replay from scratch of everything
    after = await snapshot(hub, name)
    for table, rows in before.items():
        assert set(rows) <= set(after[table]), table
    assert report.projection == name
    await rebuild(hub.js, hub.pool, name)
    assert await snapshot(hub, name) == after
    # and no reader ever saw a table shrink: never empty, never partial
    assert len(seen) > 3
    assert len(set(seen)) > 1  # the reader saw the model change (the lost row came back)
    for earlier, later in itertools.pairwise(seen):
        assert all(b >= a for a, b in zip(earlier, later, strict=True)), (earlier, later)
    # the rebuild left no shadow tables and no consumers behind
    leftovers = await hub.pool.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'projections'"
        " AND table_name LIKE '%\\_rebuild'"
    )
    assert leftovers == 0
    positions = await hub.pool.fetchval(
        "SELECT count(*) FROM projections.consumer_positions WHERE consumer LIKE '%@rebuild'"
    )
    assert positions == 0


@pytest.mark.parametrize("name", ["timeline", "case_views"])
async def test_a_live_model_ahead_at_the_switch_is_caught_up_under_its_lock(
    hub: InProcessHub, name: str
) -> None:
    # Given a rebuild that has replayed the streams, and then the live model reads more
    await produce(hub)
    await settle(hub)

    async def live_gets_ahead() -> None:
        await produce(hub)
        await settle(hub)

    # When it switches over
    report = await rebuild(hub.js, hub.pool, name, before_switch=live_gets_ahead)

    # Then it caught up with the live model first (while the live projector waited), and
    # the result is what a quiet rebuild gives
    assert report.catch_ups > 0
    after = await snapshot(hub, name)
    await rebuild(hub.js, hub.pool, name)
    assert await snapshot(hub, name) == after
    live = await hub.pool.fetch(
        "SELECT source, stream_seq FROM projections.consumer_positions WHERE consumer = $1",
        name,
    )
    for row in live:
        last = (await hub.js.stream_info(stream_name(row["source"]))).state.last_seq
        assert row["stream_seq"] == last


async def test_a_second_rebuild_of_the_same_model_at_once_is_refused(hub: InProcessHub) -> None:
    await produce(hub)
    await settle(hub)
    second: list[BaseException] = []

    async def start_another() -> None:
        try:
            await rebuild(hub.js, hub.pool, "conflicts")
        except RuntimeError as error:
            second.append(error)

    await rebuild(hub.js, hub.pool, "conflicts", before_switch=start_another)

    assert [str(e) for e in second] == ["a rebuild of conflicts is already running"]
    assert len((await snapshot(hub, "conflicts"))["cf_conflicts"]) == 1  # the first went on


async def test_a_schema_version_that_rises_rebuilds_the_read_model_without_being_asked(
    hub: InProcessHub,
) -> None:
    """Issue 11: when a read model's schema version rises over the one its rows were projected
    under, the provisioning records it (projections.rebuild_pending) and ``hub up`` rebuilds
    it once the processes are up (``rebuild_pending``): no ``hub projections rebuild`` needed.
    A first install records nothing."""
    from projections.schema import ensure, pending_rebuilds, schema_files

    # given a pathway projected under an older schema version, with a row it lacks
    await produce(hub)
    await settle(hub)
    assert await pending_rebuilds(hub.pool) == {}
    before = await snapshot(hub, "pathway")
    await hub.pool.execute(
        "DELETE FROM projections.pathway_milestones WHERE ctid IN"
        " (SELECT ctid FROM projections.pathway_milestones LIMIT 1)"
    )
    version = next(f.version for f in schema_files() if f.projection == "pathway")
    await hub.pool.execute(
        "UPDATE projections.schema_versions SET version = $1 WHERE projection = 'pathway'",
        version - 1,
    )

    history = "SELECT count(*) FROM projections.pathway_stage_history"
    stages = await hub.pool.fetchval(history)

    # when the provisioning brings the tables to the current version
    assert await ensure(hub.pool) == {"pathway": version}
    assert await hub.pool.fetchval(history) == stages  # re-running the file added no rows

    # then the rebuild is pending, and running what is pending rebuilds it and clears it
    assert await pending_rebuilds(hub.pool) == {"pathway": version}
    from projections.rebuild import rebuild_pending

    (report,) = await rebuild_pending(hub.js, hub.pool)
    assert report.projection == "pathway"
    assert await pending_rebuilds(hub.pool) == {}
    await settle(hub)
    after = await snapshot(hub, "pathway")
    for table, rows in before.items():
        assert set(rows) <= set(after[table]), table
    assert await rebuild_pending(hub.js, hub.pool) == []


async def test_hub_up_rebuilds_what_is_pending_once_the_processes_are_up(
    hub: InProcessHub,
) -> None:
    """What ``hub up`` runs after its processes answer: the pending rebuilds, as the database
    administrator, with the projector's NATS user."""
    from hub.cli import _rebuild_pending
    from projections.schema import ensure, pending_rebuilds, schema_files

    # given a pending rebuild of the pathway after a schema upgrade
    await produce(hub)
    await settle(hub)
    version = next(f.version for f in schema_files() if f.projection == "pathway")
    await hub.pool.execute(
        "UPDATE projections.schema_versions SET version = $1 WHERE projection = 'pathway'",
        version - 1,
    )
    await ensure(hub.pool)
    assert await pending_rebuilds(hub.pool) == {"pathway": version}

    # when hub up's step runs (it runs its own event loop, as in hub up)
    env = {"HUB_POSTGRES_URL": hub.settings.postgres_url, "HUB_NATS_URL": hub.settings.nats_url}
    await asyncio.to_thread(_rebuild_pending, hub.settings, env)

    # then nothing is pending any more
    assert await pending_rebuilds(hub.pool) == {}
