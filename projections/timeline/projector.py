"""The person timeline projector: contract events -> ``projections.timeline_events``."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import case_management as cm
from contracts import foreigners_authority as fa
from contracts.privacy import PersonalDataErased, ProcessingRestricted
from projections.timeline.summaries import describe
from projections.timeline.visibility import AUTHORITY
from services.runtime.consumer import PoisonMessage, source_key
from services.runtime.projection_base import Dispatch
from services.runtime.telemetry import trace_id_of

NAME = "timeline"
SCHEMA = "projections"
TABLE = "timeline_events"
LOCK_KEY = 0x71_6D_E1_1E  # advisory lock shared with the rebuild's final swap

#: a batch's rows in one statement (one array per column; the categories of each row as an
#: array literal, see :func:`_text_array`), each unless the person was erased in the row's
#: source (a late event about them)
_INSERT = (
    "INSERT INTO projections.{table} (source, position, event_id, person_id, event_type,"
    " occurred_at, recorded_at, summary, trace_id, categories, owner_agency, consent_id)"
    " SELECT r.source, r.position, r.event_id, r.person_id, r.event_type, r.occurred_at,"
    " r.recorded_at, r.summary, r.trace_id, r.categories::text[], r.owner_agency,"
    " r.consent_id FROM unnest($1::text[], $2::bigint[], $3::text[], $4::uuid[], $5::text[],"
    " $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[],"
    " $12::uuid[]) AS r(source, position, event_id, person_id, event_type, occurred_at,"
    " recorded_at, summary, trace_id, categories, owner_agency, consent_id)"
    " WHERE NOT EXISTS (SELECT 1 FROM projections.{table}_erased e"
    " WHERE e.person_id = r.person_id AND e.source = r.source)"
    " ON CONFLICT (source, position) DO NOTHING"
)


@functools.lru_cache(maxsize=256)
def _text_array(values: tuple[str, ...]) -> str:
    """``values`` as a PostgreSQL array literal (every element quoted and escaped)."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def ddl(table: str = TABLE) -> str:
    """The timeline's DDL, for ``table`` and its side tables (the rebuild's shadow copy)."""
    return resources.files(__package__).joinpath("schema.sql").read_text().replace(TABLE, table)


#: A row's owner agency and its governing consent
Tracked = tuple[str | None, UUID | None]
NOBODY: Tracked = (None, None)


@dataclass
class Pending:
    """Side-table writes of the current transaction that wait for ``flush``: who holds which
    person's file (the last word counts) and the owners of cases, referrals and requests (the
    first word counts). One statement each per batch instead of one per event."""

    holders: dict[UUID, str] = field(default_factory=dict)
    refs: dict[UUID, Tracked] = field(default_factory=dict)

    def clear(self) -> None:
        self.holders.clear()
        self.refs.clear()


@dataclass(frozen=True)
class SideTables:
    """The timeline's side tables in one transaction: the owners of cases, referrals and
    requests (``refs``), the consents, the authorities' decisions on them, and which
    authority holds each person's file. Holders and owners are buffered in ``pending`` and
    written by :meth:`write_pending` (the projection's ``flush``); :meth:`owner` reads the
    buffered ones first."""

    conn: asyncpg.Connection
    refs: str
    consents: str
    confirmations: str = ""
    holders: str = ""
    pending: Pending = field(default_factory=Pending)

    async def hand_over(self, person_id: str, authority: str) -> None:
        """``authority`` holds the person's file from now on."""
        person = UUID(person_id)
        self.pending.holders.pop(person, None)  # the latest word goes last
        self.pending.holders[person] = authority

    async def decide(self, consent_id: str, authority: str | None, confirmed: bool) -> None:
        """Record an authority's decision on a consent (the latest decision counts)."""
        await self.conn.execute(
            f"INSERT INTO {self.confirmations} (consent_id, authority, confirmed)"
            " VALUES ($1, $2, $3) ON CONFLICT (consent_id, authority)"
            " DO UPDATE SET confirmed = EXCLUDED.confirmed",
            UUID(consent_id),
            authority or "",
            confirmed,
        )

    async def owner(self, ref: str) -> Tracked:
        waiting = self.pending.refs.get(UUID(ref))
        if waiting is not None:
            return waiting
        row = await self.conn.fetchrow(
            f"SELECT owner_agency, consent_id FROM {self.refs} WHERE ref_id = $1", UUID(ref)
        )
        return (row["owner_agency"], row["consent_id"]) if row else NOBODY

    async def remember(self, ref: str, owner: str | None, consent: UUID | None) -> None:
        self.pending.refs.setdefault(UUID(ref), (owner, consent))

    async def write_pending(self) -> None:
        """Write the buffered holders and owners, one statement each."""
        if self.pending.holders:
            await self.conn.execute(
                f"INSERT INTO {self.holders} (person_id, authority)"
                " SELECT * FROM unnest($1::uuid[], $2::text[])"
                " ON CONFLICT (person_id) DO UPDATE SET authority = EXCLUDED.authority",
                list(self.pending.holders),
                list(self.pending.holders.values()),
            )
        if self.pending.refs:
            await self.conn.execute(
                f"INSERT INTO {self.refs} (ref_id, owner_agency, consent_id)"
                " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[])"
                " ON CONFLICT (ref_id) DO NOTHING",
                list(self.pending.refs),
                [owner for owner, _ in self.pending.refs.values()],
                [consent for _, consent in self.pending.refs.values()],
            )
        self.pending.clear()


#: Keeps the side tables; returns the row's owner agency and governing consent
track: Dispatch[SideTables, Tracked] = Dispatch()


@track.handles(cm.CaseOpened)
async def _case_opened(side: SideTables, event: CloudEvent, p: cm.CaseOpened) -> Tracked:
    await side.remember(p.case_id, p.agency, None)
    return p.agency, None


@track.handles(cm.ClientRegistered)
async def _client(side: SideTables, event: CloudEvent, p: cm.ClientRegistered) -> Tracked:
    return event.sourceagency, None


@track.handles(cm.ConsentGranted)
async def _consent(side: SideTables, event: CloudEvent, p: cm.ConsentGranted) -> Tracked:
    owner, _ = await side.owner(p.case_id)
    consent = UUID(p.consent_id)
    await side.remember(p.consent_id, owner, consent)
    await side.conn.execute(
        f"INSERT INTO {side.consents} (consent_id, person_id, owner_agency, recipients,"
        " categories, purposes, special_explicit, valid_until, status)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')"
        " ON CONFLICT (consent_id) DO NOTHING",
        consent,
        UUID(p.person_id),
        owner,
        list(p.recipients),
        list(p.categories),
        list(p.purposes),
        p.special_categories_explicit,
        p.valid_until,
    )
    return owner, consent


@track.handles(cm.ConsentWithdrawn)
async def _withdrawn(side: SideTables, event: CloudEvent, p: cm.ConsentWithdrawn) -> Tracked:
    return await _consent_ended(side, p.consent_id, "withdrawn")


@track.handles(cm.ConsentExpired)
async def _expired(side: SideTables, event: CloudEvent, p: cm.ConsentExpired) -> Tracked:
    return await _consent_ended(side, p.consent_id, "expired")


async def _consent_ended(side: SideTables, consent_id: str, status: str) -> Tracked:
    await side.conn.execute(
        f"UPDATE {side.consents} SET status = $2 WHERE consent_id = $1",
        UUID(consent_id),
        status,
    )
    return await side.owner(consent_id)


@track.handles(cm.ReferralSent)
async def _referral(side: SideTables, event: CloudEvent, p: cm.ReferralSent) -> Tracked:
    consent = UUID(p.consent_id)
    await side.remember(p.referral_id, p.from_agency, consent)
    return p.from_agency, consent


@track.handles(cm.ReferralAccepted, cm.ReferralDeclined, cm.ReferralCompleted)
async def _answered(
    side: SideTables,
    event: CloudEvent,
    p: cm.ReferralAccepted | cm.ReferralDeclined | cm.ReferralCompleted,
) -> Tracked:
    return await side.owner(p.referral_id)


@track.handles(cm.MediationRequested)
async def _requested(side: SideTables, event: CloudEvent, p: cm.MediationRequested) -> Tracked:
    await side.remember(p.request_id, p.agency, None)
    return p.agency, None


@track.handles(cm.MediatorAssigned, cm.MediationUnserved)
async def _mediation(
    side: SideTables, event: CloudEvent, p: cm.MediatorAssigned | cm.MediationUnserved
) -> Tracked:
    return await side.owner(p.request_id)


@track.handles(fa.PersonRegistered)
async def _registered(side: SideTables, event: CloudEvent, p: fa.PersonRegistered) -> Tracked:
    await side.hand_over(p.person_id, p.abh_id)
    return event.sourceagency, None


@track.handles(fa.CaseFileTransferred)
async def _transferred(side: SideTables, event: CloudEvent, p: fa.CaseFileTransferred) -> Tracked:
    await side.hand_over(p.person_id, p.to_abh)
    return event.sourceagency, None


@track.handles(fa.ConsentConfirmed)
async def _consent_confirmed(
    side: SideTables, event: CloudEvent, p: fa.ConsentConfirmed
) -> Tracked:
    await side.decide(p.consent_id, event.sourceagency, confirmed=True)
    return event.sourceagency, None


@track.handles(fa.ConsentDeclined)
async def _consent_declined(side: SideTables, event: CloudEvent, p: fa.ConsentDeclined) -> Tracked:
    await side.decide(p.consent_id, event.sourceagency, confirmed=False)
    return event.sourceagency, None


@track.handles(Payload)
async def _other(side: SideTables, event: CloudEvent, p: Payload) -> Tracked:
    """Any other case-management event about a case belongs to the case's agency; an event of
    another service (the foreigners authority's) to the agency that recorded it."""
    if not event.source.endswith("/case_management"):
        return event.sourceagency, None
    case_id = getattr(p, "case_id", None)
    if isinstance(case_id, str):
        return await side.owner(case_id)
    return NOBODY


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
        self._confirmations = f"projections.{table}_confirmations"
        self._holders = f"projections.{table}_holders"
        self._erased = f"projections.{table}_erased"
        self._rows: list[tuple[object, ...]] = []
        self._pending = Pending()

    def _side(self, conn: asyncpg.Connection) -> SideTables:
        return SideTables(
            conn, self._refs, self._consents, self._confirmations, self._holders, self._pending
        )

    async def begin(self, conn: asyncpg.Connection) -> None:
        self._rows.clear()  # a rolled-back attempt leaves nothing behind
        self._pending.clear()
        if self.lock:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)

    async def flush(self, conn: asyncpg.Connection) -> None:
        await self._side(conn).write_pending()
        if self._rows:
            await conn.execute(
                self._insert, *(list(column) for column in zip(*self._rows, strict=True))
            )
            self._rows.clear()
            # delivered on commit: subscriptions read the new rows then
            await conn.execute("SELECT pg_notify('hub_timeline', '')")

    async def erase(self, conn: asyncpg.Connection, source: str, person_id: UUID) -> None:
        """Drop what the timeline holds on the person from ``source``, and show nothing that
        source says about them later: their rows, and, from case management, their consents
        and the authorities' decisions on them; from the authority, who holds their file."""
        await self.flush(conn)  # rows of this batch first, so none outlives the erasure
        await conn.execute(
            f"INSERT INTO {self._erased} (person_id, source) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING",
            person_id,
            source,
        )
        await conn.execute(
            f"DELETE FROM projections.{self.table} WHERE person_id = $1 AND source = $2",
            person_id,
            source,
        )
        if source == "case_management":
            consents = f"SELECT consent_id FROM {self._consents} WHERE person_id = $1"
            await conn.execute(
                f"DELETE FROM {self._confirmations} WHERE consent_id IN ({consents})", person_id
            )
            await conn.execute(f"DELETE FROM {self._consents} WHERE person_id = $1", person_id)
        if source == AUTHORITY:
            await conn.execute(f"DELETE FROM {self._holders} WHERE person_id = $1", person_id)

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        if isinstance(payload, PersonalDataErased | ProcessingRestricted):
            await self.erase(conn, source_key(event), UUID(payload.person_id))
            return
        owner, consent = await track(self._side(conn), event, payload) or NOBODY
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
                _text_array(tuple(described.categories)),
                owner,
                consent,
            )
        )

    async def committed(self, events: list[CloudEvent]) -> None:
        return None
