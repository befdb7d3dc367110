"""Several gateway processes on one port: their children, their sockets, their settings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hub.processes import listening_socket
from hub.supervisor import Supervisor, default_children, gateway_children
from services.runtime.settings import HubSettings


def test_one_gateway_by_default_and_n_with_hub_gateway_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert HubSettings().gateway_workers == 1
    monkeypatch.setenv("HUB_GATEWAY_WORKERS", "3")
    settings = HubSettings()
    assert settings.gateway_workers == 3
    children = default_children(["case_management"], settings.gateway_workers)
    gateways = [c for c in children if c.database_role == "gateway"]
    assert [c.name for c in gateways] == ["gateway", "gateway-2", "gateway-3"]
    assert all(c.nats_user == "gateway" and c.argv[-2:] == ["run", "gateway"] for c in gateways)
    assert [c.env["HUB_GATEWAY_WORKER"] for c in gateways] == ["0", "1", "2"]
    assert {c.env["HUB_GATEWAY_WORKERS"] for c in gateways} == {"3"}


def test_each_worker_gets_its_own_index_on_top_of_the_hubs_environment(tmp_path: Path) -> None:
    supervisor = Supervisor(HubSettings(home=tmp_path), children=gateway_children(2))
    supervisor.env = {"HUB_GATEWAY_WORKER": "7", "HUB_LOG_LEVEL": "INFO"}
    first, second = (supervisor.child_env(c) for c in supervisor.children)
    assert (first["HUB_GATEWAY_WORKER"], second["HUB_GATEWAY_WORKER"]) == ("0", "1")
    assert first["HUB_LOG_LEVEL"] == second["HUB_LOG_LEVEL"] == "INFO"


def test_shared_sockets_bind_one_port_and_a_lone_one_keeps_it() -> None:
    first = listening_socket("127.0.0.1", 0, shared=True)
    port = first.getsockname()[1]
    second = listening_socket("127.0.0.1", port, shared=True)
    try:
        first.listen()
        second.listen()
        assert second.getsockname()[1] == port
        with pytest.raises(OSError, match="in use"):  # one gateway alone does not share its port
            listening_socket("127.0.0.1", port, shared=False)
    finally:
        first.close()
        second.close()
    lone = listening_socket("127.0.0.1", 0, shared=False)
    try:
        assert not lone.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
    finally:
        lone.close()
