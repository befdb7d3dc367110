"""The audit log's group commit: the entries of concurrent reads are committed together, each
read returns only once its entry is stored, the chain stays intact and in order, and a failed
commit fails every read waiting on it (no read is answered without its entry)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from gateway import audit
from gateway.auth import Principal
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub

READER = Principal(subject="cm-anna", agency="kim-05315", role="case_manager", exp=None)

FAIL_ON_DETAIL = """
CREATE OR REPLACE FUNCTION gateway.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.detail = 'refuse' THEN RAISE EXCEPTION 'refused by the test'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER zz_test_refuse BEFORE INSERT ON gateway.audit_log
  FOR EACH ROW EXECUTE FUNCTION gateway.test_refuse();
"""


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    await audit.create_tables(pool)
    yield pool
    await pool.close()


async def read(pool: asyncpg.Pool, n: int, detail: str | None = None) -> int:
    await audit.record_read(
        pool,
        READER,
        action="timeline",
        person_id=uuid.uuid4(),
        purpose="counselling",
        detail=detail or f"read {n}",
    )
    return n


async def test_concurrent_reads_are_all_logged_in_fewer_commits_and_in_order(
    pool: asyncpg.Pool,
) -> None:
    group = audit.group_commit(pool)

    done = await asyncio.gather(*(read(pool, n) for n in range(300)))

    assert done == list(range(300))
    rows = await pool.fetch("SELECT seq, detail FROM gateway.audit_log ORDER BY seq")
    # every read's entry is stored, numbered in the order the reads appended them
    assert [r["detail"] for r in rows] == [f"read {n}" for n in range(300)]
    assert [r["seq"] for r in rows] == list(range(1, 301))
    assert group.entries == 300
    assert group.commits < 300  # grouped: here one transaction took them all
    async with pool.acquire() as conn:
        report = await audit.verify_chain(conn)
    assert report.intact, report.breaks
    assert report.entries == 300
    assert audit._GROUPS == {}  # nothing left behind once idle


async def test_each_read_returns_only_after_its_entry_is_committed(pool: asyncpg.Pool) -> None:
    """While the chain's lock is held elsewhere no entry can be stored: no read returns."""
    async with pool.acquire() as blocker:
        await blocker.execute("SELECT pg_advisory_lock($1)", audit.CHAIN_LOCK)
        reads = [asyncio.create_task(read(pool, n)) for n in range(20)]
        await asyncio.sleep(0.5)
        assert not any(task.done() for task in reads)
        assert await blocker.fetchval("SELECT count(*) FROM gateway.audit_log") == 0
        # more reads arrive while the first commit waits: they gather for the next one
        later = [asyncio.create_task(read(pool, n)) for n in range(20, 40)]
        await asyncio.sleep(0.1)
        await blocker.execute("SELECT pg_advisory_unlock($1)", audit.CHAIN_LOCK)
        await asyncio.gather(*reads, *later)
    stored = await pool.fetchval("SELECT count(*) FROM gateway.audit_log")
    assert stored == 40
    async with pool.acquire() as conn:
        assert (await audit.verify_chain(conn)).intact


async def test_a_failed_commit_fails_every_read_waiting_on_it(pool: asyncpg.Pool) -> None:
    await pool.execute(FAIL_ON_DETAIL)
    try:
        results = await asyncio.gather(
            *(read(pool, n, "refuse" if n == 7 else None) for n in range(20)),
            return_exceptions=True,
        )
        # one transaction held them all: none is stored, so none of the reads is answered
        assert all(isinstance(r, asyncpg.PostgresError) for r in results), results
        assert await pool.fetchval("SELECT count(*) FROM gateway.audit_log") == 0

        # the writer goes on with the next reads, and the chain has no gap
        assert await asyncio.gather(*(read(pool, n) for n in range(5))) == list(range(5))
    finally:
        await pool.execute("DROP TRIGGER zz_test_refuse ON gateway.audit_log")
    rows = await pool.fetch("SELECT seq FROM gateway.audit_log ORDER BY seq")
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    async with pool.acquire() as conn:
        assert (await audit.verify_chain(conn)).intact


async def test_a_read_cancelled_while_waiting_still_has_its_entry_written(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as blocker:
        await blocker.execute("SELECT pg_advisory_lock($1)", audit.CHAIN_LOCK)
        reads = [asyncio.create_task(read(pool, n)) for n in range(3)]
        await asyncio.sleep(0.2)
        reads[1].cancel()  # the client went away: the entry is written all the same
        await blocker.execute("SELECT pg_advisory_unlock($1)", audit.CHAIN_LOCK)
        results = await asyncio.gather(*reads, return_exceptions=True)
    assert results[0] == 0
    assert results[2] == 2
    for _ in range(50):
        if await pool.fetchval("SELECT count(*) FROM gateway.audit_log") == 3:
            break
        await asyncio.sleep(0.05)
    assert await pool.fetchval("SELECT count(*) FROM gateway.audit_log") == 3


async def test_on_a_connection_the_entry_is_part_of_the_callers_transaction(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await audit.record_read(
            conn, READER, action="timeline", person_id=None, purpose="counselling"
        )
        await tx.rollback()
    assert await pool.fetchval("SELECT count(*) FROM gateway.audit_log") == 0


REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position } }"""
TIMELINE = """query($id: ID!, $atLeast: String) {
  person(id: $id) { timeline(atLeast: $atLeast) { eventType position } } }"""


async def test_concurrent_timeline_reads_are_each_logged_and_answered_after(
    hub: InProcessHub,
) -> None:
    created = (await hub.graphql(REGISTER, {"input": arrival_input()}))["data"]["registerArrival"]
    variables = {"id": created["personId"], "atLeast": created["position"]}

    bodies = await asyncio.gather(*(hub.graphql(TIMELINE, variables) for _ in range(40)))

    assert all("errors" not in b and b["data"]["person"]["timeline"] for b in bodies), bodies
    rows = await hub.pool.fetch(
        "SELECT action, person_id::text AS person, detail FROM gateway.audit_log ORDER BY seq"
    )
    assert len(rows) == 40
    assert {(r["action"], r["person"]) for r in rows} == {("timeline", created["personId"])}
    async with hub.pool.acquire() as conn:
        assert (await audit.verify_chain(conn)).intact


async def test_a_timeline_read_whose_entry_cannot_be_stored_is_not_answered(
    hub: InProcessHub,
) -> None:
    created = (await hub.graphql(REGISTER, {"input": arrival_input()}))["data"]["registerArrival"]
    variables = {"id": created["personId"], "atLeast": created["position"]}
    await hub.pool.execute(FAIL_ON_DETAIL.replace("NEW.detail = 'refuse'", "true"))
    try:
        bodies = await asyncio.gather(*(hub.graphql(TIMELINE, variables) for _ in range(5)))
    finally:
        await hub.pool.execute("DROP TRIGGER zz_test_refuse ON gateway.audit_log")

    for body in bodies:  # no rows without the log entry: an internal error instead
        assert body["data"] is None or body["data"]["person"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["internal"], body
