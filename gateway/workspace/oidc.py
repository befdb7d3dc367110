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

The session keeps the provider's session id (``sid``), the access token's expiry and the
refresh token (:class:`ProviderTokens`). Before the access token expires the gateway renews
it with the refresh token (:meth:`OidcSignIn.renew`), checks the new access token exactly as
at sign-in (same subject; agency and role from it), and a refusal ends the session. The
provider ends sessions itself with OpenID Connect Back-Channel Logout 1.0: a signed logout
token posted to :data:`BACKCHANNEL_PATH`, checked by :meth:`OidcSignIn.logout_token`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from gateway.auth import AuthError, Principal, verify_off_loop
from gateway.workspace.sessions import (
    ProviderTokens,
    RefreshRefused,
    RefreshUnavailable,
    Renewed,
    SessionStore,
    new_id,
)
from services.runtime.settings import HubSettings
from services.runtime.tokens import OidcVerifier, Verifier

log = logging.getLogger(__name__)

#: the callback's path: HUB_OIDC_REDIRECT_URI must end in it
CALLBACK_PATH = "/anmelden/rueckruf"
#: where the provider posts back-channel logout tokens (registered at the provider)
BACKCHANNEL_PATH = "/abmelden/rueckkanal"
#: the event a logout token must carry (OpenID Connect Back-Channel Logout 1.0, 2.4)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: a logout token issued longer ago than this is refused (its jti is kept this long)
LOGOUT_TOKEN_MAX_AGE_SECONDS = 600.0

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


class LogoutRefused(Exception):
    """A back-channel logout token that fails a check of the specification; ``code`` says
    which (logged and answered; never the token or a claim)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SignedIn:
    """A finished sign-in: the principal, the page to continue at, the provider's tokens."""

    principal: Principal
    weiter: str
    tokens: ProviderTokens


@dataclass(frozen=True)
class LogoutToken:
    """What a verified back-channel logout token names, and until when its ``jti`` must be
    remembered (after that the token is refused for its age or expiry anyway)."""

    sid: str | None
    subject: str | None
    jti: str
    until: float


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
    ) -> SignedIn:
        """The callback: the signed-in principal, the page to continue at and the provider's
        tokens to keep with the session (raises :class:`SignInFailed`)."""
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
        refresh_token = tokens.get("refresh_token")
        sid = claims.get("sid")
        return SignedIn(
            principal,
            str(login.get("weiter") or ""),
            ProviderTokens(
                expires_at=_expiry(principal, tokens),
                refresh_token=refresh_token if isinstance(refresh_token, str) else None,
                sid=sid if isinstance(sid, str) and sid else None,
            ),
        )

    async def renew(self, refresh_token: str, subject: str) -> Renewed:
        """New tokens for a session (the refresh_token grant, with the client's
        authentication as in the code exchange): the new access token is checked exactly as
        ``/graphql`` checks a bearer token and must name ``subject``; it names the principal
        now (a role removed at the provider is gone). A new ID token, when sent, is checked
        as at sign-in and must name ``subject`` too. Raises :class:`RefreshRefused` (the
        session ends) or :class:`RefreshUnavailable` (the provider could not be asked)."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
        }
        try:
            response = await self._token_request(form)
        except (httpx.HTTPError, SignInFailed):
            log.warning("workspace session refresh: the identity provider is unavailable")
            raise RefreshUnavailable from None
        if response.status_code >= 500:
            log.warning("workspace session refresh: the identity provider answered 5xx")
            raise RefreshUnavailable
        if response.status_code != 200:
            raise self._refused("refresh_refused")
        try:
            body = response.json()
        except ValueError:
            raise self._refused("token_missing") from None
        access_token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access_token, str):
            raise self._refused("token_missing")
        try:
            principal = await verify_off_loop(self.verify_access, f"Bearer {access_token}")
        except AuthError as error:
            if "could not be read" in str(error):  # the keys, not the token
                raise RefreshUnavailable from None
            raise self._refused("access_token_invalid") from None
        if principal.subject != subject:
            raise self._refused("subject_mismatch")
        sid: str | None = None
        id_token = body.get("id_token")
        if isinstance(id_token, str):
            try:
                claims = await asyncio.to_thread(self.id_tokens.claims, id_token)
            except AuthError:
                raise self._refused("id_token_invalid") from None
            if claims.get("sub") != subject:
                raise self._refused("subject_mismatch")
            named = claims.get("sid")
            sid = named if isinstance(named, str) and named else None
        rotated = body.get("refresh_token")
        return Renewed(
            principal,
            ProviderTokens(
                expires_at=_expiry(principal, body),
                refresh_token=rotated if isinstance(rotated, str) else None,
                sid=sid,
            ),
        )

    def logout_token(self, token: str) -> LogoutToken:
        """A back-channel logout token, verified as OpenID Connect Back-Channel Logout 1.0
        (2.6) says: signed by a key of the provider (as an ID token: RS256/ES256, JWKS by
        ``kid``), ``iss`` the issuer, ``aud`` the client id, ``iat`` present and not older
        than :data:`LOGOUT_TOKEN_MAX_AGE_SECONDS`, ``exp`` when present, ``events`` holding
        the back-channel logout event, ``sid`` or ``sub``, no ``nonce``, a ``jti``. Blocking
        (the keys may be fetched): call it in a worker thread. Raises :class:`LogoutRefused`;
        whether the ``jti`` was seen before is the caller's check."""
        try:
            claims = self.id_tokens.claims(token, require=("iss", "aud", "iat"))
        except AuthError as error:
            if "could not be read" in str(error):
                raise LogoutRefused("provider_unavailable") from None
            raise LogoutRefused("invalid_token") from None
        if claims.get("azp", self.client_id) != self.client_id:  # issued to another client
            raise LogoutRefused("invalid_token")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise LogoutRefused("no_logout_event")
        if "nonce" in claims:
            raise LogoutRefused("nonce_present")
        sid, subject, jti = claims.get("sid"), claims.get("sub"), claims.get("jti")
        sid = sid if isinstance(sid, str) and sid else None
        subject = subject if isinstance(subject, str) and subject else None
        if sid is None and subject is None:
            raise LogoutRefused("no_sid_or_sub")
        if not isinstance(jti, str) or not jti or len(jti) > 512:
            raise LogoutRefused("no_jti")
        iat = float(claims["iat"])
        skew = self.id_tokens.clock_skew_seconds
        if iat < time.time() - LOGOUT_TOKEN_MAX_AGE_SECONDS - skew:
            raise LogoutRefused("too_old")
        until = iat + LOGOUT_TOKEN_MAX_AGE_SECONDS + skew
        exp = claims.get("exp")
        if isinstance(exp, int | float):
            until = max(until, float(exp) + skew)
        return LogoutToken(sid=sid, subject=subject, jti=jti, until=until)

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
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        try:
            response = await self._token_request(form)
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

    async def _token_request(self, form: dict[str, str]) -> httpx.Response:
        """A POST to the token endpoint with the client's authentication (a confidential
        client: ``client_secret_basic``; a public one: its id in the form)."""
        endpoints = await self.endpoints()
        headers = {"Accept": "application/json"}
        if self.client_secret:  # client_secret_basic (RFC 6749 2.3.1: form-encoded first)
            pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            return await client.post(endpoints.token, data=form, headers=headers)

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

    @staticmethod
    def _refused(code: str) -> RefreshRefused:
        log.warning("workspace session refresh refused, the session ends: %s", code)
        return RefreshRefused(code)


def _expiry(principal: Principal, body: dict[str, Any]) -> float:
    """When the access token expires: its ``exp`` (always checked present), or sooner if the
    token endpoint's ``expires_in`` says so."""
    candidates = [float(principal.exp)] if principal.exp is not None else []
    expires_in = body.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        candidates.append(time.time() + float(expires_in))
    return min(candidates) if candidates else time.time()


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
