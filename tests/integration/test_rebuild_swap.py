"""How a rebuilt table takes the live one's place (``projections.swap``): renamed in where
nothing depends on it, with the live table's index names and privileges; copied where the
indicators' triggers and views read it, or where a reader holds the table too long."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from projections import swap
from projections.rebuild import rebuild, rebuild_many
from projections.runner import PROJECTIONS
from tests.integration.conftest import InProcessHub, settle
from tests.integration.test_gateway import TIMELINE, register
from tests.integration.test_rebuild import produce, snapshot

ACL = """
SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable
FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE c.oid = $1::text::regclass ORDER BY 1, 2
"""


async def oid(hub: InProcessHub, table: str) -> int:
    return int(await hub.pool.fetchval("SELECT $1::text::regclass::oid", f"projections.{table}"))


async def indexes(hub: InProcessHub, table: str) -> list[str]:
    rows = await hub.pool.fetch(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'projections' AND tablename = $1"
        " ORDER BY 1",
        table,
    )
    return [row[0] for row in rows]


async def grants(hub: InProcessHub, table: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await hub.pool.fetch(ACL, f"projections.{table}")]


async def test_a_table_nothing_depends_on_is_renamed_in_with_its_names_and_privileges(
    hub: InProcessHub,
) -> None:
    person = await register(hub)
    await produce(hub)
    await settle(hub)
    reader_role = f"swap_reader_{uuid.uuid4().hex[:8]}"
    await hub.pool.execute(f"CREATE ROLE {reader_role} NOLOGIN")
    await hub.pool.execute(f"GRANT SELECT ON projections.timeline_events TO {reader_role}")
    before = {
        table: (await oid(hub, table), await indexes(hub, table), await grants(hub, table))
        for table in ("timeline_events", "pathway_persons")
    }
    rows = await snapshot(hub, "timeline")
    read = await hub.graphql(TIMELINE, {"id": person["personId"]})  # prepared on the old table

    for _ in range(2):  # the second rebuild finds the shadow's names free again
        await rebuild_many(hub.js, hub.pool, [p.name for p in PROJECTIONS])

        renamed_oid, renamed_indexes, renamed_grants = before["timeline_events"]
        assert await oid(hub, "timeline_events") != renamed_oid  # the shadow, renamed
        assert await indexes(hub, "timeline_events") == renamed_indexes
        assert await grants(hub, "timeline_events") == renamed_grants
        assert (reader_role, "SELECT", False) in await grants(hub, "timeline_events")
        # the indicators' triggers read pathway_persons: copied, its triggers kept
        copied_oid, copied_indexes, _ = before["pathway_persons"]
        assert await oid(hub, "pathway_persons") == copied_oid
        assert await indexes(hub, "pathway_persons") == copied_indexes
        assert await hub.pool.fetchval(
            "SELECT count(*) FROM pg_trigger"
            " WHERE tgrelid = 'projections.pathway_persons'::regclass AND NOT tgisinternal"
        )
        leftovers = await hub.pool.fetch(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'projections' AND relname LIKE '%\\_rebuild%'"
        )
        assert leftovers == []
        assert await snapshot(hub, "timeline") == rows
        # the gateway's statement prepared on the dropped table is planned again on the new one
        assert await hub.graphql(TIMELINE, {"id": person["personId"]}) == read
    await hub.pool.execute(f"REVOKE ALL ON projections.timeline_events FROM {reader_role}")
    await hub.pool.execute(f"DROP ROLE {reader_role}")


async def test_a_reader_holding_the_table_too_long_gets_it_copied_instead(
    hub: InProcessHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(swap, "LOCK_TIMEOUT", "200ms")
    await register(hub)
    await settle(hub)
    table = await oid(hub, "timeline_events")
    rows = await snapshot(hub, "timeline")
    async with hub.pool.acquire() as reader, reader.transaction():
        await reader.fetch("SELECT count(*) FROM projections.timeline_events")

        report = await asyncio.wait_for(rebuild(hub.js, hub.pool, "timeline"), 60)

        # the reader's view was never blocked nor changed under it
        assert await reader.fetchval("SELECT count(*) FROM projections.timeline_events") == len(
            rows["timeline_events"]
        )
    assert report.rows == len(rows["timeline_events"])
    assert await oid(hub, "timeline_events") == table  # copied, not renamed
    assert await snapshot(hub, "timeline") == rows


async def test_names_and_settings_made_by_hand_are_kept(hub: InProcessHub) -> None:
    await register(hub)
    await settle(hub)
    # an index renamed by hand to a name that needs quotes, and a table given a fillfactor
    await hub.pool.execute(
        'ALTER INDEX projections.timeline_events_person_idx RENAME TO "Timeline by Person"'
    )
    await hub.pool.execute("ALTER TABLE projections.timeline_events_refs SET (fillfactor = 70)")
    refs = await oid(hub, "timeline_events_refs")
    events = await oid(hub, "timeline_events")
    rows = await snapshot(hub, "timeline")

    await rebuild(hub.js, hub.pool, "timeline")

    assert await oid(hub, "timeline_events") != events  # renamed in, its index named as it was

    assert "Timeline by Person" in await indexes(hub, "timeline_events")
    assert "timeline_events_person_idx" not in await indexes(hub, "timeline_events")
    # the shadow has no fillfactor: the table is copied, and keeps its own
    assert await oid(hub, "timeline_events_refs") == refs
    assert await hub.pool.fetchval(
        "SELECT reloptions FROM pg_class WHERE oid = 'projections.timeline_events_refs'::regclass"
    ) == ["fillfactor=70"]
    assert await snapshot(hub, "timeline") == rows
