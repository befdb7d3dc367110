"""The workspace session tied to the identity provider's session: a gateway in prod (real
PostgreSQL and NATS) against the loopback provider of tests/integration/oidc_provider.py.

- the session keeps the provider's ``sid`` (hashed), the access token's expiry and the
  refresh token (encrypted); an expired access token is renewed with the refresh token,
  transparently, and the new access token's role counts at once;
- a refused renewal (user disabled, session revoked, hub role removed) ends the session: the
  sign-in page says so, and a form sent meanwhile is kept for the user;
- without a refresh token the session ends at the access token's expiry;
- two requests renewing at once use the rotating refresh token once (row lock), also on two
  gateways;
- OpenID Connect Back-Channel Logout 1.0: a logout token ends the sessions of its ``sid``
  (or ``sub``) and no other; a replayed or malformed one is refused with 400."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote

import asyncpg
import httpx
import jwt
import pytest

from services.runtime.settings import HubSettings
from tests.integration.gateway_only import running_gateway
from tests.integration.oidc_provider import (
    CLIENT_ID,
    KEY,
    FakeProvider,
    browser,
    prod_settings,
    serve_provider,
    sign_in,
)
from tests.unit.gateway.idp import SigningKey, unsigned_token

BACKCHANNEL = "/abmelden/rueckkanal"
ENDED = "Ihre Sitzung wurde beendet"
INTAKE = {
    "vorname": "Hanna",
    "nachname": "Beispiel",
    "geburtsdatum": "17.03.1990",
    "zielgruppe": "newly_arrived",
    "zugang": "jobcenter",
}
OTHER_USER = {
    "sub": "9c2d7e41-staff",
    "groups": ["/agencies/kim-05315"],
    "realm_access": {"roles": ["case_manager"]},
}


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeProvider]:
    with serve_provider() as provider:
        yield provider


@pytest.fixture
async def gateway(
    settings: HubSettings, database_url: str, nats_client: Any, idp: FakeProvider
) -> AsyncIterator[Any]:
    idp.reset()
    idp.user = {
        "sub": "5b1f0e2a-staff",
        "groups": ["/agencies/kim-05315", "/staff"],
        "realm_access": {"roles": ["offline_access", "case_manager"]},
    }
    async with running_gateway(prod_settings(settings, idp), database_url, nats_client) as (
        app,
        _,
    ):
        yield app


async def sessions(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(
            await conn.fetch(
                "SELECT subject, agency, role, display, sid_hash, token_expires_at,"
                " refresh_sealed, ended FROM gateway.workspace_sessions ORDER BY created_at"
            )
        )
    finally:
        await conn.close()


async def execute(database_url: str, query: str, *args: Any) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(query, *args)
    finally:
        await conn.close()


async def expire_access_tokens(database_url: str) -> None:
    """The access tokens of every session expire (as time passing would make them)."""
    await execute(
        database_url,
        "UPDATE gateway.workspace_sessions SET token_expires_at = now() - interval '1 second'",
    )


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


def sid_hash(sid: str) -> bytes:
    return hashlib.sha256(f"sid {sid}".encode()).digest()


async def logout(app: Any, token: str) -> httpx.Response:
    """The provider posts a logout token (no cookie: another client than the browser)."""
    async with browser(app) as provider:
        return await provider.post(BACKCHANNEL, data={"logout_token": token})


async def assert_signed_out_with_message(client: httpx.AsyncClient, path: str) -> str:
    """The next page is the sign-in page saying that the session ended; answers its link."""
    sent = await client.get(path)
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    assert location.startswith("/anmelden?weiter=")
    assert location.endswith("&grund=beendet")
    page = await client.get(location)
    assert page.status_code == 200, page.text  # a page, not straight to the provider
    assert ENDED in page.text
    assert "Anmeldung beim Identitätsanbieter nicht mehr gilt" in page.text
    return location


async def test_an_expired_access_token_is_renewed_transparently_and_its_role_counts(
    gateway: Any, idp: FakeProvider, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with browser(gateway) as client:
        await sign_in(client)
        [row] = await sessions(database_url)
        first_refresh = next(iter(idp.refresh_grants))
        assert row["sid_hash"] == sid_hash(idp.sids[-1])
        assert abs(row["token_expires_at"].timestamp() - (time.time() + 300)) < 30
        assert row["refresh_sealed"] is not None
        assert first_refresh.encode() not in row["refresh_sealed"]  # encrypted at rest
        sealed = row["refresh_sealed"]

        # the access token expires: the next page renews it with the refresh token
        await expire_access_tokens(database_url)
        page = await client.get("/faelle")
        assert page.status_code == 200, page.text
        assert "KIM-Case-Management" in page.text
        assert len(idp.refreshes) == 1
        assert idp.refreshes[0]["refresh_token"] == first_refresh
        assert idp.refreshes[0]["client_id"] == CLIENT_ID
        [row] = await sessions(database_url)
        assert row["token_expires_at"].timestamp() > time.time() + 200
        assert row["refresh_sealed"] != sealed  # the rotated refresh token is kept

        # and again: the rotated token is used (the first one again would revoke the session)
        await expire_access_tokens(database_url)
        assert (await client.get("/faelle")).status_code == 200
        assert len(idp.refreshes) == 2
        assert idp.refreshes[1]["refresh_token"] != first_refresh
        assert not idp.revoked

        # the provider moves the user to a partner agency: the next renewal's access token
        # names the new role and agency, and the old role's pages are closed at once
        sub = str(idp.user["sub"])
        idp.users[sub] = {
            "sub": sub,
            "groups": ["/agencies/awo-05315"],
            "realm_access": {"roles": ["partner_agency"]},
        }
        await expire_access_tokens(database_url)
        assert (await client.get("/faelle")).status_code == 403
        [row] = await sessions(database_url)
        assert (row["agency"], row["role"]) == ("awo-05315", "partner_agency")
        inbox = await client.get("/eingang")
        assert inbox.status_code == 200, inbox.text
    tokens = [*idp.refresh_grants]
    assert not any(token in caplog.text for token in tokens)  # never logged


@pytest.mark.parametrize("how", ["disabled", "revoked", "role_removed"])
async def test_a_refused_renewal_signs_the_user_out_with_a_message(
    gateway: Any, idp: FakeProvider, database_url: str, how: str
) -> None:
    async with browser(gateway) as client:
        await sign_in(client)
        sub = str(idp.user["sub"])
        if how == "disabled":
            idp.disabled.add(sub)
        elif how == "revoked":
            idp.revoked.add(idp.sids[-1])
        else:
            idp.users[sub] = {**idp.users[sub], "realm_access": {"roles": ["offline_access"]}}
        assert (await client.get("/faelle")).status_code == 200  # the token is still valid
        assert not idp.refreshes

        await expire_access_tokens(database_url)
        await assert_signed_out_with_message(client, "/faelle?zielgruppe=families")
        assert len(idp.refreshes) == 1
        assert await sessions(database_url) == []


async def test_a_form_sent_when_the_renewal_is_refused_is_kept_for_the_user(
    gateway: Any, idp: FakeProvider, database_url: str
) -> None:
    async with browser(gateway) as client:
        await sign_in(client)
        form = (await client.get("/faelle/neu")).text
        data = {"csrf": hidden(form, "csrf"), "formular": hidden(form, "formular"), **INTAKE}
        idp.disabled.add(str(idp.user["sub"]))
        await expire_access_tokens(database_url)

        sent = await client.post("/faelle/neu", data=data)
        assert sent.status_code == 303
        location = sent.headers["location"]
        assert location.startswith("/anmelden?weiter=/faelle/neu%3Fentwurf%3D")
        assert location.endswith("&grund=beendet")
        assert await sessions(database_url) == []
        page = await client.get(location)
        assert page.status_code == 200
        assert ENDED in page.text

        # the user is enabled again and signs in: the form comes back as they typed it
        idp.disabled.clear()
        encoded = location.split("weiter=")[1].split("&")[0]
        assert "/anmelden/idp?weiter=" in page.text  # the page's sign-in continues there
        back = await sign_in(client, f"/anmelden/idp?weiter={encoded}")
        assert back == unquote(encoded)
        restored = await client.get(back)
        assert restored.status_code == 200, restored.text
        assert 'value="Beispiel"' in restored.text
        assert 'value="17.03.1990"' in restored.text


async def test_without_a_refresh_token_the_session_ends_when_the_access_token_expires(
    gateway: Any, idp: FakeProvider, database_url: str
) -> None:
    idp.issue_refresh = False
    async with browser(gateway) as client:
        await sign_in(client)
        [row] = await sessions(database_url)
        assert row["refresh_sealed"] is None
        await execute(
            database_url,
            "UPDATE gateway.workspace_sessions SET token_expires_at = now() + interval '5 s'",
        )
        assert (await client.get("/faelle")).status_code == 200  # valid to the last second
        await expire_access_tokens(database_url)
        await assert_signed_out_with_message(client, "/faelle")
    assert not idp.refreshes
    assert await sessions(database_url) == []


async def test_while_the_provider_is_down_the_session_lasts_only_as_long_as_its_token(
    gateway: Any, idp: FakeProvider, database_url: str
) -> None:
    async with browser(gateway) as client:
        await sign_in(client)
        idp.down = True
        # within the renewal margin: the renewal fails, the still valid token carries on
        await execute(
            database_url,
            "UPDATE gateway.workspace_sessions SET token_expires_at = now() + interval '10 s'",
        )
        assert (await client.get("/faelle")).status_code == 200
        assert len(idp.refreshes) == 1
        # expired and still no provider: signed out, the session kept for a later renewal
        await expire_access_tokens(database_url)
        sent = await client.get("/faelle")
        assert sent.status_code == 303
        assert sent.headers["location"].endswith("&grund=anbieter")
        page = await client.get(sent.headers["location"])
        assert "nicht erreichbar" in page.text
        assert len(await sessions(database_url)) == 1
        # the provider is back: the same session is renewed
        tried = len(idp.refreshes)
        idp.down = False
        assert (await client.get("/faelle")).status_code == 200
        assert len(idp.refreshes) == tried + 1


async def test_requests_renewing_at_once_use_the_rotating_refresh_token_once(
    gateway: Any,
    idp: FakeProvider,
    database_url: str,
    settings: HubSettings,
    nats_client: Any,
) -> None:
    async with browser(gateway) as client:
        await sign_in(client)
        cookie = dict(client.cookies)
    idp.token_delay = 0.5  # the renewals overlap
    await expire_access_tokens(database_url)
    async with (
        running_gateway(prod_settings(settings, idp), database_url, nats_client) as (replica, _),
        browser(gateway) as first,
        browser(gateway) as second,
        browser(replica) as third,
        browser(replica) as fourth,
    ):
        clients = [first, second, third, fourth]
        for each in clients:
            for name, value in cookie.items():
                each.cookies.set(name, value, domain="hub.test")
        pages = await asyncio.gather(*(each.get("/faelle") for each in clients))
    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    assert len(idp.refreshes) == 1  # one renewal for all four, on two gateways
    assert not idp.revoked  # the provider saw no reuse of a rotated refresh token
    [row] = await sessions(database_url)
    assert row["token_expires_at"].timestamp() > time.time() + 200


async def test_a_back_channel_logout_ends_the_sessions_of_its_sid_and_no_other(
    gateway: Any, idp: FakeProvider, database_url: str
) -> None:
    async with browser(gateway) as alice, browser(gateway) as bob:
        await sign_in(alice)
        alice_sub, alice_sid = str(idp.user["sub"]), idp.sids[-1]
        idp.user = dict(OTHER_USER)
        await sign_in(bob)

        answer = await logout(gateway, idp.logout_token(sid=alice_sid, sub=alice_sub))
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        rows = {row["subject"]: row for row in await sessions(database_url)}
        assert rows[alice_sub]["ended"] == "beendet"
        assert rows[alice_sub]["refresh_sealed"] is None  # the refresh token is gone at once
        assert rows[OTHER_USER["sub"]]["ended"] is None

        await assert_signed_out_with_message(alice, "/faelle")
        assert (await bob.get("/faelle")).status_code == 200
        assert [row["subject"] for row in await sessions(database_url)] == [OTHER_USER["sub"]]


async def test_a_back_channel_logout_by_sub_ends_every_session_of_that_user(
    gateway: Any, idp: FakeProvider, database_url: str
) -> None:
    async with browser(gateway) as office, browser(gateway) as laptop, browser(gateway) as bob:
        await sign_in(office)
        await sign_in(laptop)  # a second provider session of the same user
        sub = str(idp.user["sub"])
        idp.user = dict(OTHER_USER)
        await sign_in(bob)

        answer = await logout(gateway, idp.logout_token(sub=sub))
        assert answer.status_code == 200
        await assert_signed_out_with_message(office, "/faelle")
        await assert_signed_out_with_message(laptop, "/faelle")
        assert (await bob.get("/faelle")).status_code == 200


async def test_a_replayed_logout_token_is_refused(
    gateway: Any, idp: FakeProvider, database_url: str
) -> None:
    async with browser(gateway) as client:
        await sign_in(client)
        token = idp.logout_token(sid=idp.sids[-1])
        assert (await logout(gateway, token)).status_code == 200
        await sign_in(client)  # a new session, another sid
        replayed = await logout(gateway, token)
        assert replayed.status_code == 400
        assert replayed.headers["cache-control"] == "no-store"
        assert replayed.json()["error"] == "invalid_request"
        assert "before" in replayed.json()["error_description"]
        assert (await client.get("/faelle")).status_code == 200


async def test_malformed_logout_tokens_are_refused_with_400_and_end_nothing(
    gateway: Any, idp: FakeProvider, database_url: str
) -> None:
    async with browser(gateway) as client:
        await sign_in(client)
        sid, sub = idp.sids[-1], str(idp.user["sub"])
        forged_key = SigningKey.ec(KEY.kid)  # the provider's key id, another key
        now = int(time.time())
        bad = {
            "bad signature": idp.logout_token(forged_key, sid=sid),
            "another audience": idp.logout_token(sid=sid, aud="another-client"),
            "another issuer": idp.logout_token(sid=sid, iss="https://idp.example/realms/x"),
            "no events": idp.logout_token(sid=sid, events=None),
            "another event": idp.logout_token(sid=sid, events={"urn:other": {}}),
            "event not an object": idp.logout_token(
                sid=sid, events={"http://schemas.openid.net/event/backchannel-logout": 1}
            ),
            "a nonce": idp.logout_token(sid=sid, nonce="n-0"),
            "neither sid nor sub": idp.logout_token(),
            "no jti": idp.logout_token(sid=sid, jti=None),
            "no iat": idp.logout_token(sid=sid, iat=None),
            "expired": idp.logout_token(sid=sid, iat=now - 300, exp=now - 200),
            "issued long ago": idp.logout_token(sid=sid, iat=now - 3600, exp=None),
            "unsigned": unsigned_token(
                {
                    "iss": idp.issuer,
                    "aud": CLIENT_ID,
                    "iat": now,
                    "jti": "j",
                    "sid": sid,
                    "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
                },
                KEY.kid,
            ),
            "HS256": jwt.encode({"iss": idp.issuer, "sid": sid}, "s" * 32, algorithm="HS256"),
            "an ID token": idp.sign(
                {"iss": idp.issuer, "aud": CLIENT_ID, "sub": sub, "sid": sid, "iat": now}
            ),
            "not a JWT": "logout",
        }
        for case, token in bad.items():
            answer = await logout(gateway, token)
            assert answer.status_code == 400, case
            assert answer.headers["cache-control"] == "no-store", case
            assert answer.json()["error"] == "invalid_request", case
        async with browser(gateway) as provider:
            as_json = await provider.post(
                BACKCHANNEL, json={"logout_token": idp.logout_token(sid=sid)}
            )
            assert as_json.status_code == 400
            missing = await provider.post(BACKCHANNEL, data={"token": idp.logout_token(sid=sid)})
            assert missing.status_code == 400
            twice = await provider.post(
                BACKCHANNEL,
                content=f"logout_token={idp.logout_token(sid=sid)}&logout_token=x",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert twice.status_code == 400
        [row] = await sessions(database_url)
        assert row["ended"] is None
        assert (await client.get("/faelle")).status_code == 200


async def test_back_channel_logouts_are_rate_limited_per_address(
    settings: HubSettings, database_url: str, nats_client: Any, idp: FakeProvider
) -> None:
    idp.reset()
    limited = prod_settings(settings, idp, rate_limit_per_second=0.2, rate_limit_burst=2)
    async with running_gateway(limited, database_url, nats_client) as (app, _):
        answers = [await logout(app, idp.logout_token(sub="nobody")) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert answers[2].headers["cache-control"] == "no-store"
