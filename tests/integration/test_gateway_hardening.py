"""What the gateway refuses before a query runs: no token, too large, too complex."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.runtime.settings import HubSettings
from tests.integration.gateway_only import bearer, running_gateway

TYPENAME = "{ __typename }"


@pytest.fixture
async def client(
    settings: HubSettings, database_url: str, nats_client: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_gateway(settings, database_url, nats_client) as (_, client):
        yield client


async def test_graphiql_page_is_served_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_a_get_query_without_a_token_is_refused_even_when_it_asks_for_html(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/graphql", params={"query": TYPENAME}, headers={"Accept": "text/html"}
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "unauthenticated"


async def test_a_get_query_with_a_token_runs(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    response = await client.get(
        "/graphql",
        params={"query": TYPENAME},
        headers={"Accept": "application/json", **bearer(settings)},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
