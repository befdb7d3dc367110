"""hub/local_servers.py: operator commands find the servers of a hub up on this machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hub import local_servers
from services.runtime.settings import HubSettings

PG = "postgresql://postgres:s3cret@/postgres?host=/tmp/pg-run&port=5432"
NATS = "tls://127.0.0.1:4333"


def settings(home: Path, **values: str) -> HubSettings:
    secrets = home / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "postgres-admin.password").write_text("the admin's/password\n")
    return HubSettings(home=home, **values)  # type: ignore[arg-type]


def test_a_running_hubs_servers_fill_what_the_environment_leaves_unset(tmp_path: Path) -> None:
    local_servers.record(settings(tmp_path), postgres_url=PG, nats_url=NATS)
    recorded = json.loads((tmp_path / "servers.json").read_text())

    found = local_servers.with_running_hub(settings(tmp_path))

    assert "s3cret" not in json.dumps(recorded)  # the file names no password
    assert oct((tmp_path / "servers.json").stat().st_mode & 0o777) == "0o600"
    assert found.postgres_url == (
        "postgresql://postgres:the%20admin%27s%2Fpassword@/postgres?host=/tmp/pg-run&port=5432"
    )
    assert found.nats_url == NATS


def test_the_environment_wins_and_a_dead_hubs_file_is_ignored(tmp_path: Path) -> None:
    local_servers.record(settings(tmp_path), postgres_url=PG, nats_url=None)
    given = local_servers.with_running_hub(settings(tmp_path, postgres_url="postgresql://x@y/z"))
    assert given.postgres_url == "postgresql://x@y/z"
    assert given.nats_url is None  # the hub was given its bus: nothing recorded for it

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads((tmp_path / "servers.json").read_text())
    (tmp_path / "servers.json").write_text(json.dumps({**data, "pid": int(ended.stdout)}))
    assert local_servers.with_running_hub(settings(tmp_path)).postgres_url is None

    # another hub up's note (a second hub up on the same home that failed to start) stays
    local_servers.forget(settings(tmp_path))
    assert (tmp_path / "servers.json").exists()

    local_servers.record(settings(tmp_path), postgres_url=PG, nats_url=NATS)
    local_servers.forget(settings(tmp_path))
    local_servers.forget(settings(tmp_path))  # twice: no error
    assert not (tmp_path / "servers.json").exists()
