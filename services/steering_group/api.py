"""The steering group's command endpoints (NATS request/reply), from the command catalogue."""

from __future__ import annotations

from services.runtime.commands import CommandServer, call_method, register_commands
from services.steering_group.application import SteeringGroup


def register_routes(server: CommandServer, app: SteeringGroup) -> None:
    register_commands(server, call_method(app), app)
