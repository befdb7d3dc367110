"""Bearer tokens: signed JWTs naming the caller's agency and role.

Two kinds are verified here: the hub's own HS256 tokens (``hub token``, signed with
``HUB_JWT_SECRET``) and, when ``HUB_OIDC_ISSUER`` is set, access tokens of a municipality's
OpenID Connect identity provider (RS256 or ES256, keys from the issuer's JWKS by ``kid``).
``token_verifier`` picks what a process accepts; docs/security.md describes the settings.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt

from contracts.roles import Role
from kernel.purposes import PURPOSES

if TYPE_CHECKING:
    from services.runtime.settings import HubSettings

#: the roles a token may carry (contracts.roles)
ROLES = frozenset(str(role) for role in Role)
ALGORITHM = "HS256"


class AuthError(Exception):
    """The request carries no usable bearer token; the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: pseudonymous user id, agency, role, when the token expires and the
    purpose the token is bound to, if any."""

    subject: str
    agency: str
    role: str
    #: when the token expires (seconds since the epoch); not part of who is calling
    exp: int | None = field(default=None, compare=False)
    #: the token's ``purpose`` claim as it stands (the gateway checks it against
    #: kernel.purposes); not part of who is calling
    purpose: str | None = field(default=None, compare=False)


def issue_token(
    secret: str,
    *,
    subject: str,
    agency: str,
    role: str,
    issuer: str,
    ttl_seconds: int = 8 * 3600,
    purpose: str | None = None,
) -> str:
    """A signed HS256 token; with ``purpose``, bound to that purpose (its ``purpose`` claim)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}")
    if purpose is not None and purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; one of {', '.join(sorted(PURPOSES))}")
    if not agency.strip() or not subject.strip():
        raise ValueError("agency and subject must not be empty")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "agency": agency,
        "role": role,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if purpose is not None:
        claims["purpose"] = purpose
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
    return Principal(
        subject=str(claims["sub"]),
        agency=agency,
        role=str(role),
        exp=int(claims["exp"]),
        purpose=_purpose(claims, "purpose"),
    )


def _purpose(claims: dict[str, Any], path: str) -> str | None:
    """The purpose a token is bound to (its claim at ``path``: a string, or a list of one),
    or None; the value is checked by the gateway, not here."""
    values = list(_strings(_claim(claims, path)))
    if len(values) > 1:
        raise AuthError(f"the bearer token names several purposes in the claim '{path}'")
    return values[0] if values else None


#: checks a bearer token and names its caller (raises AuthError)
Verifier = Callable[[str], Principal]


async def verify_off_loop(verify: Verifier, authorization: str | None) -> Principal:
    """The caller of an ``Authorization`` header, verified without holding the event loop:
    an identity provider's token may make the verifier fetch the JWK set (up to its timeout),
    so it is verified in a worker thread; the hub's own HS256 tokens need no I/O and are
    verified in place."""
    token = bearer_token(authorization)
    if _header(token).get("alg") == ALGORITHM:
        return verify(token)
    return await asyncio.to_thread(verify, token)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


# -- OpenID Connect access tokens -------------------------------------------------------------

OIDC_ALGORITHMS = ("RS256", "ES256")


@dataclass(frozen=True)
class ClaimMapping:
    """Where an access token names the caller's agency and role.

    ``agency_claim``, ``role_claim`` and ``purpose_claim`` are dotted paths into the claims
    (``realm_access.roles``). A claim may hold a string or a list of strings. For the agency,
    only values starting with ``agency_prefix`` count, with the prefix removed (a Keycloak
    group ``/agencies/kim-05315`` names agency ``kim-05315``); an empty prefix takes the
    values as they are. For the role, only values that are hub roles count. Exactly one
    agency and one role must remain. A purpose claim is optional (at most one value).
    """

    agency_claim: str = "groups"
    agency_prefix: str = "/agencies/"
    role_claim: str = "realm_access.roles"
    purpose_claim: str = "purpose"

    def principal(self, claims: dict[str, Any]) -> Principal:
        agencies = sorted(
            {
                value[len(self.agency_prefix) :]
                for value in _strings(_claim(claims, self.agency_claim))
                if value.startswith(self.agency_prefix) and value[len(self.agency_prefix) :]
            }
        )
        if not agencies:
            expected = f"'{self.agency_prefix}<agency>'" if self.agency_prefix else "an agency"
            raise AuthError(
                f"the bearer token names no agency: expected {expected} "
                f"in the claim '{self.agency_claim}'"
            )
        if len(agencies) > 1:
            raise AuthError(
                f"the bearer token names several agencies ({', '.join(agencies)}) "
                f"in the claim '{self.agency_claim}'; a user acts for one agency"
            )
        roles = sorted({value for value in _strings(_claim(claims, self.role_claim))} & ROLES)
        if not roles:
            raise AuthError(
                f"the bearer token carries no hub role in the claim '{self.role_claim}' "
                f"(one of {', '.join(sorted(ROLES))})"
            )
        if len(roles) > 1:
            raise AuthError(
                f"the bearer token carries several hub roles ({', '.join(roles)}) "
                f"in the claim '{self.role_claim}'; a user has one"
            )
        return Principal(
            subject=str(claims["sub"]),
            agency=agencies[0],
            role=roles[0],
            exp=int(claims["exp"]) if isinstance(claims.get("exp"), int | float) else None,
            purpose=_purpose(claims, self.purpose_claim),
        )


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


class OidcVerifier:
    """Verifies access tokens of one OpenID Connect issuer against its JWKS.

    The JWK set is fetched on first use (from ``jwks_url``, or from the ``jwks_uri`` of
    ``<issuer>/.well-known/openid-configuration`` when none is given) and cached for
    ``jwks_lifespan_seconds``. A token naming a ``kid`` not in the cached set makes one
    refetch (key rotation), at most once per ``refresh_cooldown_seconds`` so that tokens
    with made-up key ids cannot make the hub hammer the identity provider.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        clock_skew_seconds: float = 30.0,
        mapping: ClaimMapping | None = None,
        jwks_lifespan_seconds: float = 300.0,
        refresh_cooldown_seconds: float = 10.0,
        timeout_seconds: float = 5.0,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("an OpenID Connect issuer needs an audience (HUB_OIDC_AUDIENCE)")
        self.issuer = issuer
        self.audience = audience
        self.clock_skew_seconds = clock_skew_seconds
        self.mapping = mapping or ClaimMapping()
        self._jwks_url = jwks_url
        self._lifespan = jwks_lifespan_seconds
        self._cooldown = refresh_cooldown_seconds
        self._timeout = timeout_seconds
        self._client: jwt.PyJWKClient | None = None
        self._last_refresh: float | None = None
        self._lock = threading.Lock()

    def __call__(self, token: str) -> Principal:
        return self.mapping.principal(self.claims(token))

    def claims(
        self,
        token: str,
        *,
        audience: str | None = None,
        require: tuple[str, ...] = ("exp", "iss", "aud", "sub"),
    ) -> dict[str, Any]:
        """The verified claims of a token of this issuer, for ``audience`` (default: the
        access tokens' audience; the workspace's sign-in checks its ID token for its client
        id with the same keys and checks), with the claims ``require`` names present
        (a back-channel logout token needs ``iat`` but may lack ``exp`` and ``sub``;
        ``exp``, ``nbf`` and ``iat`` are checked whenever present)."""
        audience = audience or self.audience
        alg = _header(token).get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise AuthError("unsigned bearer tokens (alg none) are refused")
        if alg not in OIDC_ALGORITHMS:
            raise AuthError(
                f"the bearer token's algorithm {alg!r} is not accepted: the identity "
                f"provider's tokens are signed with {' or '.join(OIDC_ALGORITHMS)}"
            )
        key = self._signing_key(_header(token).get("kid"))
        if key.algorithm_name != alg:
            raise AuthError(
                f"the bearer token's algorithm {alg!r} does not match its key "
                f"({key.algorithm_name})"
            )
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                issuer=self.issuer,
                audience=audience,
                leeway=self.clock_skew_seconds,
                options={"require": list(require)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the bearer token has expired; sign in again") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("the bearer token is not valid yet (nbf/iat in the future)") from None
        except jwt.InvalidIssuerError:
            raise AuthError(
                f"the bearer token was issued by another identity provider "
                f"(expected issuer {self.issuer!r})"
            ) from None
        except jwt.InvalidAudienceError:
            raise AuthError(
                f"the bearer token is meant for another audience (expected {audience!r})"
            ) from None
        except jwt.InvalidSignatureError:
            raise AuthError("the bearer token's signature is not valid") from None
        except jwt.MissingRequiredClaimError as error:
            raise AuthError(f"the bearer token lacks the claim '{error.claim}'") from None
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a valid signed JWT") from None
        return claims

    def _signing_key(self, kid: Any) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise AuthError("the bearer token names no signing key (kid)")
        try:
            with self._lock:
                client = self._jwks_client()
                key = _match(client.get_signing_keys(), kid)
                now = time.monotonic()
                if key is None and (
                    self._last_refresh is None or now - self._last_refresh >= self._cooldown
                ):
                    self._last_refresh = now
                    key = _match(client.get_signing_keys(refresh=True), kid)
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, OSError, ValueError) as error:
            raise AuthError(
                f"the identity provider's keys could not be read ({type(error).__name__}); "
                "try again later"
            ) from None
        if key is None:
            raise AuthError(
                f"the bearer token's key {kid!r} is not among the identity provider's keys"
            )
        return key

    def _jwks_client(self) -> jwt.PyJWKClient:
        if self._client is None:
            url = self._jwks_url or self._discover()
            self._client = jwt.PyJWKClient(
                url, cache_jwk_set=True, lifespan=self._lifespan, timeout=self._timeout
            )
        return self._client

    def _discover(self) -> str:
        """``jwks_uri`` from the issuer's OpenID Connect discovery document."""
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"the issuer {self.issuer!r} is not an http(s) URL")
        with urllib.request.urlopen(url, timeout=self._timeout) as response:  # noqa: S310
            document = json.load(response)
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise ValueError("the discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("the discovery document has no jwks_uri")
        return jwks_uri


def _match(keys: list[jwt.PyJWK], kid: str) -> jwt.PyJWK | None:
    return next((key for key in keys if key.key_id == kid), None)


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("the bearer token is not a valid signed JWT") from None


def token_verifier(settings: HubSettings) -> Verifier:
    """What a process accepts, by its settings.

    - no ``HUB_OIDC_ISSUER``: the hub's HS256 tokens (``HUB_JWT_SECRET``), as before;
    - an issuer in ``prod``: only the identity provider's access tokens;
    - an issuer in ``dev``: both, told apart by the header's algorithm (HS256 goes to the
      hub's secret, RS256/ES256 to the identity provider; ``none`` nowhere).
    """
    issuer = settings.jwt_issuer
    if settings.oidc_issuer is None:
        secret = settings.resolved_jwt_secret()
        return lambda token: verify_token(secret, token, issuer=issuer)
    if settings.oidc_audience is None:
        raise RuntimeError("HUB_OIDC_AUDIENCE must be set when HUB_OIDC_ISSUER is")
    oidc = OidcVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        jwks_url=settings.oidc_jwks_url,
        clock_skew_seconds=settings.oidc_clock_skew_seconds,
        mapping=ClaimMapping(
            agency_claim=settings.oidc_agency_claim,
            agency_prefix=settings.oidc_agency_prefix,
            role_claim=settings.oidc_role_claim,
        ),
    )
    if settings.env != "dev":
        return oidc
    dev_secret = settings.resolved_jwt_secret()

    def verify(token: str) -> Principal:
        if _header(token).get("alg") == ALGORITHM:
            return verify_token(dev_secret, token, issuer=issuer)
        return oidc(token)

    return verify
