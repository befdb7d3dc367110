"""Domain errors: a command broke a rule, and the client can be told which and where.

Every error carries a machine-readable ``code``, a ``message`` for people, the input
``field`` at fault (in the client's spelling, e.g. ``"personId"``) and, where something is
lacking, the list of what is ``missing``. The command server answers any :class:`DomainError`
with exactly these; every other exception is an internal failure.
"""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """A command breaks a rule of the domain: the caller's mistake, not the hub's failure."""

    def __init__(
        self,
        message: str,
        code: str,
        field: str | None = None,
        missing: Sequence[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.missing: list[str] | None = None if missing is None else list(missing)


class InvalidValue(DomainError):
    """A value is malformed, out of range or not in its code list (``invalid_value``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, "invalid_value", field)


class NotAllowed(DomainError):
    """The state of the record does not allow the command, e.g. closing twice
    (``not_allowed``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, "not_allowed", field)


class NotFound(DomainError):
    """The command names a record that does not exist (``not_found``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, "not_found", field)
