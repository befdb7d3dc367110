"""Server-side sessions of the workspace, kept in the gateway's PostgreSQL schema, so that a
restart or a second gateway replica keeps the user signed in and keeps what they typed.

- **Sessions** (``gateway.workspace_sessions``): a random 256-bit id in an HttpOnly,
  SameSite=Lax cookie (Secure outside development); the table holds only its SHA-256, the
  signed-in principal, the CSRF token and two deadlines (idle and absolute). An expired
  session is refused and deleted.
- **One-time form tokens** (``gateway.workspace_submissions``): what a form token did (the
  page to go to), so that a repeated submit, also after a restart or on another replica,
  gets the first one's result and sends no command again.
- **Drafts** (``gateway.workspace_drafts``): the values of a form sent after its session
  ended, restored once after the user signed in again. They may hold personal values, so they
  are encrypted (AES-GCM) with a key derived from the draft's random id, which lives only in
  the user's address bar (``?entwurf=``); the table holds the id's hash and ciphertext.
- **Sign-ins in progress** (``gateway.workspace_logins``): an OpenID Connect login's nonce,
  PKCE verifier and the page to continue at, encrypted the same way under its ``state``, and
  taken once by the callback.
- **The identity provider's session** (a session signed in there): the SHA-256 of its ``sid``,
  the access token's expiry and the refresh token, encrypted under the session's own id (the
  cookie; the table holds only its hash). The session never outlives the access token
  without a successful refresh (:meth:`SessionStore.refresh`, one at a time per session across
  replicas: a row lock), and a back-channel logout ends it (:meth:`SessionStore.end_at_provider`).
- **Logout tokens seen** (``gateway.workspace_logout_tokens``): the ``jti`` of each accepted
  back-channel logout token until it could no longer be accepted anyway, so a replay is refused.

Times come from ``clock`` (seconds since the epoch), so that tests can move it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.auth import Principal

#: idle time after which a session ends (the user signs in again)
IDLE_SECONDS = 30 * 60
#: the longest a session lives, however active
MAX_SECONDS = 10 * 3600
#: how long the values of a form sent after its session ended are kept for the user
DRAFT_SECONDS = 15 * 60
#: how long a sign-in at the identity provider may take
LOGIN_SECONDS = 10 * 60
#: how long a form token's result is remembered (a double click, the back button)
SUBMISSION_SECONDS = MAX_SECONDS
#: a form token claimed by a gateway that has not finished it after this long is taken over
CLAIM_SECONDS = 60.0
#: the seen time is written at most this often per session
TOUCH_SECONDS = 60.0
#: a sign-in purges expired sessions, drafts and sign-ins at most this often per gateway
PURGE_SECONDS = 60.0
#: the provider's tokens of a session are renewed this long before the access token expires
REFRESH_MARGIN_SECONDS = 30.0

DDL = """
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.workspace_sessions (
    id_hash      bytea       PRIMARY KEY,  -- SHA-256 of the cookie's random id
    subject      text        NOT NULL,     -- the principal (pseudonymous user id)
    agency       text        NOT NULL,
    role         text        NOT NULL,
    display      text        NOT NULL DEFAULT '',
    csrf         text        NOT NULL,
    created_at   timestamptz NOT NULL,
    seen_at      timestamptz NOT NULL,
    idle_until   timestamptz NOT NULL,     -- seen_at + idle time
    expires_at   timestamptz NOT NULL      -- created_at + absolute lifetime
);
CREATE INDEX IF NOT EXISTS workspace_sessions_idle_idx
    ON gateway.workspace_sessions (idle_until);
-- a session signed in at the identity provider (NULL for the demo sign-in)
ALTER TABLE gateway.workspace_sessions
    ADD COLUMN IF NOT EXISTS sid_hash         bytea,       -- SHA-256 of the provider's sid
    ADD COLUMN IF NOT EXISTS token_expires_at timestamptz, -- the access token's exp
    ADD COLUMN IF NOT EXISTS refresh_sealed   bytea,       -- AES-GCM under the session's id
    ADD COLUMN IF NOT EXISTS ended            text;        -- ended by the provider: why
CREATE INDEX IF NOT EXISTS workspace_sessions_sid_idx
    ON gateway.workspace_sessions (sid_hash) WHERE sid_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS workspace_sessions_subject_idx
    ON gateway.workspace_sessions (subject) WHERE token_expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS gateway.workspace_submissions (
    session_hash bytea       NOT NULL,
    token_hash   bytea       NOT NULL,
    redirect     text,                     -- NULL: running (claimed at claimed_at)
    claimed_at   timestamptz NOT NULL,
    PRIMARY KEY (session_hash, token_hash)
);
CREATE INDEX IF NOT EXISTS workspace_submissions_claimed_idx
    ON gateway.workspace_submissions (claimed_at);
CREATE TABLE IF NOT EXISTS gateway.workspace_drafts (
    id_hash      bytea       PRIMARY KEY,  -- SHA-256 of the draft's random id
    sealed       bytea       NOT NULL,     -- AES-GCM under a key derived from the id
    expires_at   timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS gateway.workspace_logins (
    state_hash   bytea       PRIMARY KEY,  -- SHA-256 of the OpenID Connect state
    sealed       bytea       NOT NULL,     -- nonce, PKCE verifier, where to continue
    expires_at   timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS gateway.workspace_logout_tokens (
    jti_hash     bytea       PRIMARY KEY,  -- SHA-256 of issuer and jti of a logout token
    expires_at   timestamptz NOT NULL      -- after this the token is refused anyway
);
"""

#: the tables the gateway's database role reads and writes (hub/database_roles.py)
TABLES = (
    "workspace_sessions",
    "workspace_submissions",
    "workspace_drafts",
    "workspace_logins",
    "workspace_logout_tokens",
)


async def create_tables(db: asyncpg.Pool | asyncpg.Connection) -> None:
    await db.execute(DDL)


async def ensure_tables(pool: asyncpg.Pool | asyncpg.Connection) -> None:
    """The gateway at start-up: after the provisioning only look; without one (tests on a
    fresh database as the administrator) create."""
    if await pool.fetchval("SELECT to_regclass('gateway.workspace_logout_tokens')") is None:
        await create_tables(pool)


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def new_id() -> str:
    """A random 256-bit id, URL-safe."""
    return secrets.token_urlsafe(32)


def seal(secret: str, purpose: bytes, data: dict[str, Any]) -> bytes:
    """``data`` encrypted under a key derived from ``secret`` (which the table never holds)."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_key(secret, purpose)).encrypt(nonce, json.dumps(data).encode(), purpose)


def unseal(secret: str, purpose: bytes, sealed: bytes) -> dict[str, Any] | None:
    try:
        plain = AESGCM(_key(secret, purpose)).decrypt(sealed[:12], sealed[12:], purpose)
    except (InvalidTag, ValueError):
        return None
    found = json.loads(plain)
    return found if isinstance(found, dict) else None


def _sid_hash(sid: str | None) -> bytes | None:
    return digest(f"sid {sid}") if sid else None


def _seal_refresh(session_id: str, refresh_token: str | None) -> bytes | None:
    """A refresh token, encrypted under the session's id (which only the cookie holds)."""
    return seal(session_id, b"refresh", {"token": refresh_token}) if refresh_token else None


def _key(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=b"hub-workspace:" + purpose).derive(
        secret.encode()
    )


@dataclass
class Session:
    """A signed-in user: the cookie's id (only in memory), the principal, the CSRF token."""

    id: str
    principal: Principal
    csrf: str
    created: float
    seen: float
    display: str = ""
    #: signed in at the identity provider: when its access token expires (else ``None``)
    token_expires: float | None = None
    #: ... and whether a refresh token is kept to renew it
    refreshable: bool = False

    @property
    def key(self) -> bytes:
        return digest(self.id)

    def due(self, now: float) -> bool:
        """Whether the provider's tokens must be renewed before this request goes on: within
        :data:`REFRESH_MARGIN_SECONDS` of the access token's expiry with a refresh token, at
        its expiry without one."""
        if self.token_expires is None:
            return False
        margin = REFRESH_MARGIN_SECONDS if self.refreshable else 0.0
        return now >= self.token_expires - margin

    def form_token(self) -> str:
        """A fresh token for one form (hidden field ``formular``)."""
        return secrets.token_urlsafe(18)

    def csrf_ok(self, sent: Any) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(sent, self.csrf)


@dataclass(frozen=True)
class ProviderTokens:
    """What a session signed in at the identity provider keeps of it: the access token's
    expiry, the refresh token (``None``: none was given; on a renewal: keep the one held) and
    the provider's session id ``sid`` (``None``: none named; on a renewal: keep)."""

    expires_at: float
    refresh_token: str | None = None
    sid: str | None = None


@dataclass(frozen=True)
class Renewed:
    """A successful renewal: the principal the new access token names, its tokens, and the
    session's display name for it (``None``: keep)."""

    principal: Principal
    tokens: ProviderTokens
    display: str | None = None


class RefreshRefused(Exception):
    """The provider refused to renew a session's tokens (the user was disabled, the session
    revoked), or its new tokens did not pass the checks: the session ends. ``code`` names
    why (logged; never a token)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class RefreshUnavailable(Exception):
    """The provider could not be asked (unreachable, a 5xx): the session is kept, but used
    only while its access token is still valid."""


class SessionEnded(Exception):
    """A session cannot be used any more: ``reason`` is the page's reason code (``beendet``:
    the provider ended or refused it; ``anbieter``: the provider could not renew it in time),
    ``subject`` the user whose session it was (their form becomes their draft)."""

    def __init__(self, reason: str, subject: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.subject = subject


#: renews a session's tokens: (refresh token, subject) -> the new tokens; raises
#: :class:`RefreshRefused` or :class:`RefreshUnavailable`
Renew = Callable[[str, str], Awaitable[Renewed]]


class Lookup(NamedTuple):
    """A cookie's session; when it has just ended (and was deleted), the subject it belonged
    to and, when the provider ended it, the reason code for the sign-in page."""

    session: Session | None
    owner: str | None = None
    ended: str | None = None


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SessionStore:
    """Sessions, form tokens, drafts and sign-ins in progress, in PostgreSQL.

    ``pool`` gives the gateway's pool (it exists only once the gateway has started)."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self.clock = clock
        #: form tokens being run by this process: a double click waits for the first
        self._running: dict[tuple[bytes, bytes], asyncio.Lock] = {}
        #: sessions whose provider tokens this process is renewing: the others wait
        self._refreshing: dict[bytes, tuple[asyncio.Lock, int]] = {}
        self._purged: float | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        pool = self._pool()
        if pool is None:
            raise RuntimeError("the workspace's sessions need the gateway's database")
        return pool

    # -- sessions ---------------------------------------------------------------------------

    async def create(
        self, principal: Principal, display: str = "", provider: ProviderTokens | None = None
    ) -> Session:
        """A new session (every sign-in); expired ones are purged now and then on the way.
        ``provider``: the identity provider's tokens of a sign-in there (its refresh token is
        kept encrypted under the new session's id)."""
        now = self.clock()
        if self._purged is None or now - self._purged >= PURGE_SECONDS:
            self._purged = now
            await self.purge()
        session = Session(
            id=new_id(),
            principal=principal,
            csrf=secrets.token_urlsafe(32),
            created=now,
            seen=now,
            display=display,
            token_expires=provider.expires_at if provider is not None else None,
            refreshable=provider is not None and provider.refresh_token is not None,
        )
        await self.pool.execute(
            "INSERT INTO gateway.workspace_sessions (id_hash, subject, agency, role, display,"
            " csrf, created_at, seen_at, idle_until, expires_at, sid_hash, token_expires_at,"
            " refresh_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12)",
            session.key,
            principal.subject,
            principal.agency,
            principal.role,
            display,
            session.csrf,
            _at(now),
            _at(now + IDLE_SECONDS),
            _at(now + MAX_SECONDS),
            _sid_hash(provider.sid) if provider is not None else None,
            _at(provider.expires_at) if provider is not None else None,
            _seal_refresh(session.id, provider.refresh_token) if provider is not None else None,
        )
        return session

    async def get(self, session_id: str | None) -> Session | None:
        """The session of a cookie's id; an expired one is deleted and refused."""
        return (await self.lookup(session_id)).session

    async def lookup(self, session_id: str | None) -> Lookup:
        """The session of a cookie's id, and when it has just expired or been ended by the
        identity provider (and was deleted), the subject it belonged to (a form sent now is
        kept as that user's draft) and, when the provider ended it, why."""
        if not session_id or len(session_id) > 128:
            return Lookup(None)
        key = digest(session_id)
        row = await self.pool.fetchrow(
            "SELECT subject, agency, role, display, csrf, created_at, seen_at, idle_until,"
            " expires_at, token_expires_at, refresh_sealed IS NOT NULL AS refreshable, ended"
            " FROM gateway.workspace_sessions WHERE id_hash = $1",
            key,
        )
        if row is None:
            return Lookup(None)
        now = self.clock()
        ended = row["ended"]
        if (
            ended is not None
            or now >= row["idle_until"].timestamp()
            or now >= row["expires_at"].timestamp()
        ):
            await self._delete(self.pool, key)
            return Lookup(None, str(row["subject"]), ended)
        seen = row["seen_at"].timestamp()
        if now - seen >= TOUCH_SECONDS:
            await self.pool.execute(
                "UPDATE gateway.workspace_sessions SET seen_at = $2, idle_until = $3"
                " WHERE id_hash = $1",
                key,
                _at(now),
                _at(now + IDLE_SECONDS),
            )
            seen = now
        token_expires = row["token_expires_at"]
        return Lookup(
            Session(
                id=session_id,
                principal=Principal(subject=row["subject"], agency=row["agency"], role=row["role"]),
                csrf=row["csrf"],
                created=row["created_at"].timestamp(),
                seen=seen,
                display=row["display"],
                token_expires=token_expires.timestamp() if token_expires is not None else None,
                refreshable=bool(row["refreshable"]),
            )
        )

    # -- the identity provider's session ----------------------------------------------------

    async def refresh(self, session: Session, renew: Renew | None) -> Session:
        """Renews the identity provider's tokens of a session that is :meth:`Session.due`,
        once for all its concurrent requests on every replica: the first locks the session's
        row (``FOR UPDATE``) while it asks the provider, the others wait and then find the
        renewed row (a rotating refresh token is used once). Answers the session as renewed
        (principal updated from the new access token), or as it is while its access token is
        still valid and the provider cannot be asked. Raises :class:`SessionEnded` when the
        session is over: the provider refused (the row is deleted), no refresh token is held
        and the access token has expired (deleted), or the access token has expired and the
        provider cannot be asked (kept: a later request may renew it)."""
        key = session.key
        lock, users = self._refreshing.get(key, (asyncio.Lock(), 0))
        self._refreshing[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._refresh(session, renew)
        finally:
            lock, users = self._refreshing[key]
            if users <= 1:
                del self._refreshing[key]
            else:
                self._refreshing[key] = (lock, users - 1)

    async def _refresh(self, session: Session, renew: Renew | None) -> Session:
        subject = session.principal.subject
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT subject, agency, role, token_expires_at, refresh_sealed, ended"
                " FROM gateway.workspace_sessions WHERE id_hash = $1 FOR UPDATE",
                session.key,
            )
            if row is None:  # ended meanwhile (sign-out, another request)
                raise SessionEnded("beendet", subject)
            outcome = await self._renew_locked(conn, session, row, renew)
        if isinstance(outcome, SessionEnded):
            raise outcome  # after the commit: a deletion stands
        return outcome

    async def _renew_locked(
        self,
        conn: asyncpg.Connection,
        session: Session,
        row: asyncpg.Record,
        renew: Renew | None,
    ) -> Session | SessionEnded:
        """:meth:`refresh` with the session's row locked: the renewed session, or why it
        ended (a deletion commits with the transaction)."""
        subject = session.principal.subject
        if row["ended"] is not None or row["token_expires_at"] is None:
            await self._delete(conn, session.key)
            return SessionEnded(row["ended"] or "beendet", subject)
        current = replace(
            session,
            principal=Principal(subject=row["subject"], agency=row["agency"], role=row["role"]),
            token_expires=row["token_expires_at"].timestamp(),
            refreshable=row["refresh_sealed"] is not None,
        )
        now = self.clock()
        if not current.due(now):  # renewed by another request meanwhile
            return current
        sealed = row["refresh_sealed"]
        held = unseal(session.id, b"refresh", sealed) if sealed is not None else None
        refresh_token = held.get("token") if held is not None else None
        still_valid = now < row["token_expires_at"].timestamp()
        if not isinstance(refresh_token, str) or renew is None:
            if still_valid:
                return current
            await self._delete(conn, session.key)  # no refresh token: ends at the expiry
            return SessionEnded("beendet", subject)
        try:
            renewed = await renew(refresh_token, subject)
        except RefreshUnavailable:
            # kept for a later request; used meanwhile only while the access token is valid
            return current if still_valid else SessionEnded("anbieter", subject)
        except RefreshRefused:
            await self._delete(conn, session.key)
            return SessionEnded("beendet", subject)
        tokens, principal = renewed.tokens, renewed.principal
        await conn.execute(
            "UPDATE gateway.workspace_sessions SET agency = $2, role = $3,"
            " token_expires_at = $4, refresh_sealed = coalesce($5, refresh_sealed),"
            " sid_hash = coalesce($6, sid_hash), display = coalesce($7, display)"
            " WHERE id_hash = $1",
            session.key,
            principal.agency,
            principal.role,
            _at(tokens.expires_at),
            _seal_refresh(session.id, tokens.refresh_token),
            _sid_hash(tokens.sid),
            renewed.display,
        )
        return replace(
            current,
            principal=Principal(subject=subject, agency=principal.agency, role=principal.role),
            token_expires=tokens.expires_at,
            display=renewed.display if renewed.display is not None else current.display,
        )

    async def end_at_provider(self, *, sid: str | None, subject: str | None) -> int:
        """A back-channel logout: ends every session of the provider's session ``sid`` (of
        ``subject`` too, when both are named), or, with ``subject`` alone, every session of
        that user signed in at the provider. The rows are marked ended and lose their refresh
        token at once; the user's next request deletes the row and shows why (and keeps a
        form sent meanwhile as their draft). Answers how many sessions ended."""
        if sid is not None:
            rows = await self.pool.fetch(
                "UPDATE gateway.workspace_sessions SET ended = 'beendet', refresh_sealed = NULL"
                " WHERE sid_hash = $1 AND ($2::text IS NULL OR subject = $2) AND ended IS NULL"
                " RETURNING 1",
                _sid_hash(sid),
                subject,
            )
        elif subject is not None:
            rows = await self.pool.fetch(
                "UPDATE gateway.workspace_sessions SET ended = 'beendet', refresh_sealed = NULL"
                " WHERE subject = $1 AND token_expires_at IS NOT NULL AND ended IS NULL"
                " RETURNING 1",
                subject,
            )
        else:
            return 0
        return len(rows)

    async def first_logout_token(self, issuer: str, jti: str, until: float) -> bool:
        """Records a back-channel logout token's ``jti`` until ``until`` (after which the
        token is refused anyway); ``False`` when it was seen before (a replay)."""
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM gateway.workspace_logout_tokens WHERE jti_hash = $1"
                " AND expires_at <= $2",
                digest(f"{issuer} {jti}"),
                _at(now),
            )
            added = await conn.fetchval(
                "INSERT INTO gateway.workspace_logout_tokens (jti_hash, expires_at)"
                " VALUES ($1, $2) ON CONFLICT (jti_hash) DO NOTHING RETURNING 1",
                digest(f"{issuer} {jti}"),
                _at(max(until, now)),
            )
        return added is not None

    async def end(self, session_id: str | None) -> None:
        if session_id:
            await self._delete(self.pool, digest(session_id))

    @staticmethod
    async def _delete(db: asyncpg.Pool | asyncpg.Connection, key: bytes) -> None:
        """Deletes a session with its form tokens."""
        await db.execute("DELETE FROM gateway.workspace_sessions WHERE id_hash = $1", key)
        await db.execute("DELETE FROM gateway.workspace_submissions WHERE session_hash = $1", key)

    async def purge(self) -> int:
        """Deletes expired sessions (with their form tokens), drafts and sign-ins; answers
        how many sessions went."""
        now = _at(self.clock())
        async with self.pool.acquire() as conn, conn.transaction():
            gone = await conn.fetch(
                "DELETE FROM gateway.workspace_sessions WHERE idle_until <= $1 OR expires_at <= $1"
                " RETURNING id_hash",
                now,
            )
            await conn.execute(
                "DELETE FROM gateway.workspace_submissions"
                " WHERE session_hash = ANY($1::bytea[]) OR claimed_at <= $2",
                [row["id_hash"] for row in gone],
                _at(self.clock() - SUBMISSION_SECONDS),
            )
            await conn.execute("DELETE FROM gateway.workspace_drafts WHERE expires_at <= $1", now)
            await conn.execute("DELETE FROM gateway.workspace_logins WHERE expires_at <= $1", now)
            await conn.execute(
                "DELETE FROM gateway.workspace_logout_tokens WHERE expires_at <= $1", now
            )
        return len(gone)

    # -- one-time form tokens ---------------------------------------------------------------

    async def once(
        self, session: Session, token: str, action: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        """Runs ``action`` once per form token of ``session``: a repeated submit (a double
        click, the back button, also after a restart or on another replica) waits for the
        first and gets its result (the page to go to) without running it again. An
        ``action`` that answers ``None`` (the form had errors) may run again."""
        if not token:
            return await action()
        key = (session.key, digest(token))
        lock = self._running.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                return await self._once(key, action)
        finally:
            if not lock.locked() and self._running.get(key) is lock:
                del self._running[key]

    async def _once(
        self, key: tuple[bytes, bytes], action: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        deadline = self.clock() + CLAIM_SECONDS
        while True:
            now = self.clock()
            row = await self.pool.fetchrow(
                "INSERT INTO gateway.workspace_submissions"
                " (session_hash, token_hash, redirect, claimed_at) VALUES ($1, $2, NULL, $3)"
                " ON CONFLICT (session_hash, token_hash) DO UPDATE SET claimed_at = $3"
                " WHERE gateway.workspace_submissions.redirect IS NULL"
                " AND gateway.workspace_submissions.claimed_at <= $4"
                " RETURNING redirect",
                *key,
                _at(now),
                _at(now - CLAIM_SECONDS),
            )
            if row is not None:  # claimed by this call: run it
                break
            done = await self.pool.fetchval(
                "SELECT redirect FROM gateway.workspace_submissions"
                " WHERE session_hash = $1 AND token_hash = $2",
                *key,
            )
            if done is not None:
                return str(done)
            if self.clock() > deadline:
                break  # the claim is stale: its gateway died
            await asyncio.sleep(0.1)  # another gateway is running it
        try:
            redirect = await action()
        except BaseException:
            await self._release(key)
            raise
        if redirect is None:
            await self._release(key)
        else:
            await self.pool.execute(
                "UPDATE gateway.workspace_submissions SET redirect = $3"
                " WHERE session_hash = $1 AND token_hash = $2",
                *key,
                redirect,
            )
        return redirect

    async def _release(self, key: tuple[bytes, bytes]) -> None:
        await self.pool.execute(
            "DELETE FROM gateway.workspace_submissions"
            " WHERE session_hash = $1 AND token_hash = $2 AND redirect IS NULL",
            *key,
        )

    # -- drafts -----------------------------------------------------------------------------

    async def keep_draft(
        self, path: str, values: dict[str, list[str]], owner: str | None = None
    ) -> str:
        """Keeps a form's values for ``path``; answers the draft's id (its key). With
        ``owner`` (the subject whose session had just expired) only that user gets it back."""
        draft = new_id()
        await self.pool.execute(
            "INSERT INTO gateway.workspace_drafts (id_hash, sealed, expires_at)"
            " VALUES ($1, $2, $3)",
            digest(draft),
            seal(draft, b"draft", {"path": path, "values": values, "owner": owner}),
            _at(self.clock() + DRAFT_SECONDS),
        )
        return draft

    async def take_draft(
        self, draft: str, path: str, subject: str | None = None
    ) -> dict[str, list[str]] | None:
        """The values of a draft for ``path``, once, for ``subject``; ``None`` when unknown,
        expired, of another page (then it is gone) or of another user (then it stays for its
        owner)."""
        if not draft or len(draft) > 128:
            return None
        key = digest(draft)
        sealed = await self.pool.fetchval(
            "SELECT sealed FROM gateway.workspace_drafts WHERE id_hash = $1 AND expires_at > $2",
            key,
            _at(self.clock()),
        )
        found = unseal(draft, b"draft", sealed) if sealed is not None else None
        if found is None:
            return None
        owner = found.get("owner")
        if owner is not None and owner != subject:
            return None
        taken = await self.pool.fetchval(
            "DELETE FROM gateway.workspace_drafts WHERE id_hash = $1 RETURNING 1", key
        )
        values = found.get("values")
        if taken is None or found.get("path") != path or not isinstance(values, dict):
            return None
        return values

    # -- sign-ins in progress ---------------------------------------------------------------

    async def keep_login(self, state: str, data: dict[str, Any]) -> None:
        await self.pool.execute(
            "INSERT INTO gateway.workspace_logins (state_hash, sealed, expires_at)"
            " VALUES ($1, $2, $3)",
            digest(state),
            seal(state, b"login", data),
            _at(self.clock() + LOGIN_SECONDS),
        )

    async def take_login(self, state: str) -> dict[str, Any] | None:
        """A sign-in's data by its ``state``, once (a replayed callback finds nothing)."""
        if not state or len(state) > 128:
            return None
        row = await self.pool.fetchrow(
            "DELETE FROM gateway.workspace_logins WHERE state_hash = $1 RETURNING sealed,"
            " expires_at",
            digest(state),
        )
        if row is None or self.clock() >= row["expires_at"].timestamp():
            return None
        return unseal(state, b"login", row["sealed"])
