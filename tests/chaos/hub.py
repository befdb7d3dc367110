"""A ``hub up`` on servers of its own, which a chaos run may kill and restart.

The run owns everything it breaks: an embedded PostgreSQL and an embedded NATS in a temporary
directory, and one ``hub up --no-demo`` process on them. Processes are killed only by the pids
found as children of that ``hub up`` (never by name), and the servers only through the objects
that started them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from gateway.auth import issue_token
from services.runtime.embedded import EmbeddedNats, EmbeddedPostgres
from services.runtime.settings import HubSettings
from tests.conftest import FAST_PASSWORDS, TEST_JWT_SECRET, TEST_VAULT_KEY, rehash_admin_password

DATABASE = "chaos"
#: the throw-away server's administrator, known so that a failed run's data can be inspected
ADMIN_PASSWORD = "chaos-admin"  # a test server on a unix socket in /tmp

#: crash safety is what is tested, so commits are synchronous; ``fsync=off`` only spares the
#: shared disk (a killed server loses nothing the kernel holds; only a power cut would)
POSTGRES_SETTINGS = {"fsync": "off"} | FAST_PASSWORDS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_kind(cmdline: list[str]) -> str | None:
    """``service foreigners_authority``, ``relay case_management``, ``projector``, ``gateway``
    for a ``python -m hub run ...`` command line, else None."""
    try:
        at = cmdline.index("run")
    except ValueError:
        return None
    if at < 1 or cmdline[at - 1] != "hub":
        return None
    return " ".join(cmdline[at + 1 :]) or None


class ChaosHub:
    """Servers and a ``hub up`` in ``root`` (short: PostgreSQL's socket path lives there)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="hubchaos-"))
        self.secrets = self.root / "bus"
        self.postgres = EmbeddedPostgres(
            self.root / "pg" / "data",
            settings=POSTGRES_SETTINGS,
            log_file=self.root / "pg.log",
            password=ADMIN_PASSWORD,
        )
        self.nats = EmbeddedNats(
            self.root / "nats" / "js",
            secrets_dir=self.secrets,
            port=free_port(),
            log_file=self.root / "nats.log",
        )
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = self.root / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- servers ---------------------------------------------------------------------------

    def start_servers(self) -> None:
        self.postgres.start()
        rehash_admin_password(self.postgres.url(), self.postgres.password)
        self.nats.start()

    def restart_nats(self) -> None:
        """kill -9 the NATS server and start it again on the same port and store."""
        proc = self.nats._proc
        assert proc is not None
        proc.kill()
        proc.wait(10)
        self.nats.stop()  # closes its log handle
        self.nats.start()

    def restart_postgres(self) -> None:
        """Crash PostgreSQL (immediate shutdown: no checkpoint, recovery on start) and start it
        again on the same data directory and socket."""
        proc = self.postgres._proc
        assert proc is not None
        proc.send_signal(signal.SIGQUIT)
        proc.wait(30)
        self.postgres.stop()  # closes its log handle
        self.postgres.start()

    @property
    def settings(self) -> HubSettings:
        """Settings for the test's own connections (as the admin of either server)."""
        return HubSettings(
            postgres_url=self.postgres.url(),
            nats_url=self.nats.url,
            nats_dev_secrets=self.secrets,
            database=DATABASE,
        )

    def database_url(self) -> str:
        return self.postgres.url(DATABASE)

    # -- the hub ---------------------------------------------------------------------------

    def start_hub(self, timeout: float = 120) -> float:
        env = {
            **os.environ,
            "HUB_POSTGRES_URL": self.postgres.url(),
            "HUB_NATS_URL": self.nats.url,
            "HUB_NATS_DEV_SECRETS": str(self.secrets),
            "HUB_DATABASE": DATABASE,
            "HUB_HOME": str(self.root / "home"),
            "HUB_GATEWAY_PORT": str(self.port),
            "HUB_INBOUND_PORT": str(free_port()),
            "HUB_JWT_SECRET": TEST_JWT_SECRET,
            "HUB_VAULT_MASTER_KEY": TEST_VAULT_KEY,
            "HUB_RETENTION_EVERY_HOURS": "0",
            "HUB_RATE_LIMIT_PER_SECOND": "0",
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "up", "--no-demo"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.proc.poll() is None, self.tail()
            if self.healthy():
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"the hub did not come up:\n{self.tail()}")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def children(self) -> dict[str, int]:
        """The supervisor's children by kind (``service case_management``, ...): their pids."""
        assert self.proc is not None
        found: dict[str, int] = {}
        for child in psutil.Process(self.proc.pid).children():
            try:
                kind = process_kind(child.cmdline())
            except psutil.Error:
                continue
            if kind is not None:
                found[kind] = child.pid
        return found

    def kill(self, kind: str, timeout: float = 60) -> tuple[int, int]:
        """kill -9 the child of ``kind``; wait until the supervisor has started a new one.
        Returns the old and the new pid."""
        old = self.children()[kind]
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            assert self.proc.poll() is None, self.tail()
            new = self.children().get(kind)
            if new is not None and new != old:
                return old, new
            time.sleep(0.1)
        raise AssertionError(f"{kind} was not restarted:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            _gone, alive = psutil.wait_procs(descendants, timeout=10)
            for process in alive:  # our own descendants only
                process.kill()
        self.nats.stop()
        self.postgres.stop()

    # -- talking to it ---------------------------------------------------------------------

    def token(self, role: str, agency: str, subject: str) -> str:
        return issue_token(
            TEST_JWT_SECRET, subject=subject, agency=agency, role=role, issuer="integration-hub"
        )


def retry(fn: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """``fn()`` until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = fn()
            if result:
                return result
            last = result
        except Exception as error:
            last = error
        time.sleep(every)
    raise AssertionError(f"{what} not within {timeout:.0f}s (last: {last!r})")
