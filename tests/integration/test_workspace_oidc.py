"""Signing in to the workspace in prod: the OpenID Connect authorization code flow with PKCE
against a small identity provider served on loopback in this test (discovery, JWKS,
authorization, token and end-session endpoints; real ES256-signed tokens made with the keys
of the gateway's own OIDC tests, tests/unit/gateway/idp.py). The gateway runs as in
production (HUB_ENV=prod, no HUB_JWT_SECRET) on real PostgreSQL and NATS. A refused sign-in
is a German page and no session."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

from services.runtime.settings import HubSettings
from tests.helpers import in_prod
from tests.integration.gateway_only import running_gateway
from tests.unit.gateway.idp import AUDIENCE, SigningKey

KEY = SigningKey.ec("ec-workspace")
CLIENT_ID = "hub-workspace"
HUB = "https://hub.test"
REDIRECT_URI = f"{HUB}/anmelden/rueckruf"
SESSION_COOKIE = "__Host-hub_session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Grant:
    challenge: str
    method: str
    nonce: str
    redirect_uri: str
    used: bool = False


@dataclass
class FakeProvider:
    """The identity provider: signs in ``user`` at once (no login form) and issues real
    signed tokens; ``id_token_changes`` bend the next ID tokens (a wrong nonce, issuer)."""

    url: str = ""
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "5b1f0e2a-staff",
            "groups": ["/agencies/kim-05315", "/staff"],
            "realm_access": {"roles": ["offline_access", "case_manager"]},
        }
    )
    id_token_changes: dict[str, Any] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/kommune"

    def discovery(self) -> dict[str, Any]:
        base = f"{self.issuer}/protocol/openid-connect"
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{base}/certs",
            "authorization_endpoint": f"{base}/auth",
            "token_endpoint": f"{base}/token",
            "end_session_endpoint": f"{base}/logout",
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        if (
            query.get("response_type") != "code"
            or query.get("client_id") != CLIENT_ID
            or query.get("redirect_uri") != REDIRECT_URI
            or "openid" not in query.get("scope", "").split()
            or not query.get("code_challenge")
        ):
            return 400, {}
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            query["code_challenge"],
            query.get("code_challenge_method", "plain"),
            query.get("nonce", ""),
            query["redirect_uri"],
        )
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": back}

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        grant = self.grants.get(form.get("code", ""))
        refused = (400, {"error": "invalid_grant"})
        if grant is None or form.get("grant_type") != "authorization_code":
            return refused
        if grant.used:  # a code is good once (RFC 6749 4.1.2)
            return refused
        grant.used = True
        verifier = form.get("code_verifier")
        if not verifier or grant.method != "S256":  # PKCE is required, S256 only
            return refused
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
            return refused
        if form.get("redirect_uri") != grant.redirect_uri or form.get("client_id") != CLIENT_ID:
            return refused
        now = int(time.time())
        access = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "azp": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            **self.user,
        }
        access_token = self.sign(access)
        digest = hashlib.sha256(access_token.encode()).digest()
        identity = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": self.user["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "at_hash": _b64(digest[:16]),
            **self.id_token_changes,
        }
        return 200, {
            "access_token": access_token,
            "id_token": self.sign(identity),
            "token_type": "Bearer",
            "expires_in": 300,
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, KEY.private, algorithm=KEY.alg, headers={"kid": KEY.kid})


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeProvider]:
    provider = FakeProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            path = parts.path.removeprefix("/realms/kommune")
            if path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif path == "/protocol/openid-connect/certs":
                self._json(200, {"keys": [KEY.jwk()]})
            elif path == "/protocol/openid-connect/auth":
                status, headers = provider.authorize(query)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path.endswith("/protocol/openid-connect/token"):
                self._json(*provider.token(form))
            else:
                self.send_error(404)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
async def hub(
    settings: HubSettings, database_url: str, nats_client: Any, idp: FakeProvider
) -> AsyncIterator[tuple[Any, Any]]:
    """A gateway as in production, with the workspace's OpenID Connect client."""
    idp.id_token_changes = {}
    prod = in_prod(
        settings,
        jwt_secret=None,
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
        oidc_client_id=CLIENT_ID,
        oidc_redirect_uri=REDIRECT_URI,
        oidc_post_logout_redirect_uri=f"{HUB}/anmelden?abgemeldet=1",
    )
    async with running_gateway(prod, database_url, nats_client) as (app, _):
        yield app, app.state


def browser(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=HUB, timeout=30)


async def at_provider(url: str) -> httpx.Response:
    """The browser at the identity provider (a real HTTP request on loopback)."""
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url)


async def start(client: httpx.AsyncClient, path: str = "/anmelden") -> str:
    """Opens the sign-in; answers the callback URL the provider sends the browser to."""
    sent = await client.get(path)
    assert sent.status_code == 303, sent.text
    answer = await at_provider(sent.headers["location"])
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    assert callback.startswith(REDIRECT_URI)
    return callback.removeprefix(HUB)


async def count_sessions(database_url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM gateway.workspace_sessions"))
    finally:
        await conn.close()


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
    assert _b64(hashlib.sha256(verifier.encode()).digest()) != idp.grants[code].challenge
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
    limited = in_prod(
        settings,
        jwt_secret=None,
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
        oidc_client_id=CLIENT_ID,
        oidc_redirect_uri=REDIRECT_URI,
        rate_limit_per_second=0.2,
        rate_limit_burst=2,
    )
    async with (
        running_gateway(limited, database_url, nats_client) as (app, _),
        browser(app) as client,
    ):
        answers = [await client.get("/anmelden") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [303, 303, 429]
    assert "Zu viele Anfragen" in answers[2].text
    assert int(answers[2].headers["retry-after"]) >= 1
