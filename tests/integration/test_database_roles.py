"""Each process's PostgreSQL role, on the real server: what it may touch, and what it may not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from hub import database_roles, database_setup
from hub.catalog import SERVICES
from services.runtime.database import with_database
from services.runtime.settings import HubSettings
from tests.conftest import Servers


@pytest.fixture
def provisioned(settings: HubSettings, database_url: str) -> dict[str, str]:
    """The test database provisioned as ``hub up`` does it; returns process -> password."""
    import asyncio

    import asyncpg

    async def shared() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await database_setup.create_shared_tables(conn)
        finally:
            await conn.close()

    asyncio.run(shared())
    database_setup.create_event_stores(settings)
    return database_setup.create_roles(settings, str(settings.postgres_url))


@pytest.fixture
def as_role(
    provisioned: dict[str, str], settings: HubSettings, database_url: str
) -> Iterator[object]:
    """Connect to the test database as a process's role."""
    opened: list[psycopg.Connection[tuple[object, ...]]] = []

    def connect(process: str) -> psycopg.Connection[tuple[object, ...]]:
        role = database_roles.role_for(process, SERVICES).name(settings.database)
        url = database_roles.role_url(database_url, role, provisioned[process])
        conn = psycopg.connect(url, autocommit=True)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def events_table(database_url: str, service: str) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
            (service, "%\\_events"),
        ).fetchone()
    assert row is not None
    return f"{service}.{row[0]}"


def denied(conn: psycopg.Connection[tuple[object, ...]], statement: str) -> bool:
    try:
        conn.execute(statement)
    except errors.InsufficientPrivilege:
        return True
    return False


def test_the_foreigners_authority_cannot_read_case_management(
    as_role: object, database_url: str
) -> None:
    fa = as_role("foreigners_authority")  # type: ignore[operator]
    case_events = events_table(database_url, "case_management")
    own_events = events_table(database_url, "foreigners_authority")

    assert denied(fa, f"SELECT * FROM {case_events}")
    assert denied(fa, "SELECT * FROM case_management.person_keys")
    assert denied(fa, "SELECT * FROM case_management.relay_position")
    assert not denied(fa, f"SELECT count(*) FROM {own_events}")
    assert not denied(fa, "SELECT count(*) FROM foreigners_authority.person_keys")


def test_a_service_appends_to_its_own_schema_only(as_role: object, database_url: str) -> None:
    cm = as_role("case_management")  # type: ignore[operator]
    own_events = events_table(database_url, "case_management")

    assert denied(cm, "SELECT * FROM projections.timeline_events")
    assert denied(cm, "SELECT * FROM gateway.audit_log")
    assert denied(cm, f"DELETE FROM {own_events}")
    assert denied(cm, f"TRUNCATE {own_events}")
    assert denied(cm, "CREATE TABLE case_management.extra (id int)")
    assert denied(cm, "CREATE TABLE public.extra (id int)")
    assert not denied(cm, "UPDATE case_management.relay_position SET notification_id = 0")


def test_a_relay_reads_its_services_events_and_keeps_its_position_only(
    as_role: object, database_url: str
) -> None:
    relay = as_role("foreigners_authority_relay")  # type: ignore[operator]
    own_events = events_table(database_url, "foreigners_authority")

    assert not denied(relay, f"SELECT count(*) FROM {own_events}")
    assert not denied(relay, "UPDATE foreigners_authority.relay_position SET notification_id = 0")
    assert denied(relay, "SELECT * FROM foreigners_authority.person_keys")  # no keys at all
    assert denied(relay, f"INSERT INTO {own_events} DEFAULT VALUES")
    assert denied(relay, f"DELETE FROM {own_events}")
    assert denied(relay, f"SELECT * FROM {events_table(database_url, 'case_management')}")
    assert denied(relay, "SELECT * FROM projections.timeline_events")


def test_the_gateway_reads_read_models_and_only_appends_to_its_audit_log(
    as_role: object, database_url: str
) -> None:
    gateway = as_role("gateway")  # type: ignore[operator]

    assert not denied(gateway, "SELECT count(*) FROM projections.timeline_events")
    assert not denied(gateway, "SELECT count(*) FROM projections.consumer_positions")
    gateway.execute(
        "INSERT INTO gateway.audit_log (subject, agency, role, action, purpose)"
        " VALUES ('s', 'abh-05315', 'abh_officer', 'person', 'test')"
    )
    assert denied(gateway, "UPDATE gateway.audit_log SET subject = 'someone else'")
    assert denied(gateway, "DELETE FROM gateway.audit_log")
    assert denied(gateway, "SELECT * FROM gateway.audit_log")
    # one person's entries, for the Art. 15 report, through the log's own function
    assert not denied(
        gateway, "SELECT * FROM gateway.audit_entries_of('00000000-0000-4000-8000-000000000000')"
    )
    assert denied(gateway, "DELETE FROM projections.timeline_events")
    assert denied(gateway, f"SELECT * FROM {events_table(database_url, 'foreigners_authority')}")
    assert denied(gateway, "SELECT * FROM foreigners_authority.person_keys")
    assert denied(gateway, "UPDATE gateway.audit_head SET seq = 0")
    assert denied(gateway, "DELETE FROM gateway.audit_head")
    with psycopg.connect(database_url) as admin:
        chained = admin.execute("SELECT seq, hash IS NOT NULL FROM gateway.audit_log").fetchall()
    assert chained == [(1, True)]  # the chain's trigger runs for the gateway's role too


def test_the_projector_writes_read_models_and_reads_no_service(
    as_role: object, database_url: str
) -> None:
    projector = as_role("projector")  # type: ignore[operator]

    assert not denied(projector, "DELETE FROM projections.timeline_events")
    assert denied(projector, f"SELECT * FROM {events_table(database_url, 'case_management')}")
    assert denied(projector, "SELECT * FROM case_management.person_keys")
    assert denied(projector, "SELECT * FROM gateway.audit_log")
    assert denied(projector, "SELECT * FROM gateway.audit_entries_of(gen_random_uuid())")
    assert denied(projector, "CREATE TABLE projections.extra (id int)")


def test_roles_need_their_password_and_reach_only_their_database(
    provisioned: dict[str, str], settings: HubSettings, servers: Servers, database_url: str
) -> None:
    role = database_roles.GATEWAY_ROLE.name(settings.database)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(database_roles.role_url(database_url, role, "wrong")).close()
    outsider = f"{settings.database}_outsider"  # e.g. a role of another hub database
    with psycopg.connect(with_database(servers.postgres_url, "postgres"), autocommit=True) as db:
        db.execute(f"CREATE ROLE {outsider} LOGIN PASSWORD 'outsider'")
        try:
            with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                psycopg.connect(database_roles.role_url(database_url, outsider, "outsider")).close()
        finally:
            db.execute(f"DROP ROLE {outsider}")
    admin_without_password = database_roles.role_url(database_url, "postgres", "")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(admin_without_password).close()


def test_provisioning_again_revokes_rights_no_longer_in_the_table(
    provisioned: dict[str, str], settings: HubSettings, database_url: str, as_role: object
) -> None:
    projector_role = database_roles.PROJECTOR_ROLE.name(settings.database)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA case_management TO {projector_role}")
        admin.execute(f"GRANT USAGE ON SCHEMA case_management TO {projector_role}")
    database_setup.create_roles(settings, str(settings.postgres_url))

    projector = as_role("projector")  # type: ignore[operator]
    assert denied(projector, "SELECT * FROM case_management.person_keys")


def test_only_the_command_servers_get_the_vault_key_and_each_child_its_own_role(
    settings: HubSettings,
) -> None:
    base = {
        "HUB_POSTGRES_URL": "postgresql://postgres:admin-secret@db:5432/hub",
        "HUB_VAULT_MASTER_KEY": "the-key",
        "HUB_DB_PASSWORD_GATEWAY": "gw",
        "PATH": "/bin",
    }
    passwords = {
        "foreigners_authority": "fa-pw",
        "foreigners_authority_relay": "far-pw",
        "projector": "pr-pw",
        "gateway": "gw-pw",
    }
    kinds = [
        ("foreigners_authority", "foreigners_authority", False),
        ("foreigners_authority-relay", "foreigners_authority_relay", True),
        ("projector", "projector", False),
        ("gateway", "gateway", False),
    ]
    envs = database_setup.child_environments(
        kinds, base, settings, base["HUB_POSTGRES_URL"], passwords
    )
    db = settings.database

    assert envs["foreigners_authority"]["HUB_POSTGRES_URL"] == (
        f"postgresql://{db}_foreigners_authority:fa-pw@db:5432/hub"
    )
    assert envs["foreigners_authority-relay"]["HUB_POSTGRES_URL"] == (
        f"postgresql://{db}_foreigners_authority_relay:far-pw@db:5432/hub"
    )
    assert envs["foreigners_authority"]["HUB_VAULT_MASTER_KEY"] == (
        settings.resolved_vault_master_key()
    )
    assert envs["projector"]["HUB_POSTGRES_URL"] == f"postgresql://{db}_projector:pr-pw@db:5432/hub"
    assert envs["gateway"]["HUB_POSTGRES_URL"] == f"postgresql://{db}_gateway:gw-pw@db:5432/hub"
    for child in ("foreigners_authority-relay", "projector", "gateway"):
        assert "HUB_VAULT_MASTER_KEY" not in envs[child]
        assert "HUB_DB_PASSWORD_GATEWAY" not in envs[child]
        assert "admin-secret" not in str(envs[child])
        assert envs[child]["PATH"] == "/bin"


def test_hub_provision_creates_the_roles_with_the_passwords_from_the_environment(
    servers: Servers, database: str, database_url: str, tmp_path: Path
) -> None:
    from tests.conftest import TEST_JWT_SECRET, TEST_VAULT_KEY

    processes = [*SERVICES, *(f"{s}_relay" for s in SERVICES), "projector"]
    passwords = {process: f"{process}-password" for process in processes}
    env = {
        **os.environ,
        "HUB_ENV": "prod",
        "HUB_HOME": str(tmp_path / "home"),
        "HUB_POSTGRES_URL": servers.postgres_url,
        "HUB_DATABASE": database,
        "HUB_VAULT_MASTER_KEY": TEST_VAULT_KEY,
        "HUB_JWT_SECRET": TEST_JWT_SECRET,
        **{f"HUB_DB_PASSWORD_{p.upper()}": password for p, password in passwords.items()},
    }
    missing = subprocess.run(
        [sys.executable, "-m", "hub", "provision"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "HUB_DB_PASSWORD_GATEWAY must be set outside dev" in missing.stderr

    env["HUB_DB_PASSWORD_GATEWAY"] = "gateway-password"
    done = subprocess.run(
        [sys.executable, "-m", "hub", "provision"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"{database}_gateway" in done.stdout

    gateway_url = database_roles.role_url(database_url, f"{database}_gateway", "gateway-password")
    with psycopg.connect(gateway_url) as gateway:
        assert gateway.execute("SELECT count(*) FROM projections.timeline_events").fetchone()
    assert not (tmp_path / "home" / "secrets").exists()  # prod generates no secrets


def test_the_projectors_writes_keep_the_indicator_aggregates_and_the_gateway_reads_them(
    as_role: object,
) -> None:
    projector = as_role("projector")  # type: ignore[operator]
    gateway = as_role("gateway")  # type: ignore[operator]
    person = "00000000-0000-4000-8000-0000000000a1"

    # the statement triggers run as the projector's role (projections/indicators/schema.sql)
    projector.execute(
        "INSERT INTO projections.pathway_persons (person_id, abh_id, municipality_key, stage,"
        " stage_since) VALUES (%s, 'abh', '05315000', 'arrival', '2025-01-01')",
        (person,),
    )
    projector.execute(
        "INSERT INTO projections.pathway_stage_history VALUES (%s, '2025-01-01', 'arrival', 1)",
        (person,),
    )
    projector.execute(
        "INSERT INTO projections.pathway_milestones VALUES (%s, 'entry', '2025-01-01'),"
        " (%s, 'first_title', '2025-03-01')",
        (person, person),
    )

    stages = gateway.execute(
        "SELECT dim, grp, stage, persons FROM projections.ind_stage_counts ORDER BY dim"
    ).fetchall()
    assert stages == [
        ("municipality", "05315000", "arrival", 1),
        ("target_group", "no_case", "arrival", 1),
    ]
    assert gateway.execute(
        "SELECT month, stage, persons FROM projections.ind_stage_month"
    ).fetchall() == [(date(2025, 1, 31), "arrival", 1)]
    assert gateway.execute(
        "SELECT days, persons FROM projections.ind_milestone_days"
    ).fetchall() == [(59, 1)]
    assert denied(gateway, "DELETE FROM projections.ind_stage_counts")
