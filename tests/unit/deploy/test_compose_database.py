"""deploy/compose.yaml: each hub process connects as its own database role; only the services'
command servers hold the vault key; only the provisioning knows the administrator's password."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml

from hub.catalog import SERVICES

COMPOSE = Path(__file__).parents[3] / "deploy" / "compose.yaml"


def hub_processes() -> dict[str, dict[str, str]]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {
        name: spec["environment"]
        for name, spec in services.items()
        if spec.get("command", [None])[0] == "hub"
    }


def process_kind(command: list[str]) -> str:
    """hub run service <name> | hub run relay <name> (<name>_relay) | hub run projector"""
    return f"{command[-1]}_relay" if command[2] == "relay" else command[-1]


def test_each_process_connects_as_its_own_role_and_only_command_servers_hold_the_key() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    checked = set()
    for name, spec in services.items():
        command = spec.get("command", [])
        if command[:2] != ["hub", "run"]:
            continue
        kind = process_kind(command)
        env = spec["environment"]
        url = urlsplit(env["HUB_POSTGRES_URL"])
        assert url.username == f"hub_{kind}", name
        assert "POSTGRES_PASSWORD" not in env["HUB_POSTGRES_URL"], name
        assert ("HUB_VAULT_MASTER_KEY" in env) == (command[2] == "service"), name
        checked.add(kind)
    assert checked == {*SERVICES, *(f"{s}_relay" for s in SERVICES), "projector", "gateway"}


def test_only_the_provisioning_connects_as_the_administrator() -> None:
    environments = hub_processes()
    admins = [
        name
        for name, env in environments.items()
        if urlsplit(env.get("HUB_POSTGRES_URL", "")).username == "postgres"
    ]
    assert admins == ["db-provision"]
    provision = environments["db-provision"]
    for process in [*SERVICES, *(f"{s}_relay" for s in SERVICES), "projector", "gateway"]:
        assert f"HUB_DB_PASSWORD_{process.upper()}" in provision


def test_each_command_server_holds_its_sealing_key_and_the_gateway_the_public_ones() -> None:
    environments = hub_processes()
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, spec in services.items():
        command = spec.get("command", [])
        if command[:3] == ["hub", "run", "service"]:
            assert "HUB_SEALING_KEY" in spec["environment"], name
            # it seals its answers to the Art. 15 read for the gateway
            assert "HUB_GATEWAY_PUBLIC_KEY" in spec["environment"], name
        elif command[:3] == ["hub", "run", "gateway"]:
            # the gateway's own key: it opens the replies sealed for it
            assert "HUB_SEALING_KEY" in spec["environment"], name
        elif command[:2] == ["hub", "run"]:
            assert "HUB_SEALING_KEY" not in spec["environment"], name
            assert "HUB_GATEWAY_PUBLIC_KEY" not in spec["environment"], name
    assert "HUB_SEALING_PUBLIC_KEYS" in environments["gateway"]
    assert "HUB_INDICATOR_KEY" in environments["gateway"]
