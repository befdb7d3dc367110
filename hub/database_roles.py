"""Each hub process's PostgreSQL role and its rights: the one place that says who may touch what.

Every kind of process connects as its own role, named ``<database>_<process>``
(``hub_foreigners_authority``, ``hub_foreigners_authority_relay``, ``hub_projector``,
``hub_gateway``):

- a service's command server: only its own schema, which holds its event store, tracking,
  personal-data vault and relay position. Its stored events may be read, appended and locked
  (``eventsourcing`` takes ``LOCK TABLE ... IN EXCLUSIVE MODE``, which PostgreSQL allows only
  with UPDATE, DELETE or TRUNCATE: it gets UPDATE), never deleted;
- a service's relay (``<service>_relay``): reads its service's stored events and keeps its
  relay position; nothing else (not the vault's keys: it publishes the stored ciphertext);
- the projector: the read models (schema ``projections``), nothing of the services;
- the gateway: reads the read models and appends to its audit log (``gateway.audit_log``:
  INSERT only, so it can neither alter nor erase what it recorded, nor read it back); it
  keeps the erasures it carries out (``gateway.erasures``: no DELETE), and the workspace's
  sessions, form tokens, drafts, sign-ins and logout tokens seen (``gateway.workspace_*``), and
  the rate limit's buckets (``gateway.rate_buckets``).

The roles own nothing and may create nothing: schemas, tables and functions are created by the
provisioning (``hub up``, ``hub provision``), which connects as the administrator and then
calls :func:`apply` to create the roles, set their passwords and (re)grant exactly the rights
below. PUBLIC loses its default rights on the database, so a role of one hub database cannot
connect to another's. Only the services' command servers receive the vault master key
(:func:`process_environment`); their relays publish ciphertext and get none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from services.runtime.database import check_identifier

GATEWAY = "gateway"
PROJECTOR = "projector"
READ_MODELS = "projections"  # the read models' schema
AUDIT_SCHEMA = "gateway"
ROW_WRITES = "SELECT, INSERT, UPDATE, DELETE"
#: eventsourcing's stored-events tables: read, append and lock, never delete
EVENTS_TABLE_SUFFIX = "_events"
EVENT_STORE_RIGHTS = "SELECT, INSERT, UPDATE"
#: the workspace's tables in the gateway's schema (gateway/workspace/sessions.py TABLES)
WORKSPACE_TABLES = (
    "workspace_sessions",
    "workspace_submissions",
    "workspace_drafts",
    "workspace_logins",
    "workspace_logout_tokens",
)
#: the rate limit's shared buckets (gateway/ratelimit.py TABLES)
RATE_LIMIT_TABLES = ("rate_buckets",)
_PROVISION_LOCK = 0x68756272  # one provisioning of roles at a time on a server


@dataclass(frozen=True)
class Grant:
    """Rights on the tables or sequences of a schema, or on one table of it."""

    privileges: str
    schema: str
    table: str | None = None  # None: every table in ``schema``
    sequences: bool = False  # the schema's sequences rather than its tables
    #: a function's name and argument types (``audit_entries_of(uuid)``) instead of tables
    function: str | None = None


@dataclass(frozen=True)
class DatabaseRole:
    """One kind of process: its role's rights, and whether it holds the vault master key."""

    process: str
    grants: tuple[Grant, ...]
    holds_vault_key: bool = False
    #: its schema holds an event store: the stored events get EVENT_STORE_RIGHTS only
    keeps_event_store: bool = False
    #: it reads the stored events of this service's schema (a relay), nothing more of them
    reads_events_of: str | None = None

    def name(self, database: str) -> str:
        return check_identifier(f"{database}_{self.process}")

    @property
    def schemas(self) -> list[str]:
        return sorted({grant.schema for grant in self.grants})


def service_role(service: str) -> DatabaseRole:
    """A service's role: its own schema, and nothing else."""
    return DatabaseRole(
        process=service,
        grants=(
            Grant(ROW_WRITES, service),
            Grant("USAGE, SELECT", service, sequences=True),
        ),
        holds_vault_key=True,
        keeps_event_store=True,
    )


def relay_role(service: str) -> DatabaseRole:
    """A service's relay: reads the stored events, keeps its relay position."""
    return DatabaseRole(
        process=f"{service}_relay",
        grants=(Grant("SELECT, INSERT, UPDATE", service, table="relay_position"),),
        reads_events_of=service,
    )


PROJECTOR_ROLE = DatabaseRole(
    process=PROJECTOR,
    grants=(
        Grant(ROW_WRITES, READ_MODELS),
        Grant("USAGE, SELECT", READ_MODELS, sequences=True),
    ),
)

GATEWAY_ROLE = DatabaseRole(
    process=GATEWAY,
    grants=(
        Grant("SELECT", READ_MODELS),
        Grant("INSERT", AUDIT_SCHEMA, table="audit_log"),
        Grant("USAGE", AUDIT_SCHEMA, table="audit_log_id_seq", sequences=True),
        Grant("SELECT, INSERT, UPDATE", AUDIT_SCHEMA, table="erasures"),
        # the workspace's sessions, one-time form tokens, drafts and sign-ins in progress
        # (gateway/workspace/sessions.py TABLES)
        *(Grant(ROW_WRITES, AUDIT_SCHEMA, table=table) for table in WORKSPACE_TABLES),
        # the rate limit's buckets, shared by every gateway process (gateway/ratelimit.py)
        *(Grant(ROW_WRITES, AUDIT_SCHEMA, table=table) for table in RATE_LIMIT_TABLES),
        # one person's entries for the Art. 15 report (SECURITY DEFINER), not the log itself
        Grant("EXECUTE", AUDIT_SCHEMA, function="audit_entries_of(uuid)"),
    ),
)


def database_roles(services: Iterable[str]) -> list[DatabaseRole]:
    """Every process kind's role: one per service and one per relay, the projector's and the
    gateway's."""
    services = list(services)
    return [
        *(service_role(name) for name in services),
        *(relay_role(name) for name in services),
        PROJECTOR_ROLE,
        GATEWAY_ROLE,
    ]


def role_for(process: str, services: Iterable[str]) -> DatabaseRole:
    for role in database_roles(services):
        if role.process == process:
            return role
    raise KeyError(f"no database role for process {process!r}")


def grant_statements(
    role: DatabaseRole, database: str, managed: Iterable[str]
) -> list[sql.Composed]:
    """Revoke whatever ``role`` has in the ``managed`` schemas, then grant its rights; so the
    table above is the whole truth after every provisioning."""
    name = sql.Identifier(role.name(database))
    statements: list[sql.Composed] = []
    for schema in sorted(set(managed)):
        target = sql.Identifier(schema)
        statements += [
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(target, name),
            sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(target, name),
            sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {} FROM {}").format(target, name),
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(target, name),
        ]
    for schema in role.schemas:
        statements.append(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), name)
        )
    for grant in role.grants:
        rights = sql.SQL(grant.privileges)
        in_schema = sql.Identifier(grant.schema)
        if grant.function is not None:
            function, arguments = grant.function.split("(", 1)
            signature = sql.SQL("{}({}").format(
                sql.Identifier(grant.schema, function), sql.SQL(arguments)
            )
            statements.append(
                sql.SQL("GRANT {} ON FUNCTION {} TO {}").format(rights, signature, name)
            )
        elif grant.table is not None:
            kind = sql.SQL("SEQUENCE" if grant.sequences else "TABLE")
            target = sql.Identifier(grant.schema, grant.table)
            statements.append(sql.SQL("GRANT {} ON {} {} TO {}").format(rights, kind, target, name))
        else:
            kind = sql.SQL("SEQUENCES" if grant.sequences else "TABLES")
            statements.append(
                sql.SQL("GRANT {} ON ALL {} IN SCHEMA {} TO {}").format(
                    rights, kind, in_schema, name
                )
            )
    return statements


def apply(
    admin_url: str,
    database: str,
    services: Iterable[str],
    passwords: dict[str, str],
) -> list[str]:
    """Create or update every role (``passwords``: process -> password) and grant its rights.

    Runs as the administrator after the schemas and tables exist; returns the role names.
    """
    services = list(services)
    roles = database_roles(services)
    managed = [*services, READ_MODELS, AUDIT_SCHEMA, "public"]
    db = sql.Identifier(check_identifier(database))
    with psycopg.connect(admin_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PROVISION_LOCK,))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        existing = {
            row[0]
            for row in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                ([role.name(database) for role in roles],),
            )
        }
        for role in roles:
            name = sql.Identifier(role.name(database))
            verb = sql.SQL("ALTER" if role.name(database) in existing else "CREATE")
            conn.execute(
                sql.SQL(
                    "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                    " NOBYPASSRLS NOINHERIT PASSWORD {}"
                ).format(verb, name, sql.Literal(passwords[role.process]))
            )
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, name))
            for statement in grant_statements(role, database, managed):
                conn.execute(statement)
            if role.keeps_event_store:
                _restrict_event_stores(conn, role, database)
            if role.reads_events_of is not None:
                _read_event_stores(conn, role, database, role.reads_events_of)
    return [role.name(database) for role in roles]


def _restrict_event_stores(
    conn: psycopg.Connection[tuple[object, ...]], role: DatabaseRole, database: str
) -> None:
    """A service appends to its stored events and never deletes them."""
    name = sql.Identifier(role.name(database))
    for table in _events_tables(conn, role.process):
        target = sql.Identifier(role.process, table)
        conn.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(target, name))
        conn.execute(
            sql.SQL("GRANT {} ON TABLE {} TO {}").format(sql.SQL(EVENT_STORE_RIGHTS), target, name)
        )


def _events_tables(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> list[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
    return [str(table) for (table,) in rows if str(table).endswith(EVENTS_TABLE_SUFFIX)]


def _read_event_stores(
    conn: psycopg.Connection[tuple[object, ...]], role: DatabaseRole, database: str, schema: str
) -> None:
    """A relay reads its service's stored events."""
    name = sql.Identifier(role.name(database))
    for table in _events_tables(conn, schema):
        target = sql.Identifier(schema, table)
        conn.execute(sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(target, name))


def role_url(admin_url: str, role: str, password: str) -> str:
    """The server and database of ``admin_url``, as ``role`` with ``password``."""
    parts = urlsplit(admin_url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def process_environment(
    base: dict[str, str],
    process: str,
    *,
    admin_url: str,
    database: str,
    services: Iterable[str],
    password: str,
    vault_key: str,
    relay: bool = False,
) -> dict[str, str]:
    """``base`` for one child process: its own role's ``HUB_POSTGRES_URL``, and the vault key
    only for a service's command server (a ``relay`` publishes ciphertext and needs none).
    ``base`` holds no credentials of other roles."""
    role = role_for(process, services)
    env = {
        key: value
        for key, value in base.items()
        if key != "HUB_VAULT_MASTER_KEY"
        and not key.startswith("HUB_DB_PASSWORD_")
        and key not in ("HUB_POSTGRES_ADMIN_PASSWORD", "PGPASSWORD")
    }
    env["HUB_POSTGRES_URL"] = role_url(admin_url, role.name(database), password)
    if role.holds_vault_key and not relay:
        env["HUB_VAULT_MASTER_KEY"] = vault_key
    return env
