"""A rebuilt table put in place of the live one: by renaming it where nothing else in the
database depends on the live table, else by copying its rows.

The copy (``DELETE`` the live rows, ``INSERT ... SELECT`` the shadow's) costs the switch
about 10 µs a row, and the live projector waits for the switch: a second for a timeline of
100,000 events. A rename costs the same few milliseconds at any size: in the switch's
transaction the live table is dropped and the shadow takes its name, its indexes their live
names, and its privileges the live table's. Readers then wait only for those milliseconds
(the rename takes the tables' ``ACCESS EXCLUSIVE`` lock, after every other step of the
switch, the indicator refresh included) and see the old rows until the commit and the new
ones after it, as with the copy. A statement the gateway or a projector has prepared on the
old table is planned again on the new one by PostgreSQL (same name, same columns).

A table is renamed only if the rename keeps everything else as it was:

- nothing depends on it but its own indexes and constraints: no view, rule, trigger,
  policy, foreign key (either way), function body, extended statistics, publication, owned
  sequence or inheritance, and no column privileges;
- the shadow has the same columns (names, types, ``NOT NULL``, defaults, in order), the same
  owner, storage parameters and persistence, and an index for each of the live table's
  (same definition), and no other;
- the live table's lock is granted within ``LOCK_TIMEOUT`` (a long read holds it).

Otherwise the table is copied, as before. Today that keeps the copy for the tables the
indicators' triggers and views read (``pathway_persons``, ``cv_cases``, the stage history and
the milestones), which also refreshes the indicators.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from services.runtime.database import quote_identifier

#: how long the switch waits for the renamed tables' locks before it copies them instead:
#: readers that come meanwhile queue behind the request, so it is kept short (a gateway read
#: takes milliseconds), and below PostgreSQL's deadlock_timeout (1 s), so that in a deadlock
#: with a reader it is the switch that gives way
LOCK_TIMEOUT = "250ms"

#: anything besides its own indexes and constraints that depends on a table or limits it
_DEPENDENTS = """
SELECT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::text::regclass
      AND (d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass, 'pg_proc'::regclass,
                         'pg_statistic_ext'::regclass, 'pg_publication_rel'::regclass)
           OR (d.classid = 'pg_class'::regclass
               AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = d.objid AND c.relkind = 'S')))
) OR EXISTS (
    SELECT 1 FROM pg_constraint c WHERE c.contype = 'f'
      AND (c.conrelid = $1::text::regclass OR c.confrelid = $1::text::regclass)
) OR EXISTS (
    SELECT 1 FROM pg_trigger t WHERE t.tgrelid = $1::text::regclass AND NOT t.tgisinternal
) OR EXISTS (
    SELECT 1 FROM pg_attribute a WHERE a.attrelid = $1::text::regclass AND a.attacl IS NOT NULL
) OR EXISTS (
    SELECT 1 FROM pg_inherits i
    WHERE i.inhrelid = $1::text::regclass OR i.inhparent = $1::text::regclass
) OR EXISTS (
    SELECT 1 FROM pg_class c WHERE c.oid = $1::text::regclass
      AND (c.relkind <> 'r' OR c.relrowsecurity)
)
"""

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid) AS default
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""

_INDEXES = """
SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = $1::text::regclass
"""

_CHECKS = """
SELECT conname AS name, pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype = 'c'
"""

#: what a rename would change: the owner, the storage parameters (a fillfactor, autovacuum
#: settings set by hand), the persistence
_TABLE = "SELECT relowner, reloptions, relpersistence FROM pg_class WHERE oid = $1::text::regclass"

#: the privileges granted on a table to anyone but its owner (PUBLIC as such)
_GRANTS = """
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee,
       a.privilege_type, a.is_grantable
FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE c.oid = $1::text::regclass AND a.grantee <> c.relowner
"""

#: an index definition's head, up to its table: names may be quoted (and hold spaces)
_NAME = r'(?:"(?:[^"]|"")*"|[^\s"]+)'
_INDEX_HEAD = re.compile(rf"^(CREATE (?:UNIQUE )?INDEX) {_NAME} ON (?:ONLY )?{_NAME}\.{_NAME} ")


@dataclass(frozen=True)
class Rename:
    """How the shadow ``shadow`` takes the place of ``live`` (both schema-qualified)."""

    live: str
    shadow: str
    schema: str
    #: shadow index -> live index name
    indexes: dict[str, str]
    #: shadow check constraint -> live name
    checks: dict[str, str]


async def rename_plan(
    conn: asyncpg.Connection, schema: str, live: str, shadow: str
) -> Rename | None:
    """How to swap ``shadow`` in by rename, or None where the table must be copied."""
    live_q, shadow_q = f"{schema}.{live}", f"{schema}.{shadow}"
    for table in (live_q, shadow_q):
        if await conn.fetchval(_DEPENDENTS, table):
            return None
    if [tuple(r) for r in await conn.fetch(_COLUMNS, live_q)] != [
        tuple(r) for r in await conn.fetch(_COLUMNS, shadow_q)
    ]:
        return None
    if tuple(await conn.fetchrow(_TABLE, live_q)) != tuple(await conn.fetchrow(_TABLE, shadow_q)):
        return None
    indexes = _paired(
        await conn.fetch(_INDEXES, live_q), await conn.fetch(_INDEXES, shadow_q), _index_shape
    )
    checks = _paired(
        await conn.fetch(_CHECKS, live_q), await conn.fetch(_CHECKS, shadow_q), lambda d: d
    )
    if indexes is None or checks is None:
        return None
    return Rename(live, shadow, schema, indexes, checks)


def _index_shape(definition: str) -> str:
    """An index's definition without its own name and its table's."""
    return _INDEX_HEAD.sub(r"\1 ON ", definition)


def _paired(
    live: list[asyncpg.Record], shadow: list[asyncpg.Record], shape: Callable[[str], str]
) -> dict[str, str] | None:
    """Each shadow object's live name, matched by definition; None unless they match one to
    one (a live index made by hand, with no twin in the shadow, would be lost)."""
    unmatched: dict[str, list[str]] = {}
    for row in live:
        unmatched.setdefault(shape(row["definition"]), []).append(row["name"])
    names: dict[str, str] = {}
    for row in shadow:
        twins = unmatched.get(shape(row["definition"]))
        if not twins:
            return None
        names[row["name"]] = twins.pop()
    if any(unmatched.values()):
        return None
    return names


async def lock_for_rename(conn: asyncpg.Connection, plans: list[Rename]) -> bool:
    """Take the live tables' ``ACCESS EXCLUSIVE`` locks within ``LOCK_TIMEOUT``; False (and
    nothing locked) where a reader or writer holds one longer, or waits for a lock the switch
    holds (a deadlock). Call inside a transaction."""
    if not plans:
        return True
    tables = ", ".join(f"{p.schema}.{p.live}" for p in plans)
    before = await conn.fetchval("SELECT current_setting('lock_timeout')")
    try:
        async with conn.transaction():  # a savepoint: a lock not granted leaves nothing
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            await conn.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
            await conn.execute("SELECT set_config('lock_timeout', $1, true)", before)
    except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
        return False
    return True


async def rename_in(conn: asyncpg.Connection, plan: Rename) -> None:
    """Drop the live table and give the shadow its name, its indexes' and constraints' names
    and its privileges. Inside the switch's transaction, after :func:`lock_for_rename`."""
    live_q, shadow_q = f"{plan.schema}.{plan.live}", f"{plan.schema}.{plan.shadow}"
    wanted = {tuple(r) for r in await conn.fetch(_GRANTS, live_q)}
    for grantee, _, _ in {tuple(r) for r in await conn.fetch(_GRANTS, shadow_q)} - wanted:
        await conn.execute(f"REVOKE ALL ON {shadow_q} FROM {grantee}")
    for grantee, privilege, grantable in wanted:
        option = " WITH GRANT OPTION" if grantable else ""
        await conn.execute(f"GRANT {privilege} ON {shadow_q} TO {grantee}{option}")
    await conn.execute(f"DROP TABLE {live_q}")
    await conn.execute(f"ALTER TABLE {shadow_q} RENAME TO {plan.live}")
    for shadow_index, live_index in plan.indexes.items():
        if shadow_index != live_index:  # (a constraint's index renames the constraint too)
            await conn.execute(
                f"ALTER INDEX {plan.schema}.{quote_identifier(shadow_index)}"
                f" RENAME TO {quote_identifier(live_index)}"
            )
    for shadow_check, live_check in plan.checks.items():
        if shadow_check != live_check:
            await conn.execute(
                f"ALTER TABLE {live_q} RENAME CONSTRAINT {quote_identifier(shadow_check)}"
                f" TO {quote_identifier(live_check)}"
            )
