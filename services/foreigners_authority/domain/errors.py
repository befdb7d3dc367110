"""Errors of the residence file: each names the input at fault (``field``).

The base classes are the shared kernel's; the residence file adds its own two.
"""

from __future__ import annotations

from kernel.errors import DomainError as DomainError
from kernel.errors import InvalidValue as InvalidValue


class UnknownPerson(DomainError):
    """No residence file exists for the person named (``unknown_person``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, "unknown_person", field)


class Contradiction(DomainError):
    """The change contradicts the file (e.g. a Duldung while a valid title is held)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, "contradicts_file", field)
