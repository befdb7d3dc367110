"""What the gateway refuses before a query runs: no token, too large, too complex."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.runtime.settings import HubSettings
from tests.helpers import in_prod
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


class CountingBody:
    """A streamed 2 MB body (no Content-Length) that counts how much of it was read."""

    def __init__(self, size: int, chunk: int = 64 * 1024) -> None:
        self.size, self.chunk, self.sent = size, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.size:
            self.sent += self.chunk
            yield b" " * self.chunk


async def test_a_body_declared_larger_than_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    body = b'{"query": "{ __typename }", "padding": "' + b"x" * 2_000_000 + b'"}'

    response = await client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", **bearer(settings)},
    )

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "too_large"


async def test_a_streamed_body_is_refused_once_it_exceeds_the_limit_without_reading_it_all(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    stream = CountingBody(2_000_000)

    response = await client.post(
        "/graphql",
        content=stream,
        headers={"Content-Type": "application/json", **bearer(settings)},
    )

    assert response.status_code == 413
    assert stream.sent <= settings.max_body_bytes + 2 * stream.chunk


async def test_the_body_limit_is_configurable(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 100})
    async with running_gateway(small, database_url, nats_client) as (_, client):
        response = await client.post(
            "/graphql",
            json={"query": "{ __typename }", "variables": {"padding": "x" * 200}},
            headers=bearer(settings),
        )

    assert response.status_code == 413


def test_the_default_body_limit_is_256_kib() -> None:
    assert HubSettings().max_body_bytes == 256 * 1024


async def errors_of(client: httpx.AsyncClient, settings: HubSettings, query: str) -> list[Any]:
    response = await client.post("/graphql", json={"query": query}, headers=bearer(settings))
    errors = response.json().get("errors", [])
    assert isinstance(errors, list)
    return errors


async def test_a_document_deeper_than_the_limit_is_refused_as_too_complex(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    deep = "{ a " * 14 + "}" * 14  # 13 levels below the root field

    errors = await errors_of(client, settings, deep)

    assert "query_too_complex" in [e["extensions"]["code"] for e in errors]


async def test_a_document_with_too_many_aliases_is_refused_as_too_complex(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"

    errors = await errors_of(client, settings, aliases)

    assert [e["extensions"]["code"] for e in errors] == ["query_too_complex"]


async def test_a_document_with_too_many_tokens_is_refused_as_too_complex(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    long = "{ " + "__typename " * 2001 + "}"

    errors = await errors_of(client, settings, long)

    assert [e["extensions"]["code"] for e in errors] == ["query_too_complex"]


async def test_a_document_within_the_limits_runs(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"

    assert await errors_of(client, settings, query) == []


INTROSPECTION = "{ __schema { queryType { name } } }"


@pytest.fixture
async def prod_client(
    settings: HubSettings, database_url: str, nats_client: Any
) -> AsyncIterator[httpx.AsyncClient]:
    prod = in_prod(settings)
    async with running_gateway(prod, database_url, nats_client) as (_, client):
        yield client


@pytest.mark.parametrize("role", ["case_manager", "abh_officer", "partner_agency"])
async def test_in_prod_introspection_is_forbidden_to_every_role_but_admin(
    prod_client: httpx.AsyncClient, settings: HubSettings, role: str
) -> None:
    admin = bearer(settings, "admin")
    await prod_client.post("/graphql", json={"query": INTROSPECTION}, headers=admin)  # cached

    response = await prod_client.post(
        "/graphql", json={"query": INTROSPECTION}, headers=bearer(settings, role)
    )

    body = response.json()
    assert body.get("data") is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"forbidden"}


async def test_in_prod_an_admin_may_introspect(
    prod_client: httpx.AsyncClient, settings: HubSettings
) -> None:
    response = await prod_client.post(
        "/graphql", json={"query": INTROSPECTION}, headers=bearer(settings, "admin")
    )

    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_in_dev_every_role_may_introspect(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    response = await client.post(
        "/graphql", json={"query": INTROSPECTION}, headers=bearer(settings, "partner_agency")
    )

    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_every_answer_carries_the_security_headers(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    answers = [
        await client.post("/graphql", json={"query": TYPENAME}, headers=bearer(settings)),
        await client.post("/graphql", json={"query": TYPENAME}),  # 401
        await client.post("/graphql", content=b"x" * 300_000, headers=bearer(settings)),  # 413
        await client.get("/healthz"),
        await client.get("/nowhere"),  # 404
    ]

    assert [a.status_code for a in answers] == [200, 401, 413, 200, 404]
    for answer in answers:
        assert_security_headers(answer)
        assert "unpkg.com" not in answer.headers["content-security-policy"]
        assert "strict-transport-security" not in answer.headers  # dev: plain HTTP


async def test_in_dev_graphiql_page_loads_its_scripts_from_the_hub_only(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})

    assert_security_headers(page)
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "unpkg.com" not in page.headers["content-security-policy"]
    assert "unpkg.com" not in page.text


async def test_in_prod_answers_carry_hsts_and_the_strict_policy(
    prod_client: httpx.AsyncClient, settings: HubSettings
) -> None:
    answers = [
        await prod_client.post("/graphql", json={"query": TYPENAME}, headers=bearer(settings)),
        await prod_client.get("/graphql", headers={"Accept": "text/html"}),
    ]

    for answer in answers:
        assert_security_headers(answer)
        assert "unpkg.com" not in answer.headers["content-security-policy"]
        assert answer.headers["strict-transport-security"].startswith("max-age=")


async def test_a_subject_over_its_rate_gets_429_with_retry_after(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_second": 0.5, "rate_limit_burst": 2})
    query = {"query": TYPENAME}
    async with running_gateway(limited, database_url, nats_client) as (_, client):
        answers = [
            await client.post("/graphql", json=query, headers=bearer(settings, "admin"))
            for _ in range(3)
        ]
        other = await client.post("/graphql", json=query, headers=bearer(settings, "steering"))

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["errors"][0]["extensions"]["code"] == "rate_limited"
    assert 1 <= int(answers[2].headers["retry-after"]) <= 2
    assert other.status_code == 200


async def test_an_unexpected_failure_answer_carries_the_security_headers(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    async with running_gateway(settings, database_url, nats_client) as (app, _):

        async def broken() -> None:
            raise RuntimeError("boom")

        app.add_api_route("/broken", broken)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            response = await client.get("/broken")

    assert response.status_code == 500
    assert_security_headers(response)


MALFORMED_BODIES = {
    "invalid UTF-8": b'{"query": "{ __typename }\xff"}',
    "a lone continuation byte": b"\x80",
    "truncated JSON": b'{"query": "{ __typename }"',
    "not JSON at all": b"query { __typename }",
    "a JSON string": b'"{ __typename }"',
    "a JSON number": b"42",
    "empty": b"",
}


@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
async def test_a_body_that_is_not_a_json_object_is_refused_with_400_not_a_failure(
    client: httpx.AsyncClient, settings: HubSettings, body: bytes
) -> None:
    response = await client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", **bearer(settings)},
    )

    assert response.status_code == 400, response.text
    assert "Internal Server Error" not in response.text


async def test_a_body_in_utf_16_with_its_byte_order_mark_is_read_as_before(
    client: httpx.AsyncClient, settings: HubSettings
) -> None:
    """RFC 8259 asks for UTF-8, but the standard library's reader also takes UTF-16 and -32
    with a byte order mark, and the gateway keeps answering those as before."""
    body = '{"query": "{ __typename }"}'.encode("utf-16")

    response = await client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", **bearer(settings)},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_read_held_up_by_a_lock_answers_unavailable_after_the_statement_timeout(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    """A read model locked by a stuck migration (or a rebuild's switch that does not finish)
    kept each read waiting as long as the lock was held; with every pooled connection
    waiting, every other request waited too."""
    quick = settings.model_copy(update={"gateway_statement_timeout_seconds": 1.0})
    query = '{ person(id: "00000000-0000-0000-0000-000000000001") { timeline { summary } } }'
    async with running_gateway(quick, database_url, nats_client) as (_, client):
        locker = await asyncpg.connect(database_url)
        try:
            async with locker.transaction():
                await locker.execute(
                    "LOCK TABLE projections.timeline_events IN ACCESS EXCLUSIVE MODE"
                )
                started = time.monotonic()
                held = await asyncio.wait_for(
                    client.post("/graphql", json={"query": query}, headers=bearer(quick)), 20
                )
                waited = time.monotonic() - started
            free = await client.post("/graphql", json={"query": query}, headers=bearer(quick))
        finally:
            await locker.close()

    assert waited < 10
    (error,) = held.json()["errors"]
    assert error["extensions"]["code"] == "unavailable"
    assert free.json() == {"data": {"person": {"timeline": []}}}
