"""The blind index behind the authority's person search by name, birth date or AZR number.

The residence files hold names, birth dates and AZR numbers only as ciphertext under each
person's key, so nobody can search them by value. The service therefore keeps, beside its
event store, one row per searchable value of a file: ``(person_id, authority, kind, token)``
in ``<schema>.person_search_index``, where ``token`` is HMAC-SHA256 under a service secret of
the *normalised* value (:func:`normalise`) and ``authority`` is the authority that holds the
file. The clear value is never stored, logged or sent; the search computes the tokens of the
terms it is given and looks them up.

The secret is derived from the vault master key (HKDF-SHA256, :meth:`PersonalDataVault.
derived_key`), so only the service's command servers can compute tokens. Each row records the
key's id (``key_id``): after the master key changed, the start-up job rebuilds the rows.

Erasure deletes the person's rows (in the erasure step, after the key is destroyed), and the
search leaves out persons whose processing is restricted or whose data was erased.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from psycopg import sql

FAMILY_NAME, GIVEN_NAME, BIRTH_DATE, AZR_NUMBER = (
    "family_name",
    "given_name",
    "birth_date",
    "azr_number",
)
KINDS = (FAMILY_NAME, GIVEN_NAME, BIRTH_DATE, AZR_NUMBER)
TABLE = "person_search_index"
#: at most this many person ids a search answers
MAX_RESULTS = 1000

#: German umlauts as a German passport's machine-readable zone writes them (ICAO 9303), so
#: that "Müller" and "Mueller" are one name; every other diacritic is dropped ("é" -> "e")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_SPACES = re.compile(r"\s+")


def _once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()  # casefold: "ß" -> "ss"
    text = unicodedata.normalize("NFC", text).translate(_UMLAUTS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _SPACES.sub(" ", text).strip()


def normalise(text: str) -> str:
    """A name as the index compares it: case folded ("ß" -> "ss"), German umlauts written
    out ("ü" -> "ue"), every other diacritic dropped (NFKD), spaces trimmed and collapsed.
    Idempotent: applied until nothing changes (a compatibility character may fold only on a
    second pass)."""
    for _ in range(8):
        folded = _once(text)
        if folded == text:
            return folded
        text = folded
    return text


def normalise_azr(text: str) -> str:
    """An AZR number without spaces (it is 12 digits)."""
    return "".join(text.split())


def given_name_parts(given_names: str) -> list[str]:
    """The values a person's given names are found by: all of them, and each one alone."""
    whole = normalise(given_names)
    if not whole:
        return []
    return list(dict.fromkeys([whole, *whole.split(" ")]))


@dataclass(frozen=True)
class Identity:
    """The searchable values of a file, in clear (only in the service's memory)."""

    family_name: str
    given_names: str
    birth_date: str  # ISO 8601
    azr_number: str


class Tokens:
    """HMAC-SHA256 tokens of normalised values under the service's index key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the blind index key must be at least 32 bytes")
        self._key = key
        #: which key made a token (the first 8 bytes of an HMAC of a fixed label), not secret
        self.key_id = hmac.new(key, b"hub blind index key id", hashlib.sha256).hexdigest()[:16]

    def token(self, kind: str, normalised: str) -> bytes:
        return hmac.new(self._key, f"{kind}\x1f{normalised}".encode(), hashlib.sha256).digest()

    def of_identity(self, identity: Identity) -> list[tuple[str, bytes]]:
        """The (kind, token) pairs a file is found by."""
        pairs: list[tuple[str, bytes]] = []
        family = normalise(identity.family_name)
        if family:
            pairs.append((FAMILY_NAME, self.token(FAMILY_NAME, family)))
        pairs += [
            (GIVEN_NAME, self.token(GIVEN_NAME, g)) for g in given_name_parts(identity.given_names)
        ]
        pairs.append((BIRTH_DATE, self.token(BIRTH_DATE, identity.birth_date)))
        azr = normalise_azr(identity.azr_number)
        if azr:
            pairs.append((AZR_NUMBER, self.token(AZR_NUMBER, azr)))
        return pairs

    def of_terms(
        self,
        *,
        family_name: str | None = None,
        given_name: str | None = None,
        birth_date: date | None = None,
        azr_number: str | None = None,
    ) -> dict[str, bytes]:
        """The token each given search term must match (one per kind)."""
        terms: dict[str, bytes] = {}
        if family_name and normalise(family_name):
            terms[FAMILY_NAME] = self.token(FAMILY_NAME, normalise(family_name))
        if given_name and normalise(given_name):
            terms[GIVEN_NAME] = self.token(GIVEN_NAME, normalise(given_name))
        if birth_date is not None:
            terms[BIRTH_DATE] = self.token(BIRTH_DATE, birth_date.isoformat())
        if azr_number and normalise_azr(azr_number):
            terms[AZR_NUMBER] = self.token(AZR_NUMBER, normalise_azr(azr_number))
        return terms


class SearchIndex:
    """The index table in the service's schema, through the event store's connection pool
    (``datastore``: eventsourcing's ``PostgresDatastore``)."""

    def __init__(self, datastore: Any, schema: str, tokens: Tokens) -> None:
        self._datastore = datastore
        self._schema = schema
        self.tokens = tokens

    def _table(self, name: str = TABLE) -> sql.Identifier:
        return sql.Identifier(self._schema, name)

    def setup(self) -> None:
        """Create the table (provisioning only: the service's role may create nothing)."""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " person_id uuid NOT NULL,"
                    " authority text NOT NULL,"
                    " kind text NOT NULL,"
                    " token bytea NOT NULL,"
                    " key_id text NOT NULL,"
                    " PRIMARY KEY (person_id, kind, token))"
                ).format(self._table())
            )
            cursor.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (kind, token, authority)").format(
                    sql.Identifier(f"{TABLE}_lookup"), self._table()
                )
            )

    def index(self, files: Sequence[tuple[UUID, str, Identity]]) -> None:
        """Store the tokens of ``files`` (person, holding authority, identity) in one
        statement; never for a person whose data was erased here. A file's tokens are
        written together, so a file has all of them or none (then the index job adds them).

        The statement locks the persons' vault rows (``FOR SHARE``) and writes only for those
        with a key not erased: an erasure (which updates that row) running meanwhile either
        waits for this commit, and its deletion of the tokens then sees these rows, or is
        committed first, and then this statement leaves the person out. So no token is
        written after a person's erasure, whichever process writes it.

        The statement's commit does not wait for its WAL flush (as the vault's new keys): the
        index is derived data, and a write lost in a crash is rebuilt by the index job
        (``index_unindexed_files``); a round trip and an fsync fewer per batch."""
        statement = self.index_statement(files)
        if statement is None:
            return
        with self._datastore.get_connection() as connection:  # autocommit: one statement
            connection.execute(*statement)

    def index_statement(
        self, files: Sequence[tuple[UUID, str, Identity]]
    ) -> tuple[sql.Composed, tuple[Any, ...]] | None:
        """The statement (and its parameters) :meth:`index` runs; None for no files."""
        if not files:
            return None
        persons, authorities, kinds, tokens = [], [], [], []
        for person_id, authority, identity in sorted(files, key=lambda f: f[0]):
            for kind, token in self.tokens.of_identity(identity):
                persons.append(person_id)
                authorities.append(authority)
                kinds.append(kind)
                tokens.append(token)
        query = sql.SQL(
            "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),"
            " live AS (SELECT k.person_id FROM {keys} k, relaxed"
            " WHERE k.person_id = ANY(%s::uuid[]) AND k.erased_at IS NULL"
            " ORDER BY k.person_id FOR SHARE OF k)"
            " INSERT INTO {index} (person_id, authority, kind, token, key_id)"
            " SELECT t.p, t.a, t.k, t.t, %s"
            " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::bytea[]) AS t(p, a, k, t)"
            " JOIN live ON live.person_id = t.p"
            " ON CONFLICT (person_id, kind, token) DO UPDATE"
            " SET authority = excluded.authority, key_id = excluded.key_id"
        ).format(index=self._table(), keys=self._table("person_keys"))
        params = (
            sorted({f[0] for f in files}),
            self.tokens.key_id,
            persons,
            authorities,
            kinds,
            tokens,
        )
        return query, params

    def move(self, moves: Mapping[UUID, str]) -> None:
        """The files in ``moves`` are now held by the authority each maps to."""
        if not moves:
            return
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "UPDATE {} i SET authority = m.a"
                    " FROM unnest(%s::uuid[], %s::text[]) AS m(p, a) WHERE i.person_id = m.p"
                ).format(self._table()),
                (list(moves), list(moves.values())),
            )

    def forget(self, person_id: UUID) -> int:
        """Delete the person's tokens (their erasure); returns how many there were."""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE person_id = %s").format(self._table()), (person_id,)
            )
            return int(cursor.rowcount or 0)

    def count(self, person_id: UUID) -> int:
        with self._datastore.transaction() as cursor:
            cursor.execute(
                sql.SQL("SELECT count(*) AS n FROM {} WHERE person_id = %s").format(self._table()),
                (person_id,),
            )
            row = cursor.fetchone()
        return int(row["n"]) if row else 0

    def find(self, terms: Mapping[str, bytes], authority: str | None, limit: int) -> list[UUID]:
        """The persons matching every term (kind -> token) whose files ``authority`` holds
        (``None``: any authority), at most ``limit``."""
        if not terms:
            return []
        with self._datastore.transaction() as cursor:
            cursor.execute(
                sql.SQL(
                    "SELECT person_id FROM {} WHERE (kind, token) IN"
                    " (SELECT * FROM unnest(%s::text[], %s::bytea[]))"
                    " AND (%s::text IS NULL OR authority = %s) AND key_id = %s"
                    " GROUP BY person_id HAVING count(DISTINCT kind) = %s"
                    " ORDER BY person_id LIMIT %s"
                ).format(self._table()),
                (
                    list(terms),
                    list(terms.values()),
                    authority,
                    authority,
                    self.tokens.key_id,
                    len(terms),
                    limit,
                ),
            )
            return [row["person_id"] for row in cursor.fetchall()]

    def unindexed(self, events_table: str, topic: str, limit: int) -> list[UUID]:
        """Up to ``limit`` files (by the topic of their first event) without tokens under the
        current key, leaving out persons whose data was erased."""
        with self._datastore.transaction() as cursor:
            cursor.execute(
                sql.SQL(
                    "SELECT e.originator_id FROM {events} e"
                    " WHERE e.originator_version = 1 AND e.topic = %s"
                    " AND NOT EXISTS (SELECT 1 FROM {index} i WHERE i.person_id = e.originator_id"
                    " AND i.key_id = %s)"
                    " AND NOT EXISTS (SELECT 1 FROM {keys} k WHERE k.person_id = e.originator_id"
                    " AND k.erased_at IS NOT NULL)"
                    " ORDER BY e.originator_id LIMIT %s"
                ).format(
                    events=self._table(events_table),
                    index=self._table(),
                    keys=self._table("person_keys"),
                ),
                (topic, self.tokens.key_id, limit),
            )
            return [row["originator_id"] for row in cursor.fetchall()]

    def purge(self) -> int:
        """Delete the tokens of persons whose data was erased and tokens of an old key."""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL(
                    "DELETE FROM {index} i WHERE i.key_id <> %s OR EXISTS (SELECT 1 FROM {keys} k"
                    " WHERE k.person_id = i.person_id AND k.erased_at IS NOT NULL)"
                ).format(index=self._table(), keys=self._table("person_keys")),
                (self.tokens.key_id,),
            )
            return int(cursor.rowcount or 0)


def without(ids: Iterable[UUID], withdrawn: Mapping[UUID, str]) -> list[UUID]:
    """``ids`` without the persons erased or restricted here."""
    return [i for i in ids if i not in withdrawn]
