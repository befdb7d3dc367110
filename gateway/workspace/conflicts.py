"""Kommunales Konfliktmanagement: the conflicts by Glasl stage, one conflict with its
escalations, interventions and the append-only board log, and the escalation form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.roles import BOARD
from gateway.workspace import forms
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

CONFLICTS = """query($atLeast: String) {
  conflicts(atLeast: $atLeast) { id kind district stage phase status reportedAt }
}"""
CONFLICT = """query($id: ID!, $atLeast: String) {
  conflict(id: $id, atLeast: $atLeast) {
    id kind district stage phase status description reportedAt resolvedAt outcome
    parties { type name }
    escalations { at fromStage toStage toBody reason agency }
    interventions { id format scheduledFor facilitator outcome stageAfter }
    log { position at agency role kind text entryId corrects }
  }
}"""
ESCALATE = """mutation($input: EscalateConflictInput!) {
  escalateConflict(input: $input) { position }
}"""
BODIES = {
    "board": "Konfliktmanagement-Gremium",
    "steering_group": "Lenkungsgruppe",
    "mayors_office": "Büro der Bürgermeisterin / des Bürgermeisters",
}
KINDS = {
    "neighbourhood": "Nachbarschaft",
    "school": "Schule",
    "housing": "Wohnen",
    "administration": "Verwaltung",
    "workplace": "Arbeitsplatz",
    "public_space": "Öffentlicher Raum",
    "religious_community": "Religionsgemeinschaft",
    "other": "Anderes",
}


def check_escalation(form: forms.Form, stage: int) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    to_stage_text = forms.one(form, "stufe")
    to_stage = int(to_stage_text) if to_stage_text.isdigit() else 0
    if not stage < to_stage <= 9:
        errors["stufe"] = f"Bitte wählen Sie eine Glasl-Stufe über {stage} (höchstens 9)."
    body = forms.one(form, "gremium")
    if body not in BODIES:
        errors["gremium"] = "Bitte wählen Sie, an wen eskaliert wird."
    reason = forms.one(form, "begruendung")
    if not reason:
        errors["begruendung"] = "Bitte begründen Sie die Eskalation (ohne Namen von Personen)."
    elif len(reason) > 2000:
        errors["begruendung"] = "Die Begründung darf höchstens 2000 Zeichen lang sein."
    return {"toStage": to_stage, "toBody": body, "reason": reason}, errors


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/konflikte")
    async def conflicts(request: Request) -> Response:
        session = ws.guard(request, BOARD)
        if not isinstance(session, Session):
            return session
        answer = await ws.graphql(session, CONFLICTS, {"atLeast": None})
        found = sorted(
            answer.data.get("conflicts") or [], key=lambda c: (-c["stage"], c["district"])
        )
        return ws.page(
            request,
            "conflicts/list.html",
            session,
            conflicts=found,
            kinds=KINDS,
            problems=answer.problems,
        )

    async def detail(
        request: Request,
        session: Session,
        conflict_id: str,
        at_least: str | None,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        status_code: int = 200,
    ) -> Response:
        answer = await ws.graphql(session, CONFLICT, {"id": conflict_id, "atLeast": at_least})
        conflict = answer.data.get("conflict")
        if conflict is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        return ws.page(
            request,
            "conflicts/detail.html",
            session,
            status_code=status_code,
            conflict=conflict,
            kinds=KINDS,
            bodies=BODIES,
            values=values,
            errors=errors,
            token=token,
            query=dict(request.query_params),
        )

    @routes.get("/konflikte/{conflict_id}")
    async def conflict(request: Request, conflict_id: str) -> Response:
        session = ws.guard(request, BOARD)
        if not isinstance(session, Session):
            return session
        at_least = request.query_params.get("stand") or None
        return await detail(request, session, conflict_id, at_least, {}, {}, session.form_token())

    @routes.post("/konflikte/{conflict_id}/eskalation")
    async def escalate(request: Request, conflict_id: str) -> Response:
        session = ws.guard(request, BOARD)
        if not isinstance(session, Session):
            return session
        form = await ws.posted(request, session)
        if not isinstance(form, dict):
            return form
        stage_text = forms.one(form, "bisher")
        value, errors = check_escalation(form, int(stage_text) if stage_text.isdigit() else 0)
        token = forms.one(form, "formular")

        async def act() -> str | None:
            nonlocal errors
            if errors:
                return None
            answer = await ws.graphql(
                session, ESCALATE, {"input": {"conflictId": conflict_id, **value}}
            )
            if not answer.ok:
                errors = forms.api_errors(answer.problems)
                return None
            position = answer.data["escalateConflict"]["position"]
            return f"/konflikte/{conflict_id}?stand={position}&eskaliert=1"

        target = await ws.once(session, token, act)
        if target is None:
            return await detail(
                request, session, conflict_id, None, forms.kept(form), errors, token, 400
            )
        return RedirectResponse(target, status_code=303)

    return routes
