"""Case management's command endpoints (NATS request/reply), from the command catalogue."""

from __future__ import annotations

from typing import Any

from contracts.commands import Command
from contracts.commands.case_management import AssessNeeds
from services.case_management.application import Actor, CaseManagement
from services.runtime.commands import CommandOutcome, CommandServer, register_commands
from services.runtime.context import SYSTEM_CONTEXT, CommandContext
from services.runtime.subject_access import register_subject_access

EXPIRY_SWEEP_SECONDS = 600.0


def register_routes(server: CommandServer, app: CaseManagement) -> None:
    def invoke(command: Command, payload: Any, context: CommandContext) -> CommandOutcome:
        actor = Actor(subject=context.subject or "", agency=context.agency, role=context.role)
        arguments = payload.model_dump()
        if isinstance(payload, AssessNeeds):
            arguments["needs"] = payload.by_domain()
        outcome: CommandOutcome = getattr(app, command.name)(actor, **arguments)
        return outcome

    register_commands(server, invoke, app)
    register_subject_access(
        server,
        lambda person_id: app.subject_access(person_id),
        lambda person_id: app.vault.withdrawn(person_id),
    )
    server.schedule(EXPIRY_SWEEP_SECONDS, lambda: app.expire_consents(), SYSTEM_CONTEXT)
