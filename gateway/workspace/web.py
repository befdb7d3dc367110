"""What every page of the workspace shares: the session, CSRF, templates, and the one path
to the data (the gateway's GraphQL schema executed in-process, with the same context and
authorisation as ``/graphql``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import asyncpg
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from gateway.auth import Principal
from gateway.context import BadPurpose, HubContext, request_purpose
from gateway.workspace import forms, labels
from gateway.workspace.sessions import Renewed, Session, SessionEnded, SessionStore

if TYPE_CHECKING:
    from gateway.workspace.oidc import OidcSignIn

HERE = Path(__file__).parent
#: the workspace's pages: only their own scripts, styles and fonts; SVG drawn inline
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
COOKIE = "hub_session"
#: a secure cookie's name (prod): bound to this host and HTTPS
COOKIE_SECURE = "__Host-hub_session"

ContextFactory = Callable[[Principal, str | None], HubContext]
#: the API's rate limit: takes a request of a subject, answers the seconds to wait (0: go on)
RateLimit = Callable[[str], Awaitable[float]]
#: where a request's session and restored draft are kept once loaded (``Workspace.load``)
SESSION_KEY = "hub.workspace.session"
DRAFT_KEY = "hub.workspace.draft"
#: the subject of a session that expired with this request (its form becomes their draft)
EXPIRED_KEY = "hub.workspace.expired"
#: why the identity provider's session ended with this request (``grund`` of the sign-in page)
ENDED_KEY = "hub.workspace.ended"


class RateLimited(Exception):
    """A signed-in user sent more requests than the API's rate limit allows."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


#: German messages for the API's error codes (the API's own messages are English)
CODE_MESSAGES = {
    "forbidden": "Dafür hat Ihre Rolle keine Berechtigung.",
    "not_found": "Der Datensatz wurde nicht gefunden oder ist für Sie nicht sichtbar.",
    "unknown_person": "Die Person ist unbekannt oder für Sie nicht sichtbar.",
    "not_allowed": "Der Datensatz lässt diese Aktion in seinem jetzigen Zustand nicht zu.",
    "consent_missing": "Keine gültige Einwilligung deckt diese Übermittlung.",
    "conflict": "Der Datensatz wurde inzwischen geändert. Bitte versuchen Sie es erneut.",
    "unavailable": "Der zuständige Dienst antwortet gerade nicht. Bitte später erneut versuchen.",
    "not_caught_up": "Die Anzeige ist noch nicht aktuell. Bitte laden Sie die Seite neu.",
    "invalid_input": "Eine Eingabe ist ungültig.",
    "invalid_value": "Ein Wert ist nicht zulässig.",
    "restricted": "Die Verarbeitung der Daten dieser Person ist eingeschränkt.",
    "erased": "Die Daten dieser Person wurden gelöscht.",
}

#: a command the service took and did not answer in time (``outcome: unknown``): it may be
#: recorded, so sending the form again could record it twice
OUTCOME_UNKNOWN = (
    "Der zuständige Dienst hat nicht rechtzeitig geantwortet. Die Eingabe ist möglicherweise"
    " trotzdem gespeichert worden: Bitte prüfen Sie das, bevor Sie sie erneut absenden."
)

_MISSING = [
    (re.compile(r"the consent was withdrawn"), "die Einwilligung wurde widerrufen"),
    (re.compile(r"the consent expired on (\S+)"), "die Einwilligung ist am {0} abgelaufen"),
    (
        re.compile(r"recipient (\S+) is not named in the consent"),
        "die Stelle {0} ist in der Einwilligung nicht als Empfängerin genannt",
    ),
    (
        re.compile(r"data categories not covered: (.+)"),
        "diese Datenkategorien sind nicht erfasst: {0}",
    ),
    (
        re.compile(r"special categories \((.+)\) need explicit consent"),
        "besondere Kategorien ({0}) brauchen eine ausdrückliche Einwilligung (Art. 9 DSGVO)",
    ),
    (re.compile(r"no purpose was named"), "es wurde kein Zweck genannt"),
    (
        re.compile(r"purpose (\S+) is not named in the consent"),
        "der Zweck „{0}“ ist in der Einwilligung nicht genannt",
    ),
    (
        re.compile(r"the consent was given only on (\S+)"),
        "die Einwilligung wurde erst am {0} erteilt",
    ),
]


def missing_de(part: str) -> str:
    """A part the consent lacks (the service's words) in German, codes as labels."""
    for pattern, german in _MISSING:
        found = pattern.search(part)
        if found:
            values = [_code_de(value) for value in found.groups()]
            return german.format(*values)
    return part


def _code_de(value: str) -> str:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return labels.date_de(value)
    if value in labels.PURPOSES:
        return labels.PURPOSES[value][0]
    if "," in value or value in labels.CATEGORIES:
        parts = [p.strip() for p in value.split(",")]
        return ", ".join(labels.CATEGORIES[p][0] if p in labels.CATEGORIES else p for p in parts)
    return value


@dataclass
class Problem:
    """One error of an answer, for the page: German text, the form field at fault."""

    message: str
    code: str
    field: str | None = None
    missing: list[str] = dataclasses.field(default_factory=list)


@dataclass
class Answer:
    data: dict[str, Any]
    problems: list[Problem]
    notices: list[dict[str, str]]

    @property
    def ok(self) -> bool:
        return not self.problems


class Workspace:
    """The workspace's shared parts, built once by the gateway."""

    def __init__(
        self,
        *,
        schema: Any,
        contexts: ContextFactory,
        env: str,
        pool: Callable[[], asyncpg.Pool | None] = lambda: None,
        sessions: SessionStore | None = None,
        limit: RateLimit | None = None,
        oidc: OidcSignIn | None = None,
    ) -> None:
        self.schema = schema
        self.contexts = contexts
        self.env = env
        self.dev = env == "dev"
        #: sessions, one-time form tokens and drafts, in the gateway's database
        self.sessions = sessions or SessionStore(pool)
        self.limit = limit
        #: the OpenID Connect sign-in (gateway/workspace/oidc.py), when configured
        self.oidc = oidc
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        env_ = self.templates.env
        env_.filters["datum"] = labels.date_de
        env_.filters["zeit"] = labels.datetime_de
        env_.filters["zahl"] = labels.number_de
        env_.globals["L"] = labels
        env_.globals["label"] = labels.label

    # -- sessions ---------------------------------------------------------------------------

    @property
    def cookie(self) -> str:
        return COOKIE if self.dev else COOKIE_SECURE

    async def load(self, request: Request) -> None:
        """Every page's first step (a dependency of the workspace's routes): the session of
        the request's cookie, a draft named in ``?entwurf=`` for this page, and the API's
        rate limit for the signed-in principal (raises :class:`RateLimited`). A session
        signed in at the identity provider whose access token is about to expire is renewed
        first (``SessionStore.refresh``); if the provider refuses, the session ends here."""
        found = await self.sessions.lookup(request.cookies.get(self.cookie))
        session, owner, ended = found.session, found.owner, found.ended
        if session is not None and self.limit is not None:
            wait = await self.limit(session.principal.subject)
            if wait > 0:
                raise RateLimited(wait)
        if session is not None and session.due(self.sessions.clock()):
            try:
                session = await self.sessions.refresh(
                    session, self._renew if self.oidc is not None else None
                )
            except SessionEnded as over:
                session, owner, ended = None, over.subject, over.reason
        request.scope[SESSION_KEY] = session
        if session is None:
            request.scope[EXPIRED_KEY] = owner
            request.scope[ENDED_KEY] = ended
            return
        draft = request.query_params.get("entwurf")
        if draft and request.method == "GET":
            request.scope[DRAFT_KEY] = await self.sessions.take_draft(
                draft, request.url.path, session.principal.subject
            )

    async def _renew(self, refresh_token: str, subject: str) -> Renewed:
        """The provider's new tokens for a session, with the display name of its role."""
        assert self.oidc is not None
        renewed = await self.oidc.renew(refresh_token, subject)
        return dataclasses.replace(
            renewed, display=labels.label(labels.ROLES, renewed.principal.role)
        )

    def session(self, request: Request) -> Session | None:
        """The request's session, as :meth:`load` found it."""
        found = request.scope.get(SESSION_KEY)
        return found if isinstance(found, Session) else None

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            self.cookie,
            session.id,
            httponly=True,
            samesite="lax",
            secure=not self.dev,
            path="/",
        )

    def to_sign_in(self, request: Request) -> RedirectResponse:
        """The sign-in page, continuing at this page afterwards (a GET; an action sent
        without a session continues at the user's first page)."""
        if request.method != "GET":
            return RedirectResponse(self._sign_in_url(request, None), status_code=303)
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(self._sign_in_url(request, target), status_code=303)

    @staticmethod
    def _sign_in_url(request: Request, weiter: str | None) -> str:
        """``/anmelden``, continuing at ``weiter``, saying why the identity provider's
        session ended (``grund``) when it ended with this request."""
        query = [f"weiter={quote(weiter)}"] if weiter else []
        ended = request.scope.get(ENDED_KEY)
        if isinstance(ended, str):
            query.append(f"grund={quote(ended)}")
        return "/anmelden" + ("?" + "&".join(query) if query else "")

    def guard(self, request: Request, roles: frozenset[str]) -> Session | Response:
        """The signed-in session, if its role may use the page; else the sign-in page (no
        session) or a refusal (403)."""
        session = self.session(request)
        if session is None:
            return self.to_sign_in(request)
        if session.principal.role not in roles:
            return self.page(request, "refused.html", session, status_code=403)
        return session

    async def guard_form(self, request: Request, roles: frozenset[str]) -> Session | Response:
        """As :meth:`guard`, for a form's POST: without a session the form's values are kept
        (not its tokens) and the user continues at the form, filled in, after signing in."""
        session = self.session(request)
        if session is not None:
            return self.guard(request, roles)
        form = await request.form()
        values: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str) and key not in ("csrf", "formular"):
                values.setdefault(key, []).append(value)
        owner = request.scope.get(EXPIRED_KEY)
        draft = await self.sessions.keep_draft(
            request.url.path, values, owner if isinstance(owner, str) else None
        )
        target = f"{request.url.path}?entwurf={draft}"
        return RedirectResponse(self._sign_in_url(request, target), status_code=303)

    def draft(self, request: Request, *many: str) -> dict[str, Any] | None:
        """The values of a form sent after its session ended, once, on the same page."""
        values = request.scope.get(DRAFT_KEY)
        if not isinstance(values, dict):
            return None
        return {
            name: [v for v in items if v] if name in many else (items[0] if items else "")
            for name, items in values.items()
        }

    async def posted(self, request: Request, session: Session) -> dict[str, list[str]] | Response:
        """The submitted form, when its CSRF token is the session's; else a refusal (403)."""
        form = await request.form()
        values: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                values.setdefault(key, []).append(value)
        if not session.csrf_ok(first(values.get("csrf", []))):
            return self.page(request, "refused.html", session, status_code=403, csrf=True)
        return values

    async def submitted(
        self, request: Request, roles: frozenset[str]
    ) -> tuple[Session, dict[str, list[str]]] | Response:
        """A form's POST by a signed-in user of ``roles`` with the session's CSRF token: the
        session and the form (:meth:`guard_form`, then :meth:`posted`), else their answer."""
        session = await self.guard_form(request, roles)
        if not isinstance(session, Session):
            return session
        form = await self.posted(request, session)
        if not isinstance(form, dict):
            return form
        return session, form

    async def once(
        self, session: Session, token: str, action: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        """Runs ``action`` once per form token: a repeated submit (a double click) waits for
        the first and gets its result (the page to go to) without sending the command
        again. An ``action`` that answers ``None`` (the form had errors) may run again."""
        return await self.sessions.once(session, token, action)

    # -- pages ------------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status_code: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        response = self.templates.TemplateResponse(
            request,
            template,
            {"session": session, "user": session.principal if session else None, **values},
            status_code=status_code,
        )
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- the data ---------------------------------------------------------------------------

    async def send(
        self,
        session: Session,
        token: str,
        errors: dict[str, str],
        document: str,
        variables: dict[str, Any],
        then: Callable[[dict[str, Any]], str],
        refusals: Callable[[list[Problem]], dict[str, str]] = forms.api_errors,
    ) -> tuple[str | None, dict[str, str], list[Problem]]:
        """A form's mutation, sent once per form token (:meth:`once`) and only when the form
        has no errors of its own. Answers the page to go to (``then`` of the answer's data), or
        ``None`` with the form's errors (its own, or the API's refusals as form errors by
        ``refusals``) and the API's problems."""
        found = dict(errors)
        problems: list[Problem] = []

        async def act() -> str | None:
            if found:
                return None
            answer = await self.graphql(session, document, variables)
            if not answer.ok:
                problems.extend(answer.problems)
                found.update(refusals(answer.problems))
                return None
            return then(answer.data)

        return await self.once(session, token, act), found, problems

    async def graphql(
        self,
        session: Session,
        document: str,
        variables: dict[str, Any] | None = None,
        *,
        purpose: str | None = None,
    ) -> Answer:
        """Runs ``document`` through the gateway's schema as the session's principal, for
        ``purpose`` (checked as the ``Hub-Purpose`` header is)."""
        try:
            checked = request_purpose(purpose, session.principal) if purpose else None
        except BadPurpose:
            return Answer({}, [Problem("Dieser Zweck ist nicht bekannt.", "bad_purpose")], [])
        context = self.contexts(session.principal, checked)
        result = await self.schema.execute(
            document, variable_values=variables or {}, context_value=context
        )
        problems = [problem(error) for error in result.errors or []]
        notices = list((result.extensions or {}).get("notices", []))
        return Answer(result.data or {}, problems, notices)

    def may_subscribe(self, session: Session) -> bool:
        """Whether the session's principal has room for another live subscription in this
        gateway process (``HUB_SUBSCRIPTIONS_PER_SUBJECT``)."""
        notifier = self.contexts(session.principal, None).notifier
        return notifier is None or bool(notifier.has_room(session.principal.subject))

    async def subscribe(
        self, session: Session, document: str, *, purpose: str | None = None
    ) -> Any:
        """A subscription through the gateway's schema as the session's principal: its
        results as an async iterator, or ``None`` when it is refused before it starts."""
        try:
            checked = request_purpose(purpose, session.principal) if purpose else None
        except BadPurpose:
            return None
        context = self.contexts(session.principal, checked)
        stream = await self.schema.subscribe(document, context_value=context)
        return stream if hasattr(stream, "__aiter__") else None


def problem(error: Any) -> Problem:
    extensions = getattr(error, "extensions", None) or {}
    code = str(extensions.get("code", "internal"))
    missing = [missing_de(str(m)) for m in extensions.get("missing", []) or []]
    message = CODE_MESSAGES.get(code, "Ein unerwarteter Fehler ist aufgetreten.")
    if code == "unavailable" and extensions.get("outcome") == "unknown":
        message = OUTCOME_UNKNOWN
    return Problem(message, code, extensions.get("field"), missing)


def first(values: list[str]) -> str:
    return values[0] if values else ""
