"""Systemische Lücke melden: case managers report a gap in the system to the steering group,
described without personal data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.roles import CASE_MANAGERS
from gateway.workspace import forms, labels
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

REPORT = """mutation($input: ReportSystemicGapInput!) {
  reportSystemicGap(input: $input) { gapId position }
}"""
CATEGORIES = {
    "access_to_service": "Zugang zu Angeboten",
    "waiting_times": "Wartezeiten",
    "missing_offer": "Fehlendes Angebot",
    "language_barrier": "Sprachbarriere",
    "interface_between_authorities": "Schnittstelle zwischen Behörden",
    "digital_access": "Digitaler Zugang",
    "other": "Anderes",
}


def check(form: forms.Form) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    category = forms.one(form, "kategorie")
    if category not in CATEGORIES:
        errors["kategorie"] = "Bitte wählen Sie, welche Art von Lücke Sie melden."
    sphere = forms.one(form, "rechtskreis")
    if sphere and sphere not in labels.LEGAL_SPHERES:
        errors["rechtskreis"] = "Bitte wählen Sie einen Rechtskreis aus der Liste."
    text = forms.one(form, "beschreibung")
    if not text:
        errors["beschreibung"] = "Bitte beschreiben Sie die Lücke (ohne Namen von Personen)."
    elif len(text) > 2000:
        errors["beschreibung"] = "Die Beschreibung darf höchstens 2000 Zeichen lang sein."
    count_text = forms.one(form, "betroffene")
    count = int(count_text) if count_text.isdigit() else None
    if count_text and (count is None or count < 1):
        errors["betroffene"] = "Bitte geben Sie eine ganze Zahl ab 1 ein."
    value: dict[str, Any] = {"category": category, "description": text}
    if sphere:
        value["legalSphere"] = sphere
    if count is not None:
        value["affectedCount"] = count
    return value, errors


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    def page(
        request: Request,
        session: Session,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        status_code: int = 200,
    ) -> Response:
        return ws.page(
            request,
            "gaps/new.html",
            session,
            status_code=status_code,
            values=values,
            errors=errors,
            token=token,
            categories=CATEGORIES,
        )

    @routes.get("/luecken/neu")
    async def gap_form(request: Request) -> Response:
        session = ws.guard(request, CASE_MANAGERS)
        if not isinstance(session, Session):
            return session
        return page(request, session, {}, {}, session.form_token())

    @routes.post("/luecken/neu")
    async def report(request: Request) -> Response:
        sent = await ws.submitted(request, CASE_MANAGERS)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        value, errors = check(form)

        target, errors, _ = await ws.send(
            session,
            forms.one(form, "formular"),
            errors,
            REPORT,
            {"input": value},
            lambda data: "/faelle?luecke=1",
        )
        if target is None:
            return page(
                request, session, forms.kept(form), errors, forms.one(form, "formular"), 400
            )
        return RedirectResponse(target, status_code=303)

    return routes
