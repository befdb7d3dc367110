"""Sprach- und Kulturmittlung anfragen, with the mediators' calendar of the agency."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.roles import CASE_MANAGERS
from gateway.context import today
from gateway.workspace import forms
from gateway.workspace.labels import BERLIN
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

CALENDAR = """query {
  mediatorCalendar {
    mediators { id languages availability pledgeSignedOn
                bookings { id language startsAt minutes status } }
    unserved { id language startsAt minutes reason }
  }
}"""
CASE = "query($id: ID!) { case(id: $id) { id } }"
REQUEST = """mutation($input: RequestMediationInput!) {
  requestMediation(input: $input) { requestId mediatorId position }
}"""
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def check(form: forms.Form, case_id: str, now: dt.date) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    language = forms.one(form, "sprache").lower()
    if not LANGUAGE.match(language):
        errors["sprache"] = "Bitte geben Sie den Sprachcode ein, z. B. ar, fa oder uk."
    day = forms.parse_date(forms.one(form, "tag"))
    if day is None:
        errors["tag"] = "Bitte geben Sie den Tag als TT.MM.JJJJ ein."
    elif day < now:
        errors["tag"] = "Der Termin darf nicht in der Vergangenheit liegen."
    clock = TIME.match(forms.one(form, "uhrzeit"))
    if clock is None:
        errors["uhrzeit"] = "Bitte geben Sie die Uhrzeit als HH:MM ein, z. B. 10:00."
    minutes_text = forms.one(form, "minuten") or "60"
    minutes = int(minutes_text) if minutes_text.isdigit() else 0
    if not 15 <= minutes <= 480:
        errors["minuten"] = "Bitte geben Sie eine Dauer zwischen 15 und 480 Minuten ein."
    starts = ""
    if day is not None and clock is not None:
        local = dt.datetime(day.year, day.month, day.day, int(clock[1]), int(clock[2]))
        starts = local.replace(tzinfo=BERLIN).isoformat()
    return {"caseId": case_id, "language": language, "startsAt": starts, "minutes": minutes}, (
        errors
    )


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    async def page(
        request: Request,
        session: Session,
        case_id: str,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        status_code: int = 200,
    ) -> Response:
        found = await ws.graphql(session, CASE, {"id": case_id})
        if not found.data.get("case"):
            return ws.page(request, "not_found.html", session, status_code=404)
        calendar = await ws.graphql(session, CALENDAR)
        return ws.page(
            request,
            "cases/mediation.html",
            session,
            status_code=status_code,
            case_id=case_id,
            calendar=calendar.data.get("mediatorCalendar") or {},
            values=values,
            errors=errors,
            token=token,
        )

    @routes.get("/faelle/{case_id}/sprachmittlung")
    async def mediation_form(request: Request, case_id: str) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        return await page(request, session, case_id, {"minuten": "60"}, {}, session.form_token())

    @routes.post("/faelle/{case_id}/sprachmittlung")
    async def mediation(request: Request, case_id: str) -> Response:
        sent = await ws.submitted(request, CASE_MANAGERS)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        value, errors = check(form, case_id, today())
        token = forms.one(form, "formular")

        def requested(data: dict[str, Any]) -> str:
            result = data["requestMediation"]
            assigned = "zugeteilt" if result.get("mediatorId") else "offen"
            return f"/faelle/{case_id}?stand={result['position']}&sprachmittlung={assigned}"

        target, errors, _ = await ws.send(
            session, token, errors, REQUEST, {"input": value}, requested
        )
        if target is None:
            return await page(request, session, case_id, forms.kept(form), errors, token, 400)
        return RedirectResponse(target, status_code=303)

    return routes
