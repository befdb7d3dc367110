"""Errors of the residence file: each names the input at fault (``field``)."""

from __future__ import annotations


class DomainError(Exception):
    """A command breaks a rule of the residence file. ``field`` names the input at fault."""

    code = "rule_violated"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidValue(DomainError):
    code = "invalid_value"


class UnknownPerson(DomainError):
    code = "unknown_person"


class Contradiction(DomainError):
    """The change contradicts the file (e.g. a Duldung while a valid title is held)."""

    code = "contradicts_file"
