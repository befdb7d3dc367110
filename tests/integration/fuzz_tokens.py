"""Bearer tokens for fuzzing: a valid one per role, and the invalid kinds an attacker tries
(none, garbage, another secret, expired, ``alg: none``, another issuer, another scheme)."""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass

from services.runtime.settings import HubSettings
from services.runtime.tokens import issue_token

#: examples per fuzz test; HUB_FUZZ_EXAMPLES=2000 for a long run
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "0")) or None


def examples(default: int) -> int:
    """``default`` examples, or HUB_FUZZ_EXAMPLES where it is set."""
    return EXAMPLES or default


@dataclass(frozen=True)
class Credential:
    """An Authorization header (None: none sent); ``role`` and ``agency`` when it is valid."""

    name: str
    header: str | None
    role: str | None = None
    agency: str | None = None

    @property
    def valid(self) -> bool:
        return self.role is not None

    def headers(self) -> dict[str, str]:
        return {} if self.header is None else {"Authorization": self.header}


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(claims: dict[str, object]) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


#: the kinds of invalid credential ``credentials`` makes
INVALID = (
    "none",
    "garbage",
    "empty",
    "basic",
    "other secret",
    "expired",
    "other issuer",
    "alg none",
)


def credentials(settings: HubSettings, agencies: dict[str, str]) -> dict[str, Credential]:
    """Every invalid kind (INVALID) and one valid credential per role in ``agencies`` (role ->
    agency), by name."""
    secret, issuer = settings.resolved_jwt_secret(), settings.jwt_issuer

    def signed(role: str, agency: str, **changes: object) -> str:
        return issue_token(
            str(changes.get("secret", secret)),
            subject=f"fuzz-{role}",
            agency=agency,
            role=role,
            issuer=str(changes.get("issuer", issuer)),
            ttl_seconds=int(str(changes.get("ttl", 3600))),
        )

    claims = {
        "sub": "fuzz",
        "agency": "abh-05315",
        "role": "admin",
        "iss": issuer,
        "exp": int(time.time()) + 3600,
    }
    invalid = [
        Credential("none", None),
        Credential("garbage", "Bearer not-a-token"),
        Credential("empty", "Bearer"),
        Credential("basic", "Basic YWRtaW46YWRtaW4="),
        Credential("other secret", "Bearer " + signed("admin", "hub-ops", secret="x" * 40)),
        Credential("expired", "Bearer " + signed("admin", "hub-ops", ttl=-120)),
        Credential("other issuer", "Bearer " + signed("admin", "hub-ops", issuer="evil")),
        Credential("alg none", "Bearer " + _unsigned(claims)),
    ]
    valid = [
        Credential(role, "Bearer " + signed(role, agency), role, agency)
        for role, agency in agencies.items()
    ]
    made = {credential.name: credential for credential in invalid + valid}
    assert tuple(made)[: len(INVALID)] == INVALID
    return made
