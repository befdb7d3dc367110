"""Ausländerbehörde: the worklist of persons by stage, the person search, a person's
Statusverlauf (the status periods and the authority's events about them, in German), and the
Weg zur Einbürgerung: the status periods as a timeline, readiness on a chosen date (and a
second one to compare), each requirement with its reason."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.roles import AUTHORITY
from gateway.context import today
from gateway.workspace import charts, forms, labels
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
# the identity terms' variables are named as the API's arguments, so that the gateway's log
# redaction knows them as personal (gateway/schema.py PERSONAL_FIELDS)
SEARCH = """query($id: ID, $ags: String, $stage: String, $from: Date, $to: Date,
               $familyName: String, $givenName: String, $birthDate: Date, $azrNumber: String) {
  personSearch(personId: $id, municipalityKey: $ags, stage: $stage, enteredFrom: $from,
               enteredTo: $to, familyName: $familyName, givenName: $givenName,
               birthDate: $birthDate, azrNumber: $azrNumber, first: 100) {
    personId stage stageSince municipalityKey entryDate
  }
}"""
HISTORY = """query($id: ID!) {
  person(id: $id) {
    pathway { stage stageSince entryDate municipalityKey
              milestones { name reachedOn } periods { kind start end paragraph } }
    timeline(limit: 500) { occurredAt service eventType summary }
  }
}"""
#: the search form's fields -> the API's arguments (and the API's fields -> the form's)
SEARCH_FIELDS = {
    "personId": "kennung",
    "municipalityKey": "gemeinde",
    "stage": "stufe",
    "enteredFrom": "eingereist_ab",
    "enteredTo": "eingereist_bis",
    "familyName": "familienname",
    "givenName": "vorname",
    "birthDate": "geburtsdatum",
    "azrNumber": "azr_nummer",
}
#: the fields that name a person: sent only in a POST (never in an address, which browsers,
#: proxies and logs keep)
IDENTITY_FIELDS = ("familienname", "vorname", "geburtsdatum", "azr_nummer")
_NAME_MAX = 200


def check_search(query: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The search's variables from the form (a GET), or the errors at their fields."""
    errors: dict[str, str] = {}
    person = query.get("kennung", "").strip()
    if person and not re.fullmatch(r"[0-9a-fA-F-]{36}", person):
        errors["kennung"] = "Die Personenkennung hat 36 Zeichen (Ziffern, a bis f, Bindestriche)."
    ags = query.get("gemeinde", "").strip()
    if ags and not re.fullmatch(r"\d{8}", ags):
        errors["gemeinde"] = "Der Gemeindeschlüssel (AGS) hat 8 Ziffern, z. B. 05315000."
    stage = query.get("stufe", "")
    if stage and stage not in labels.STAGES:
        errors["stufe"] = "Bitte wählen Sie eine Stufe aus der Liste."
    dates: dict[str, str | None] = {}
    for name in ("eingereist_ab", "eingereist_bis"):
        text = query.get(name, "").strip()
        chosen = parse_date(text) if text else None
        if text and chosen is None:
            errors[name] = "Bitte geben Sie das Datum als TT.MM.JJJJ ein."
        dates[name] = chosen.isoformat() if chosen else None
    start, end = dates["eingereist_ab"], dates["eingereist_bis"]
    if start and end and start > end:
        errors["eingereist_bis"] = "Das Ende des Zeitraums liegt vor seinem Anfang."
    family = " ".join(query.get("familienname", "").split())
    given = " ".join(query.get("vorname", "").split())
    for name, text in (("familienname", family), ("vorname", given)):
        if len(text) > _NAME_MAX:
            errors[name] = f"Bitte geben Sie höchstens {_NAME_MAX} Zeichen ein."
    if given and not family:
        errors["familienname"] = (
            "Für die Suche nach dem Vornamen geben Sie bitte auch den Familiennamen an."
        )
    born_text = query.get("geburtsdatum", "").strip()
    born = parse_date(born_text) if born_text else None
    if born_text and born is None:
        errors["geburtsdatum"] = "Bitte geben Sie das Geburtsdatum als TT.MM.JJJJ ein."
    azr = "".join(query.get("azr_nummer", "").split())
    if azr and not re.fullmatch(r"\d{12}", azr):
        errors["azr_nummer"] = "Die AZR-Nummer hat 12 Ziffern."
    variables = {
        "id": person or None,
        "ags": ags or None,
        "stage": stage or None,
        "from": start,
        "to": end,
        "familyName": family or None,
        "givenName": given or None,
        "birthDate": born.isoformat() if born else None,
        "azrNumber": azr or None,
    }
    if not errors and not any(variables.values()):
        errors["kennung"] = "Bitte füllen Sie mindestens ein Suchfeld aus."
    return variables, errors


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

    async def searched(
        request: Request, session: Session, query: dict[str, str], restored: bool = False
    ) -> Response:
        asked = not restored and any(query.get(name) for name in SEARCH_FIELDS.values())
        found: list[dict[str, Any]] | None = None
        errors: dict[str, str] = {}
        problems: list[Any] = []
        if asked or (not restored and "suchen" in query):
            variables, errors = check_search(query)
            if not errors:
                answer = await ws.graphql(session, SEARCH, variables)
                errors = forms.api_errors(
                    [p for p in answer.problems if p.field], fields=SEARCH_FIELDS
                )
                problems = [p for p in answer.problems if not p.field]
                found = answer.data.get("personSearch") if answer.ok else None
        return ws.page(
            request,
            "authority/search.html",
            session,
            status_code=400 if errors else 200,
            values={k: v for k, v in query.items() if k not in ("csrf", "formular")},
            errors=errors,
            problems=problems,
            found=found,
            restored=restored,
        )

    @routes.get("/personen/suche")
    async def search(request: Request) -> Response:
        """The search form; a GET searches by the pseudonymous criteria only (an address
        may be bookmarked); a form sent after the session ended (``entwurf``) is shown filled
        in again, to be sent once more."""
        session = ws.guard(request, AUTHORITY)
        if not isinstance(session, Session):
            return session
        draft = ws.draft(request)
        if draft is not None:
            values = {k: str(v) for k, v in draft.items()}
            return await searched(request, session, values, restored=True)
        if "entwurf" in request.query_params:  # restored once already: the empty form
            return RedirectResponse("/personen/suche", status_code=303)
        query = {k: v for k, v in request.query_params.items() if k not in IDENTITY_FIELDS}
        return await searched(request, session, query)

    @routes.post("/personen/suche")
    async def search_posted(request: Request) -> Response:
        """The search form sent (with the identity fields, which stay out of addresses)."""
        sent = await ws.submitted(request, AUTHORITY)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        query = {name: forms.one(form, name) for name in form}
        return await searched(request, session, query)

    @routes.get("/personen/{person_id}/verlauf")
    async def history(request: Request, person_id: str) -> Response:
        session = ws.guard(request, AUTHORITY)
        if not isinstance(session, Session):
            return session
        answer = await ws.graphql(session, HISTORY, {"id": person_id})
        person: dict[str, Any] = answer.data.get("person") or {}
        found = person.get("pathway")
        if found is None and not answer.problems:
            return ws.page(request, "not_found.html", session, status_code=404)
        events = sorted(person.get("timeline") or [], key=lambda e: e["occurredAt"], reverse=True)
        periods = sorted((found or {}).get("periods") or [], key=lambda p: p["start"], reverse=True)
        return ws.page(
            request,
            "authority/history.html",
            session,
            person_id=person_id,
            pathway=found,
            periods=periods,
            events=events,
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
