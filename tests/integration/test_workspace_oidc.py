"""Signing in to the workspace in prod: the OpenID Connect authorization code flow with PKCE
against a small identity provider served on loopback in this test (discovery, JWKS,
authorization, token and end-session endpoints; real ES256-signed tokens made with the keys
of the gateway's own OIDC tests, tests/unit/gateway/idp.py). The gateway runs as in
production (HUB_ENV=prod, no HUB_JWT_SECRET) on real PostgreSQL and NATS. A refused sign-in
is a German page and no session.

The provider also renews tokens (the refresh_token grant, rotating refresh tokens with reuse
detection), can disable a user or revoke a session, and signs back-channel logout tokens:
tests/integration/test_workspace_provider_session.py ties the workspace session to it."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from services.runtime.settings import HubSettings
from tests.integration.gateway_only import running_gateway
from tests.integration.oidc_provider import (
    CLIENT_ID,
    HUB,
    REDIRECT_URI,
    SESSION_COOKIE,
    FakeProvider,
    at_provider,
    b64,
    browser,
    count_sessions,
    prod_settings,
    serve_provider,
    start,
)


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeProvider]:
    with serve_provider() as provider:
        yield provider


@pytest.fixture
async def hub(
    settings: HubSettings, database_url: str, nats_client: Any, idp: FakeProvider
) -> AsyncIterator[tuple[Any, Any]]:
    """A gateway as in production, with the workspace's OpenID Connect client."""
    idp.reset()
    async with running_gateway(prod_settings(settings, idp), database_url, nats_client) as (
        app,
        _,
    ):
        yield app, app.state


async def test_a_case_manager_signs_in_at_the_provider_and_out_again(
    hub: tuple[Any, Any], idp: FakeProvider, database_url: str
) -> None:
    app, _ = hub
    async with browser(app) as client:
        sent = await client.get("/faelle?zielgruppe=families")
        assert sent.headers["location"] == "/anmelden?weiter=/faelle%3Fzielgruppe%3Dfamilies"
        to_idp = await client.get(sent.headers["location"])
        assert to_idp.status_code == 303
        authorize = urlsplit(to_idp.headers["location"])
        query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        assert to_idp.headers["location"].startswith(idp.discovery()["authorization_endpoint"])
        assert query["code_challenge_method"] == "S256"
        assert len(query["state"]) == 43
        assert len(query["nonce"]) == 43
        assert query["redirect_uri"] == REDIRECT_URI
        login_cookie = to_idp.headers["set-cookie"].lower()
        assert login_cookie.startswith("__host-hub_login=")
        assert "secure" in login_cookie
        assert "httponly" in login_cookie

        callback = (await at_provider(to_idp.headers["location"])).headers["location"]
        signed = await client.get(callback.removeprefix(HUB))
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == "/faelle?zielgruppe=families"
        cookie = next(
            value.lower()
            for name, value in signed.headers.multi_items()
            if name == "set-cookie" and value.startswith(SESSION_COOKIE)
        )
        assert "secure" in cookie
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        # the verifier went to the token endpoint and matched the challenge
        assert idp.token_requests[-1]["code_verifier"]

        page = await client.get("/faelle")
        assert page.status_code == 200, page.text
        assert "kim-05315" in page.text  # the agency and role from the access token's claims
        assert "KIM-Case-Management" in page.text
        assert await count_sessions(database_url) == 1

        form = await client.get("/faelle/neu")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        out = await client.post("/abmelden", data={"csrf": csrf})
        assert out.status_code == 303
        logout = urlsplit(out.headers["location"])
        assert out.headers["location"].startswith(idp.discovery()["end_session_endpoint"])
        assert parse_qs(logout.query) == {
            "client_id": [CLIENT_ID],
            "post_logout_redirect_uri": [f"{HUB}/anmelden?abgemeldet=1"],
        }
        assert await count_sessions(database_url) == 0
        expired = next(
            value.lower()
            for name, value in out.headers.multi_items()
            if name == "set-cookie" and value.startswith(SESSION_COOKIE)
        )
        assert "max-age=0" in expired
        assert "secure" in expired  # else a browser keeps a __Host- cookie
        after = await client.get("/faelle")
        assert after.status_code == 303  # signed out
        gone = await client.get("/anmelden?abgemeldet=1")
        assert gone.status_code == 200  # after the logout: a page, not straight back
        assert "Sie sind abgemeldet" in gone.text


async def _refused(client: httpx.AsyncClient, path: str, database_url: str) -> httpx.Response:
    answer = await client.get(path)
    assert answer.status_code == 400, answer.text
    assert "Anmeldung fehlgeschlagen" in answer.text
    assert "Sie sind nicht angemeldet." in answer.text
    assert not any(
        value.startswith(SESSION_COOKIE)
        for name, value in answer.headers.multi_items()
        if name == "set-cookie"
    )
    assert await count_sessions(database_url) == 0
    assert (await client.get("/faelle")).status_code == 303
    return answer


async def test_a_state_that_is_not_this_browsers_is_refused(
    hub: tuple[Any, Any], database_url: str
) -> None:
    app, _ = hub
    async with browser(app) as victim, browser(app) as attacker:
        callback = await start(attacker)  # the attacker's own sign-in, sent to the victim
        page = await _refused(victim, callback, database_url)
        assert "in einem anderen Browser begonnen" in page.text
        made_up = callback.replace("state=", "state=x")
        await _refused(attacker, made_up, database_url)


async def test_an_id_token_with_another_nonce_is_refused(
    hub: tuple[Any, Any], idp: FakeProvider, database_url: str
) -> None:
    app, _ = hub
    idp.id_token_changes = {"nonce": "not-the-one-sent"}
    async with browser(app) as client:
        page = await _refused(client, await start(client), database_url)
    assert "gehört nicht zu dieser Anmeldung" in page.text


async def test_an_id_token_of_another_issuer_is_refused(
    hub: tuple[Any, Any], idp: FakeProvider, database_url: str
) -> None:
    app, _ = hub
    idp.id_token_changes = {"iss": "https://idp.example/realms/kommune"}
    async with browser(app) as client:
        page = await _refused(client, await start(client), database_url)
    assert "nicht vom eingerichteten Identitätsanbieter" in page.text


async def test_an_id_token_for_another_client_is_refused(
    hub: tuple[Any, Any], idp: FakeProvider, database_url: str
) -> None:
    app, _ = hub
    idp.id_token_changes = {"aud": "another-client"}
    async with browser(app) as client:
        page = await _refused(client, await start(client), database_url)
    assert "ID-Token" in page.text


async def test_a_replayed_code_is_refused(
    hub: tuple[Any, Any], idp: FakeProvider, database_url: str
) -> None:
    app, _ = hub
    async with browser(app) as client:
        callback = await start(client)
        assert (await client.get(callback)).status_code == 303
        stolen = client.cookies.get("__Host-hub_login")
        assert stolen is None  # the sign-in's state cookie is gone after its callback
    async with browser(app) as replay:
        # the same callback again, even with the state's cookie: the state was taken once
        state = parse_qs(urlsplit(callback).query)["state"][0]
        replay.cookies.set("__Host-hub_login", state, domain="hub.test")
        before = await count_sessions(database_url)
        answer = await replay.get(callback)
        assert answer.status_code == 400
        assert "schon verwendet" in answer.text
        assert await count_sessions(database_url) == before
    # and the provider refuses the code a second time too
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert idp.token({"grant_type": "authorization_code", "code": code})[0] == 400


async def test_a_code_exchanged_without_its_pkce_verifier_is_refused(
    hub: tuple[Any, Any], idp: FakeProvider, database_url: str
) -> None:
    app, _ = hub
    async with browser(app) as client:
        first = await start(client)
        second = await start(client)  # the browser's state cookie is now the second's
        # the first sign-in's code with the second's state: the verifier sent is the
        # second's, which is not the first code's PKCE verifier
        code = parse_qs(urlsplit(first).query)["code"][0]
        state = parse_qs(urlsplit(second).query)["state"][0]
        mixed = f"/anmelden/rueckruf?{urlencode({'code': code, 'state': state})}"
        page = await _refused(client, mixed, database_url)
    assert "Anmeldecode nicht eingelöst" in page.text
    verifier = idp.token_requests[-1]["code_verifier"]
    assert b64(hashlib.sha256(verifier.encode()).digest()) != idp.grants[code].challenge
    # without any verifier the provider refuses the code as well
    third = await _start_direct(idp)
    assert idp.token({"grant_type": "authorization_code", "code": third})[0] == 400


async def _start_direct(idp: FakeProvider) -> str:
    status, headers = idp.authorize(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "state": "s",
            "nonce": "n",
            "code_challenge": "c" * 43,
            "code_challenge_method": "S256",
        }
    )
    assert status == 302
    return parse_qs(urlsplit(headers["Location"]).query)["code"][0]


async def test_a_user_without_a_hub_role_gets_no_session(
    hub: tuple[Any, Any], idp: FakeProvider, database_url: str
) -> None:
    app, _ = hub
    idp.user = {**idp.user, "realm_access": {"roles": ["offline_access"]}}
    try:
        async with browser(app) as client:
            page = await _refused(client, await start(client), database_url)
    finally:
        idp.user = {**idp.user, "realm_access": {"roles": ["offline_access", "case_manager"]}}
    assert "keine gültige Rolle" in page.text


async def test_the_provider_refusing_the_sign_in_is_a_german_page(
    hub: tuple[Any, Any], database_url: str
) -> None:
    app, _ = hub
    async with browser(app) as client:
        callback = await start(client)
        state = parse_qs(urlsplit(callback).query)["state"][0]
        query = urlencode({"error": "access_denied", "state": state})
        page = await _refused(client, f"/anmelden/rueckruf?{query}", database_url)
    assert "abgebrochen oder abgelehnt" in page.text


async def test_in_prod_the_demo_sign_in_is_off(hub: tuple[Any, Any], database_url: str) -> None:
    app, _ = hub
    async with browser(app) as client:
        refused = await client.post("/anmelden", data={"benutzer": "fallmanagement"})
        assert refused.status_code == 403
        assert (await client.get("/anmelden/idp")).status_code == 303
    assert await count_sessions(database_url) == 0


async def test_sign_ins_started_from_one_address_are_rate_limited(
    settings: HubSettings, database_url: str, nats_client: Any, idp: FakeProvider
) -> None:
    limited = prod_settings(settings, idp, rate_limit_per_second=0.2, rate_limit_burst=2)
    async with (
        running_gateway(limited, database_url, nats_client) as (app, _),
        browser(app) as client,
    ):
        answers = [await client.get("/anmelden") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [303, 303, 429]
    assert "Zu viele Anfragen" in answers[2].text
    assert int(answers[2].headers["retry-after"]) >= 1
