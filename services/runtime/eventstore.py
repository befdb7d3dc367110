"""Event-store wiring for ``eventsourcing`` applications on PostgreSQL.

``HubApplication`` stores the current :class:`CommandContext` beside every new event (as the
``hub_meta`` attribute, kept out of the domain model) and knows how to encode ``date`` values.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from datetime import date
from enum import Enum
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

import orjson
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate, DomainEvent
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    OperationalError,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.sql import SQL, Identifier

from services.runtime.context import current_context
from services.runtime.database import check_idle_connection

META_ATTRIBUTE = "hub_meta"
#: how often an insert is tried while the database is away, and the pause between the tries
#: (the library's own retry of ``insert_events``: 10 tries, 0.2 s apart)
INSERT_ATTEMPTS = 10
INSERT_PAUSE = 0.2

#: an application (whatever its aggregates)
AppT = TypeVar("AppT", bound=Application[Any])


class DateAsISO(Transcoding):
    """Transcodes :class:`datetime.date` as an ISO 8601 string."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


_PLAIN = frozenset({str, int, bool, type(None)})


class _NotPlain(Exception):
    """A value the fast encoder leaves to the library's (a float, an unknown type)."""


class HubTranscoder(JSONTranscoder):
    """The library's JSON transcoder, encoding with ``orjson`` when it gives the very same
    bytes: the state holds only strings, integers, booleans, None, lists and dicts with
    string keys, and values of the registered transcodings (UUIDs, datetimes, dates), which
    are put in their ``{"_type_", "_data_"}`` form first, as the library's ``default`` hook
    would. Anything else (a float, whose text differs; an unregistered type, which raises)
    goes to the library's encoder. About half the cost of an event's encoding: the library's
    ``json`` calls back into Python for every UUID, datetime and date. Decoding likewise."""

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._plain(obj))
        except (_NotPlain, TypeError):  # TypeError: orjson's, e.g. an int beyond 64 bits
            return super().encode(obj)

    def _plain(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN:
            return obj
        if kind is dict:
            return {k: self._plain(v) if type(k) is str else _refuse() for k, v in obj.items()}
        if kind is list or kind is tuple:
            return [self._plain(v) for v in obj]
        transcoding = self.types.get(kind)
        if transcoding is not None and not isinstance(obj, str | int | float | dict | list):
            return {"_type_": transcoding.name, "_data_": self._plain(transcoding.encode(obj))}
        if isinstance(obj, str | int) and isinstance(obj, Enum):  # as json: the value
            return obj
        raise _NotPlain

    def decode(self, data: bytes) -> Any:
        """As the library's; parsed by ``orjson`` where that reads the same (it refuses NaN
        and lone surrogates, and reads integers beyond 64 bits as floats, so any float goes
        to the library's decoder too), then each ``{"_type_", "_data_"}`` object decoded
        innermost first, as ``json``'s object hook does."""
        try:
            return self._decoded(orjson.loads(data))
        except (orjson.JSONDecodeError, _NotPlain):
            return super().decode(data)

    def _decoded(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                if type(value) not in _PLAIN:
                    obj[key] = self._decoded(value)
            return self._decode_obj(obj)
        if kind is list:
            for index, value in enumerate(obj):
                if type(value) not in _PLAIN:
                    obj[index] = self._decoded(value)
            return obj
        if kind in _PLAIN:
            return obj
        raise _NotPlain  # a float: orjson reads integers beyond 64 bits as floats


def _refuse() -> Any:
    raise _NotPlain


class ContextMapper(Mapper[UUID]):
    """Adds the command context to each event as it is stored."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        stamp_context(domain_event)
        return super().to_stored_event(domain_event)


def stamp_context(domain_event: Any) -> None:
    """Attach the current command context to ``domain_event`` unless it carries one already
    (the group commit stamps each command's events in the command's own thread, before another
    thread stores them)."""
    if not hasattr(domain_event, META_ATTRIBUTE):
        context = current_context()
        if context is not None:
            object.__setattr__(domain_event, META_ATTRIBUTE, context.as_meta())


def event_meta(domain_event: object) -> dict[str, str]:
    """The command context stored with ``domain_event`` (empty for context-free events)."""
    meta = getattr(domain_event, META_ATTRIBUTE, None)
    return dict(meta) if isinstance(meta, dict) else {}


class EventRows(bytes):
    """New events in PostgreSQL's binary form of an array of the event store's composite type
    (:func:`binary_event_rows`), sent as they are."""


class _EventRowsDumper(Dumper):
    """Sends :class:`EventRows` as they are; a subclass per recorder names its array type."""

    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


_UUID_OID, _INT8_OID, _TEXT_OID, _BYTEA_OID = 2950, 20, 25, 17
_HEADER = struct.Struct("!iiIii")  # dimensions, has nulls, element type, length, lower bound
#: an element's length and field count, its uuid, its bigint, its topic's type and length
_ROW = struct.Struct("!iiIi16sIiqIi")
_STATE = struct.Struct("!Ii")  # the state's type and length


def binary_event_rows(stored_events: Sequence[StoredEvent], element_oid: int) -> EventRows:
    """``stored_events`` as an array of the event store's composite type (originator_id
    uuid, originator_version bigint, topic text, state bytea) in PostgreSQL's binary form:
    what psycopg's composite and list dumpers make of the library's rows, built in one pass
    (they dump each field of each row through Python objects)."""
    parts = [_HEADER.pack(1, 0, element_oid, len(stored_events), 1)]
    append = parts.append
    row, state_header = _ROW.pack, _STATE.pack
    for event in stored_events:
        topic = event.topic.encode()
        state = event.state
        append(
            row(
                60 + len(topic) + len(state),
                4,
                _UUID_OID,
                16,
                cast("UUID", event.originator_id).bytes,
                _INT8_OID,
                8,
                event.originator_version,
                _TEXT_OID,
                len(topic),
            )
        )
        append(topic)
        append(state_header(_BYTEA_OID, len(state)))
        append(state)
    return EventRows(b"".join(parts))


class HubApplicationRecorder(PostgresApplicationRecorder):
    """``eventsourcing``'s PostgreSQL recorder, handing the new events to its insert function
    in binary (:func:`binary_event_rows`): the library's text form escapes every byte of every
    event's state with a regular expression, about ten times the cost (and a fifth of a bulk
    import's CPU), and psycopg's own binary dumpers still cost ~10 µs an event. The
    statement and its NOTIFY are the library's own.

    It calls the library's insert function through one that first takes the table lock the
    library's plain path takes (``LOCK TABLE … IN EXCLUSIVE MODE``; the library's function
    leaves it out), so that
    transactions inserting events are given their notification ids in the order they
    commit. Without it, of two overlapping inserts the later one could commit first, and
    the relay, which reads past the highest id it has seen, would never publish the
    earlier one's events."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        #: the library's insert function behind the table lock (its own takes none)
        self.pg_function_name_locked_insert = f"hub_locked_{self.pg_function_name_insert_events}"
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{locked}(events {schema}.{event}[])"
                " RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ BEGIN"
                " SET LOCAL lock_timeout = '{lock_timeout}s';"
                " LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;"
                " RETURN QUERY SELECT * FROM {schema}.{insert_events}(events);"
                " END; $BODY$"
            ).format(
                locked=Identifier(self.pg_function_name_locked_insert),
                insert_events=Identifier(self.pg_function_name_insert_events),
                lock_timeout=self.datastore.lock_timeout,
                event=Identifier(self.stored_event_type_name),
                schema=Identifier(self.datastore.schema),
                table=Identifier(self.events_table_name),
            )
        )
        self.sql_invoke_pg_function_insert_events = SQL(
            "SELECT * FROM {schema}.{insert_events}((%b))"
        ).format(
            schema=Identifier(self.datastore.schema),
            insert_events=Identifier(self.pg_function_name_locked_insert),
        )
        # the same, rendered once: psycopg would compose the identifiers again at each insert
        self._invoke_locked_insert = self.sql_invoke_pg_function_insert_events.as_bytes(None)
        self._rows_dumper: type[Dumper] | None = None
        #: the stored events at the given originators' versions (``stored_ids``)
        self._select_stored = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state, e.notification_id"
            " FROM {schema}.{table} e"
            " JOIN unnest(%s::uuid[], %s::integer[]) AS k(originator_id, originator_version)"
            " USING (originator_id, originator_version)"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events in one transaction; while the database is away, try again (as
        the library does: up to ``INSERT_ATTEMPTS`` times, ``INSERT_PAUSE`` apart).

        A try whose connection broke may have committed: the server can commit and then lose
        the connection before its answer arrives (a crash, a restart, a terminated session).
        So before trying again the recorder looks whether exactly these events are stored
        (:meth:`stored_ids`). If they are, the first try committed and their notification
        ids are the answer. The library's retry inserted them again instead: that conflicted
        with the events themselves, and the command, retried on the fresh aggregate as after
        any conflict, was stored twice."""
        for attempt in range(1, INSERT_ATTEMPTS + 1):
            try:
                if attempt == 1:
                    return self._insert_once(stored_events, **kwargs)
                if (ids := self.stored_ids(stored_events)) is not None:
                    return ids
                try:
                    return self._insert_once(stored_events, **kwargs)
                except IntegrityError:
                    # these very events, committed by the try whose answer was lost after
                    # the look (its session outlived its connection), or another writer's
                    if (ids := self.stored_ids(stored_events)) is None:
                        raise
                    return ids
            except (InterfaceError, OperationalError):
                if attempt == INSERT_ATTEMPTS:
                    raise
                time.sleep(INSERT_PAUSE)
        raise AssertionError("unreachable")

    def stored_ids(self, stored_events: Sequence[StoredEvent]) -> Sequence[int] | None:
        """The notification ids of ``stored_events`` if exactly these are stored (each
        originator's version with the same topic and state), ``None`` if none of them is;
        a conflict (:class:`IntegrityError`) if others hold their versions."""
        if not stored_events:
            return []
        wanted = {(e.originator_id, e.originator_version): e for e in stored_events}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._select_stored,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                ),
            )
            rows = curs.fetchall()
        if not rows:
            return None
        found = {(row["originator_id"], row["originator_version"]): row for row in rows}
        if len(found) != len(wanted) or any(
            (row["topic"], bytes(row["state"])) != (wanted[key].topic, bytes(wanted[key].state))
            for key, row in found.items()
        ):
            raise IntegrityError("other events hold the versions of the events to insert")
        return [
            int(found[(e.originator_id, e.originator_version)]["notification_id"])
            for e in stored_events
        ]

    def _insert_once(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        info = self.datastore.psycopg_type_adapters.get(self.stored_event_type_name)
        if (
            not self.datastore.enable_db_functions
            or self.datastore.originator_id_type != "uuid"
            or info is None
            or not all(isinstance(e.originator_id, UUID) for e in stored_events)
        ):
            # the library's insert without its retry (``insert_events`` above retries)
            unretried = super().insert_events.__wrapped__
            ids: Sequence[int] | None = unretried(self, stored_events, **kwargs)
            return ids
        if self._rows_dumper is None:
            self._rows_dumper = type("RowsDumper", (_EventRowsDumper,), {"oid": info.array_oid})
        rows = binary_event_rows(stored_events, info.oid)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.adapters.register_dumper(EventRows, self._rows_dumper)
            curs.execute(self._invoke_locked_insert, (rows,), prepare=True)
            return [int(r[self.pg_function_name_locked_insert]) for r in curs.fetchall()]


class HubApplication(Application[UUID]):
    """Base for every service's application: context-carrying mapper, date transcoding."""

    env: ClassVar[dict[str, str]] = {"COMPRESSOR_TOPIC": ""}

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        """As ``Application.save``; aggregates are told from events by their class. The
        library asks two runtime-checkable protocols of every object instead, and on Python
        3.11 that costs ~20 µs an aggregate: a tenth of a bulk import's batch. Events of the
        library's own kinds are saved as they are, in their place among the aggregates'."""
        if kwargs or not all(isinstance(obj, BaseAggregate | DomainEvent) for obj in objs):
            return super().save(*objs, **kwargs)
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, DomainEvent):
                processing_event.events.append(obj)
                continue
            processing_event.events.extend(obj.collect_events())
            processing_event.aggregates[obj.id] = obj
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated in the library, called as it does
        return recordings

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def erase_person(self, person_id: UUID, ground: Any, rule: str | None = None) -> Any:
        """Erase the person's data in this service (Art. 17 GDPR; services/runtime/erasure.py)."""
        from services.runtime.erasure import erase_person

        return erase_person(self, getattr(self, "vault"), person_id, ground, rule)  # noqa: B009

    def restrict_processing(self, person_id: UUID, ground: Any, rule: str | None = None) -> Any:
        """Restrict the processing of the person's data here (Art. 18 GDPR, § 84 (3) SGB X)."""
        from services.runtime.erasure import restrict_processing

        return restrict_processing(self, getattr(self, "vault"), person_id, ground, rule)  # noqa: B009

    def construct_transcoder(self) -> Transcoder:
        transcoder = super().construct_transcoder()
        if type(transcoder) is not JSONTranscoder:  # another one chosen: left as it is
            return transcoder
        hub = HubTranscoder()
        self.register_transcodings(hub)
        return hub

    def construct_mapper(self) -> Mapper[UUID]:
        base = super().construct_mapper()
        return ContextMapper(
            transcoder=base.transcoder, compressor=base.compressor, cipher=base.cipher
        )


def check_connections_when_spoken_to(app: AppT) -> AppT:
    """Let ``app``'s event store pool check a connection with a round trip only when the server
    has sent it something since its last use (:func:`~services.runtime.database.
    check_idle_connection`), instead of before every use (``POSTGRES_PRE_PING``, which it
    keeps as the switch: a pool built without a check stays without one). psycopg_pool keeps
    the check in ``_check``; ``tests/integration/test_connection_check.py`` fails if that
    changes."""
    pool = getattr(getattr(app.recorder, "datastore", None), "pool", None)
    if pool is not None and getattr(pool, "_check", None) is not None:
        pool._check = check_idle_connection
    return app
