"""Lenkungsgruppe: the gaps board. The systemic gaps reported by case managers and the conflict
board, each with its forms: triage (priority, owner), decide a measure, mark a measure
completed, close the gap once its measures are done (the steering group's mutations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.roles import STEERING
from gateway.context import today
from gateway.workspace import forms, labels
from gateway.workspace.gaps import CATEGORIES as GAP_CATEGORIES
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

GAPS = """query($atLeast: String) {
  steering { gaps(atLeast: $atLeast) {
    id origin category legalSphere affectedCount reportedOn status priority owner resolution
    measures { id title owner due completedOn }
  } }
}"""
TRIAGE = """mutation($input: TriageGapInput!) { triageGap(input: $input) { position } }"""
MEASURE = """mutation($input: DecideMeasureInput!) { decideMeasure(input: $input) { position } }"""
COMPLETE = """mutation($input: CompleteMeasureInput!) {
  completeMeasure(input: $input) { position } }"""
CLOSE = """mutation($input: CloseGapInput!) { closeGap(input: $input) { position } }"""

CATEGORIES = {**GAP_CATEGORIES, "social_cohesion": "Sozialer Zusammenhalt"}
STATUS = {"new": "neu", "triaged": "eingeordnet", "closed": "geschlossen"}
PRIORITIES = {"high": "hoch", "medium": "mittel", "low": "niedrig"}
ORIGINS = {
    "case_management": "KIM-Case-Management",
    "conflict_management": "Konfliktmanagement",
    "conflict_board": "Konfliktmanagement",
}

Check = Callable[[forms.Form, dict[str, Any]], tuple[dict[str, Any], forms.Errors]]


def _text(form: forms.Form, name: str, low: int, high: int, what: str) -> tuple[str, str | None]:
    text = forms.one(form, name)
    if len(text) < low:
        return text, f"Bitte {what} (mindestens {low} Zeichen)."
    if len(text) > high:
        return text, f"Bitte höchstens {high} Zeichen."
    return text, None


def check_triage(form: forms.Form, gap: dict[str, Any]) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    priority = forms.one(form, "prioritaet")
    if priority not in PRIORITIES:
        errors["prioritaet"] = "Bitte wählen Sie die Priorität."
    owner, error = _text(form, "zustaendig", 3, 200, "nennen Sie die zuständige Stelle")
    if error:
        errors["zustaendig"] = error
    return {"priority": priority, "owner": owner}, errors


def check_measure(form: forms.Form, gap: dict[str, Any]) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    title, error = _text(form, "titel", 3, 300, "beschreiben Sie die Maßnahme")
    if error:
        errors["titel"] = error
    owner, error = _text(form, "verantwortlich", 3, 200, "nennen Sie die verantwortliche Stelle")
    if error:
        errors["verantwortlich"] = error
    due_text = forms.one(form, "faellig")
    due = forms.parse_date(due_text) if due_text else None
    if due is None:
        errors["faellig"] = "Bitte geben Sie das Fälligkeitsdatum als TT.MM.JJJJ ein."
    elif due < today():
        errors["faellig"] = "Das Fälligkeitsdatum darf nicht in der Vergangenheit liegen."
    return {"title": title, "owner": owner, "due": due.isoformat() if due else ""}, errors


def check_completion(form: forms.Form, gap: dict[str, Any]) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    open_ids = {m["id"] for m in gap["measures"] if not m["completedOn"]}
    measure = forms.one(form, "massnahme")
    if measure not in open_ids:
        errors["massnahme"] = "Bitte wählen Sie eine offene Maßnahme."
    done_text = forms.one(form, "erledigt_am")
    done = forms.parse_date(done_text) if done_text else None
    if done is None:
        errors["erledigt_am"] = "Bitte geben Sie das Datum als TT.MM.JJJJ ein."
    elif done > today():
        errors["erledigt_am"] = "Das Datum darf nicht in der Zukunft liegen."
    return {"measureId": measure, "completedOn": done.isoformat() if done else ""}, errors


def check_closing(form: forms.Form, gap: dict[str, Any]) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    if any(not m["completedOn"] for m in gap["measures"]):
        errors["ergebnis"] = "Erst wenn alle Maßnahmen erledigt sind, kann die Lücke schließen."
    resolution, error = _text(
        form, "ergebnis", 3, 2000, "beschreiben Sie, wie die Lücke geschlossen wurde"
    )
    if error:
        errors["ergebnis"] = error
    return {"resolution": resolution}, errors


#: each form of a gap's page: its check, mutation, the API's fields -> the form's, the flag
FORMS: dict[str, tuple[Check, str, dict[str, str], str]] = {
    "einordnung": (
        check_triage,
        TRIAGE,
        {"priority": "prioritaet", "owner": "zustaendig", "gapId": "prioritaet"},
        "eingeordnet",
    ),
    "massnahme": (
        check_measure,
        MEASURE,
        {"title": "titel", "owner": "verantwortlich", "due": "faellig", "gapId": "titel"},
        "beschlossen",
    ),
    "erledigt": (
        check_completion,
        COMPLETE,
        {"measureId": "massnahme", "completedOn": "erledigt_am"},
        "erledigt",
    ),
    "schliessen": (
        check_closing,
        CLOSE,
        {"resolution": "ergebnis", "gapId": "ergebnis"},
        "geschlossen",
    ),
}


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    async def load(session: Session, at_least: str | None) -> tuple[list[dict[str, Any]], Any]:
        answer = await ws.graphql(session, GAPS, {"atLeast": at_least})
        steering = answer.data.get("steering") or {}
        return list(steering.get("gaps") or []), answer

    def common() -> dict[str, Any]:
        return {
            "categories": CATEGORIES,
            "status": STATUS,
            "priorities": PRIORITIES,
            "origins": ORIGINS,
        }

    @routes.get("/steuerung/luecken")
    async def board(request: Request) -> Response:
        session = ws.guard(request, STEERING)
        if not isinstance(session, Session):
            return session
        gaps, answer = await load(session, request.query_params.get("stand") or None)
        order = {"new": 0, "triaged": 1, "closed": 2}
        gaps.sort(key=lambda g: (order.get(g["status"], 3), g["reportedOn"]))
        return ws.page(
            request,
            "steering/gaps.html",
            session,
            gaps=gaps,
            problems=answer.problems,
            **common(),
        )

    async def gap_page(
        request: Request,
        session: Session,
        gap: dict[str, Any] | None,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        failed: str = "",
        status_code: int = 200,
        restored: bool = False,
    ) -> Response:
        if gap is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        return ws.page(
            request,
            "steering/gap.html",
            session,
            status_code=status_code,
            gap=gap,
            open_measures=[m for m in gap["measures"] if not m["completedOn"]],
            values=values,
            errors=errors,
            token=token,
            failed=failed,
            query=dict(request.query_params),
            today=labels.date_de(today()),
            restored=restored,
            **common(),
        )

    def find(gaps: list[dict[str, Any]], gap_id: str) -> dict[str, Any] | None:
        return next((g for g in gaps if g["id"] == gap_id), None)

    @routes.get("/steuerung/luecken/{gap_id}")
    async def gap(request: Request, gap_id: str) -> Response:
        session = ws.guard(request, STEERING)
        if not isinstance(session, Session):
            return session
        gaps, _ = await load(session, request.query_params.get("stand") or None)
        return await gap_page(request, session, find(gaps, gap_id), {}, {}, session.form_token())

    @routes.get("/steuerung/luecken/{gap_id}/{name}")
    async def restore(request: Request, gap_id: str, name: str) -> Response:
        """A form of the gap's page sent after its session ended, filled in again (once)."""
        session = ws.guard(request, STEERING)
        if not isinstance(session, Session):
            return session
        draft = ws.draft(request) if name in FORMS else None
        if draft is None:
            return RedirectResponse(f"/steuerung/luecken/{gap_id}", status_code=303)
        gaps, _ = await load(session, None)
        return await gap_page(
            request,
            session,
            find(gaps, gap_id),
            draft,
            {},
            session.form_token(),
            name,
            restored=True,
        )

    @routes.post("/steuerung/luecken/{gap_id}/{name}")
    async def act_on(request: Request, gap_id: str, name: str) -> Response:
        session = await ws.guard_form(request, STEERING)
        if not isinstance(session, Session):
            return session
        if name not in FORMS:
            return ws.page(request, "not_found.html", session, status_code=404)
        form = await ws.posted(request, session)
        if not isinstance(form, dict):
            return form
        gaps, _ = await load(session, None)
        found = find(gaps, gap_id)
        if found is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        check, document, fields, flag = FORMS[name]
        value, errors = check(form, found)
        token = forms.one(form, "formular")

        def done(data: dict[str, Any]) -> str:
            position = next(iter(data.values()))["position"]
            return f"/steuerung/luecken/{gap_id}?stand={position}&{flag}=1"

        target, errors, _ = await ws.send(
            session,
            token,
            errors,
            document,
            {"input": {"gapId": gap_id, **value}},
            done,
            lambda problems: forms.api_errors(problems, fields=fields),
        )
        if target is None:
            return await gap_page(
                request, session, found, forms.kept(form), errors, token, name, 400
            )
        return RedirectResponse(target, status_code=303)

    return routes
