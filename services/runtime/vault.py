"""Personal-data vault: per-person AES-GCM keys, for crypto-shredding.

Personal data (names, birth date, file numbers) is stored and published only as ciphertext
tokens under a key that belongs to the person. Each key is kept in the owning service's schema,
wrapped (AES-GCM) by the service's master key. Erasing a person destroys the key: every copy of
their data, in the event store, on the stream and in any projection, becomes unreadable.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections import OrderedDict
from typing import Any
from uuid import UUID

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import sql

from kernel.errors import DomainError
from services.runtime.database import check_identifier

log = logging.getLogger(__name__)

TOKEN_PREFIX = "hubenc:v1:"  # noqa: S105 - a format marker, not a secret
_NONCE = 12
_CACHE_SIZE = 10_000
#: how long a process keeps a person's unwrapped key: after an erasure by another process of
#: the same service (a replica), this one stops reading the person's data within this time
KEY_CACHE_SECONDS = 60.0


class PersonalDataUnavailable(LookupError):
    """The person's key is missing or was erased: the data cannot be read any more."""


class PersonErased(DomainError, PersonalDataUnavailable):
    """The person's data was erased here: nothing can be read or recorded about them."""

    def __init__(self, field: str | None = "personId") -> None:
        super().__init__(ERASED_MESSAGE, "erased", field)


ERASED_MESSAGE = "this person's data was erased; nothing more can be read or recorded about them"


class PersonRestricted(DomainError):
    """The processing of the person's data is restricted here: nothing is shown or recorded."""

    def __init__(self, field: str | None = "personId") -> None:
        super().__init__(RESTRICTED_MESSAGE, "restricted", field)


RESTRICTED_MESSAGE = (
    "the processing of this person's data is restricted; nothing more can be recorded about them"
)


class TamperedCiphertext(ValueError):
    """A token does not decrypt under the person's key (altered, or another person's)."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyWrapper:
    """Wraps and unwraps per-person keys with the master key (AES-256-GCM)."""

    def __init__(self, master_key_b64: str) -> None:
        key = _b64d(master_key_b64)
        if len(key) != 32:
            raise ValueError("the vault master key must be 32 bytes, base64url-encoded")
        self._aead = AESGCM(key)

    def wrap(self, person_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, key, person_id.bytes)

    def unwrap(self, person_id: UUID, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], person_id.bytes)
        except InvalidTag as error:
            raise TamperedCiphertext("person key does not unwrap with this master key") from error


def encrypt_field(key: bytes, person_id: UUID, field: str, value: str) -> str:
    """Encrypt one field value; the person and field name are bound as associated data."""
    nonce = os.urandom(_NONCE)
    aad = f"{person_id}:{field}".encode()
    return TOKEN_PREFIX + _b64e(nonce + AESGCM(key).encrypt(nonce, value.encode(), aad))


def decrypt_field(key: bytes, person_id: UUID, field: str, token: str) -> str:
    if not token.startswith(TOKEN_PREFIX):
        raise TamperedCiphertext(f"not a vault token for field {field!r}")
    raw = _b64d(token[len(TOKEN_PREFIX) :])
    aad = f"{person_id}:{field}".encode()
    try:
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad).decode()
    except InvalidTag as error:
        raise TamperedCiphertext(f"field {field!r} does not decrypt for this person") from error


def is_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


class PersonalDataVault:
    """Per-person keys in ``<schema>.person_keys``; synchronous (used from applications).

    Without a master key (a relay, which publishes ciphertext as stored) it can neither create
    nor unwrap a key."""

    def __init__(self, url: str, schema: str, master_key_b64: str | None) -> None:
        self._url = url
        self._table = sql.Identifier(check_identifier(schema), "person_keys")
        # the statements of every command, rendered once (psycopg would compose them again)
        self._insert_key = (
            sql.SQL(
                "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))"
                " INSERT INTO {} (person_id, wrapped_key) SELECT %s, %s FROM relaxed"
                " ON CONFLICT (person_id) DO NOTHING RETURNING person_id"
            )
            .format(self._table)
            .as_bytes(None)
        )
        self._select_key = (
            sql.SQL("SELECT wrapped_key FROM {} WHERE person_id = %s")
            .format(self._table)
            .as_bytes(None)
        )
        self._keyless = master_key_b64 is None
        self._wrapper = KeyWrapper(master_key_b64 or _b64e(bytes(32)))
        self._master = None if master_key_b64 is None else _b64d(master_key_b64)
        self._cache: OrderedDict[UUID, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url, autocommit=True)
        return self._conn

    def _execute(
        self, query: sql.Composed | sql.SQL | bytes, params: Any = None
    ) -> psycopg.Cursor[tuple[object, ...]]:
        """Run ``query`` on the vault's connection, once more on a new connection when the
        old one broke (the server restarted): every statement here is idempotent."""
        try:
            return self._connection().execute(query, params)
        except psycopg.OperationalError:
            if self._conn is None or not self._conn.closed:
                raise
            log.warning("vault: the database connection broke; reconnecting once")
            return self._connection().execute(query, params)

    def setup(self) -> None:
        with self._lock:
            self._execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " person_id uuid PRIMARY KEY,"
                    " wrapped_key bytea,"
                    " created_at timestamptz NOT NULL DEFAULT now(),"
                    " erased_at timestamptz)"
                ).format(self._table)
            )
            self._execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS restricted_at timestamptz").format(
                    self._table
                )
            )

    @property
    def holds_master_key(self) -> bool:
        return not self._keyless

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte secret of the service for ``purpose`` (e.g. its blind index), derived
        from the master key (HKDF-SHA256): only a process holding the master key has it."""
        self._require_master_key()
        assert self._master is not None
        return HKDF(hashes.SHA256(), 32, salt=None, info=f"hub vault {purpose}".encode()).derive(
            self._master
        )

    def _require_master_key(self) -> None:
        if self._keyless:
            raise PersonalDataUnavailable("this process holds no vault master key")

    def create_key(self, person_id: UUID) -> None:
        """Create the person's key (idempotent: an existing key is kept)."""
        self._require_master_key()
        key = AESGCM.generate_key(bit_length=256)
        with self._lock:
            # The key's commit does not wait for its WAL flush (a round trip and an fsync
            # fewer per new person): it is only ever used by events stored after it, and the
            # synchronous commit of those flushes the WAL up to them, the key's record
            # included. A crash before that loses at most a key no stored event uses.
            created = self._execute(
                self._insert_key, (person_id, self._wrapper.wrap(person_id, key))
            ).fetchone()
            self._cache.pop(person_id, None)
            if created is not None:
                self._remember(person_id, key)

    def create_keys(self, person_ids: list[UUID]) -> None:
        """Create the keys of many new persons in one statement (idempotent like
        :meth:`create_key`); for bulk imports."""
        if not person_ids:
            return
        self._require_master_key()
        keys = {p: AESGCM.generate_key(bit_length=256) for p in person_ids}
        with self._lock:
            created = self._execute(
                sql.SQL(
                    "INSERT INTO {} (person_id, wrapped_key)"
                    " SELECT * FROM unnest(%s::uuid[], %s::bytea[])"
                    " ON CONFLICT (person_id) DO NOTHING RETURNING person_id"
                ).format(self._table),
                (list(keys), [self._wrapper.wrap(p, k) for p, k in keys.items()]),
            ).fetchall()
            for person_id in keys:
                self._cache.pop(person_id, None)
            for (new,) in created:
                assert isinstance(new, UUID)
                self._remember(new, keys[new])

    def _key(self, person_id: UUID) -> bytes:
        self._require_master_key()
        with self._lock:
            key = self._cached(person_id)
            if key is not None:
                return key
            row = self._execute(self._select_key, (person_id,)).fetchone()
            if row is None:
                raise PersonalDataUnavailable(f"no key for person {person_id}")
            if row[0] is None:
                raise PersonErased()
            wrapped = row[0]
            assert isinstance(wrapped, bytes)
            key = self._wrapper.unwrap(person_id, wrapped)
            self._remember(person_id, key)
            return key

    def _cached(self, person_id: UUID) -> bytes | None:
        entry = self._cache.get(person_id)
        if entry is None:
            return None
        if time.monotonic() - entry[1] > KEY_CACHE_SECONDS:
            del self._cache[person_id]
            return None
        self._cache.move_to_end(person_id)
        return entry[0]

    def _remember(self, person_id: UUID, key: bytes) -> None:
        self._cache[person_id] = (key, time.monotonic())
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def encrypt(self, person_id: UUID, field: str, value: str) -> str:
        return encrypt_field(self._key(person_id), person_id, field, value)

    def decrypt(self, person_id: UUID, field: str, token: str) -> str:
        return decrypt_field(self._key(person_id), person_id, field, token)

    def erase(self, person_id: UUID) -> bool:
        """Destroy the person's key, and leave a tombstone so that no new key can be made for
        them. Idempotent; returns whether the person had a key here (now destroyed), so a
        repeated call answers as the first did."""
        with self._lock:
            self._cache.pop(person_id, None)
            row = self._execute(
                sql.SQL(
                    "INSERT INTO {table} (person_id, wrapped_key, erased_at)"
                    " VALUES (%(p)s, NULL, now())"
                    " ON CONFLICT (person_id) DO UPDATE SET wrapped_key = NULL,"
                    " erased_at = coalesce({table}.erased_at, now())"
                    " RETURNING created_at < erased_at"
                ).format(table=self._table),
                {"p": person_id},
            ).fetchone()
            return bool(row and row[0])

    def restrict(self, person_id: UUID) -> None:
        """Mark the person's processing restricted (their key is kept). Idempotent."""
        with self._lock:
            self._execute(
                sql.SQL(
                    "INSERT INTO {table} (person_id, wrapped_key, restricted_at)"
                    " VALUES (%(p)s, NULL, now()) ON CONFLICT (person_id) DO UPDATE"
                    " SET restricted_at = coalesce({table}.restricted_at, now())"
                ).format(table=self._table),
                {"p": person_id},
            )

    def withdrawn(self, person_id: UUID) -> str | None:
        """``erased``, ``restricted`` or None: whether the service may still process the
        person's data (always asked of the database: another process may have decided)."""
        with self._lock:
            row = self._execute(
                sql.SQL(
                    "SELECT erased_at IS NOT NULL, restricted_at IS NOT NULL FROM {}"
                    " WHERE person_id = %s"
                ).format(self._table),
                (person_id,),
            ).fetchone()
        if row is None:
            return None
        if row[0]:
            return "erased"
        return "restricted" if row[1] else None

    def withdrawn_many(self, person_ids: list[UUID]) -> dict[UUID, str]:
        """:meth:`withdrawn` for many persons in one query: those erased or restricted only."""
        if not person_ids:
            return {}
        with self._lock:
            rows = self._execute(
                sql.SQL(
                    "SELECT person_id, erased_at IS NOT NULL, restricted_at IS NOT NULL FROM {}"
                    " WHERE person_id = ANY(%s) AND"
                    " (erased_at IS NOT NULL OR restricted_at IS NOT NULL)"
                ).format(self._table),
                (person_ids,),
            ).fetchall()
        states: dict[UUID, str] = {}
        for person_id, erased, _restricted in rows:
            assert isinstance(person_id, UUID)
            states[person_id] = "erased" if erased else "restricted"
        return states

    def is_erased(self, person_id: UUID) -> bool:
        """Was the person's data erased here?"""
        return self.withdrawn(person_id) == "erased"

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
