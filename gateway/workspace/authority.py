"""Ausländerbehörde: the worklist of persons by stage, and a person's Weg zur Einbürgerung:
the status periods as a timeline, readiness on a chosen date (and a second one to compare),
each requirement with its reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contracts.roles import AUTHORITY
from gateway.context import today
from gateway.workspace import charts, labels
from gateway.workspace.forms import parse_date
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

WORKLIST = """query($stage: String!, $after: String) {
  personsAtStage(stage: $stage, first: 50, after: $after) {
    items { personId stage stageSince municipalityKey entryDate } nextCursor
  }
}"""
PATHWAY = """query($id: ID!, $first: Date!, $second: Date!) {
  person(id: $id) { pathway {
    stage stageSince entryDate municipalityKey
    milestones { name reachedOn }
    periods { kind start end paragraph }
    first: readiness(asOf: $first) { ...R }
    second: readiness(asOf: $second) { ...R }
  } }
}
fragment R on Readiness {
  asOf lawVersion ready countedResidenceDays earliestResidenceDate renewalAssumed assumptionDe
  requirements { key met reasonDe decisionNeeded }
}"""


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/personen")
    async def worklist(request: Request) -> Response:
        session = ws.guard(request, AUTHORITY)
        if not isinstance(session, Session):
            return session
        stage = request.query_params.get("stufe") or "titled"
        if stage not in labels.STAGES:
            stage = "titled"
        after = request.query_params.get("nach") or None
        answer = await ws.graphql(session, WORKLIST, {"stage": stage, "after": after})
        page = answer.data.get("personsAtStage") or {"items": [], "nextCursor": None}
        return ws.page(
            request,
            "authority/list.html",
            session,
            stage=stage,
            page=page,
            problems=answer.problems,
        )

    @routes.get("/personen/{person_id}")
    async def pathway(request: Request, person_id: str) -> Response:
        session = ws.guard(request, AUTHORITY)
        if not isinstance(session, Session):
            return session
        now = today()
        errors: dict[str, str] = {}
        dates: list[dt.date] = []
        for name, default in (("datum", now), ("vergleich", now + dt.timedelta(days=365))):
            text = request.query_params.get(name, "")
            chosen = parse_date(text) if text else default
            if chosen is None:
                errors[name] = "Bitte geben Sie das Datum als TT.MM.JJJJ ein."
                chosen = default
            dates.append(chosen)
        answer = await ws.graphql(
            session,
            PATHWAY,
            {"id": person_id, "first": dates[0].isoformat(), "second": dates[1].isoformat()},
        )
        person: dict[str, Any] = answer.data.get("person") or {}
        found = person.get("pathway")
        if found is None and not answer.problems:
            return ws.page(request, "not_found.html", session, status_code=404)
        chart = None
        if found is not None:
            periods = [
                charts.Period(
                    labels.label(labels.PERIODS, p["kind"])
                    + (f" ({p['paragraph']})" if p.get("paragraph") else ""),
                    dt.date.fromisoformat(p["start"]),
                    dt.date.fromisoformat(p["end"]) if p.get("end") else None,
                )
                for p in found["periods"]
            ]
            chart = charts.pathway_chart(
                "Weg zur Einbürgerung: Statuszeiten", periods, now, dates, "weg"
            )
        return ws.page(
            request,
            "authority/pathway.html",
            session,
            person_id=person_id,
            pathway=found,
            chart=chart,
            dates=dates,
            errors=errors,
            problems=answer.problems,
            values={"datum": labels.date_de(dates[0]), "vergleich": labels.date_de(dates[1])},
        )

    return routes
