"""How a command is declared: its payload model, who may send it, why, and what it returns.

A command is declared once, in this package. The gateway derives its GraphQL input, mutation
and result type from the declaration, and the owning service derives its handler table from
it; the same payload model validates the command on both sides.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

#: the JSON-schema key that marks a personal field (encrypted at rest, redacted from logs)
PERSONAL = "personal"


class CommandPayload(BaseModel):
    """The body of a command: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


def personal(default: Any = ..., *, description: str, **limits: Any) -> Any:
    """A field holding personal data (names, birth date, file numbers, contact, free text
    about a person): the owning service encrypts it, and no log line may show its value."""
    return Field(default, description=description, json_schema_extra={PERSONAL: True}, **limits)


def personal_fields(model: type[BaseModel]) -> frozenset[str]:
    """The names (python and camelCase) of the fields ``model`` marks personal, nested included."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get(PERSONAL):
            names |= {name, info.alias or name}
        for nested in _nested_models(info.annotation):
            names |= personal_fields(nested)
    return frozenset(names)


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


@dataclass(frozen=True)
class Command:
    """One command of the hub.

    ``name`` is the command on the bus (``hub.cmd.<service>.<name>``) and the owning
    application's method; ``mutation`` is its GraphQL field, whose input type is the payload
    model's name + ``Input``. ``returns`` names the ids every successful result carries,
    ``may_return`` those that only some outcomes carry. A command that is not ``exposed``
    is no mutation of its own: the gateway sends it as part of a larger operation (the
    erasure, sent to every service).
    """

    name: str
    service: str
    mutation: str
    payload: type[CommandPayload]
    roles: frozenset[str]
    legal_basis: str
    purpose: str
    description: str
    returns: tuple[str, ...] = ()
    may_return: tuple[str, ...] = field(default=())
    exposed: bool = True

    @property
    def result_ids(self) -> tuple[str, ...]:
        return self.returns + self.may_return

    @property
    def personal_fields(self) -> frozenset[str]:
        return personal_fields(self.payload)

    @functools.cached_property
    def sealed_fields(self) -> frozenset[str]:
        """The top-level keys of the payload (as sent: by alias) that are personal or hold
        personal fields: they travel sealed for the owning service."""
        keys: set[str] = set()
        for name, info in self.payload.model_fields.items():
            extra = info.json_schema_extra
            marked = isinstance(extra, dict) and bool(extra.get(PERSONAL))
            if marked or any(personal_fields(m) for m in _nested_models(info.annotation)):
                keys.add(info.alias or name)
        return frozenset(keys)


@dataclass(frozen=True)
class ServiceCommands:
    """What a service's commands share: the service, its usual role group, legal basis and
    purpose. ``command`` declares one of them."""

    service: str
    roles: frozenset[str]
    legal_basis: str
    purpose: str

    def command(
        self,
        name: str,
        mutation: str,
        payload: type[CommandPayload],
        description: str,
        returns: tuple[str, ...] = (),
        *,
        may_return: tuple[str, ...] = (),
        roles: frozenset[str] | None = None,
    ) -> Command:
        return Command(
            name=name,
            service=self.service,
            mutation=mutation,
            payload=payload,
            roles=self.roles if roles is None else roles,
            legal_basis=self.legal_basis,
            purpose=self.purpose,
            description=description,
            returns=returns,
            may_return=may_return,
        )
