"""Fallmanagement: Fallübersicht, Fallaufnahme, Fallakte, Einwilligung erfassen and
widerrufen, Überweisung senden."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.positions import Position
from contracts.roles import CASE_MANAGERS
from gateway.context import today
from gateway.workspace import forms, labels
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

CASELOAD = """query($closed: Boolean!, $atLeast: String) {
  caseload(includeClosed: $closed, atLeast: $atLeast) {
    openCases closedCases referralsWaiting unservedMediation
    cases { id personId targetGroup legalSpheres intakeSource interpreterNeeded openedOn status
            needs { domain level } referrals { status } consents { status } }
  }
}"""
CASE = """query($id: ID!, $atLeast: String) {
  case(id: $id, atLeast: $atLeast) {
    id personId agency targetGroup legalSpheres intakeSource interpreterNeeded openedOn status
    closedOn closeReason conferences lastConference
    legalSphereChanges { fromSphere toSphere effectiveOn position }
    caseConferences { heldOn participants position }
    needs { domain level }
    goals { id domain targetDate }
    consents { id recipients categories purposes specialCategoriesExplicit validFrom validUntil
               language mutual status endedOn }
    referrals { id toAgency service purpose sharedCategories status sentAt answeredAt
                declineReason outcome consentStatus }
    mediation { id language startsAt minutes status reason }
  }
}"""
TIMELINE = """query($id: ID!) {
  person(id: $id) { timeline(limit: 200) { occurredAt service eventType summary position } }
}"""
OPEN_CASE = """mutation($input: OpenCaseInput!) {
  openCase(input: $input) { caseId personId position }
}"""
GRANT = """mutation($input: GrantConsentInput!) {
  grantConsent(input: $input) { consentId position }
}"""
WITHDRAW = """mutation($input: WithdrawConsentInput!) {
  withdrawConsent(input: $input) { position }
}"""
REFER = """mutation($input: SendReferralInput!) {
  sendReferral(input: $input) { referralId position }
}"""


#: the case's events the Fallakte says in full from the case's data, not the timeline's text
_HISTORY = frozenset({"legal_sphere_changed", "case_conference_held"})
_SERVICE = "case_management"


def _unexplained(case: dict[str, Any], rows: list[dict[str, Any]]) -> int | None:
    """The newest position of a Rechtskreiswechsel or conference on the timeline that the
    case's data lacks (the case's read model may trail the timeline's), or ``None``."""
    known = labels.case_history_de(case)
    missing = [
        row["position"]
        for row in rows
        if row["service"] == _SERVICE
        and labels.event_name(row["eventType"]) in _HISTORY
        and row["position"] not in known
    ]
    return max(missing, default=None)


def _timeline_de(case: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline rows, each with its German ``text``: the case's own Rechtskreiswechsel and
    conferences in full from the case's data, every other row by its type and dates."""
    known = labels.case_history_de(case)
    return [
        {
            **row,
            "text": (known.get(row["position"]) if row["service"] == _SERVICE else None)
            or labels.timeline_de(row["eventType"], row["summary"]),
        }
        for row in rows
    ]


def _filtered(cases: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    group, sphere = query.get("zielgruppe", ""), query.get("rechtskreis", "")
    waiting = query.get("offen") == "ueberweisung"
    found = []
    for case in cases:
        if group and case["targetGroup"] != group:
            continue
        if sphere and sphere not in case["legalSpheres"]:
            continue
        if waiting and not any(r["status"] == "sent" for r in case["referrals"]):
            continue
        found.append(case)
    return found


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    async def load_case(session: Session, case_id: str, at_least: str | None) -> Any:
        answer = await ws.graphql(session, CASE, {"id": case_id, "atLeast": at_least or None})
        return answer.data.get("case") if answer.ok else None

    @routes.get("/faelle")
    async def caseload(request: Request) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        query = dict(request.query_params)
        closed = query.get("status") in ("alle", "closed")
        answer = await ws.graphql(
            session, CASELOAD, {"closed": closed, "atLeast": query.get("stand") or None}
        )
        load = answer.data.get("caseload") or {}
        cases = _filtered(load.get("cases", []), query)
        if query.get("status") == "closed":
            cases = [c for c in cases if c["status"] == "closed"]
        return ws.page(
            request,
            "cases/list.html",
            session,
            load=load,
            cases=cases,
            query=query,
            problems=answer.problems,
        )

    async def intake_page(
        request: Request,
        session: Session,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        status_code: int = 200,
        restored: bool = False,
    ) -> Response:
        return ws.page(
            request,
            "cases/new.html",
            session,
            status_code=status_code,
            values=values,
            errors=errors,
            token=token,
            restored=restored,
        )

    @routes.get("/faelle/neu")
    async def intake_form(request: Request) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        draft = ws.draft(request, "rechtskreise")
        return await intake_page(
            request, session, draft or {}, {}, session.form_token(), restored=draft is not None
        )

    @routes.post("/faelle/neu")
    async def intake(request: Request) -> Response:
        sent = await ws.submitted(request, CASE_MANAGERS)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        token = forms.one(form, "formular")
        value, errors = forms.open_case(form, today())

        def opened(data: dict[str, Any]) -> str:
            case = data["openCase"]
            return f"/faelle/{case['caseId']}?stand={case['position']}&neu=1"

        target, errors, _ = await ws.send(
            session, token, errors, OPEN_CASE, {"input": value}, opened
        )
        if target is None:
            values = forms.kept(form, "rechtskreise")
            return await intake_page(request, session, values, errors, token, 400)
        return RedirectResponse(target, status_code=303)

    @routes.get("/faelle/{case_id}")
    async def case_file(request: Request, case_id: str) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        query = dict(request.query_params)
        case = await load_case(session, case_id, query.get("stand"))
        if case is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        purpose = query.get("zweck") or None
        timeline = await ws.graphql(session, TIMELINE, {"id": case["personId"]}, purpose=purpose)
        person = timeline.data.get("person") or {}
        rows = person.get("timeline") or []
        behind = _unexplained(case, rows)
        if behind is not None:  # the timeline shows more of the case: read the case that far
            token = Position(_SERVICE, behind).token()
            case = await load_case(session, case_id, token) or case
        return ws.page(
            request,
            "cases/detail.html",
            session,
            case=case,
            query=query,
            purpose=purpose,
            timeline=_timeline_de(case, rows),
            sphere_changes=[labels.sphere_change(c) for c in case["legalSphereChanges"]],
            conferences=[labels.conference(c) for c in case["caseConferences"]],
            notices=timeline.notices,
            problems=timeline.problems,
            token=session.form_token(),
        )

    async def consent_page(
        request: Request,
        session: Session,
        case: Any,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        status_code: int = 200,
        restored: bool = False,
    ) -> Response:
        return ws.page(
            request,
            "cases/consent.html",
            session,
            status_code=status_code,
            case=case,
            values=values,
            errors=errors,
            token=token,
            restored=restored,
        )

    @routes.get("/faelle/{case_id}/einwilligung")
    async def consent_form(request: Request, case_id: str) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        case = await load_case(session, case_id, None)
        if case is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        draft = ws.draft(request, "kategorien", "zwecke")
        return await consent_page(
            request, session, case, draft or {}, {}, session.form_token(), restored=bool(draft)
        )

    @routes.post("/faelle/{case_id}/einwilligung")
    async def consent(request: Request, case_id: str) -> Response:
        sent = await ws.submitted(request, CASE_MANAGERS)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        case = await load_case(session, case_id, None)
        if case is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        token = forms.one(form, "formular")
        value, errors = forms.grant_consent(form, case_id, today())

        target, errors, _ = await ws.send(
            session,
            token,
            errors,
            GRANT,
            {"input": value},
            lambda data: (
                f"/faelle/{case_id}?stand={data['grantConsent']['position']}&einwilligung=1"
            ),
        )
        if target is None:
            values = forms.kept(form, "kategorien", "zwecke")
            return await consent_page(request, session, case, values, errors, token, 400)
        return RedirectResponse(target, status_code=303)

    @routes.post("/faelle/{case_id}/einwilligung/{consent_id}/widerruf")
    async def withdraw(request: Request, case_id: str, consent_id: str) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        form = await ws.posted(request, session)
        if not isinstance(form, dict):
            return form

        async def act() -> str | None:
            answer = await ws.graphql(session, WITHDRAW, {"input": {"consentId": consent_id}})
            if not answer.ok:
                return f"/faelle/{case_id}?fehler={answer.problems[0].code}"
            position = answer.data["withdrawConsent"]["position"]
            return f"/faelle/{case_id}?stand={position}&widerrufen=1"

        target = await ws.once(session, forms.one(form, "formular"), act)
        return RedirectResponse(target or f"/faelle/{case_id}", status_code=303)

    async def referral_page(
        request: Request,
        session: Session,
        case: Any,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        missing: list[str],
        status_code: int = 200,
        restored: bool = False,
    ) -> Response:
        return ws.page(
            request,
            "cases/referral.html",
            session,
            status_code=status_code,
            case=case,
            values=values,
            errors=errors,
            token=token,
            restored=restored,
            missing=missing,
        )

    @routes.get("/faelle/{case_id}/ueberweisung")
    async def referral_form(request: Request, case_id: str) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        case = await load_case(session, case_id, None)
        if case is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        draft = ws.draft(request, "kategorien")
        return await referral_page(
            request,
            session,
            case,
            draft or {},
            {},
            session.form_token(),
            [],
            restored=draft is not None,
        )

    @routes.post("/faelle/{case_id}/ueberweisung")
    async def refer(request: Request, case_id: str) -> Response:
        sent = await ws.submitted(request, CASE_MANAGERS)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        case = await load_case(session, case_id, None)
        if case is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        token = forms.one(form, "formular")
        value, errors = forms.send_referral(form, case_id)
        target, errors, problems = await ws.send(
            session,
            token,
            errors,
            REFER,
            {"input": value},
            lambda data: (
                f"/faelle/{case_id}?stand={data['sendReferral']['position']}&ueberwiesen=1"
            ),
            lambda problems: forms.api_errors(problems, fallback="einwilligung"),
        )
        missing = [m for p in problems for m in p.missing]
        if target is None:
            values = forms.kept(form, "kategorien")
            return await referral_page(request, session, case, values, errors, token, missing, 400)
        return RedirectResponse(target, status_code=303)

    return routes
