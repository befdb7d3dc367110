"""Naming rules for event types, NATS subjects, JetStream streams and schema URIs.

An event's CloudEvents ``type`` doubles as its NATS subject:
``hub.<service>.<name>.v<version>``. Each service owns one JetStream stream
(``HUB_<SERVICE>``) capturing ``hub.<service>.>``.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "DEAD_LETTER_STREAM",
    "DEAD_LETTER_SUBJECTS",
    "command_subject",
    "dataschema_uri",
    "dead_letter_subject",
    "event_type",
    "stream_name",
    "stream_subjects",
]

DEAD_LETTER_STREAM: Final = "HUB_DEAD_LETTERS"
DEAD_LETTER_SUBJECTS: Final[list[str]] = ["hub.dlq.>"]

_SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")
# A NATS subject token: non-empty, no separator, wildcard or whitespace.
_TOKEN = re.compile(r"[^.*>\s]+")
_WILDCARDS: Final = frozenset({"*", ">"})
# Service names that would make ``hub.<service>.>`` swallow commands or dead letters.
_RESERVED_SERVICES: Final = frozenset({"cmd", "dlq"})


def _check_snake_case(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _SNAKE_CASE.fullmatch(value):
        raise ValueError(f"{kind} must be lowercase snake_case [a-z][a-z0-9_]*, got {value!r}")


def _check_service(service: str) -> None:
    _check_snake_case("service", service)
    if service in _RESERVED_SERVICES:
        raise ValueError(f"service name {service!r} is reserved")


def _check_token(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(
            f"{kind} must be a single NATS subject token (no '.', '*', '>' or "
            f"whitespace), got {value!r}"
        )


def event_type(service: str, name: str, version: int) -> str:
    """Return the CloudEvents type (and NATS subject) ``hub.<service>.<name>.v<version>``."""
    _check_service(service)
    _check_snake_case("event name", name)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be an integer >= 1, got {version!r}")
    return f"hub.{service}.{name}.v{version}"


def stream_name(service: str) -> str:
    """Return the JetStream stream owned by ``service``, e.g. ``HUB_FOREIGNERS_AUTHORITY``."""
    _check_service(service)
    return "HUB_" + service.upper()


def stream_subjects(service: str) -> list[str]:
    """Return the subjects captured by the stream of ``service``."""
    _check_service(service)
    return [f"hub.{service}.>"]


def command_subject(service: str, command: str) -> str:
    """Return the subject on which ``service`` accepts ``command`` requests.

    ``command`` may be the wildcard ``"*"`` (or ``">"``) to subscribe to every command.
    """
    _check_service(service)
    if command not in _WILDCARDS:
        _check_token("command", command)
    return f"hub.cmd.{service}.{command}"


def dead_letter_subject(consumer: str) -> str:
    """Return the subject where ``consumer`` parks messages it cannot process."""
    _check_token("consumer", consumer)
    return f"hub.dlq.{consumer}"


def dataschema_uri(type_: str) -> str:
    """Return the CloudEvents ``dataschema`` URI of an event type."""
    return f"urn:hub:schema:{type_}"
