"""The services' event store writes: new events reach the insert function in binary (built in
one pass, the bytes psycopg's own dumpers make), encoded by the services' transcoder, and a
save of aggregates and events takes the short path; what is stored, the positions and the
conflicts are those of the library's own path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import RecordConflictError, StoredEvent
from psycopg.adapt import PyFormat, Transformer
from psycopg.sql import SQL, Identifier

from services.foreigners_authority.application import ForeignersAuthority
from services.runtime.commands import CommandServer
from services.runtime.context import CommandContext, use_context
from services.runtime.eventstore import (
    HubApplicationRecorder,
    HubTranscoder,
    binary_event_rows,
    event_meta,
)
from services.runtime.settings import HubSettings
from tests.helpers import close_app, foreigners_authority


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text
        self.states: list[Any] = []

    @event("Noted")
    def note(self, value: Any) -> None:
        self.states.append(value)


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings, pool_size=2)
    yield application
    close_app(application)


def test_the_events_are_inserted_in_binary_and_read_back_unchanged(
    app: ForeignersAuthority,
) -> None:
    assert isinstance(app.recorder, HubApplicationRecorder)
    assert app.recorder.datastore.enable_db_functions  # the path of binary_event_rows
    assert isinstance(app.mapper.transcoder, HubTranscoder)
    assert "%b" in app.recorder.sql_invoke_pg_function_insert_events.as_string(None)
    # given values the text form had to escape: quotes, backslashes, braces, commas,
    # non-ASCII and control characters
    awkward = ['"quoted", {braced}', "back\\slash", "Größe ü ß 😀", "tab\tnew\nline", ""]
    notes = [Note(text=f"note {n}") for n in range(3)]
    for note in notes:
        for value in awkward:
            note.note(value)
    context = CommandContext(
        agency="abh-05315", role="abh_officer", legal_basis="§ 86 AufenthG", purpose="test"
    )

    with use_context(context):
        recordings = app.save(*notes)

    positions = [r.notification.id for r in recordings]
    assert len(positions) == 3 * (1 + len(awkward))
    assert positions == sorted(positions) == list(range(positions[0], positions[-1] + 1))
    for note in notes:
        stored = app.repository.get(note.id)
        assert stored.text == note.text
        assert stored.states == awkward
        assert {event_meta(e)["agency"] for e in app.events.get(note.id)} == {"abh-05315"}


def test_the_one_pass_rows_are_the_bytes_of_psycopgs_own_binary_dumpers(
    app: ForeignersAuthority,
) -> None:
    # given stored events with awkward topics and states, and the store's composite type
    recorder = app.recorder
    assert isinstance(recorder, HubApplicationRecorder)
    datastore = recorder.datastore
    info = datastore.psycopg_type_adapters[recorder.stored_event_type_name]
    notes = [Note(text=text) for text in ("a", 'Größe \\ "ü" 😀', "")]
    for note in notes:
        note.note({"nested": [1, None, "x"]})
    events = [e for n in notes for e in n.collect_events()]
    stored = [app.mapper.to_stored_event(e) for e in events]
    stored.append(StoredEvent(notes[0].id, 2**40, "topic ü", b"\x00\xff"))

    # when both make the binary array of them
    ours = binary_event_rows(stored, info.oid)
    with datastore.get_connection() as connection:
        library_rows = [
            recorder.construct_pg_stored_event(
                s.originator_id, s.originator_version, s.topic, s.state
            )
            for s in stored
        ]
        transformer = Transformer(connection)
        dumper = transformer.get_dumper(library_rows, PyFormat.BINARY)
        theirs = dumper.dump(library_rows)

    # then the bytes are the same, under the same array type
    assert dumper.oid == info.array_oid
    assert theirs is not None
    assert bytes(ours) == bytes(theirs)


def _changed_behind_a_stale_copy(app: ForeignersAuthority, change: str) -> tuple[Note, Note]:
    """A saved note, a copy of it read then, and the note changed and saved after that."""
    note = Note(text="first")
    app.save(note)
    stale = app.repository.get(note.id)
    note.note(change)
    app.save(note)
    return note, stale


def test_a_conflicting_save_stores_nothing_and_raises_the_conflict(
    app: ForeignersAuthority,
) -> None:
    note, stale = _changed_behind_a_stale_copy(app, "one")
    other = Note(text="other")

    stale.note("two")  # the same version again
    with pytest.raises(RecordConflictError):
        app.save(other, stale)

    assert [e.originator_version for e in app.events.get(note.id)] == [1, 2]
    assert list(app.events.get(other.id)) == []


def test_a_save_of_aggregates_and_events_together_stores_them_in_their_order(
    app: ForeignersAuthority,
) -> None:
    # given aggregates and a loose event (as the batch path saves a message's record)
    note = Note(text="aggregate")
    loose = Note(text="event only")
    (created,) = loose.collect_events()
    later = Note(text="after the event")

    # when saved together (the short path), and with a None among them (the library's path)
    recordings = app.save(note, created, later)
    other = Note(text="other")
    (other_created,) = other.collect_events()
    library = app.save(other_created, None)

    # then each is stored in its place
    assert [r.domain_event.originator_id for r in recordings] == [note.id, loose.id, later.id]
    positions = [r.notification.id for r in recordings]
    assert positions == sorted(positions)
    assert app.repository.get(loose.id).text == "event only"
    assert [r.domain_event.originator_id for r in library] == [other.id]
    assert app.repository.get(other.id).text == "other"
    assert app.save() == []


def _held_insert(app: ForeignersAuthority, database_url: str, path: str) -> Any:
    """A transaction that has inserted one event and not committed yet: through the insert
    function the services use, or through the library's plain path (table lock, then
    INSERT), which the steering group's process application uses."""
    recorder = app.recorder
    assert isinstance(recorder, HubApplicationRecorder)
    schema, table = recorder.datastore.schema, recorder.events_table_name
    conn = psycopg.connect(database_url)
    values = (uuid.uuid4(), 1, "held", b"{}")
    if path == "function":
        conn.execute(
            SQL("SELECT * FROM {}.{}(ARRAY[ROW(%s, %s, %s, %s)::{}.{}])").format(
                Identifier(schema),
                Identifier(recorder.pg_function_name_locked_insert),
                Identifier(schema),
                Identifier(recorder.stored_event_type_name),
            ),
            values,
        )
    else:
        conn.execute(
            SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(Identifier(schema), Identifier(table))
        )
        conn.execute(
            SQL(
                "INSERT INTO {}.{} (originator_id, originator_version, topic, state)"
                " VALUES (%s, %s, %s, %s)"
            ).format(Identifier(schema), Identifier(table)),
            values,
        )
    return conn


def _visible_ids(app: ForeignersAuthority, database_url: str) -> list[int]:
    recorder = app.recorder
    assert isinstance(recorder, HubApplicationRecorder)
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            SQL("SELECT notification_id FROM {}.{} ORDER BY 1").format(
                Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name)
            )
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize("held_path", ["function", "plain"])
def test_an_insert_overlapping_an_uncommitted_one_commits_after_it_so_no_id_is_passed_over(
    app: ForeignersAuthority, database_url: str, held_path: str
) -> None:
    # Given a stored event, and a transaction that has inserted another and not committed
    app.save(Note(text="before"))
    before = _visible_ids(app, database_url)
    held = _held_insert(app, database_url, held_path)
    try:
        # When a command saves an event meanwhile
        with ThreadPoolExecutor(1) as pool:
            saving = pool.submit(app.save, Note(text="meanwhile"))
            wait([saving], timeout=1.0)

            # Then it waits for the earlier insert: a reader reading past the highest id it
            # has seen (the relay) never sees a later id before an earlier one
            assert not saving.done()
            assert _visible_ids(app, database_url) == before
            held.commit()
            recordings = saving.result(timeout=10)
    finally:
        held.close()

    ids = _visible_ids(app, database_url)
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert recordings[-1].notification.id == ids[-1]


class AnswerLost:
    """The database commits an insert and the connection breaks before its answer arrives
    (a crash, a restart, a terminated session): the first ``fetchall`` after the insert
    function ran, on a real connection, raises as psycopg does then. ``before`` breaks it
    before the statement instead (nothing committed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int = 1, before: bool = False):
        self.left = times
        self.inserts = 0
        inserting_cursors: set[int] = set()  # ids of the cursors that just ran the insert
        real_execute, real_fetchall = psycopg.Cursor.execute, psycopg.Cursor.fetchall
        lost = self

        def execute(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            inserting = b"hub_locked_" in (query if isinstance(query, bytes) else b"")
            if inserting:
                lost.inserts += 1
                if before and lost.left:
                    lost.left -= 1
                    raise psycopg.OperationalError("server closed the connection unexpectedly")
            if inserting and not before:
                inserting_cursors.add(id(cursor))
            else:
                inserting_cursors.discard(id(cursor))
            return real_execute(cursor, query, *args, **kwargs)

        def fetchall(cursor: Any) -> Any:
            rows = real_fetchall(cursor)
            if id(cursor) in inserting_cursors and lost.left:
                lost.left -= 1
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return rows

        monkeypatch.setattr(psycopg.Cursor, "execute", execute)
        monkeypatch.setattr(psycopg.Cursor, "fetchall", fetchall)


def test_a_save_whose_answer_was_lost_after_the_commit_is_stored_once(
    app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a note saved, then changed again, and the database answering the next insert
    # only after committing it, on a connection that then breaks
    note = Note(text="first")
    app.save(note)
    note.note("appended once")
    lost = AnswerLost(monkeypatch)

    # when the change is saved
    recordings = app.save(note)

    # then it is inserted once, answered with the ids it was stored under, and the
    # aggregate's history holds it once (the library's retry inserted it again, which
    # conflicted with itself: a command retried on that conflict was stored twice)
    assert lost.inserts == 1
    stored = list(app.recorder.select_notifications(start=1, limit=10))
    assert [r.notification.id for r in recordings] == [stored[-1].id]
    assert [e.originator_version for e in app.events.get(note.id)] == [1, 2]
    assert app.repository.get(note.id).states == ["appended once"]


def test_a_save_whose_connection_broke_before_the_insert_is_inserted_again(
    app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the connection breaking twice before the insert reaches the database
    note = Note(text="first")
    lost = AnswerLost(monkeypatch, times=2, before=True)

    # when the note is saved
    recordings = app.save(note)

    # then the third try stores it, once
    assert lost.inserts == 3
    assert len(recordings) == 1
    assert [e.originator_version for e in app.events.get(note.id)] == [1]


def test_a_retried_insert_that_finds_other_events_at_its_versions_is_a_conflict(
    app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a stale copy of a note, the note changed meanwhile, and the stale save's first
    # try losing its connection before the insert
    note, stale = _changed_behind_a_stale_copy(app, "theirs")
    stale.note("ours")
    AnswerLost(monkeypatch, before=True)

    # when the stale change is saved, it is the conflict it is, and nothing of it is stored
    with pytest.raises(RecordConflictError):
        app.save(stale)
    assert app.repository.get(note.id).states == ["theirs"]


@pytest.mark.parametrize("writers", [1, 4], ids=["one writer", "group commit"])
async def test_a_command_whose_answer_was_lost_after_the_commit_runs_once(
    app: ForeignersAuthority, nats_client: Any, monkeypatch: pytest.MonkeyPatch, writers: int
) -> None:
    # given a command server on the application (one writer, or group commit) and a note
    # whose next change the database commits and then does not answer
    server = CommandServer(nats_client, "foreigners_authority")
    server.group_commit(app, writers)
    note = Note(text="first")
    app.save(note)

    def append() -> None:
        current = app.repository.get(note.id)
        current.note("appended once")
        app.save(current)

    lost = AnswerLost(monkeypatch)

    # when the command appending to it runs
    context = CommandContext(
        agency="abh-05315", role="abh_officer", legal_basis="§ 86 AufenthG", purpose="test"
    )
    await server.execute(append, context)

    # then it ran once: before, the insert's retry conflicted with its own events and the
    # server ran the command again on the fresh note, which appended it a second time
    assert lost.inserts == 1
    assert app.repository.get(note.id).states == ["appended once"]
    await server.stop()
