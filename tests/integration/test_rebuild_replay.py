"""Rebuilding every read model together, through the replay's own way of reading the streams
(no acks, pull requests kept outstanding, each stream read once for every model that reads it,
events decoded as they arrive), gives exactly the models the live projectors built: with an
erasure in the middle of the history, an event the relay published twice, and a replay that
lost what it had asked for and started over at its cursor (the messages delivered again)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.aio.msg import Msg

from contracts import REGISTRY, stream_name
from projections import rebuild as rebuilding
from projections.pipeline import PipelinedTracker
from projections.rebuild import ReplayLoop, rebuild_many, tables
from projections.runner import PROJECTIONS
from tests.integration.conftest import InProcessHub
from tests.integration.test_erasure import _erase, _erased_everywhere, _person_with_a_case
from tests.integration.test_rebuild import produce, settle, snapshot, stored

NAMES = [projection.name for projection in PROJECTIONS]
AUTHORITY = "foreigners_authority"


async def publish_again(hub: InProcessHub, service: str, seq: int) -> None:
    """Publish the stream's message ``seq`` once more, as a relay does that crashed before it
    recorded its position (a new stream sequence, the same event)."""
    stream = stream_name(service)
    original = await hub.js.get_msg(stream, seq)
    await hub.js.publish(
        original.subject, original.data, headers={"Nats-Msg-Id": f"again:{stream}:{seq}"}
    )


async def quiet(hub: InProcessHub) -> None:
    """Wait until nothing more is published (the relays and the erasure are done) and every
    live projection has read everything."""
    while True:
        before = await stored(hub)
        await asyncio.sleep(1.0)
        await settle(hub)
        if await stored(hub) == before:
            return


async def test_rebuilding_every_read_model_together_equals_the_live_models(
    hub: InProcessHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a history on every stream with a person erased in the middle of it, and an event
    # of the foreigners authority and one of case management published twice
    for _ in range(2):
        await produce(hub)
    person = await _person_with_a_case(hub)
    await produce(hub)
    erased = await _erase(hub, person["person"])
    assert "errors" not in erased, erased
    await _erased_everywhere(hub, person["person"])
    await produce(hub)
    await produce(hub)
    await settle(hub)
    await publish_again(hub, AUTHORITY, 2)
    await publish_again(hub, "case_management", 3)
    await quiet(hub)
    live = {name: await snapshot(hub, name) for name in NAMES}
    assert all(any(live[name].values()) for name in NAMES), live
    # (the live rows of every model lose one row, which the rebuild must bring back)
    for name in NAMES:
        first = tables(name)[0]
        await hub.pool.execute(
            f"DELETE FROM projections.{first} WHERE ctid IN"
            f" (SELECT ctid FROM projections.{first} LIMIT 1)"
        )

    # When every model is rebuilt together in small batches, and the shared replay of the
    # authority's stream fails once in its third batch (the connection lost before commit):
    # it starts over at its cursor, the batch delivered again
    fetched: list[tuple[str, list[int]]] = []
    fetch = ReplayLoop.fetch
    decode = ReplayLoop._decode
    flush = rebuilding.FanOutHandler.flush
    flushes: list[str] = []
    decoded_on_arrival = []

    async def recording_fetch(self: ReplayLoop, timeout: float) -> list[Msg]:
        msgs = await fetch(self, timeout)
        fetched.append((self.durable, [m.metadata.sequence.stream for m in msgs]))
        return msgs

    def recording_decode(self: ReplayLoop, msg: Msg) -> Any:
        decoded_on_arrival.append(id(msg) in self._decoded)
        return decode(self, msg)

    async def failing_flush(self: rebuilding.FanOutHandler, conn: Any) -> None:
        await flush(self, conn)
        if fetched[-1][0].endswith(AUTHORITY):
            flushes.append("flushed")
            if len(flushes) == 3:
                raise ConnectionResetError("connection lost before the commit")

    monkeypatch.setattr(ReplayLoop, "fetch", recording_fetch)
    monkeypatch.setattr(ReplayLoop, "_decode", recording_decode)
    monkeypatch.setattr(rebuilding.FanOutHandler, "flush", failing_flush)
    reports = await rebuild_many(hub.js, hub.pool, NAMES, batch_size=3)

    # Then every model equals the live one, row for row
    assert [report.projection for report in reports] == NAMES
    for name in NAMES:
        got = await snapshot(hub, name)
        for table in got:
            assert not set(got[table]) - set(live[name][table]), (name, table)
            assert not set(live[name][table]) - set(got[table]), (name, table)
        assert got == live[name], name
    # the authority's stream was read once, for the timeline and the pathway together, and
    # messages were delivered again after the start-over
    authority = [
        seqs for durable, seqs in fetched if durable.endswith(f"_rebuild_{AUTHORITY}") and seqs
    ]
    assert {durable for durable, _ in fetched if durable.endswith(AUTHORITY)} == {
        f"timeline_rebuild_{AUTHORITY}"
    }
    delivered = [seq for seqs in authority for seq in seqs]
    assert len(delivered) > len(set(delivered))  # a batch twice: the start-over
    assert len(flushes) > 3
    assert sorted(set(delivered)) == list(
        range(1, (await hub.js.stream_info(stream_name(AUTHORITY))).state.last_seq + 1)
    )
    assert all(decoded_on_arrival)
    # nothing is left behind: no shadow tables, positions or consumers
    leftovers = await hub.pool.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'projections'"
        " AND table_name LIKE '%\\_rebuild'"
    )
    assert leftovers == 0
    assert not await hub.pool.fetchval(
        "SELECT count(*) FROM projections.consumer_positions WHERE consumer LIKE '%@rebuild'"
    )
    for service in REGISTRY.services():
        names = {info.name for info in await hub.js.consumers_info(stream_name(service))}
        assert not {name for name in names if "_rebuild_" in name}, names


async def test_a_handler_rejecting_an_event_of_a_shared_replay_rebuilds_one_by_one(
    hub: InProcessHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a history, and a pathway handler that rejects one of the authority's events
    await produce(hub)
    await produce(hub)
    await quiet(hub)
    live = {name: await snapshot(hub, name) for name in ("timeline", "pathway")}
    rejected = []
    original = rebuilding.ShadowHandler.apply

    async def picky(self: Any, conn: Any, event: Any, payload: Any) -> None:
        if "pathway_persons" in self.names and event.sourceposition == 2 and not rejected:
            rejected.append(event.id)
            raise ValueError("cannot apply this one")
        await original(self, conn, event, payload)

    monkeypatch.setattr(rebuilding.ShadowHandler, "apply", picky)

    # When both are rebuilt together
    reports = await rebuild_many(hub.js, hub.pool, ["timeline", "pathway"])

    # Then the shared replay gave up on the first rejection and each model was rebuilt on its
    # own, where the pathway now applied the event again (the handler rejects it only once):
    # both equal the live models
    assert rejected
    assert [report.projection for report in reports] == ["timeline", "pathway"]
    for name, rows in live.items():
        assert await snapshot(hub, name) == rows, name


async def test_a_pipelined_batch_that_fails_to_commit_is_applied_again_from_the_cursor(
    hub: InProcessHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a history on every stream, with an erasure in it
    await produce(hub)
    person = await _person_with_a_case(hub)
    await produce(hub)
    erased = await _erase(hub, person["person"])
    assert "errors" not in erased, erased
    await _erased_everywhere(hub, person["person"])
    await produce(hub)
    await quiet(hub)
    live = {name: await snapshot(hub, name) for name in NAMES}

    # When every model is rebuilt together in small batches, each written while the next is
    # applied, and the write of the authority's fourth batch fails (the connection lost
    # before its commit) while the fifth is being applied
    write = PipelinedTracker._write
    writes: list[str] = []
    failed: list[str] = []
    trackers: list[PipelinedTracker] = []

    async def failing_write(self: PipelinedTracker, statements: Any, events: Any) -> None:
        writes.append(self.consumer)
        if self not in trackers:
            trackers.append(self)
        authority = self.consumer.endswith(AUTHORITY)
        if authority and writes.count(self.consumer) == 4 and not failed:
            failed.append(self.consumer)
            raise ConnectionResetError("connection lost before the commit")
        await write(self, statements, events)

    monkeypatch.setattr(PipelinedTracker, "_write", failing_write)
    reports = await rebuild_many(hub.js, hub.pool, NAMES, batch_size=3)

    # Then every model equals the live one, row for row, and the failed batch was written
    # again (one transaction at a time, as the live projector writes)
    assert failed
    assert [report.projection for report in reports] == NAMES
    for name in NAMES:
        assert await snapshot(hub, name) == live[name], name
    authority = next(t for t in trackers if t.consumer.endswith(AUTHORITY))
    assert authority.rolled_back > 0
    assert not authority.pipelined  # settled for the switch
