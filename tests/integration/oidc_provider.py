"""A small OpenID Connect identity provider served on loopback for the workspace's tests
(tests/integration/test_workspace_oidc.py, test_workspace_provider_session.py): discovery,
JWKS, authorization, token (authorization_code and refresh_token grants) and end-session
endpoints, real ES256-signed tokens made with the keys of the gateway's own OIDC tests
(tests/unit/gateway/idp.py), disabling users, revoking sessions and back-channel logout
tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import jwt

from services.runtime.settings import HubSettings
from tests.helpers import in_prod
from tests.unit.gateway.idp import AUDIENCE, SigningKey

KEY = SigningKey.ec("ec-workspace")
CLIENT_ID = "hub-workspace"
HUB = "https://hub.test"
REDIRECT_URI = f"{HUB}/anmelden/rueckruf"
SESSION_COOKIE = "__Host-hub_session"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Grant:
    challenge: str
    method: str
    nonce: str
    redirect_uri: str
    used: bool = False


@dataclass
class RefreshGrant:
    sub: str
    sid: str
    used: bool = False


@dataclass
class FakeProvider:
    """The identity provider: signs in ``user`` at once (no login form) and issues real
    signed tokens; ``id_token_changes`` bend the next ID tokens (a wrong nonce, issuer).

    Each sign-in opens a provider session (``sid``) and, with ``issue_refresh``, gets a
    refresh token. The refresh_token grant answers with the user's claims as they are now
    (``users[sub]``: a role changed or removed shows), rotates the refresh token and refuses
    a used one, revoking its session (reuse detection); it refuses a ``disabled`` user or a
    ``revoked`` session. ``token_delay`` slows each refresh (two at once overlap)."""

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
    issue_refresh: bool = True
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_grants: dict[str, RefreshGrant] = field(default_factory=dict)
    sids: list[str] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    token_delay: float = 0.0
    #: the token endpoint answers 503
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.id_token_changes = {}
        self.issue_refresh = True
        self.disabled.clear()
        self.revoked.clear()
        self.token_delay = 0.0
        self.down = False
        self.token_requests.clear()

    @property
    def refreshes(self) -> list[dict[str, str]]:
        return [f for f in self.token_requests if f.get("grant_type") == "refresh_token"]

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
        if self.down:
            return 503, {"error": "temporarily_unavailable"}
        if form.get("grant_type") == "refresh_token":
            return self.refresh(form)
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
        if b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
            return refused
        if form.get("redirect_uri") != grant.redirect_uri or form.get("client_id") != CLIENT_ID:
            return refused
        sub = str(self.user["sub"])
        self.users[sub] = json.loads(json.dumps(self.user))  # the user as signed in now
        sid = secrets.token_urlsafe(16)
        self.sids.append(sid)
        return 200, self.tokens(sub, sid, nonce=grant.nonce)

    def tokens(self, sub: str, sid: str, nonce: str | None = None) -> dict[str, Any]:
        now = int(time.time())
        access = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "azp": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "sid": sid,
            **self.users[sub],
        }
        access_token = self.sign(access)
        digest = hashlib.sha256(access_token.encode()).digest()
        identity = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "sid": sid,
            "at_hash": b64(digest[:16]),
            **({"nonce": nonce} if nonce is not None else {}),
            **self.id_token_changes,
        }
        answer: dict[str, Any] = {
            "access_token": access_token,
            "id_token": self.sign(identity),
            "token_type": "Bearer",
            "expires_in": 300,
        }
        if self.issue_refresh:
            refresh_token = secrets.token_urlsafe(32)
            self.refresh_grants[refresh_token] = RefreshGrant(sub, sid)
            answer["refresh_token"] = refresh_token
        return answer

    def refresh(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The refresh_token grant (RFC 6749 6), rotating the refresh token."""
        if self.token_delay:
            time.sleep(self.token_delay)
        refused = (400, {"error": "invalid_grant"})
        with self.lock:
            grant = self.refresh_grants.get(form.get("refresh_token", ""))
            if grant is None or form.get("client_id") != CLIENT_ID:
                return refused
            if grant.used:  # a rotated token used again: revoke the whole session
                self.revoked.add(grant.sid)
                return refused
            grant.used = True
            if grant.sub in self.disabled or grant.sid in self.revoked:
                return refused
            return 200, self.tokens(grant.sub, grant.sid)

    def logout_token(self, key: SigningKey | None = None, **changes: Any) -> str:
        """A back-channel logout token (1.0, 2.4); ``changes`` set claims, ``None`` drops
        one."""
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": int(time.time()),
            "exp": int(time.time()) + 120,
            "jti": str(uuid.uuid4()),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        claims.update(changes)
        claims = {name: value for name, value in claims.items() if value is not None}
        key = key or KEY
        return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid})

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, KEY.private, algorithm=KEY.alg, headers={"kid": KEY.kid})


@contextmanager
def serve_provider() -> Iterator[FakeProvider]:
    """The provider, served on 127.0.0.1 (a real HTTP server in a thread)."""
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


def prod_settings(settings: HubSettings, idp: FakeProvider, **changes: Any) -> HubSettings:
    """A production gateway's settings with the workspace's OpenID Connect client."""
    return in_prod(
        settings,
        jwt_secret=None,
        oidc_issuer=idp.issuer,
        oidc_audience=AUDIENCE,
        oidc_client_id=CLIENT_ID,
        oidc_redirect_uri=REDIRECT_URI,
        oidc_post_logout_redirect_uri=f"{HUB}/anmelden?abgemeldet=1",
        **changes,
    )


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
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM gateway.workspace_sessions"))
    finally:
        await conn.close()


async def sign_in(client: httpx.AsyncClient, path: str = "/anmelden") -> str:
    """Signs in at the provider; answers where the gateway sends the browser then."""
    signed = await client.get(await start(client, path))
    assert signed.status_code == 303, signed.text
    return str(signed.headers["location"])
