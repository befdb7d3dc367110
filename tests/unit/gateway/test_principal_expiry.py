"""The Principal carries its token's expiry (subscriptions end with it), outside its identity."""

from __future__ import annotations

import time

from gateway.auth import Principal, issue_token, verify_token
from services.runtime.tokens import OidcVerifier
from tests.unit.gateway.idp import AUDIENCE, SigningKey, serve_identity_provider

SECRET = "test-secret-for-expiry-0123456789abcdef"


def test_a_verified_hub_token_carries_its_expiry() -> None:
    token = issue_token(
        SECRET, subject="u1", agency="kim-05315", role="case_manager", issuer="hub", ttl_seconds=60
    )

    principal = verify_token(SECRET, token, issuer="hub")

    assert principal.exp is not None
    assert 0 < principal.exp - time.time() <= 60


def test_the_expiry_is_not_part_of_who_is_calling() -> None:
    assert Principal("u1", "kim-05315", "case_manager", exp=1) == Principal(
        "u1", "kim-05315", "case_manager", exp=2
    )


def test_an_identity_provider_token_carries_its_expiry() -> None:
    exp = int(time.time()) + 120
    with serve_identity_provider(SigningKey.rsa("rsa-1")) as idp:
        verify = OidcVerifier(issuer=idp.issuer, audience=AUDIENCE, jwks_url=idp.jwks_url)

        principal = verify(idp.token(exp=exp))

    assert principal.exp == exp
