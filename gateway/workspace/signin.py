"""Sign-in and sign-out. In development one picks a demo user (role and agency); elsewhere the
page says that sign-in through the identity provider is not configured yet."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.auth import Principal
from gateway.workspace.web import Workspace, first


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

    @routes.get("/anmelden")
    async def sign_in_page(request: Request, weiter: str = "") -> Response:
        return ws.page(
            request,
            "signin.html",
            None,
            users=DEMO_USERS,
            dev=ws.dev,
            weiter=_safe_target(weiter) or "",
            errors={},
        )

    @routes.post("/anmelden")
    async def sign_in(request: Request) -> Response:
        if not ws.dev:
            return ws.page(
                request, "signin.html", None, status_code=403, users=(), dev=False, errors={}
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
                weiter=target if isinstance(target, str) else "",
                errors={"benutzer": "Bitte wählen Sie aus, als wer Sie sich anmelden."},
            )
        ws.sessions.end(request.cookies.get(ws.cookie))  # a new id at every sign-in
        session = ws.sessions.create(
            Principal(subject=user.subject, agency=user.agency, role=user.role),
            display=user.name,
        )
        go = _safe_target(target if isinstance(target, str) else "") or home_of(user.role)
        response = RedirectResponse(go, status_code=303)
        ws.set_cookie(response, session)
        return response

    @routes.post("/abmelden")
    async def sign_out(request: Request) -> Response:
        session = ws.session(request)
        if session is not None:
            form = await request.form()
            if not session.csrf_ok(first([v for v in form.getlist("csrf") if isinstance(v, str)])):
                return ws.page(request, "refused.html", session, status_code=403, csrf=True)
            ws.sessions.end(session.id)
        response = RedirectResponse("/anmelden?abgemeldet=1", status_code=303)
        response.delete_cookie(ws.cookie, path="/")
        return response

    return routes
