"""The command catalogue: every command of the hub, declared once.

The gateway builds its GraphQL mutations from it and each service its handler table; tests
check that the two sides match the catalogue exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

from contracts.commands import (
    case_management,
    conflict_management,
    foreigners_authority,
    privacy,
    steering_group,
)
from contracts.commands.spec import (
    PERSONAL,
    Command,
    CommandPayload,
    personal,
    personal_fields,
)


class Catalogue:
    """Every command, by owning service and name."""

    def __init__(self, *commands: Command) -> None:
        self._commands: dict[tuple[str, str], Command] = {}
        for command in commands:
            key = (command.service, command.name)
            if key in self._commands:
                raise ValueError(f"command {key} declared twice")
            self._commands[key] = command

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)

    def get(self, service: str, name: str) -> Command | None:
        return self._commands.get((service, name))

    def of(self, service: str) -> list[Command]:
        """The commands ``service`` owns, in declaration order."""
        return [c for c in self._commands.values() if c.service == service]

    def exposed(self) -> list[Command]:
        """The commands that are mutations of their own (one each)."""
        return [c for c in self._commands.values() if c.exposed]

    def personal_fields(self) -> frozenset[str]:
        """Every field name any command marks personal (python and camelCase)."""
        return frozenset(name for c in self for name in c.personal_fields)


CATALOGUE = Catalogue(
    *foreigners_authority.COMMANDS,
    *case_management.COMMANDS,
    *conflict_management.COMMANDS,
    *steering_group.COMMANDS,
    *privacy.COMMANDS,
    *privacy.RESTRICT_COMMANDS,
)

__all__ = [
    "CATALOGUE",
    "PERSONAL",
    "Catalogue",
    "Command",
    "CommandPayload",
    "personal",
    "personal_fields",
]
