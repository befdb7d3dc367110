"""The person timeline projector: contract events -> ``projections.timeline_events``."""

from __future__ import annotations

from importlib import resources
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import case_management as cm
from projections.timeline.summaries import describe
from services.runtime.consumer import PoisonMessage, source_key
from services.runtime.telemetry import trace_id_of

NAME = "timeline"
SCHEMA = "projections"
TABLE = "timeline_events"
LOCK_KEY = 0x71_6D_E1_1E  # advisory lock shared with the rebuild's final swap

_INSERT = (
    "INSERT INTO projections.{table} (source, position, event_id, person_id, event_type,"
    " occurred_at, recorded_at, summary, trace_id, categories, owner_agency, consent_id)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT (source, position) DO NOTHING"
)


def ddl(table: str = TABLE) -> str:
    """The timeline's DDL, for ``table`` and its side tables (the rebuild's shadow copy)."""
    return resources.files(__package__).joinpath("schema.sql").read_text().replace(TABLE, table)


class TimelineProjection:
    """Writes one row per person event; ``ON CONFLICT DO NOTHING`` keeps replays harmless.

    Alongside, it keeps the consents and the owners of cases, referrals and requests, in the
    same transactions and the same order as the rows, so visibility is never behind them.
    """

    def __init__(self, table: str = TABLE, *, lock: bool = True) -> None:
        self.table = table
        self.lock = lock
        self._insert = _INSERT.format(table=table)
        self._consents = f"projections.{table}_consents"
        self._refs = f"projections.{table}_refs"
        self._rows: list[tuple[object, ...]] = []

    async def begin(self, conn: asyncpg.Connection) -> None:
        self._rows.clear()  # a rolled-back attempt leaves nothing behind
        if self.lock:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self._rows:
            await conn.executemany(self._insert, self._rows)
            self._rows.clear()
            # delivered on commit: subscriptions read the new rows then
            await conn.execute("SELECT pg_notify('hub_timeline', '')")

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        owner, consent = await self._track(conn, event, payload)
        if event.personid is None:
            return
        described = describe(payload)
        if described is None:
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
                described.summary,
                trace_id_of(event.traceparent),
                list(described.categories),
                owner,
                consent,
            )
        )

    async def _owner(self, conn: asyncpg.Connection, ref: str) -> tuple[str | None, UUID | None]:
        row = await conn.fetchrow(
            f"SELECT owner_agency, consent_id FROM {self._refs} WHERE ref_id = $1", UUID(ref)
        )
        return (row["owner_agency"], row["consent_id"]) if row else (None, None)

    async def _remember(
        self, conn: asyncpg.Connection, ref: str, owner: str | None, consent: UUID | None
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self._refs} (ref_id, owner_agency, consent_id) VALUES ($1, $2, $3)"
            " ON CONFLICT (ref_id) DO NOTHING",
            UUID(ref),
            owner,
            consent,
        )

    async def _track(
        self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload
    ) -> tuple[str | None, UUID | None]:
        """Keep refs and consents; returns the row's owner agency and governing consent."""
        if isinstance(payload, cm.CaseOpened):
            await self._remember(conn, payload.case_id, payload.agency, None)
            return payload.agency, None
        if isinstance(payload, cm.ClientRegistered):
            return event.sourceagency, None
        if isinstance(payload, cm.ConsentGranted):
            owner, _ = await self._owner(conn, payload.case_id)
            consent = UUID(payload.consent_id)
            await self._remember(conn, payload.consent_id, owner, consent)
            await conn.execute(
                f"INSERT INTO {self._consents} (consent_id, person_id, owner_agency, recipients,"
                " categories, purposes, special_explicit, valid_until, status)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')"
                " ON CONFLICT (consent_id) DO NOTHING",
                consent,
                UUID(payload.person_id),
                owner,
                list(payload.recipients),
                list(payload.categories),
                list(payload.purposes),
                payload.special_categories_explicit,
                payload.valid_until,
            )
            return owner, consent
        if isinstance(payload, cm.ConsentWithdrawn | cm.ConsentExpired):
            status = "withdrawn" if isinstance(payload, cm.ConsentWithdrawn) else "expired"
            await conn.execute(
                f"UPDATE {self._consents} SET status = $2 WHERE consent_id = $1",
                UUID(payload.consent_id),
                status,
            )
            return await self._owner(conn, payload.consent_id)
        if isinstance(payload, cm.ReferralSent):
            consent = UUID(payload.consent_id)
            await self._remember(conn, payload.referral_id, payload.from_agency, consent)
            return payload.from_agency, consent
        if isinstance(payload, cm.ReferralAccepted | cm.ReferralDeclined | cm.ReferralCompleted):
            return await self._owner(conn, payload.referral_id)
        if isinstance(payload, cm.MediationRequested):
            await self._remember(conn, payload.request_id, payload.agency, None)
            return payload.agency, None
        if isinstance(payload, cm.MediatorAssigned | cm.MediationUnserved):
            return await self._owner(conn, payload.request_id)
        case_id = getattr(payload, "case_id", None)
        if event.source.endswith("/case_management") and isinstance(case_id, str):
            return await self._owner(conn, case_id)
        return None, None

    async def committed(self, events: list[CloudEvent]) -> None:
        return None
