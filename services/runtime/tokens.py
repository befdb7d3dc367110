"""Bearer tokens: signed JWTs (HS256) naming the caller's agency and role."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ROLES = frozenset(
    {
        "abh_officer",  # foreigners authority staff (Ausländerbehörde)
        "case_manager",  # KIM case management
        "partner_agency",  # AWO, Caritas, Diakonie, Jobcenter, schools, ...
        "steering",  # Lenkungsgruppe: aggregates only
        "conflict_board",  # Kommunales Konfliktmanagement
        "admin",  # operations
    }
)
ALGORITHM = "HS256"


class AuthError(Exception):
    """The request carries no usable bearer token; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: pseudonymous user id, agency and role."""

    subject: str
    agency: str
    role: str


def issue_token(
    secret: str,
    *,
    subject: str,
    agency: str,
    role: str,
    issuer: str,
    ttl_seconds: int = 8 * 3600,
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}")
    if not agency.strip() or not subject.strip():
        raise ValueError("agency and subject must not be empty")
    now = int(time.time())
    claims = {
        "sub": subject,
        "agency": agency,
        "role": role,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, *, issuer: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the bearer token has expired; ask for a new one (hub token)") from None
    except jwt.InvalidIssuerError:
        raise AuthError("the bearer token was issued for another system") from None
    except jwt.InvalidSignatureError:
        raise AuthError("the bearer token's signature is not valid") from None
    except jwt.MissingRequiredClaimError as error:
        raise AuthError(f"the bearer token lacks the claim '{error.claim}'") from None
    except jwt.InvalidTokenError:
        raise AuthError("the bearer token is not a valid signed JWT") from None
    agency, role = claims.get("agency"), claims.get("role")
    if not isinstance(agency, str) or not agency:
        raise AuthError("the bearer token lacks the claim 'agency'")
    if role not in ROLES:
        raise AuthError(f"the bearer token names an unknown role {role!r}")
    return Principal(subject=str(claims["sub"]), agency=agency, role=str(role))


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()
