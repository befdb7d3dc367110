"""OpenID Connect access tokens: verified against the identity provider's JWKS, mapped to
agency and role; everything else is refused with a clear reason."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from gateway.auth import AuthError, Principal, issue_token, token_verifier
from services.runtime.settings import HubSettings
from services.runtime.tokens import ClaimMapping, OidcVerifier, verify_off_loop
from tests.unit.gateway.idp import (
    AUDIENCE,
    IdentityProvider,
    SigningKey,
    hmac_token_with_public_key,
    serve_identity_provider,
    unsigned_token,
)

RSA_KEY = SigningKey.rsa("rsa-1")
EC_KEY = SigningKey.ec("ec-1")


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serve_identity_provider(RSA_KEY, EC_KEY) as provider:
        yield provider


def verifier(idp: IdentityProvider, **kwargs: object) -> OidcVerifier:
    options: dict[str, object] = {"jwks_url": idp.jwks_url, "clock_skew_seconds": 30.0}
    options.update(kwargs)
    return OidcVerifier(issuer=idp.issuer, audience=AUDIENCE, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [RSA_KEY, EC_KEY], ids=["RS256", "ES256"])
def test_a_valid_access_token_is_mapped_to_agency_and_role(
    idp: IdentityProvider, key: SigningKey
) -> None:
    token = idp.token(key)

    principal = verifier(idp)(token)

    assert principal == Principal(subject="f3c1d2e0-user", agency="kim-05315", role="case_manager")


def test_the_jwks_url_is_discovered_from_the_issuer(idp: IdentityProvider) -> None:
    verify = OidcVerifier(issuer=idp.issuer, audience=AUDIENCE)

    principal = verify(idp.token())

    assert principal.agency == "kim-05315"
    assert idp.jwks_fetches == 1


def test_an_expiry_within_the_clock_skew_is_accepted(idp: IdentityProvider) -> None:
    token = idp.token(exp=int(time.time()) - 10)

    assert verifier(idp)(token).role == "case_manager"


def test_other_claim_names_can_be_mapped(idp: IdentityProvider) -> None:
    token = idp.token(agency="abh-05315", hub_role="abh_officer", groups=None)
    mapping = ClaimMapping(agency_claim="agency", agency_prefix="", role_claim="hub_role")

    principal = verifier(idp, mapping=mapping)(token)

    assert (principal.agency, principal.role) == ("abh-05315", "abh_officer")


def _refusals(idp: IdentityProvider) -> list[tuple[str, str, str]]:
    now = int(time.time())
    tampered_header, _, signature = idp.token().split(".")
    _, forged_payload, _ = idp.token(realm_access={"roles": ["admin"]}).split(".")
    return [
        ("wrong issuer", idp.token(iss="https://idp.example/realms/other"), "another identity"),
        ("wrong audience", idp.token(aud="account"), "another audience"),
        ("expired beyond skew", idp.token(exp=now - 120), "has expired"),
        ("not yet valid", idp.token(nbf=now + 600), "not valid yet"),
        ("unknown kid", idp.token(SigningKey.rsa("rsa-unknown")), "'rsa-unknown' is not among"),
        ("alg none", unsigned_token(idp.claims(), RSA_KEY.kid), "alg none"),
        ("HS256 with the public key", hmac_token_with_public_key(idp.claims(), RSA_KEY), "HS256"),
        (
            "tampered payload",
            # a signature made for other claims
            f"{tampered_header}.{forged_payload}.{signature}",
            "signature is not valid",
        ),
        ("no agency group", idp.token(groups=["/staff"]), "names no agency"),
        (
            "two agencies",
            idp.token(groups=["/agencies/kim-05315", "/agencies/kim-05111"]),
            "several agencies",
        ),
        ("no hub role", idp.token(realm_access={"roles": ["offline_access"]}), "no hub role"),
        (
            "two hub roles",
            idp.token(realm_access={"roles": ["admin", "case_manager"]}),
            "several hub roles",
        ),
        ("no exp", idp.token(exp=None), "lacks the claim 'exp'"),
        ("not a JWT", "not-a-jwt", "not a valid signed JWT"),
    ]


REFUSALS = [
    "wrong issuer",
    "wrong audience",
    "expired beyond skew",
    "not yet valid",
    "unknown kid",
    "alg none",
    "HS256 with the public key",
    "tampered payload",
    "no agency group",
    "two agencies",
    "no hub role",
    "two hub roles",
    "no exp",
    "not a JWT",
]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_token_is_refused_with_a_clear_reason(idp: IdentityProvider, case: str) -> None:
    refusals = {name: (token, reason) for name, token, reason in _refusals(idp)}
    token, reason = refusals[case]

    with pytest.raises(AuthError, match=reason):
        verifier(idp)(token)


def test_a_signature_by_a_key_of_the_wrong_type_is_refused(idp: IdentityProvider) -> None:
    # an ES256 token claiming the RSA key's kid
    impostor = SigningKey("rsa-1", "ES256", EC_KEY.private)

    with pytest.raises(AuthError, match="does not match its key"):
        verifier(idp)(idp.token(impostor))


def test_a_rotated_key_is_fetched_when_a_token_names_it(idp: IdentityProvider) -> None:
    verify = verifier(idp, refresh_cooldown_seconds=0.0)
    verify(idp.token(RSA_KEY))  # the old set is cached now
    rotated = SigningKey.rsa("rsa-2")
    idp.keys = [rotated, EC_KEY]

    principal = verify(idp.token(rotated))

    assert principal.agency == "kim-05315"
    assert idp.jwks_fetches == 2


def test_unknown_key_ids_refetch_the_jwks_at_most_once_per_cooldown(
    idp: IdentityProvider,
) -> None:
    verify = verifier(idp, refresh_cooldown_seconds=60.0)
    verify(idp.token(RSA_KEY))

    for attempt in range(5):
        with pytest.raises(AuthError, match="is not among"):
            verify(idp.token(SigningKey(f"made-up-{attempt}", "RS256", RSA_KEY.private)))

    assert idp.jwks_fetches == 2


def test_an_unreachable_identity_provider_is_reported() -> None:
    verify = OidcVerifier(
        issuer="http://127.0.0.1:9/realms/none",
        audience=AUDIENCE,
        jwks_url="http://127.0.0.1:9/certs",
        timeout_seconds=1.0,
    )
    token = jwt.encode({"sub": "x"}, RSA_KEY.private, algorithm="RS256", headers={"kid": "k"})

    with pytest.raises(AuthError, match="keys could not be read"):
        verify(token)


# -- which tokens a process accepts ------------------------------------------------------------

SECRET = "unit-test-secret-" * 5


def _settings(tmp_path: Path, **values: object) -> HubSettings:
    return HubSettings(home=tmp_path, jwt_secret=SECRET, **values)  # type: ignore[arg-type]


def _hub_token() -> str:
    return issue_token(
        SECRET, subject="u1", agency="abh-05315", role="abh_officer", issuer="integration-hub"
    )


def test_without_an_issuer_the_hubs_own_tokens_are_accepted(tmp_path: Path) -> None:
    verify = token_verifier(_settings(tmp_path))

    assert verify(_hub_token()).agency == "abh-05315"


def test_in_prod_with_an_issuer_only_the_identity_providers_tokens_are_accepted(
    idp: IdentityProvider, tmp_path: Path
) -> None:
    verify = token_verifier(
        _settings(
            tmp_path,
            env="prod",
            oidc_issuer=idp.issuer,
            oidc_audience=AUDIENCE,
            oidc_jwks_url=idp.jwks_url,
        )
    )

    assert verify(idp.token()).role == "case_manager"
    with pytest.raises(AuthError, match="'HS256' is not accepted"):
        verify(_hub_token())


def test_in_prod_an_issuer_needs_no_hub_secret(idp: IdentityProvider, tmp_path: Path) -> None:
    settings = HubSettings(
        home=tmp_path,
        env="prod",
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
    )

    assert token_verifier(settings)(idp.token()).agency == "kim-05315"


def test_in_dev_with_an_issuer_both_kinds_are_accepted(
    idp: IdentityProvider, tmp_path: Path
) -> None:
    verify = token_verifier(_settings(tmp_path, oidc_issuer=idp.issuer, oidc_audience=AUDIENCE))

    assert verify(_hub_token()).role == "abh_officer"
    assert verify(idp.token()).role == "case_manager"
    with pytest.raises(AuthError, match="alg none"):
        verify(unsigned_token(idp.claims(), RSA_KEY.kid))


def test_an_issuer_without_an_audience_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="HUB_OIDC_AUDIENCE"):
        token_verifier(_settings(tmp_path, oidc_issuer="https://idp.example/realms/k"))


async def test_a_slow_key_fetch_does_not_hold_the_event_loop(idp: IdentityProvider) -> None:
    # given an identity provider that answers the JWKS request only when the gate opens
    idp.gate = threading.Event()
    verify = verifier(idp)

    # when a request's token needs the keys
    pending = asyncio.create_task(verify_off_loop(verify, f"Bearer {idp.token(RSA_KEY)}"))
    await asyncio.sleep(0.05)

    # then the event loop still runs other work meanwhile (here: opening the gate), and the
    # token is verified once the keys arrive
    assert not pending.done()
    idp.gate.set()
    principal = await asyncio.wait_for(pending, 10)
    assert principal.role == "case_manager"
