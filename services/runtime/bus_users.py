"""The bus's users, read from deploy/nats/hub.conf, and their development passwords.

deploy/nats/hub.conf is the one source of the NATS users and their permissions: deployments
run it, and so does every embedded server (``EmbeddedNats`` includes it unchanged). Each user's
password is a NATS variable resolved from the server's environment (``password:
$PROJECTOR_PASSWORD``). In development the passwords are made once, one file per user, in the
bus's secrets directory; a hub process is handed only its own (``HUB_NATS_PASSWORD``).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

HUB_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "hub.conf"

#: the user that provisions streams (and that the tests use to inspect the bus)
ADMIN_USER = "admin"

_USER_ENTRY = re.compile(r"^\s*user:\s*(\w+)\s*\n\s*password:\s*\$(\w+)\s*$", re.MULTILINE)


def bus_users(conf: Path = HUB_CONF) -> dict[str, str]:
    """Each user of ``conf`` and the name of the variable holding its password."""
    users = dict(_USER_ENTRY.findall(conf.read_text()))
    if ADMIN_USER not in users:
        raise RuntimeError(f"{conf} defines no {ADMIN_USER!r} user")
    return users


def process_user(name: str) -> str:
    """The NATS user a process connects as, from its name (``case_management-relay`` ->
    ``case_management_relay``); it also names the process's inbox prefix."""
    return name.replace("-", "_").replace(".", "_")


def password_file(directory: Path, user: str) -> Path:
    return directory / "users" / process_user(user)


def dev_passwords(directory: Path, conf: Path = HUB_CONF) -> dict[str, str]:
    """A password per user of ``conf``, made once under ``directory/users``."""
    users_dir = directory / "users"
    users_dir.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    users_dir.chmod(0o700)
    passwords = {}
    for user in bus_users(conf):
        path = password_file(directory, user)
        if not path.exists():
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            # nats-server parses a variable's value as config: letters first keep it a string
            tmp.write_text("hub" + secrets.token_hex(24))
            tmp.chmod(0o600)
            tmp.replace(path)
        passwords[user] = path.read_text().strip()
    return passwords


def server_environment(passwords: dict[str, str], conf: Path = HUB_CONF) -> dict[str, str]:
    """The variables nats-server resolves ``conf``'s passwords from."""
    return {variable: passwords[user] for user, variable in bus_users(conf).items()}
