"""Bearer tokens for the gateway (the implementation is shared: services/runtime/tokens.py)."""

from __future__ import annotations

from services.runtime.tokens import (
    ALGORITHM,
    ROLES,
    AuthError,
    Principal,
    bearer_token,
    issue_token,
    token_verifier,
    verify_off_loop,
    verify_token,
)

__all__ = [
    "ALGORITHM",
    "ROLES",
    "AuthError",
    "Principal",
    "bearer_token",
    "issue_token",
    "token_verifier",
    "verify_off_loop",
    "verify_token",
]
