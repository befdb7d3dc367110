"""Errors raised when bytes on the wire do not honour a contract."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["ContractError", "validation_reason"]

_MAX_REPORTED_ERRORS = 10


class ContractError(ValueError):
    """A message does not satisfy its contract (bad JSON, envelope or payload).

    ``reason`` is a short, single-line, human-readable explanation that is safe to
    log: it names fields and constraints but never echoes input values.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validation_reason(exc: ValidationError) -> str:
    """Summarise a pydantic ``ValidationError`` as ``"field: message; ..."``.

    Input values are deliberately left out: payloads may carry personal data.
    """
    parts: list[str] = []
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors[:_MAX_REPORTED_ERRORS]:
        location = ".".join(str(part) for part in error["loc"])
        parts.append(f"{location}: {error['msg']}" if location else error["msg"])
    if len(errors) > _MAX_REPORTED_ERRORS:
        parts.append(f"and {len(errors) - _MAX_REPORTED_ERRORS} more error(s)")
    return "; ".join(parts)
