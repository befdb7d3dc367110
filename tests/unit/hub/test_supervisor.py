"""hub up's supervisor: it refuses to start on a port another program holds, and a process
that keeps failing stops the hub with exit status 1 (not 0)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from hub.supervisor import Child, Supervisor
from services.runtime.settings import HubSettings


def test_a_taken_port_stops_hub_up_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = HubSettings(home=tmp_path / "hub", gateway_port=port, demo=False)
        supervisor = Supervisor(settings, children=[])

        assert supervisor.run() == 1

    assert supervisor.postgres is None  # no server was started
    assert supervisor.nats is None


def test_the_taken_port_is_named_with_the_variable_to_change(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with socket.socket() as other:  # a free port for the gateway
            other.bind(("127.0.0.1", 0))
            gateway_port = other.getsockname()[1]
        settings = HubSettings(
            home=tmp_path / "hub", inbound_port=port, gateway_port=gateway_port, demo=False
        )
        try:
            Supervisor(settings, children=[]).check_ports()
        except RuntimeError as error:
            message = str(error)
        else:
            raise AssertionError("the taken port was not refused")
    assert f"port {port} on 127.0.0.1 (HUB_INBOUND_PORT) is taken" in message
    suggested = int(message.rsplit("HUB_INBOUND_PORT=", 1)[1].split()[0])
    assert suggested != port
    with socket.socket() as free:
        free.bind(("127.0.0.1", suggested))  # the port it names is free


def test_a_process_that_keeps_failing_stops_the_hub_as_a_failure(tmp_path: Path) -> None:
    failing = Child("relay-x", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor = Supervisor(HubSettings(home=tmp_path / "hub"), children=[failing])
    failing.proc = subprocess.Popen(failing.argv)
    failing.proc.wait()
    failing.restarts = [time.monotonic()] * 5

    supervisor.restart_dead()

    assert supervisor.failed == "relay-x"
    assert supervisor._stop.is_set()
