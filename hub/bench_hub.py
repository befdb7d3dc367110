"""The throwaway hub the benchmarks run on: embedded PostgreSQL and NATS in a temporary home,
provisioned as ``hub up`` provisions them, with the hub's processes (all, some or none)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.auth import issue_token
from hub.supervisor import Child, Supervisor, default_children
from services.runtime.database import with_database
from services.runtime.embedded import free_port
from services.runtime.settings import HubSettings


@dataclass
class BenchHub:
    supervisor: Supervisor
    #: the hub's settings, with the servers' addresses
    settings: HubSettings
    home: Path
    pg_url: str
    nats_url: str
    #: the hub's own database on the server
    db_url: str
    inbound_port: int

    def token(
        self,
        subject: str,
        agency: str = "abh-05315",
        role: str = "abh_officer",
        ttl_seconds: int = 8 * 3600,
    ) -> str:
        return issue_token(
            self.settings.resolved_jwt_secret(),
            subject=subject,
            agency=agency,
            role=role,
            issuer=self.settings.jwt_issuer,
            ttl_seconds=ttl_seconds,
        )

    def stop(self, keep: bool = False) -> None:
        """Stops the processes and the servers; removes the home unless ``keep``."""
        self.supervisor.shutdown()
        if not keep:
            shutil.rmtree(self.home, ignore_errors=True)


def start_bench_hub(
    prefix: str,
    children: Callable[[Child], bool] = lambda child: True,
    env: dict[str, str] | None = None,
    gateway_workers: int | None = None,
) -> BenchHub:
    """Starts servers in a new temporary home, provisions them, and spawns the processes
    ``children`` selects (waiting until they answer), with ``gateway_workers`` gateway
    processes on the one port (default: ``HUB_GATEWAY_WORKERS``). One token sends a
    benchmark's whole load, so the per-subject rate limit is off unless the environment sets
    it."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    port, inbound_port = free_port(), free_port()
    os.environ.pop("HUB_POSTGRES_URL", None)
    os.environ.pop("HUB_NATS_URL", None)
    os.environ.setdefault("HUB_RATE_LIMIT_PER_SECOND", "0")
    os.environ.update(
        {
            "HUB_HOME": str(home),
            "HUB_GATEWAY_PORT": str(port),
            "HUB_INBOUND_PORT": str(inbound_port),
            "HUB_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
    )
    settings = HubSettings(home=home, gateway_port=port, demo=False, log_level="WARNING")
    from hub.catalog import SERVICES

    workers = settings.gateway_workers if gateway_workers is None else gateway_workers
    chosen = [child for child in default_children(list(SERVICES), workers) if children(child)]
    supervisor = Supervisor(settings, children=chosen)
    pg_url, nats_url = supervisor.start_servers()
    hub = BenchHub(
        supervisor,
        settings.model_copy(update={"postgres_url": pg_url, "nats_url": nats_url}),
        home,
        pg_url,
        nats_url,
        with_database(pg_url, settings.database),
        inbound_port,
    )
    try:
        supervisor.env = {
            **os.environ,
            "HUB_POSTGRES_URL": pg_url,
            "HUB_NATS_URL": nats_url,
            "PYTHONUNBUFFERED": "1",
        }
        supervisor.provision(pg_url, nats_url)
        for child in supervisor.children:
            supervisor.spawn(child)
        if supervisor.children:
            supervisor.wait_healthy()
    except BaseException:
        hub.stop()
        raise
    return hub
