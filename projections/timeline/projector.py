"""The person timeline projector: contract events -> ``projections.timeline_events``."""

from __future__ import annotations

from importlib import resources
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from projections.timeline.summaries import summarise
from services.runtime.consumer import PoisonMessage, source_key
from services.runtime.telemetry import trace_id_of

NAME = "timeline"
SCHEMA = "projections"
TABLE = "timeline_events"
LOCK_KEY = 0x71_6D_E1_1E  # advisory lock shared with the rebuild's final swap

_INSERT = (
    "INSERT INTO projections.{table} (source, position, event_id, person_id, event_type,"
    " occurred_at, recorded_at, summary, trace_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
    " ON CONFLICT (source, position) DO NOTHING"
)


def ddl(table: str = TABLE) -> str:
    return resources.files(__package__).joinpath("schema.sql").read_text().format(table=table)


async def create_tables(conn: asyncpg.Connection | asyncpg.Pool, table: str = TABLE) -> None:
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    await conn.execute(ddl(table))


class TimelineProjection:
    """Writes one row per person event; ``ON CONFLICT DO NOTHING`` keeps replays harmless."""

    def __init__(self, table: str = TABLE, *, lock: bool = True) -> None:
        self.table = table
        self.lock = lock
        self._insert = _INSERT.format(table=table)
        self._rows: list[tuple[object, ...]] = []

    async def begin(self, conn: asyncpg.Connection) -> None:
        self._rows.clear()  # a rolled-back attempt leaves nothing behind
        if self.lock:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self._rows:
            await conn.executemany(self._insert, self._rows)
            self._rows.clear()

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        if event.personid is None:
            return
        summary = summarise(payload)
        if summary is None:
            return
        try:
            person_id = UUID(event.personid)
        except ValueError:
            raise PoisonMessage(f"personid {event.personid!r} is not a UUID") from None
        self._rows.append(
            (
                source_key(event),
                event.sourceposition,
                event.id,
                person_id,
                event.type,
                event.time,
                event.recordedtime,
                summary,
                trace_id_of(event.traceparent),
            )
        )

    async def committed(self, events: list[CloudEvent]) -> None:
        return None
