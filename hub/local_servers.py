"""Where the servers of a running ``hub up`` are, for the operator's commands on the same
machine (``hub status``, ``hub dlq``, ``hub projections rebuild``, ...).

``hub up`` starts PostgreSQL and NATS on ports of its own when the environment names none. It
writes their addresses to ``<home>/servers.json`` (no password: the administrator's is in
``<home>/secrets``, the bus admin's in its secrets directory) with its process id, and
removes the file when it stops. An operator's command given no ``HUB_POSTGRES_URL`` or
``HUB_NATS_URL`` takes them from there while that process runs. What the environment names
always wins."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from services.runtime.settings import HubSettings

FILE = "servers.json"


def path(settings: HubSettings) -> Path:
    return settings.home / FILE


def record(settings: HubSettings, *, postgres_url: str | None, nats_url: str | None) -> None:
    """Note the servers ``hub up`` started (None: one the environment named)."""
    target = path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "pid": os.getpid(),
        "postgres_url": without_password(postgres_url) if postgres_url else None,
        "nats_url": nats_url,
    }
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(data) + "\n")
    temporary.chmod(0o600)
    temporary.replace(target)


def forget(settings: HubSettings) -> None:
    """Remove the note this process wrote (never another hub's on the same home)."""
    try:
        pid = int(json.loads(path(settings).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path(settings).unlink()


def with_running_hub(settings: HubSettings) -> HubSettings:
    """``settings`` with the servers of the ``hub up`` running on this home filled in where
    the environment names none; unchanged when there is no such hub."""
    if settings.postgres_url and settings.nats_url:
        return settings
    try:
        data = json.loads(path(settings).read_text())
        pid = int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return settings
    if not _alive(pid):
        return settings  # left by a hub that was killed
    update: dict[str, str] = {}
    if not settings.postgres_url and data.get("postgres_url"):
        password = settings.resolved_postgres_admin_password()
        update["postgres_url"] = _with_password(str(data["postgres_url"]), password)
    if not settings.nats_url and data.get("nats_url"):
        update["nats_url"] = str(data["nats_url"])
    return settings.model_copy(update=update) if update else settings


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def without_password(url: str) -> str:
    """``url`` without the password in it (printed and recorded URLs carry none)."""
    return _with_password(url, None)


def _with_password(url: str, password: str | None) -> str:
    """``url`` with its user's password replaced by ``password`` (None: none)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    secret = "" if password is None else ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{user}{secret}@{host}"))
