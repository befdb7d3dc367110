"""Domain errors: each names the input at fault (``field``) for the client.

The base classes are the shared kernel's; case management adds the refusal to share.
"""

from __future__ import annotations

from kernel.errors import DomainError as DomainError
from kernel.errors import InvalidValue as InvalidValue
from kernel.errors import NotAllowed as NotAllowed
from kernel.errors import NotFound as NotFound


class SharingRefused(DomainError):
    """No valid consent covers the sharing; ``missing`` says which parts."""

    def __init__(self, message: str, field: str | None, missing: list[str]) -> None:
        super().__init__(message, "consent_missing", field, missing)
