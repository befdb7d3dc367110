"""The personal-data vault survives a restart of the database: a broken connection is
replaced once, so the first command after the restart does not fail."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from services.runtime.vault import PersonalDataVault
from tests.conftest import TEST_VAULT_KEY


def test_the_vault_reconnects_once_when_its_connection_broke(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given a vault with a key, whose connection the server then drops (as on a restart)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS vaulttest")
    vault = PersonalDataVault(database_url, "vaulttest", TEST_VAULT_KEY)
    try:
        vault.setup()
        person = uuid.uuid4()
        vault.create_key(person)
        with psycopg.connect(database_url, autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        assert dropped

        # when the vault is used again
        state = vault.withdrawn(person)
        token = vault.encrypt(person, "names", "Olena")

        # then it answered on a new connection
        assert state is None
        assert vault.decrypt(person, "names", token) == "Olena"
        assert "reconnecting once" in caplog.text
    finally:
        vault.close()
