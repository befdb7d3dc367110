"""``hub up``: embedded servers, every hub process, demo data, clean stop on Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from hub import database_setup, local_servers
from services.runtime.database import ensure_database, with_database
from services.runtime.embedded import EmbeddedNats, EmbeddedPostgres
from services.runtime.settings import HubSettings

log = logging.getLogger("hub.up")


@dataclass
class Child:
    name: str
    argv: list[str]
    nats_user: str | None = None  # the NATS user it connects as: it is handed only its password
    #: the kind of process, which names its database role (a service, projector, gateway)
    database_role: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    #: variables of its own on top of the hub's (which gateway worker it is)
    env: dict[str, str] = field(default_factory=dict)


def _bind_refused(host: str, port: int) -> str | None:
    """Why ``port`` on ``host`` cannot be listened on (None: it can)."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def _pump(name: str, stream: object) -> None:
    width = 22
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode(errors="replace").rstrip()
        if line:
            print(f"{name[:width]:<{width}} | {line}", flush=True)


class Supervisor:
    """Starts servers and processes, restarts a process that dies, stops all in order."""

    def __init__(
        self,
        settings: HubSettings,
        *,
        children: list[Child],
        on_ready: Callable[[str, dict[str, str]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.children = children
        self.on_ready = on_ready
        self.postgres: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None
        self._stop = threading.Event()
        self.env: dict[str, str] = {}
        #: the child that kept failing, when that stopped the hub (its exit status is then 1)
        self.failed: str | None = None
        #: child name -> its environment with its own database role (hub/database_roles.py)
        self.database_env: dict[str, dict[str, str]] = {}

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}"

    def start_servers(self) -> tuple[str, str]:
        home = self.settings.home.resolve()
        home.mkdir(parents=True, exist_ok=True)
        pg_url = self.settings.postgres_url
        if not pg_url:
            self.postgres = EmbeddedPostgres(
                home / "postgres" / "data",
                password=self.settings.resolved_postgres_admin_password(),
            )
            self.postgres.start()
            pg_url = self.postgres.url()
        nats_url = self.settings.nats_url
        if not nats_url:
            self.nats = EmbeddedNats(
                home / "nats" / "jetstream", secrets_dir=self.settings.nats_secrets_dir
            )
            self.nats.start()
            nats_url = self.nats.url
        ensure_database(pg_url, self.settings.database)
        if self.postgres is not None or self.nats is not None:
            local_servers.record(
                self.settings,
                postgres_url=pg_url if self.postgres is not None else None,
                nats_url=nats_url if self.nats is not None else None,
            )
        return pg_url, nats_url

    def stop_servers(self) -> None:
        local_servers.forget(self.settings)
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def child_env(self, child: Child) -> dict[str, str]:
        """The environment of ``child``: the hub's, with the password of its own NATS user and
        no other (a compromised relay cannot log in as another process)."""
        base = {**self.database_env.get(child.name, self.env), **child.env}
        if self.settings.env != "dev":
            return base  # a deployment hands each process its own (deploy/compose.yaml)
        env = {k: v for k, v in base.items() if k != "HUB_NATS_PASSWORD"}
        bus = self.settings.model_copy(update={"nats_password": None})  # the dev bus's files
        password = bus.nats_password_for(child.nats_user) if child.nats_user else None
        if password is not None:
            env["HUB_NATS_PASSWORD"] = password
        return env

    def spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(
            child.argv,
            env=self.child_env(child),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=_pump, args=(child.name, child.proc.stdout), daemon=True).start()

    def check_ports(self) -> None:
        """Refuse to start when another program listens on the gateway's or the inbound
        interface's port (the processes would fail again and again)."""
        ports = (
            ("HUB_GATEWAY_PORT", self.settings.gateway_host, self.settings.gateway_port),
            ("HUB_INBOUND_PORT", self.settings.inbound_host, self.settings.inbound_port),
        )
        for variable, host, port in ports:
            refused = _bind_refused(host, port)
            if refused is None:
                continue
            ours = {p for _, _, p in ports}
            free = next(
                (
                    n
                    for n in range(port + 100, port + 200)
                    if n not in ours and not _bind_refused(host, n)
                ),
                None,
            )
            hint = f", e.g. {variable}={free} make up" if free is not None else ""
            raise RuntimeError(
                f"port {port} on {host} ({variable}) is taken ({refused}): stop the program"
                f" using it, or choose another port{hint}"
            )

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            self._restart_dead()
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        if not self._stop.is_set():
            raise RuntimeError(f"the gateway did not answer on {self.base_url} in {timeout:.0f}s")

    def listening(self, child: Child) -> bool:
        """Whether ``child`` listens on the gateway's port (a gateway process that has
        started; with several on the port, /healthz may be answered by another)."""
        import psutil

        if child.proc is None or child.proc.poll() is not None:
            return False
        try:
            connections = psutil.Process(child.proc.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        port = self.settings.gateway_port
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections)

    def wait_listening(self, children: list[Child], timeout: float = 90.0) -> None:
        """Wait until each of ``children`` (gateway processes) listens on the port."""
        deadline = time.monotonic() + timeout
        while not all(self.listening(child) for child in children):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway processes did not listen in {timeout:.0f}s")
            self._restart_dead()
            time.sleep(0.2)

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        started = time.monotonic()
        log.info("hub up (pid %s), data in %s", os.getpid(), self.settings.home.resolve())
        try:
            self.check_ports()
            pg_url, nats_url = self.start_servers()
            self.env = {
                **os.environ,
                "HUB_POSTGRES_URL": pg_url,
                "HUB_NATS_URL": nats_url,
                "HUB_HOME": str(self.settings.home.resolve()),
                "PYTHONUNBUFFERED": "1",
            }
            self.provision(pg_url, nats_url)
            for child in self.children:
                self.spawn(child)
            self.wait_healthy()
            log.info("gateway answers after %.1fs", time.monotonic() - started)
            if self.on_ready is not None and not self._stop.is_set():
                self.on_ready(self.base_url, self.env)
            while not self._stop.wait(0.5):
                self._restart_dead()
            return 1 if self.failed else 0
        except Exception as error:
            log.error("hub up failed: %s", error)
            return 1
        finally:
            self.shutdown()

    def provision(self, pg_url: str, nats_url: str) -> None:
        """Streams, schemas, tables and database roles, before any process starts."""
        asyncio.run(provision_bus(self.settings.model_copy(update={"nats_url": nats_url})))
        asyncio.run(_provision(with_database(pg_url, self.settings.database)))
        _provision_event_stores(self.settings.model_copy(update={"postgres_url": pg_url}))
        self.database_env = _provision_database_roles(
            self.settings, pg_url, self.env, self.children
        )

    def restart_dead(self) -> None:
        """Start again every child that has exited (each on its own); stop the hub when one
        keeps failing."""
        self._restart_dead()

    def _restart_dead(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            child.restarts = [t for t in child.restarts if now - t < 60]
            if len(child.restarts) >= 5:
                log.error("%s keeps failing (5 times in a minute); stopping the hub", child.name)
                self.failed = child.name
                self._stop.set()
                return
            log.warning("%s exited with %s; restarting", child.name, child.proc.returncode)
            child.restarts.append(now)
            self.spawn(child)

    def shutdown(self) -> None:
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(15)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in 15s; killing it", child.name)
                child.proc.kill()
                child.proc.wait(5)
        self.stop_servers()
        log.info("stopped")


async def provision_bus(settings: HubSettings) -> None:
    """Create the streams, as the bus's admin user, before any process starts: the processes
    themselves may not create streams (deploy/nats/hub.conf)."""
    from services.runtime.messaging import close, connect_admin, provision_streams

    nc = await connect_admin(settings)
    try:
        await provision_streams(nc.jetstream())
    finally:
        await close(nc)


async def _provision(pg_url: str) -> None:
    """Create the read-model and audit tables before any process starts."""
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        await database_setup.create_shared_tables(conn)
    finally:
        await conn.close()


def _provision_event_stores(settings: HubSettings) -> None:
    """Create each service's schema, event tables and vault before its processes start."""
    database_setup.create_event_stores(settings)


def _provision_database_roles(
    settings: HubSettings, pg_url: str, env: dict[str, str], children: list[Child]
) -> dict[str, dict[str, str]]:
    """Each process's role and rights; returns each child's environment with its own role."""
    passwords = database_setup.create_roles(settings, pg_url)
    kinds = [
        (child.name, child.database_role, "relay" in child.argv)
        for child in children
        if child.database_role
    ]
    return database_setup.child_environments(kinds, env, settings, pg_url, passwords)


def child_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub", "run", *args]


def gateway_children(workers: int = 1) -> list[Child]:
    """The gateway's processes: ``gateway``, then ``gateway-2`` ... ``gateway-N``, all on the
    one port (``SO_REUSEPORT`` when N > 1, ``hub.processes.listening_socket``), each
    restarted on its own; ``HUB_GATEWAY_WORKER`` tells each which it is (0 runs the
    background jobs)."""
    return [
        Child(
            "gateway" if n == 0 else f"gateway-{n + 1}",
            child_argv("gateway"),
            "gateway",
            "gateway",
            env={"HUB_GATEWAY_WORKERS": str(workers), "HUB_GATEWAY_WORKER": str(n)},
        )
        for n in range(workers)
    ]


def default_children(services: list[str], gateway_workers: int = 1) -> list[Child]:
    children = []
    for name in services:
        children.append(Child(name, child_argv("service", name), name, name))
        children.append(
            Child(f"{name}-relay", child_argv("relay", name), f"{name}_relay", f"{name}_relay")
        )
    children.append(Child("projector", child_argv("projector"), "projector", "projector"))
    children.extend(gateway_children(gateway_workers))
    return children
