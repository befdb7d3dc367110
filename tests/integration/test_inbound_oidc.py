"""The inbound interface accepts what the process's token verifier accepts: with an identity
provider configured in prod, its access tokens, and no longer the hub's HS256 tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.foreigners_authority.application import ForeignersAuthority
from services.foreigners_authority.inbound.endpoint import create_inbound_app
from services.runtime.settings import HubSettings
from services.runtime.tokens import issue_token, token_verifier
from tests.integration.test_inbound import app, new_person, run_inline
from tests.unit.gateway.idp import AUDIENCE, IdentityProvider, SigningKey, serve_identity_provider

__all__ = ["app"]  # the fixture, reused

KEY = SigningKey.rsa("rsa-inbound")


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serve_identity_provider(KEY) as provider:
        yield provider


def post(api: Any, token: str, message: dict[str, Any]) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
        ) as http:
            return await http.post(
                "/inbound/messages", json=message, headers={"Authorization": f"Bearer {token}"}
            )

    return asyncio.run(call())


def test_an_authority_sends_with_its_identity_providers_token(
    app: ForeignersAuthority, settings: HubSettings, idp: IdentityProvider
) -> None:
    # given the interface of a process configured for an identity provider, in prod
    configured = settings.model_copy(
        update={"env": "prod", "oidc_issuer": idp.issuer, "oidc_audience": AUDIENCE}
    )
    api = create_inbound_app(app, run_inline, verify=token_verifier(configured))
    officer = idp.token(groups=["/agencies/abh-05315"], realm_access={"roles": ["abh_officer"]})
    # when the authority's software sends a registration notice with the provider's token
    accepted = post(api, officer, new_person())
    # then it is accepted, and a hub HS256 token is not
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    hub_token = issue_token(
        settings.resolved_jwt_secret(),
        subject="advis",
        agency="abh-05315",
        role="abh_officer",
        issuer=settings.jwt_issuer,
    )
    refused = post(api, hub_token, new_person())
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "unauthenticated"
