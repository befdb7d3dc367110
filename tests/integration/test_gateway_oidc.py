"""The gateway in prod with an OpenID Connect issuer: the identity provider's access tokens
are the only ones accepted, and their agency and role decide what the caller may do."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from gateway.app import GatewayResources, create_app
from services.runtime.messaging import close, connect
from services.runtime.settings import HubSettings
from tests.helpers import arrival_input, in_prod
from tests.integration.conftest import InProcessHub
from tests.unit.gateway.idp import (
    AUDIENCE,
    IdentityProvider,
    SigningKey,
    serve_identity_provider,
    unsigned_token,
)

REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position traceId } }"""
KEY = SigningKey.ec("ec-gateway")


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serve_identity_provider(KEY) as provider:
        yield provider


@pytest.fixture
async def client(
    hub: InProcessHub, idp: IdentityProvider, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway over the running hub, configured as in production with an issuer
    and no HUB_JWT_SECRET."""
    settings = in_prod(
        hub.settings,
        jwt_secret=None,
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
        oidc_clock_skew_seconds=30.0,
    )
    assert isinstance(settings, HubSettings)
    nc = await connect(settings, "test-gateway-oidc", user="gateway")  # its own NATS user
    app = create_app(settings, GatewayResources(pool=hub.pool, nc=nc, url=database_url))
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http,
        ):
            yield http
    finally:
        await close(nc)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def officer(idp: IdentityProvider, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "groups": ["/agencies/abh-05315"],
        "realm_access": {"roles": ["abh_officer", "offline_access"]},
    }
    claims.update(overrides)
    return idp.token(KEY, **claims)


async def test_an_officer_of_the_identity_provider_registers_an_arrival(
    client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": arrival_input()}},
        headers=bearer(officer(idp)),
    )

    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.json()
    assert response.json()["data"]["registerArrival"]["personId"]


async def test_the_role_from_the_identity_provider_decides(
    client: httpx.AsyncClient, idp: IdentityProvider
) -> None:
    token = officer(idp, realm_access={"roles": ["steering"]})

    response = await client.post(
        "/graphql",
        json={"query": REGISTER, "variables": {"input": arrival_input()}},
        headers=bearer(token),
    )

    assert response.json()["errors"][0]["extensions"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("hub token", "'HS256' is not accepted"),
        ("wrong audience", "another audience"),
        ("wrong issuer", "another identity provider"),
        ("expired", "has expired"),
        ("unknown kid", "is not among the identity provider's keys"),
        ("alg none", "alg none"),
    ],
)
async def test_other_tokens_get_401_with_a_clear_message(
    client: httpx.AsyncClient, hub: InProcessHub, idp: IdentityProvider, case: str, reason: str
) -> None:
    tokens = {
        "hub token": hub.token("abh_officer"),
        "wrong audience": officer(idp, aud="account"),
        "wrong issuer": officer(idp, iss="https://idp.example/realms/kommune"),
        "expired": officer(idp, exp=int(time.time()) - 120),
        "unknown kid": idp.token(SigningKey("ec-other", "ES256", SigningKey.ec("x").private)),
        "alg none": unsigned_token(idp.claims(), KEY.kid),
    }

    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers=bearer(tokens[case])
    )

    assert response.status_code == 401
    body = response.json()["errors"][0]
    assert reason in body["message"]
    assert body["extensions"]["code"] == "unauthenticated"
