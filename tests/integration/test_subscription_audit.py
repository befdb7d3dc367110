"""A ``caseEvents`` or ``referralInbox`` subscriber's page of rows is audited in one group
commit, not one commit per row, and still no row is delivered before its own access-log
entry is stored: a row whose entry failed is not delivered, and it and the rows after it come
at the next wake-up, each once and in order, with one entry each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from contracts.positions import Position
from gateway import audit, subscriptions
from gateway.auth import Principal
from tests.integration.case_flow import (
    CASE_MANAGER,
    INBOX,
    PARTNER,
    consent_for_awo,
    ok,
    open_case,
    refer_to_awo,
)
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import served
from tests.integration.test_subscription_resume import RESUMABLE, agree_goal, on_timeline
from tests.integration.test_subscriptions import Subscriber, token_for

GOALS = ("Sprachkurs", "Bewerbungstraining", "Fahrschule", "Wohnungssuche", "Praktikum")


@pytest.fixture
async def ws_url(hub: InProcessHub) -> AsyncIterator[str]:
    async with served(hub.app, hub.settings) as address:
        yield f"ws://{address}/graphql"


async def a_person_with_a_burst(hub: InProcessHub) -> tuple[str, int]:
    """A person with a case and several goals: the rows a subscriber from the start reads
    in one page, and how many the case manager sees."""
    opened = await open_case(hub)
    for goal in GOALS:
        latest = await agree_goal(hub, opened["caseId"], goal)
    return opened["personId"], len(await on_timeline(hub, opened["personId"], latest))


async def entries_of(database_url: str, person: str) -> tuple[int, int, audit.ChainReport]:
    """The person's ``case_events`` entries, the transactions that stored them, and the
    chain's state (read as the administrator)."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS entries, count(DISTINCT xmin::text) AS commits"
            " FROM gateway.audit_log WHERE action = 'case_events' AND person_id = $1",
            UUID(person),
        )
        report = await audit.verify_chain(conn)
    finally:
        await conn.close()
    return int(row["entries"]), int(row["commits"]), report


async def test_a_burst_of_rows_is_audited_in_fewer_commits_than_rows(
    hub: InProcessHub, ws_url: str, database_url: str
) -> None:
    # given a person with a burst of events due to a subscriber reading from the start
    person, due = await a_person_with_a_burst(hub)
    assert due >= len(GOALS) + 1

    # when a case manager subscribes from the start of every log
    async with Subscriber.connect(ws_url, token_for(hub, CASE_MANAGER)) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"person": person, "after": "c1."})
        delivered = [(await manager.next())["caseEvents"] for _ in range(due)]
        assert await manager.nothing_for(1.0)

    # then every row arrived once, in order, each with its own entry, in fewer commits
    positions = [(r["service"], r["position"]) for r in delivered]
    assert positions == sorted(set(positions))
    entries, commits, report = await entries_of(database_url, person)
    assert entries == due
    assert commits < entries  # the page's entries shared a commit (here: one)
    assert report.intact, report.breaks


async def test_a_row_whose_entry_failed_is_delivered_later_with_its_entry(
    hub: InProcessHub, ws_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a burst whose first audit loses the database after the first two entries
    person, due = await a_person_with_a_burst(hub)
    original = audit.record_reads
    calls: list[int] = []

    def cut_after_two(
        pool: asyncpg.Pool, principal: Principal, *, person_ids: Sequence[UUID | None], **kw: Any
    ) -> list[asyncio.Future[None]]:
        calls.append(len(person_ids))
        if len(calls) > 1:
            return original(pool, principal, person_ids=person_ids, **kw)
        stored = original(pool, principal, person_ids=person_ids[:2], **kw)
        lost: list[asyncio.Future[None]] = []
        for _ in person_ids[2:]:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_exception(ConnectionResetError("the audit's connection was cut"))
            lost.append(future)
        return stored + lost

    monkeypatch.setattr(audit, "record_reads", cut_after_two)
    monkeypatch.setattr(subscriptions, "RECHECK_SECONDS", 0.5)

    # when a case manager subscribes from the start of every log
    async with Subscriber.connect(ws_url, token_for(hub, CASE_MANAGER)) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"person": person, "after": "c1."})
        delivered = [(await manager.next())["caseEvents"] for _ in range(due)]
        assert await manager.nothing_for(1.5)

    # then the two audited rows came first, the rest at the next wake-up: each once, in order
    assert calls[:2] == [due, due - 2]
    positions = [(r["service"], r["position"]) for r in delivered]
    assert positions == sorted(set(positions))
    # and every delivered row has exactly one entry (none for the failed attempt)
    entries, _, report = await entries_of(database_url, person)
    assert entries == due
    assert report.intact, report.breaks
    # the last token resumes after the last row
    last = subscriptions.parse_resume_token(delivered[-1]["resume"])
    assert last[delivered[-1]["service"]] == delivered[-1]["position"]


INBOX_FROM = """subscription($after: String) {
  referralInbox(after: $after) { id sharedCase { targetGroup } resume } }"""


async def test_a_burst_of_referrals_is_audited_in_fewer_commits_than_referrals(
    hub: InProcessHub, ws_url: str, database_url: str
) -> None:
    # given three referrals with shared case data due to a partner agency
    sent = []
    for _ in range(3):
        opened = await open_case(hub)
        consent = await consent_for_awo(hub, opened["caseId"])
        sent.append(await refer_to_awo(hub, opened["caseId"], consent["consentId"]))
    await ok(hub, INBOX, {"atLeast": sent[-1]["position"]}, PARTNER)  # projected
    conn = await asyncpg.connect(database_url)
    try:
        before = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM gateway.audit_log")

        # when the partner subscribes from the start of case management's log
        start = Position("case_management", 0).token()
        async with Subscriber.connect(ws_url, token_for(hub, PARTNER), PARTNER["purpose"]) as p:
            await p.acked()
            await p.subscribe("inbox", INBOX_FROM, {"after": start})
            delivered = [(await p.next())["referralInbox"] for _ in range(3)]
            assert await p.nothing_for(1.0)

        # then each arrived with its shared case and its own entry, in fewer commits
        assert sorted(r["id"] for r in delivered) == sorted(s["referralId"] for s in sent)
        assert all(r["sharedCase"] is not None for r in delivered)
        row = await conn.fetchrow(
            "SELECT count(*) AS entries, count(DISTINCT xmin::text) AS commits"
            " FROM gateway.audit_log WHERE action = 'referral_inbox' AND seq > $1",
            before,
        )
        assert row["entries"] == 3
        assert row["commits"] < 3
        report = await audit.verify_chain(conn)
        assert report.intact, report.breaks
    finally:
        await conn.close()


async def test_record_reads_stores_the_entries_in_one_commit_in_order(
    database_url: str,
) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        await audit.create_tables(pool)
        reader = Principal(subject="cm-anna", agency="kim-05315", role="case_manager", exp=None)
        persons = [UUID(int=n + 1) for n in range(50)]

        stored = audit.record_reads(
            pool, reader, action="case_events", person_ids=persons, purpose="case_processing"
        )
        for future in stored:
            await future

        rows = await pool.fetch(
            "SELECT person_id, xmin::text AS tx FROM gateway.audit_log ORDER BY seq"
        )
        assert [r["person_id"] for r in rows] == persons
        assert len({r["tx"] for r in rows}) == 1
        assert (
            audit.record_reads(
                pool, reader, action="case_events", person_ids=[], purpose="case_processing"
            )
            == []
        )
        assert audit._GROUPS == {}  # nothing left behind once idle
        async with pool.acquire() as conn:
            report = await audit.verify_chain(conn)
        assert report.intact, report.breaks
    finally:
        await pool.close()
