"""Audit log of reads of person data: who, what, when, for which purpose (Art. 15 GDPR).

The log is append-only and hash-chained, so that a changed, inserted or deleted entry shows:
a trigger (running as the table's owner) gives each new entry the next number in the chain
(``seq``), the hash of the entry before it (``prev_hash``) and its own hash,
``sha256(prev_hash || canonical text of the entry)`` (``gateway.audit_entry_text``), under a
lock, so the chain has one order however many gateways write. ``gateway.audit_head`` keeps
the last number and hash, so that removing entries from the end shows too.
:func:`verify_chain` (``hub audit verify``) recomputes every hash in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from gateway.auth import Principal

#: the advisory lock that orders the chain (any gateway, any connection)
CHAIN_LOCK = 0x41_55_44_17
GENESIS = "\\x" + "00" * 32

DDL = f"""
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    subject     text        NOT NULL,
    agency      text        NOT NULL,
    role        text        NOT NULL,
    action      text        NOT NULL,
    person_id   uuid,
    purpose     text        NOT NULL,
    detail      text
);
CREATE INDEX IF NOT EXISTS audit_log_person_idx ON gateway.audit_log (person_id, at);
ALTER TABLE gateway.audit_log ADD COLUMN IF NOT EXISTS seq bigint;
ALTER TABLE gateway.audit_log ADD COLUMN IF NOT EXISTS prev_hash bytea;
ALTER TABLE gateway.audit_log ADD COLUMN IF NOT EXISTS hash bytea;
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_seq_idx ON gateway.audit_log (seq);
CREATE TABLE IF NOT EXISTS gateway.audit_head (
    one         boolean     PRIMARY KEY DEFAULT true CHECK (one),
    seq         bigint      NOT NULL,
    hash        bytea       NOT NULL
);

-- the text an entry's hash covers: every column but the chain's own, in a fixed form
CREATE OR REPLACE FUNCTION gateway.audit_entry_text(e gateway.audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws(chr(31), e.seq::text, e.id::text,
    to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), e.subject, e.agency,
    e.role, e.action, coalesce(e.person_id::text, ''), e.purpose, coalesce(e.detail, ''))
$$;

CREATE OR REPLACE FUNCTION gateway.audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  last_seq bigint;
  last_hash bytea;
BEGIN
  PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
  SELECT h.seq, h.hash INTO last_seq, last_hash FROM gateway.audit_head h;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, '{GENESIS}'::bytea);
  NEW.hash := sha256(NEW.prev_hash || convert_to(gateway.audit_entry_text(NEW), 'UTF8'));
  INSERT INTO gateway.audit_head (one, seq, hash) VALUES (true, NEW.seq, NEW.hash)
    ON CONFLICT (one) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS audit_chain ON gateway.audit_log;
CREATE TRIGGER audit_chain BEFORE INSERT ON gateway.audit_log
  FOR EACH ROW EXECUTE FUNCTION gateway.audit_chain();

-- one person's entries, for the Art. 15 report: the gateway may call it (database_roles), but
-- still not read the log itself
CREATE OR REPLACE FUNCTION gateway.audit_entries_of(person uuid)
RETURNS TABLE (at timestamptz, subject text, agency text, role text, action text,
               purpose text, detail text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT e.at, e.subject, e.agency, e.role, e.action, e.purpose, e.detail
  FROM gateway.audit_log e WHERE e.person_id = person ORDER BY e.at, e.id
$$;
REVOKE ALL ON FUNCTION gateway.audit_entries_of(uuid) FROM PUBLIC;
"""


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found: how many entries it checked, the entries written
    before the chain existed, and each break (``seq``: what is wrong)."""

    entries: int
    unchained: int
    breaks: list[str]

    @property
    def intact(self) -> bool:
        return not self.breaks


async def create_tables(pool: asyncpg.Pool | asyncpg.Connection) -> None:
    """Create or bring up to date the log, its head and its chain (the provisioning does, as
    the tables' owner)."""
    await pool.execute(DDL)


async def ensure_tables(pool: asyncpg.Pool | asyncpg.Connection) -> None:
    """The gateway at start-up: after the provisioning only look (its role may append entries
    and nothing else); without one (tests on a fresh database as the administrator) create."""
    if await pool.fetchval("SELECT to_regclass('gateway.audit_head')") is None:
        await create_tables(pool)


#: the most entries one group commit writes (more wait for the next one)
MAX_GROUP = 1000

_INSERT_ONE = (
    "INSERT INTO gateway.audit_log (subject, agency, role, action, person_id, purpose, detail)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
#: several entries in one statement, in the order given (the trigger chains them row by row)
_INSERT_MANY = (
    "INSERT INTO gateway.audit_log (subject, agency, role, action, person_id, purpose, detail)"
    " SELECT e.subject, e.agency, e.role, e.action, e.person_id, e.purpose, e.detail"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[],"
    " $7::text[]) WITH ORDINALITY"
    " AS e(subject, agency, role, action, person_id, purpose, detail, n) ORDER BY e.n"
)

Entry = tuple[str, str, str, str, UUID | None, str, str | None]


class GroupCommit:
    """Writes the audit entries of concurrent reads in one transaction (group commit).

    :meth:`append` queues an entry and returns only once the transaction holding it has
    committed; if that transaction fails, every read waiting on it fails with the error, so
    no read is answered without its entry stored. One flush runs at a time per pool: while it
    commits, the next entries gather for the one after it. The flush runs as its own task, so
    a read whose client goes away cannot cancel the commit of the others. Entries enter the
    chain in the order they were appended (the trigger numbers and hashes them row by row,
    under the chain's lock, as for a single insert).
    """

    def __init__(
        self, pool: asyncpg.Pool, on_idle: Callable[[GroupCommit], None] | None = None
    ) -> None:
        self.pool = pool
        self.on_idle = on_idle
        self._waiting: list[tuple[Entry, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        #: how many transactions and entries were written (for the benchmark)
        self.commits = 0
        self.entries = 0

    async def append(self, entry: Entry) -> None:
        (future,) = self.submit([entry])
        # shielded: a cancelled read does not cancel its entry (it is written all the same)
        await asyncio.shield(future)

    def submit(self, entries: Sequence[Entry]) -> list[asyncio.Future[None]]:
        """Queue several entries at once, next to each other in the chain and in the order
        given, and return at once one future per entry, done when that entry is committed
        (or failed with its commit's error). They go into the same commit unless the group
        is full (:data:`MAX_GROUP`): then they are split over consecutive commits, and a
        caller stops at the first entry that failed."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for entry in entries:
            future: asyncio.Future[None] = loop.create_future()
            # a caller that stops at an earlier failure need not collect the later ones
            future.add_done_callback(_retrieved)
            self._waiting.append((entry, future))
            futures.append(future)
        if futures and self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_all())
        return futures

    async def _flush_all(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[:MAX_GROUP]
                del self._waiting[:MAX_GROUP]
                try:
                    await self._write([entry for entry, _ in group])
                except Exception as error:  # every read waiting on this commit fails with it
                    for _, future in group:
                        if not future.done():
                            future.set_exception(error)
                except BaseException:  # cancelled (the loop shuts down): none of them answers
                    self._waiting[:0] = group
                    raise
                else:
                    self.commits += 1
                    self.entries += len(group)
                    for _, future in group:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._flushing = None
            for _, future in self._waiting:  # left only when cancelled
                if not future.done():
                    future.set_exception(RuntimeError("the audit log's commit was interrupted"))
            self._waiting.clear()
            if self.on_idle is not None:
                self.on_idle(self)

    async def _write(self, entries: list[Entry]) -> None:
        if len(entries) == 1:
            await self.pool.execute(_INSERT_ONE, *entries[0])
            return
        columns = [list(column) for column in zip(*entries, strict=True)]
        await self.pool.execute(_INSERT_MANY, *columns)


#: the group commit of each pool with entries waiting or being written (id(pool) -> it); it
#: is dropped when idle, so no task outlives the reads and no pool is kept alive
_GROUPS: dict[int, GroupCommit] = {}


def group_commit(pool: asyncpg.Pool) -> GroupCommit:
    """The pool's group commit (made when entries start to wait, dropped when idle)."""
    group = _GROUPS.get(id(pool))
    if group is None or group.pool is not pool:
        group = _GROUPS[id(pool)] = GroupCommit(pool, on_idle=_forget)
    return group


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # seen: no "exception was never retrieved" for an unawaited one


def _forget(group: GroupCommit) -> None:
    if _GROUPS.get(id(group.pool)) is group:
        del _GROUPS[id(group.pool)]


async def record_read(
    pool: asyncpg.Pool | asyncpg.Connection,
    principal: Principal,
    *,
    action: str,
    person_id: UUID | None,
    purpose: str,
    detail: str | None = None,
) -> None:
    """Log one read of person data; returns once the entry is stored (committed).

    Through a pool, the entries of concurrent reads are committed together
    (:class:`GroupCommit`); on a connection (inside the caller's transaction), at once.
    """
    entry: Entry = (
        principal.subject,
        principal.agency,
        principal.role,
        action,
        person_id,
        purpose,
        detail,
    )
    if isinstance(pool, asyncpg.Pool):
        await group_commit(pool).append(entry)
    else:
        await pool.execute(_INSERT_ONE, *entry)


def record_reads(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    action: str,
    person_ids: Sequence[UUID | None],
    purpose: str,
) -> list[asyncio.Future[None]]:
    """Log several reads at once (one per person id, in that order), for a reader that
    delivers them one after the other: returns at once one future per entry, which
    returns once that entry is stored (committed) and raises if its commit failed. The
    entries join one group commit (:class:`GroupCommit`), so a page of rows costs one commit
    instead of one per row. Await them in order and deliver each read only after its own:
    an entry is written even if its future is cancelled or never awaited."""
    if not person_ids:  # nothing to queue (and no group commit to leave behind)
        return []
    futures = group_commit(pool).submit(
        [
            (
                principal.subject,
                principal.agency,
                principal.role,
                action,
                person_id,
                purpose,
                None,
            )
            for person_id in person_ids
        ]
    )
    # shielded: a subscriber that goes away does not cancel the entries (stored all the same)
    shielded = [asyncio.shield(future) for future in futures]
    for outer in shielded:
        outer.add_done_callback(_retrieved)
    return shielded


@dataclass(frozen=True)
class AuditEntry:
    """One read of a person's data: when, who (subject, agency, role), what, for which purpose."""

    at: datetime
    subject: str
    agency: str
    role: str
    action: str
    purpose: str
    detail: str | None


async def entries_of(pool: asyncpg.Pool, person_id: UUID) -> list[AuditEntry]:
    """The log's entries about one person, oldest first (through ``gateway.audit_entries_of``:
    the gateway's role cannot read the log itself)."""
    rows = await pool.fetch("SELECT * FROM gateway.audit_entries_of($1)", person_id)
    return [AuditEntry(**dict(row)) for row in rows]


async def verify_chain(conn: asyncpg.Connection) -> ChainReport:
    """Recompute every entry's hash and link: a changed entry breaks its own hash, an inserted
    one its successor's link or the numbering, a deleted one the numbering (or, at the end,
    the head)."""
    breaks: list[str] = []
    previous_seq, previous_hash, entries = 0, bytes(32), 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        unchained = await conn.fetchval("SELECT count(*) FROM gateway.audit_log WHERE seq IS NULL")
        async for row in conn.cursor(
            "SELECT seq, prev_hash, hash,"
            " sha256(prev_hash || convert_to(gateway.audit_entry_text(e), 'UTF8')) AS computed"
            " FROM gateway.audit_log e WHERE seq IS NOT NULL ORDER BY seq"
        ):
            entries += 1
            seq = int(row["seq"])
            if seq != previous_seq + 1:
                breaks.append(f"{seq}: follows {previous_seq} (entries missing or inserted)")
            if bytes(row["prev_hash"]) != previous_hash:
                breaks.append(f"{seq}: does not link to the entry before it")
            if bytes(row["hash"]) != bytes(row["computed"]):
                breaks.append(f"{seq}: its content does not match its hash (changed)")
            previous_seq, previous_hash = seq, bytes(row["hash"])
        head = await conn.fetchrow("SELECT seq, hash FROM gateway.audit_head")
    last = (int(head["seq"]), bytes(head["hash"])) if head is not None else (0, bytes(32))
    if last != (previous_seq, previous_hash):
        breaks.append(f"{last[0]}: the last entry recorded is missing (entries removed)")
    return ChainReport(entries, int(unchained), breaks)
