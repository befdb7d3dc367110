"""Group commit: the saves of concurrent commands share transactions, and each command still
gets its own answer; one bad save fails alone, and every other command is stored once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event

from services.foreigners_authority.application import CommandResult, ForeignersAuthority
from services.runtime.commands import CommandRejected, CommandServer, GroupCommit
from services.runtime.context import CommandContext
from services.runtime.eventstore import event_meta
from services.runtime.settings import HubSettings
from tests.helpers import arrival, close_app, foreigners_authority

EVENTS = "SELECT count(*) FROM foreigners_authority.foreigners_authority_events"


def context(n: int) -> CommandContext:
    return CommandContext(
        agency="abh-05111",
        role="abh_officer",
        legal_basis="§ 86 AufenthG",
        purpose="residence_administration",
        correlation_id=f"command-{n}",
    )


class Unstorable:
    """A value the event store's transcoder cannot encode."""


class Counter(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1

    @event("Broken")
    def break_it(self, value: Any) -> None:
        self.value = value


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings, pool_size=5)
    yield application
    close_app(application)


@pytest.fixture
async def server(app: ForeignersAuthority) -> Any:
    server = CommandServer(None, "foreigners_authority")  # type: ignore[arg-type]
    committer = server.group_commit(app, writers=16)
    assert committer is not None
    slow_first_write(committer)  # let the others gather behind the first transaction
    yield server
    await server.stop()


def slow_first_write(committer: GroupCommit) -> None:
    record = committer._record_alone
    first = threading.Event()

    def slowly(processing_event: Any) -> list[Any]:
        if not first.is_set():
            first.set()
            time.sleep(0.3)
        return record(processing_event)

    committer._record_alone = slowly


def count(database_url: str, query: str = EVENTS) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


async def test_concurrent_commands_share_transactions_and_get_their_own_positions(
    app: ForeignersAuthority, server: CommandServer, database_url: str
) -> None:
    before = count(database_url)

    results = await asyncio.gather(
        *(server.execute(lambda: app.register_arrival(arrival()), context(n)) for n in range(24))
    )

    assert server.committer is not None
    stats = server.committer.stats
    assert stats.saves == 24
    assert stats.transactions < 24  # grouped
    assert stats.largest > 1
    assert count(database_url) == before + 24 * 3  # each arrival's three events, once
    positions = [r.position for r in results]
    assert len(set(positions)) == 24  # each its own last event
    for n, result in enumerate(results):
        # the position a command got is its own last event, stored with its own context
        assert result.person_id is not None
        notification = app.notification_log.select(result.position, 1)[0]
        assert notification.originator_id == result.person_id
        assert app.repository.get(result.person_id).version == 3
        events = list(app.events.get(result.person_id))
        assert {event_meta(e)["correlation_id"] for e in events} == {f"command-{n}"}


async def test_one_bad_save_fails_alone_and_the_others_are_stored_once(
    app: ForeignersAuthority, server: CommandServer, database_url: str
) -> None:
    before = count(database_url)

    def bad() -> CommandResult:
        time.sleep(0.05)  # not the first save: it joins a group with others
        counter = Counter()
        counter.break_it(Unstorable())
        app.save(counter)
        raise AssertionError("stored what cannot be stored")

    commands = [(lambda: app.register_arrival(arrival())) if n != 7 else bad for n in range(16)]
    outcomes = await asyncio.gather(
        *(server.execute(fn, context(n)) for n, fn in enumerate(commands)),
        return_exceptions=True,
    )

    failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == [7]
    assert not isinstance(outcomes[7], AssertionError)
    assert server.committer is not None
    assert server.committer.stats.one_by_one >= 1
    assert count(database_url) == before + 15 * 3
    stored = [o for o in outcomes if isinstance(o, CommandResult)]
    assert len({o.position for o in stored}) == 15
    for outcome in stored:
        assert outcome.person_id is not None
        assert app.repository.get(outcome.person_id).version == 3


async def test_commands_on_the_same_aggregate_at_once_are_each_applied(
    app: ForeignersAuthority, server: CommandServer
) -> None:
    counter = Counter()
    app.save(counter)
    counter_id: UUID = counter.id

    def count_one() -> int:
        current: Counter = app.repository.get(counter_id)
        current.count_one()
        return int(app.save(current)[-1].notification.id)

    # eight commands load the same version and save together: all but one conflict, and
    # are retried on the fresh aggregate until the server's retries run out
    outcomes = await asyncio.gather(
        *(server.execute(count_one, context(n)) for n in range(8)), return_exceptions=True
    )

    applied = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, CommandRejected) and o.code == "conflict" for o in refused)
    assert app.repository.get(counter_id).count == len(applied) >= 1
    assert len(set(applied)) == len(applied)


async def test_saves_without_group_commit_stay_one_at_a_time(
    app: ForeignersAuthority,
) -> None:
    server = CommandServer(None, "foreigners_authority")  # type: ignore[arg-type]
    try:
        result = await server.execute(lambda: app.register_arrival(arrival()), context(1))
    finally:
        await server.stop()
    assert server.committer is None
    assert result.person_id is not None
    assert app.repository.get(result.person_id).version == 3
