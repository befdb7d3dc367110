"""Domain errors: each names the input at fault (``field``) for the client."""

from __future__ import annotations


class DomainError(Exception):
    """A command breaks a rule of case management."""

    code = "rule_violated"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidValue(DomainError):
    code = "invalid_value"


class NotFound(DomainError):
    code = "not_found"


class NotAllowed(DomainError):
    """The state of the record does not allow the command (e.g. closing twice)."""

    code = "not_allowed"


class SharingRefused(DomainError):
    """No valid consent covers the sharing; ``missing`` says which parts."""

    code = "consent_missing"

    def __init__(self, message: str, field: str | None, missing: list[str]) -> None:
        super().__init__(message, field)
        self.missing = missing
