"""§ 87 AufenthG: nothing of case management reaches the foreigners authority service.

Checked where it would happen: the subjects its running processes actually subscribe to
(read from the NATS server's monitoring endpoint), and its code. The NATS permissions that
enforce the same in a deployment are tested in test_nats_permissions.py; the gateway's
filtering in test_case_management_gateway.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub import database_roles, database_setup
from services.runtime.embedded import EmbeddedNats, free_port
from services.runtime.messaging import close, connect_admin, provision_streams
from services.runtime.settings import HubSettings

ROOT = Path(__file__).resolve().parents[2]
FA = ROOT / "services" / "foreigners_authority"


@pytest.fixture
def monitored_nats(tmp_path: Path) -> Iterator[tuple[str, int]]:
    server = EmbeddedNats(tmp_path / "js", secrets_dir=tmp_path / "bus", monitor_port=free_port())
    server.start()
    assert server.monitor_port is not None
    asyncio.run(provision(HubSettings(nats_url=server.url, nats_dev_secrets=tmp_path / "bus")))
    yield server.url, server.monitor_port
    server.stop()


async def provision(settings: HubSettings) -> None:
    nc = await connect_admin(settings)
    await provision_streams(nc.jetstream())
    await close(nc)


def test_the_foreigners_authority_processes_subscribe_only_to_their_own_subjects(
    monitored_nats: tuple[str, int],
    settings: HubSettings,
    servers: object,
    tmp_path: Path,
) -> None:
    nats_url, monitor = monitored_nats
    admin_url = str(settings.postgres_url)
    database_setup.provision(settings, admin_url)
    password = settings.resolved_database_password("foreigners_authority")
    env = {
        **os.environ,
        "HUB_POSTGRES_URL": database_roles.role_url(
            admin_url, f"{settings.database}_foreigners_authority", password
        ),
        "HUB_NATS_URL": nats_url,
        "HUB_NATS_DEV_SECRETS": str(tmp_path / "bus"),
        "HUB_DATABASE": settings.database,
        "HUB_HOME": str(settings.home),
        "HUB_VAULT_MASTER_KEY": settings.resolved_vault_master_key(),
        "HUB_LOG_LEVEL": "WARNING",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "hub", "run", role, "foreigners_authority"], env=env
        )
        for role in ("service", "relay")
    ]
    try:
        connections: list[dict[str, object]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            connz = httpx.get(f"http://127.0.0.1:{monitor}/connz?subs=detail").json()
            connections = [
                c
                for c in connz.get("connections", [])
                if str(c.get("name", "")).startswith("foreigners_authority")
            ]
            if len(connections) == 2 and all(
                c.get("subscriptions_list_detail") for c in connections
            ):
                break
            time.sleep(0.2)
        subjects = {
            str(sub["subject"])
            for c in connections
            for sub in c["subscriptions_list_detail"]  # type: ignore[attr-defined]
        }
        assert len(connections) == 2
        assert subjects, "no subscriptions seen"
        for subject in subjects:
            assert subject == "hub.cmd.foreigners_authority.*" or subject.startswith(
                "_INBOX_foreigners_authority"
            ), subject
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(15)


def test_the_foreigners_authority_code_knows_nothing_of_case_management() -> None:
    offending = [
        path.relative_to(ROOT)
        for path in FA.rglob("*.py")
        if "case_management" in path.read_text() or "contracts.case" in path.read_text()
    ]

    assert offending == []
