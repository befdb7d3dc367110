"""Conflict management's command endpoints (NATS request/reply), from the command catalogue."""

from __future__ import annotations

from services.conflict_management.application import ConflictManagement
from services.runtime.commands import CommandServer, call_method, register_commands


def register_routes(server: CommandServer, app: ConflictManagement) -> None:
    register_commands(server, call_method(app), app)
