"""Payload base class, contract specs and the registry mapping event types to payloads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.envelope import CloudEvent, decode_envelope
from contracts.errors import ContractError, validation_reason
from contracts.subjects import dataschema_uri, event_type

__all__ = ["REGISTRY", "ContractRegistry", "ContractSpec", "Payload", "contract"]


class Payload(BaseModel):
    """Base class of every event payload (the CloudEvent ``data``).

    Unknown fields are ignored so that consumers accept payloads carrying newer
    optional fields of the same contract version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class ContractSpec:
    """One versioned event contract: who publishes it and what its payload looks like."""

    service: str
    name: str
    version: int
    payload: type[Payload]
    description: str

    def __post_init__(self) -> None:
        event_type(self.service, self.name, self.version)  # validates the naming rules
        if not (isinstance(self.payload, type) and issubclass(self.payload, Payload)):
            raise TypeError(f"payload must be a Payload subclass, got {self.payload!r}")

    # cached: the relay asks for both with every event it publishes, and the naming checks
    # (regular expressions) cost as much as the rest of the envelope
    @cached_property
    def type(self) -> str:
        """The CloudEvents type, ``hub.<service>.<name>.v<version>``."""
        return event_type(self.service, self.name, self.version)

    @property
    def subject(self) -> str:
        """The NATS subject the event is published on (identical to ``type``)."""
        return self.type

    @cached_property
    def dataschema(self) -> str:
        """The CloudEvents ``dataschema`` URI of the payload."""
        return dataschema_uri(self.type)


class ContractRegistry:
    """Maps event types to their contracts and decodes raw messages into payloads."""

    def __init__(self) -> None:
        self._by_type: dict[str, ContractSpec] = {}
        self._by_payload: dict[type[Payload], ContractSpec] = {}

    def register(self, spec: ContractSpec) -> None:
        """Add ``spec``; raises ``ValueError`` if its type or payload class is taken."""
        if spec.type in self._by_type:
            raise ValueError(f"event type {spec.type!r} is already registered")
        if spec.payload in self._by_payload:
            other = self._by_payload[spec.payload].type
            raise ValueError(
                f"payload {spec.payload.__qualname__} is already registered as {other!r}"
            )
        self._by_type[spec.type] = spec
        self._by_payload[spec.payload] = spec

    def get(self, type_: str) -> ContractSpec:
        """Return the contract of ``type_``; raises ``ContractError`` if unknown."""
        try:
            return self._by_type[type_]
        except KeyError:
            raise ContractError(f"unknown event type {type_!r}") from None

    def for_payload(self, payload_cls: type[Payload]) -> ContractSpec:
        """Return the contract of a payload class; raises ``ContractError`` if unregistered."""
        try:
            return self._by_payload[payload_cls]
        except KeyError:
            name = getattr(payload_cls, "__qualname__", repr(payload_cls))
            raise ContractError(f"payload class {name} is not registered") from None

    def all(self) -> list[ContractSpec]:
        """Return every contract, sorted by type."""
        return [self._by_type[type_] for type_ in sorted(self._by_type)]

    def services(self) -> list[str]:
        """Return the sorted names of the services that own contracts."""
        return sorted({spec.service for spec in self._by_type.values()})

    def decode(self, raw: bytes) -> tuple[CloudEvent, Payload]:
        """Decode a raw message into its envelope and validated payload.

        Raises ``ContractError`` on bad JSON, an invalid envelope, an unknown type
        or a payload that does not match its contract.
        """
        event = decode_envelope(raw)
        spec = self.get(event.type)
        try:
            payload = spec.payload.model_validate(event.data)
        except ValidationError as exc:
            raise ContractError(
                f"invalid payload for {spec.type}: {validation_reason(exc)}"
            ) from None
        return event, payload


REGISTRY = ContractRegistry()


def contract(
    service: str, name: str, version: int = 1, description: str = ""
) -> Callable[[type[P]], type[P]]:
    """Class decorator registering a payload model in ``REGISTRY``.

    ``description`` defaults to the first line of the class docstring.
    """

    def register(payload_cls: type[P]) -> type[P]:
        text = description or _first_line(payload_cls.__doc__)
        REGISTRY.register(ContractSpec(service, name, version, payload_cls, text))
        return payload_cls

    return register


def _first_line(doc: str | None) -> str:
    for line in (doc or "").strip().splitlines():
        return line.strip()
    return ""
