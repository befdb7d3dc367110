"""The gateway's rate limit: a token bucket per key (a token's subject, or ``anmeldung:`` /
``rueckkanal:`` and a client address), held in PostgreSQL so that it holds across every
gateway process, and spent locally so that a request costs no database round trip.

Each key has one row in ``gateway.rate_buckets``: its tokens and when they were counted. A
process that has no tokens of a key left *leases* a chunk of up to ``chunk`` tokens with one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (the row refilled by the time elapsed since,
at ``per_second``, up to ``burst``, with the database's clock, so processes on hosts with
different clocks agree) and then spends them in memory, one per request. A lease that finds
less than one token refuses the request and the process refuses that key locally until the
next token is due, so a flood of refused requests does not reach the database either. So
all processes together admit at most what one bucket allows, plus at most one chunk per
process (the tokens a process holds but has not spent); a lease's unspent tokens lapse after
:data:`LEASE_SECONDS`.

Keys are stored as their SHA-256 (a client address is personal data). Rows of keys whose
bucket has refilled are deleted now and then. When the database cannot be reached, the
process falls back to a bucket of its own (:class:`TokenBuckets`) and says so in its log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

import asyncpg

from services.runtime.database import CONNECTION_LOST

log = logging.getLogger(__name__)

#: a leased chunk's unspent tokens lapse after this long (a process holds no stale tokens)
LEASE_SECONDS = 10.0
#: rows of refilled buckets are deleted at most this often per process
PURGE_SECONDS = 60.0

DDL = """
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.rate_buckets (
    key_hash     bytea            PRIMARY KEY,  -- SHA-256 of the key (a subject, an address)
    tokens       double precision NOT NULL,     -- left after the last lease
    granted      double precision NOT NULL,     -- what the last lease took
    at           timestamptz      NOT NULL      -- when the tokens were counted
);
CREATE INDEX IF NOT EXISTS rate_buckets_at_idx ON gateway.rate_buckets (at);
"""

#: the tables the gateway's database role reads and writes (hub/database_roles.py)
TABLES = ("rate_buckets",)

#: one lease: refill by the time elapsed (the database's clock), take up to a chunk
LEASE = """
WITH now AS (SELECT statement_timestamp() AS t)
INSERT INTO gateway.rate_buckets AS b (key_hash, tokens, granted, at)
SELECT $1, $2::float8 - least($3::float8, floor($2::float8)), least($3::float8, floor($2::float8)),
       now.t
FROM now
ON CONFLICT (key_hash) DO UPDATE SET
    granted = least($3::float8, floor(least($2::float8, b.tokens + $4::float8
        * greatest(0, extract(epoch FROM excluded.at - b.at)::float8)))),
    tokens = least($2::float8, b.tokens + $4::float8
            * greatest(0, extract(epoch FROM excluded.at - b.at)::float8))
        - least($3::float8, floor(least($2::float8, b.tokens + $4::float8
            * greatest(0, extract(epoch FROM excluded.at - b.at)::float8)))),
    at = greatest(b.at, excluded.at)
RETURNING granted, tokens
"""


async def create_tables(db: asyncpg.Pool | asyncpg.Connection) -> None:
    await db.execute(DDL)


async def ensure_tables(pool: asyncpg.Pool | asyncpg.Connection) -> None:
    """The gateway at start-up: after the provisioning only look; without one (tests on a
    fresh database as the administrator) create."""
    if await pool.fetchval("SELECT to_regclass('gateway.rate_buckets')") is None:
        await create_tables(pool)


class TokenBuckets:
    """One token bucket per key, in memory: ``burst`` requests at once, refilled at
    ``per_second``. ``take`` answers how long to wait before the next request (0: go on).
    A process's own limit: the fallback of :class:`SharedTokenBuckets`."""

    MAX_SUBJECTS = 10_000

    def __init__(
        self,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # subject -> (tokens, at)

    def take(self, subject: str) -> float:
        if self.per_second <= 0:
            return 0.0
        now = self.clock()
        tokens, at = self._buckets.get(subject, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens < 1.0:
            self._buckets[subject] = (tokens, now)
            return (1.0 - tokens) / self.per_second
        if len(self._buckets) >= self.MAX_SUBJECTS and subject not in self._buckets:
            self._forget_full(now)
        self._buckets[subject] = (tokens - 1.0, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drops the buckets that have refilled (they equal a new one)."""
        for subject, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.per_second >= self.burst:
                del self._buckets[subject]


class SharedTokenBuckets:
    """The rate limit of every gateway process together (see the module's docstring).

    ``take`` answers how long the key must wait before its next request (0: go on). ``pool``
    gives the gateway's pool (``None`` before it has started: the local fallback counts)."""

    MAX_KEYS = 10_000

    def __init__(
        self,
        per_second: float,
        burst: int,
        pool: Callable[[], asyncpg.Pool | None],
        *,
        chunk: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.burst = float(burst)
        self.chunk = float(max(1, min(chunk, burst)))
        self.clock = clock
        self._pool = pool
        self.fallback = TokenBuckets(per_second, burst, clock)
        #: key -> (tokens leased and not spent, when leased)
        self._held: dict[str, tuple[float, float]] = {}
        #: key -> refused locally until (its last lease found no token)
        self._blocked: dict[str, float] = {}
        #: key -> (its lease's lock, how many requests use it)
        self._leasing: dict[str, tuple[asyncio.Lock, int]] = {}
        self._purged: float | None = None
        self._warned: float | None = None
        #: round trips to the database (leases), for tests and benchmarks
        self.leases = 0

    async def take(self, key: str) -> float:
        if self.per_second <= 0:
            return 0.0
        now = self.clock()
        if self._spend(key, now):
            return 0.0
        until = self._blocked.get(key)
        if until is not None and now < until:
            return until - now
        pool = self._pool()
        if pool is None:
            return self.fallback.take(key)
        lock, users = self._leasing.get(key, (asyncio.Lock(), 0))
        self._leasing[key] = (lock, users + 1)
        try:
            async with lock:  # one lease per key at a time: the others spend what it got
                return await self._lease_and_take(pool, key)
        finally:
            lock, users = self._leasing[key]
            if users <= 1:
                del self._leasing[key]
            else:
                self._leasing[key] = (lock, users - 1)

    def _spend(self, key: str, now: float) -> bool:
        held = self._held.get(key)
        if held is None:
            return False
        tokens, leased = held
        if tokens < 1.0 or now - leased >= LEASE_SECONDS:
            del self._held[key]
            return False
        self._held[key] = (tokens - 1.0, leased)
        return True

    async def _lease_and_take(self, pool: asyncpg.Pool, key: str) -> float:
        now = self.clock()
        if self._spend(key, now):  # leased by another request meanwhile
            return 0.0
        until = self._blocked.get(key)
        if until is not None and now < until:
            return until - now
        try:
            row = await pool.fetchrow(
                LEASE,
                hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest(),
                self.burst,
                self.chunk,
                self.per_second,
            )
            await self._purge(pool, now)
        except (*CONNECTION_LOST, asyncpg.PostgresError) as error:
            if self._warned is None or now - self._warned >= 60.0:
                self._warned = now
                log.warning(
                    "the shared rate limit is unavailable (%s); this gateway counts alone",
                    type(error).__name__,
                )
            return self.fallback.take(key)
        self.leases += 1
        assert row is not None
        granted, left = float(row["granted"]), float(row["tokens"])
        now = self.clock()
        if len(self._held) >= self.MAX_KEYS or len(self._blocked) >= self.MAX_KEYS:
            self._forget(now)
        if granted >= 1.0:
            self._blocked.pop(key, None)
            self._held[key] = (granted - 1.0, now)
            return 0.0
        wait = max(0.001, (1.0 - left) / self.per_second)
        self._blocked[key] = now + wait
        return wait

    async def _purge(self, pool: asyncpg.Pool, now: float) -> None:
        """Deletes the rows of buckets that have refilled (they equal a missing row)."""
        if self._purged is not None and now - self._purged < PURGE_SECONDS:
            return
        self._purged = now
        await pool.execute(
            "DELETE FROM gateway.rate_buckets"
            " WHERE at < statement_timestamp() - make_interval(secs => $1)",
            self.burst / self.per_second + LEASE_SECONDS,
        )

    def _forget(self, now: float) -> None:
        self._held = {
            key: held for key, held in self._held.items() if now - held[1] < LEASE_SECONDS
        }
        self._blocked = {key: until for key, until in self._blocked.items() if until > now}
        if len(self._held) >= self.MAX_KEYS:
            self._held.clear()
        if len(self._blocked) >= self.MAX_KEYS:
            self._blocked.clear()
