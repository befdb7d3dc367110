"""The context a command runs in: who acts, why, and where in the trace.

The context travels with a command (NATS headers from the gateway) and is stored beside every
event the command records, so that each contract event can carry actor, legal basis, purpose,
correlation, causation and trace context without the domain model knowing about any of it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace

_current: ContextVar[CommandContext | None] = ContextVar("hub_command_context", default=None)


@dataclass(frozen=True)
class CommandContext:
    """Who runs a command, on which legal basis and for which purpose."""

    agency: str
    role: str
    legal_basis: str
    purpose: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    causation_id: str | None = None
    traceparent: str | None = None
    subject: str | None = None  # the acting user's pseudonymous id (token ``sub``)

    def as_meta(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_meta(cls, meta: Mapping[str, str]) -> CommandContext:
        known = {k: meta[k] for k in cls.__dataclass_fields__ if k in meta}
        return cls(**known)

    def with_traceparent(self, traceparent: str | None) -> CommandContext:
        return replace(self, traceparent=traceparent)


SYSTEM_CONTEXT = CommandContext(
    agency="hub", role="system", legal_basis="Art. 6 (1) e GDPR", purpose="operation"
)


def current_context() -> CommandContext | None:
    return _current.get()


@contextlib.contextmanager
def use_context(context: CommandContext) -> Iterator[CommandContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
