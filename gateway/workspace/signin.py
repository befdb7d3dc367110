"""Sign-in and sign-out. In development one picks a demo user (role and agency); in prod the
user signs in at the identity provider (OpenID Connect, gateway/workspace/oidc.py), and
without its settings the page says that sign-in is not configured. The demo sign-in is
closed outside development. The identity provider ends sessions through its back-channel
logout (:data:`BACKCHANNEL_PATH`)."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from gateway.auth import Principal
from gateway.workspace import labels
from gateway.workspace.oidc import BACKCHANNEL_PATH, CALLBACK_PATH, LogoutRefused, SignInFailed
from gateway.workspace.web import RateLimited, Workspace, first

log = logging.getLogger(__name__)

#: why the sign-in page is shown instead of going to the identity provider at once
#: (``/anmelden?grund=``): the session ended with the provider's session
ENDED_MESSAGES = {
    "beendet": (
        "Ihre Sitzung wurde beendet, weil Ihre Anmeldung beim Identitätsanbieter nicht mehr "
        "gilt (abgemeldet, abgelaufen oder gesperrt). Bitte melden Sie sich erneut an. "
        "Ein Formular, das Sie gerade abgeschickt haben, ist aufbewahrt."
    ),
    "anbieter": (
        "Ihre Sitzung ist abgelaufen und konnte nicht verlängert werden, weil der "
        "Identitätsanbieter gerade nicht erreichbar ist. Bitte melden Sie sich erneut an. "
        "Ein Formular, das Sie gerade abgeschickt haben, ist aufbewahrt."
    ),
}
#: the answers to a refused back-channel logout token (English, for the provider's logs)
LOGOUT_ERRORS = {
    "invalid_request": "send one logout_token, form-encoded",
    "invalid_token": "the logout token's signature, issuer, audience or times are not valid",
    "provider_unavailable": "the identity provider's keys could not be read",
    "no_logout_event": "the events claim lacks the back-channel logout event",
    "nonce_present": "a logout token must not contain a nonce",
    "no_sid_or_sub": "the logout token names neither sid nor sub",
    "no_jti": "the logout token has no jti",
    "too_old": "the logout token was issued too long ago",
    "replayed": "this logout token (jti) was received before",
}

#: the cookie that binds a sign-in at the identity provider to this browser (its state)
LOGIN_COOKIE = "hub_login"
LOGIN_COOKIE_SECURE = "__Host-hub_login"


@dataclass(frozen=True)
class DemoUser:
    key: str
    subject: str
    agency: str
    role: str
    name: str


#: the demo's users, as ``hub up`` loads the demo data with them (hub/cli.py)
DEMO_USERS = (
    DemoUser("fallmanagement", "demo-case-manager", "kim-05315", "case_manager", "Fallmanagerin"),
    DemoUser("awo", "demo-awo", "awo-05315", "partner_agency", "Beraterin der AWO"),
    DemoUser("abh", "demo-officer", "abh-05315", "abh_officer", "Sachbearbeiter der ABH"),
    DemoUser(
        "konfliktmanagement",
        "demo-board",
        "konfliktmanagement-05315",
        "conflict_board",
        "Geschäftsstelle Konfliktmanagement",
    ),
    DemoUser(
        "lenkungsgruppe", "demo-steering", "lenkungsgruppe-05315", "steering", "Lenkungsgruppe"
    ),
    DemoUser("datenschutz", "demo-dpo", "datenschutz-05315", "dpo", "Datenschutzbeauftragte"),
)
BY_KEY = {user.key: user for user in DEMO_USERS}

#: each role's first page
HOME = {
    "case_manager": "/faelle",
    "partner_agency": "/eingang",
    "abh_officer": "/personen",
    "steering": "/steuerung",
    "conflict_board": "/konflikte",
    "dpo": "/datenschutz",
    "admin": "/faelle",
}


def home_of(role: str) -> str:
    return HOME.get(role, "/start")


def _safe_target(target: str) -> str | None:
    """A local path to continue at after sign-in (never another site)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/")
    async def root(request: Request) -> Response:
        session = ws.session(request)
        if session is None:
            return RedirectResponse("/anmelden", status_code=303)
        return RedirectResponse(home_of(session.principal.role), status_code=303)

    @routes.get("/start")
    async def start(request: Request) -> Response:
        session = ws.session(request)
        if session is None:
            return ws.to_sign_in(request)
        return ws.page(request, "start.html", session)

    def login_cookie() -> str:
        return LOGIN_COOKIE if ws.dev else LOGIN_COOKIE_SECURE

    async def to_provider(request: Request, weiter: str) -> Response:
        """Sends the browser to the identity provider (a new sign-in with PKCE)."""
        assert ws.oidc is not None
        if ws.limit is not None:  # each start keeps a row: bounded per client address
            wait = await ws.limit(f"anmeldung:{request.client.host if request.client else '-'}")
            if wait > 0:
                raise RateLimited(wait)
        try:
            url, state = await ws.oidc.start(ws.sessions, weiter)
        except SignInFailed as failed:
            return ws.page(request, "signin_error.html", None, status_code=502, error=failed)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            login_cookie(),
            state,
            max_age=600,
            httponly=True,
            samesite="lax",
            secure=not ws.dev,
            path="/",
        )
        return response

    @routes.get("/anmelden")
    async def sign_in_page(request: Request, weiter: str = "", grund: str = "") -> Response:
        target = _safe_target(weiter) or ""
        ended = ENDED_MESSAGES.get(grund)
        if (
            ws.oidc is not None
            and not ws.dev
            and not request.query_params.get("abgemeldet")
            and ended is None
        ):
            return await to_provider(request, target)
        return ws.page(
            request,
            "signin.html",
            None,
            users=DEMO_USERS,
            dev=ws.dev,
            oidc=ws.oidc is not None,
            weiter=target,
            errors={},
            ended=ended,
        )

    @routes.get("/anmelden/idp")
    async def sign_in_at_provider(request: Request, weiter: str = "") -> Response:
        if ws.oidc is None:
            return RedirectResponse("/anmelden", status_code=303)
        return await to_provider(request, _safe_target(weiter) or "")

    @routes.get(CALLBACK_PATH)
    async def callback(request: Request) -> Response:
        if ws.oidc is None:
            return RedirectResponse("/anmelden", status_code=303)
        params = {key: value for key, value in request.query_params.items()}
        try:
            signed = await ws.oidc.finish(ws.sessions, params, request.cookies.get(login_cookie()))
        except SignInFailed as failed:
            response: Response = ws.page(
                request, "signin_error.html", None, status_code=400, error=failed
            )
        else:
            principal = signed.principal
            await ws.sessions.end(request.cookies.get(ws.cookie))  # a new id at every sign-in
            session = await ws.sessions.create(
                principal,
                display=labels.label(labels.ROLES, principal.role),
                provider=signed.tokens,
            )
            go = _safe_target(signed.weiter) or home_of(principal.role)
            response = RedirectResponse(go, status_code=303)
            ws.set_cookie(response, session)
        response.delete_cookie(login_cookie(), path="/", secure=not ws.dev, httponly=True)
        return response

    @routes.post("/anmelden")
    async def sign_in(request: Request) -> Response:
        if not ws.dev:
            return ws.page(
                request,
                "signin.html",
                None,
                status_code=403,
                users=(),
                dev=False,
                oidc=ws.oidc is not None,
                weiter="",
                errors={},
            )
        form = await request.form()
        key = form.get("benutzer")
        target = form.get("weiter")
        user = BY_KEY.get(key) if isinstance(key, str) else None
        if user is None:
            return ws.page(
                request,
                "signin.html",
                None,
                status_code=400,
                users=DEMO_USERS,
                dev=True,
                oidc=ws.oidc is not None,
                weiter=target if isinstance(target, str) else "",
                errors={"benutzer": "Bitte wählen Sie aus, als wer Sie sich anmelden."},
            )
        await ws.sessions.end(request.cookies.get(ws.cookie))  # a new id at every sign-in
        session = await ws.sessions.create(
            Principal(subject=user.subject, agency=user.agency, role=user.role),
            display=user.name,
        )
        go = _safe_target(target if isinstance(target, str) else "") or home_of(user.role)
        response = RedirectResponse(go, status_code=303)
        ws.set_cookie(response, session)
        return response

    def logout_answer(status: int, code: str | None = None) -> Response:
        """Back-channel logout's answers (1.0, 2.8): 200, or 400 with an error; never
        cached."""
        if code is None:
            response: Response = Response(status_code=status)
        else:
            body = {"error": "invalid_request", "error_description": LOGOUT_ERRORS[code]}
            response = JSONResponse(body, status)
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.post(BACKCHANNEL_PATH)
    async def backchannel_logout(request: Request) -> Response:
        """OpenID Connect Back-Channel Logout 1.0: the provider posts a signed logout token
        (``logout_token``, form-encoded); every workspace session of its ``sid`` (or, with
        ``sub`` alone, of that user) ends. Limited per client address like sign-in starts."""
        if ws.oidc is None:
            return Response(status_code=404, headers={"Cache-Control": "no-store"})
        if ws.limit is not None:
            wait = await ws.limit(f"rueckkanal:{request.client.host if request.client else '-'}")
            if wait > 0:
                return Response(
                    status_code=429,
                    headers={
                        "Cache-Control": "no-store",
                        "Retry-After": str(max(1, math.ceil(wait))),
                    },
                )
        form_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if form_type != "application/x-www-form-urlencoded":
            return logout_answer(400, "invalid_request")
        try:
            form = await request.form()
        except Exception:  # an unreadable body is a bad request, whatever the parser says
            return logout_answer(400, "invalid_request")
        tokens = form.getlist("logout_token")
        if len(tokens) != 1 or not isinstance(tokens[0], str) or not tokens[0]:
            return logout_answer(400, "invalid_request")
        try:
            verified = await asyncio.to_thread(ws.oidc.logout_token, tokens[0])
        except LogoutRefused as refused:
            log.warning("back-channel logout refused: %s", refused.code)
            return logout_answer(400, refused.code)
        if not await ws.sessions.first_logout_token(ws.oidc.issuer, verified.jti, verified.until):
            log.warning("back-channel logout refused: replayed")
            return logout_answer(400, "replayed")
        ended = await ws.sessions.end_at_provider(sid=verified.sid, subject=verified.subject)
        log.info("back-channel logout: %d workspace session(s) ended", ended)
        return logout_answer(200)

    @routes.post("/abmelden")
    async def sign_out(request: Request) -> Response:
        session = ws.session(request)
        if session is not None:
            form = await request.form()
            if not session.csrf_ok(first([v for v in form.getlist("csrf") if isinstance(v, str)])):
                return ws.page(request, "refused.html", session, status_code=403, csrf=True)
            await ws.sessions.end(session.id)
        away = await ws.oidc.logout_url() if ws.oidc is not None else None
        response = RedirectResponse(away or "/anmelden?abgemeldet=1", status_code=303)
        # a __Host- cookie is only replaced (here: expired) by one that is Secure as well
        response.delete_cookie(ws.cookie, path="/", secure=not ws.dev, httponly=True)
        return response

    return routes
