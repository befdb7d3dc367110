"""Signing in to the workspace through the identity provider: the OpenID Connect
authorization code flow with PKCE (S256), for prod.

``/anmelden`` sends the browser to the provider's authorization endpoint with a random
``state`` (also kept in a short-lived cookie, so that a callback started in another browser
is refused), a ``nonce`` and the PKCE challenge; the state, nonce, verifier and the page to
continue at are kept in the gateway's database, encrypted under the state
(:meth:`SessionStore.keep_login`), and taken once. The callback exchanges the code with the
verifier at the token endpoint, checks the ID token (signature by a key of the issuer's JWKS,
issuer, audience = the client id, expiry, nonce, ``at_hash``) with the same key handling as
the gateway's bearer tokens (:class:`OidcVerifier`), then checks the access token exactly as
``/graphql`` does (the gateway's verifier), which names the principal (agency and role from
its claims). Both must name the same subject. Every refusal is a German page and no session.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from gateway.auth import AuthError, Principal, verify_off_loop
from gateway.workspace.sessions import SessionStore, new_id
from services.runtime.settings import HubSettings
from services.runtime.tokens import OidcVerifier, Verifier

log = logging.getLogger(__name__)

#: the callback's path: HUB_OIDC_REDIRECT_URI must end in it
CALLBACK_PATH = "/anmelden/rueckruf"

#: why a sign-in failed, in German (the code is logged, never a token or a claim)
MESSAGES = {
    "provider_refused": "Der Identitätsanbieter hat die Anmeldung abgebrochen oder abgelehnt.",
    "invalid_request": "Die Rückmeldung des Identitätsanbieters ist unvollständig.",
    "state_unknown": (
        "Die Anmeldung ist abgelaufen, wurde schon verwendet oder in einem anderen Browser "
        "begonnen."
    ),
    "code_refused": (
        "Der Identitätsanbieter hat den Anmeldecode nicht eingelöst (schon verwendet, "
        "abgelaufen oder nicht zu dieser Anmeldung gehörig)."
    ),
    "provider_unavailable": "Der Identitätsanbieter ist gerade nicht erreichbar.",
    "token_missing": "Der Identitätsanbieter hat keine gültigen Token geliefert.",
    "id_token_invalid": "Der Identitätsnachweis (ID-Token) ist nicht gültig.",
    "wrong_issuer": "Der Identitätsnachweis stammt nicht vom eingerichteten Identitätsanbieter.",
    "nonce_mismatch": "Der Identitätsnachweis gehört nicht zu dieser Anmeldung.",
    "access_token_invalid": (
        "Ihr Zugang nennt keine gültige Rolle und Stelle für den Integrations-Hub."
    ),
    "subject_mismatch": "Identitätsnachweis und Zugriffstoken nennen verschiedene Personen.",
}


class SignInFailed(Exception):
    """A sign-in refused; ``message`` is German, for the page."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = MESSAGES[code]


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    end_session: str | None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def challenge_of(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class OidcSignIn:
    """The workspace's OpenID Connect client (one per gateway)."""

    def __init__(
        self, settings: HubSettings, verify_access: Verifier, *, timeout_seconds: float = 5.0
    ) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_uri):
            raise ValueError("HUB_OIDC_ISSUER, HUB_OIDC_CLIENT_ID and HUB_OIDC_REDIRECT_URI")
        if urlsplit(settings.oidc_redirect_uri).path != CALLBACK_PATH:
            raise RuntimeError(f"HUB_OIDC_REDIRECT_URI must end in {CALLBACK_PATH}")
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        secret = settings.oidc_client_secret
        self.client_secret = secret.get_secret_value() if secret is not None else None
        self.redirect_uri = settings.oidc_redirect_uri
        self.scopes = (
            settings.oidc_scopes
            if "openid" in settings.oidc_scopes.split()
            else (f"openid {settings.oidc_scopes}".strip())
        )
        self.post_logout_redirect_uri = settings.oidc_post_logout_redirect_uri
        self.verify_access = verify_access
        #: ID tokens: the same keys, algorithms and checks as the bearer tokens, for the client
        self.id_tokens = OidcVerifier(
            issuer=self.issuer,
            audience=self.client_id,
            jwks_url=settings.oidc_jwks_url,
            clock_skew_seconds=settings.oidc_clock_skew_seconds,
            timeout_seconds=timeout_seconds,
        )
        self.timeout = timeout_seconds
        self._given = (
            settings.oidc_authorization_endpoint,
            settings.oidc_token_endpoint,
            settings.oidc_end_session_endpoint,
        )
        self._endpoints: Endpoints | None = None

    async def endpoints(self) -> Endpoints:
        """The provider's endpoints: from the settings, else its discovery document (read
        once; its ``issuer`` must be the configured one)."""
        if self._endpoints is not None:
            return self._endpoints
        authorization, token, end_session = self._given
        if authorization is None or token is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    response = await client.get(url)
                    response.raise_for_status()
                    document = response.json()
            except (httpx.HTTPError, ValueError):
                raise SignInFailed("provider_unavailable") from None
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                log.warning("the discovery document names another issuer")
                raise SignInFailed("provider_unavailable")
            authorization = authorization or document.get("authorization_endpoint")
            token = token or document.get("token_endpoint")
            end_session = end_session or document.get("end_session_endpoint")
        if not isinstance(authorization, str) or not isinstance(token, str):
            raise SignInFailed("provider_unavailable")
        self._endpoints = Endpoints(
            authorization, token, end_session if isinstance(end_session, str) else None
        )
        return self._endpoints

    async def start(self, store: SessionStore, weiter: str) -> tuple[str, str]:
        """A new sign-in: the authorization URL to send the browser to, and its state."""
        endpoints = await self.endpoints()
        state, nonce = new_id(), new_id()
        verifier = secrets.token_urlsafe(64)  # 86 characters (RFC 7636: 43 to 128)
        await store.keep_login(state, {"nonce": nonce, "verifier": verifier, "weiter": weiter})
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge_of(verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in endpoints.authorization else "?"
        return f"{endpoints.authorization}{separator}{query}", state

    async def finish(
        self, store: SessionStore, params: dict[str, str], browser_state: str | None
    ) -> tuple[Principal, str]:
        """The callback: the signed-in principal and the page to continue at (raises
        :class:`SignInFailed`)."""
        if params.get("error"):
            raise self._failed("provider_refused")
        state, code = params.get("state", ""), params.get("code", "")
        if not state or not code:
            raise self._failed("invalid_request")
        if not browser_state or not hmac.compare_digest(browser_state, state):
            raise self._failed("state_unknown")
        login = await store.take_login(state)
        if login is None:
            raise self._failed("state_unknown")
        tokens = await self._exchange(code, str(login.get("verifier", "")))
        id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            raise self._failed("token_missing")
        claims = await self._id_token_claims(id_token)
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, str(login["nonce"])):
            raise self._failed("nonce_mismatch")
        audiences = claims.get("aud")
        several = isinstance(audiences, list) and len(audiences) > 1
        if several and claims.get("azp") != self.client_id:
            raise self._failed("id_token_invalid")
        at_hash = claims.get("at_hash")
        if at_hash is not None and at_hash != _at_hash(access_token):
            raise self._failed("id_token_invalid")
        try:
            principal = await verify_off_loop(self.verify_access, f"Bearer {access_token}")
        except AuthError:
            raise self._failed("access_token_invalid") from None
        if principal.subject != claims.get("sub"):
            raise self._failed("subject_mismatch")
        return principal, str(login.get("weiter") or "")

    async def logout_url(self) -> str | None:
        """The provider's end-session endpoint (RP-initiated logout), when it has one."""
        try:
            endpoints = await self.endpoints()
        except SignInFailed:
            return None  # the hub's session has ended; the provider's stays
        if endpoints.end_session is None:
            return None
        query: dict[str, str] = {"client_id": self.client_id}
        if self.post_logout_redirect_uri:
            query["post_logout_redirect_uri"] = self.post_logout_redirect_uri
        separator = "&" if "?" in endpoints.end_session else "?"
        return f"{endpoints.end_session}{separator}{urlencode(query)}"

    async def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        endpoints = await self.endpoints()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        if self.client_secret:  # client_secret_basic (RFC 6749 2.3.1: form-encoded first)
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(endpoints.token, data=form, headers=headers)
        except httpx.HTTPError:
            raise self._failed("provider_unavailable") from None
        if response.status_code != 200:
            raise self._failed("code_refused")
        try:
            body = response.json()
        except ValueError:
            raise self._failed("token_missing") from None
        if not isinstance(body, dict):
            raise self._failed("token_missing")
        return body

    async def _id_token_claims(self, id_token: str) -> dict[str, Any]:
        try:
            return await asyncio.to_thread(self.id_tokens.claims, id_token)
        except AuthError as error:
            if "another identity provider" in str(error):
                raise self._failed("wrong_issuer") from None
            raise self._failed("id_token_invalid") from None

    @staticmethod
    def _failed(code: str) -> SignInFailed:
        log.warning("workspace sign-in refused: %s", code)
        return SignInFailed(code)


def _at_hash(access_token: str) -> str:
    """The ``at_hash`` of an access token: the left half of its SHA-256 (RS256 and ES256,
    the accepted algorithms, both hash with SHA-256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])


def sign_in_for(settings: HubSettings, verify_access: Verifier) -> OidcSignIn | None:
    """The OpenID Connect sign-in, when its settings are given (else ``None``)."""
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_uri):
        return None
    return OidcSignIn(settings, verify_access)
