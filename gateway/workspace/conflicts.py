"""Kommunales Konfliktmanagement: the conflicts by Glasl stage, and one conflict with its
escalations, interventions and the append-only board log, and its forms: escalate, schedule
an intervention, record an intervention's outcome, resolve the conflict, and write to the
board log (a correction is a new entry naming the one it corrects)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.roles import BOARD
from gateway.context import today
from gateway.workspace import forms, labels
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

CONFLICTS = """query($atLeast: String) {
  conflicts(atLeast: $atLeast) { id kind district stage phase status reportedAt }
}"""
CONFLICT = """query($id: ID!, $atLeast: String) {
  conflict(id: $id, atLeast: $atLeast) {
    id kind district stage phase status description reportedAt resolvedAt outcome lessons
    parties { type name }
    escalations { at fromStage toStage toBody reason agency }
    interventions { id format scheduledFor facilitator outcome stageAfter note }
    log { position at agency role kind text entryId corrects }
  }
}"""
ESCALATE = """mutation($input: EscalateConflictInput!) {
  escalateConflict(input: $input) { position }
}"""
SCHEDULE = """mutation($input: ScheduleInterventionInput!) {
  scheduleIntervention(input: $input) { position }
}"""
OUTCOME = """mutation($input: RecordInterventionOutcomeInput!) {
  recordInterventionOutcome(input: $input) { position }
}"""
RESOLVE = """mutation($input: ResolveConflictInput!) {
  resolveConflict(input: $input) { position }
}"""
LOG = """mutation($input: AddBoardLogEntryInput!) {
  addBoardLogEntry(input: $input) { position }
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
STATUS = {"open": "offen", "escalated": "eskaliert", "resolved": "abgeschlossen"}
PHASES = {"win-win": "win-win", "win-lose": "win-lose", "lose-lose": "lose-lose"}
FORMATS = {"moderation": "Moderation", "mediation": "Mediation", "dialogue": "Dialogveranstaltung"}
INTERVENTION_OUTCOMES = {"held": "durchgeführt", "cancelled": "abgesagt", "postponed": "verschoben"}
RESOLUTIONS = {
    "agreement": "Einigung",
    "partial_agreement": "Teilweise Einigung",
    "no_agreement": "Keine Einigung",
    "withdrawn": "Zurückgezogen",
}
#: the board log's kinds of entry; entries the hub writes itself are shown by their kind
LOG_KINDS = {
    "reported": "Konflikt gemeldet",
    "escalated": "Eskaliert",
    "intervention_scheduled": "Intervention geplant",
    "intervention_outcome": "Ergebnis einer Intervention erfasst",
    "resolved": "Konflikt abgeschlossen",
    "linked_to_gap": "Mit einer systemischen Lücke verknüpft",
    "note": "Eintrag",
    "correction": "Korrektur",
}
#: entries written by the board: their text is shown (the others' texts are the hub's, English)
WRITTEN = frozenset({"note", "correction"})
NO_INDIVIDUALS = "Bitte ohne Namen oder andere Angaben, die eine einzelne Person erkennbar machen."

Check = Callable[[forms.Form, dict[str, Any]], tuple[dict[str, Any], forms.Errors]]


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


def check_intervention(
    form: forms.Form, conflict: dict[str, Any]
) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    kind = forms.one(form, "format")
    if kind not in FORMATS:
        errors["format"] = "Bitte wählen Sie die Art der Intervention."
    when_text = forms.one(form, "termin")
    when = forms.parse_date(when_text) if when_text else None
    if when is None:
        errors["termin"] = "Bitte geben Sie den Termin als TT.MM.JJJJ ein."
    who = forms.one(form, "moderation")
    if not who:
        errors["moderation"] = "Bitte nennen Sie die moderierende Organisation (keine Person)."
    elif len(who) > 200:
        errors["moderation"] = "Die Angabe darf höchstens 200 Zeichen lang sein."
    value = {
        "format": kind,
        "scheduledFor": when.isoformat() if when else "",
        "facilitator": who,
    }
    return value, errors


def check_outcome(
    form: forms.Form, conflict: dict[str, Any]
) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    open_ids = {i["id"] for i in conflict["interventions"] if not i["outcome"]}
    intervention = forms.one(form, "intervention")
    if intervention not in open_ids:
        errors["intervention"] = "Bitte wählen Sie eine geplante Intervention ohne Ergebnis."
    outcome = forms.one(form, "ergebnis")
    if outcome not in INTERVENTION_OUTCOMES:
        errors["ergebnis"] = "Bitte wählen Sie, wie die Intervention verlaufen ist."
    stage_text = forms.one(form, "stufe_danach")
    stage = int(stage_text) if stage_text.isdigit() else None
    if stage_text and (stage is None or not 1 <= stage <= 9):
        errors["stufe_danach"] = "Bitte wählen Sie eine Glasl-Stufe von 1 bis 9."
    note = forms.one(form, "notiz")
    if len(note) > 2000:
        errors["notiz"] = "Die Notiz darf höchstens 2000 Zeichen lang sein."
    value: dict[str, Any] = {
        "interventionId": intervention,
        "outcome": outcome,
        "note": note,
    }
    if stage is not None:
        value["stageAfter"] = stage
    return value, errors


def check_resolution(
    form: forms.Form, conflict: dict[str, Any]
) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    outcome = forms.one(form, "abschluss")
    if outcome not in RESOLUTIONS:
        errors["abschluss"] = "Bitte wählen Sie das Ergebnis des Konflikts."
    lessons = forms.one(form, "erkenntnisse")
    if len(lessons) < 10:
        errors["erkenntnisse"] = "Bitte halten Sie die Erkenntnisse in mindestens einem Satz fest."
    elif len(lessons) > 4000:
        errors["erkenntnisse"] = "Die Erkenntnisse dürfen höchstens 4000 Zeichen lang sein."
    return {"outcome": outcome, "lessons": lessons}, errors


def check_log_entry(
    form: forms.Form, conflict: dict[str, Any]
) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    text = forms.one(form, "eintrag")
    if len(text) < 3:
        errors["eintrag"] = "Bitte schreiben Sie den Eintrag (mindestens 3 Zeichen)."
    elif len(text) > 4000:
        errors["eintrag"] = "Der Eintrag darf höchstens 4000 Zeichen lang sein."
    corrects = forms.one(form, "korrigiert")
    entries = {e["entryId"] for e in conflict["log"] if e["entryId"]}
    if corrects and corrects not in entries:
        errors["korrigiert"] = "Bitte wählen Sie einen Eintrag aus dem Protokoll."
    value: dict[str, Any] = {"text": text}
    if corrects:
        value["corrects"] = corrects
    return value, errors


#: each form of the conflict's page: its check, mutation, the API's field names -> the form's,
#: and the flag its success adds to the page's address
FORMS: dict[str, tuple[Check, str, dict[str, str], str]] = {
    "intervention": (
        check_intervention,
        SCHEDULE,
        {"format": "format", "scheduledFor": "termin", "facilitator": "moderation"},
        "geplant",
    ),
    "ergebnis": (
        check_outcome,
        OUTCOME,
        {
            "interventionId": "intervention",
            "outcome": "ergebnis",
            "stageAfter": "stufe_danach",
            "note": "notiz",
        },
        "ergebnis",
    ),
    "abschluss": (
        check_resolution,
        RESOLVE,
        {"outcome": "abschluss", "lessons": "erkenntnisse", "conflictId": "abschluss"},
        "abgeschlossen",
    ),
    "protokoll": (
        check_log_entry,
        LOG,
        {"text": "eintrag", "corrects": "korrigiert"},
        "protokolliert",
    ),
}
#: the fields whose text the service checks for personal data
FREE_TEXT = frozenset({"begruendung", "moderation", "notiz", "erkenntnisse", "eintrag"})


def _api_errors(problems: list[Any], fields: dict[str, str]) -> forms.Errors:
    errors = forms.api_errors(problems, fields=fields)
    for problem in problems:
        name = fields.get(problem.field or "")
        if problem.code == "invalid_value" and name in FREE_TEXT:
            errors[name] = NO_INDIVIDUALS
    return errors


def done(conflict_id: str, data: dict[str, Any], flag: str) -> str:
    """The conflict's page after a command, read at least at the command's position."""
    position = next(iter(data.values()))["position"]
    return f"/konflikte/{conflict_id}?stand={position}&{flag}=1"


def board_log(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log as shown: each entry with its German kind, and a corrected entry with the
    corrections that name it (the log itself stays as written: nothing is changed or hidden)."""
    corrections: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("corrects"):
            corrections.setdefault(entry["corrects"], []).append(entry)
    by_id = {e["entryId"]: e for e in entries if e.get("entryId")}
    shown = []
    for entry in entries:
        kind = entry["kind"]
        corrected = by_id.get(entry["corrects"]) if entry.get("corrects") else None
        shown.append(
            {
                **entry,
                "label": LOG_KINDS.get(kind, kind),
                "written": kind in WRITTEN,
                "corrected_by": corrections.get(entry.get("entryId") or "", []),
                "corrects_entry": corrected,
            }
        )
    return shown


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
            status=STATUS,
            problems=answer.problems,
        )

    async def load(session: Session, conflict_id: str, at_least: str | None) -> Any:
        answer = await ws.graphql(session, CONFLICT, {"id": conflict_id, "atLeast": at_least})
        return answer.data.get("conflict")

    async def detail(
        request: Request,
        session: Session,
        conflict: dict[str, Any] | None,
        values: dict[str, Any],
        errors: dict[str, str],
        token: str,
        failed: str = "",
        status_code: int = 200,
        restored: bool = False,
    ) -> Response:
        if conflict is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        query = dict(request.query_params)
        if not failed and query.get("korrigiert"):
            values = {"korrigiert": query["korrigiert"]}
        return ws.page(
            request,
            "conflicts/detail.html",
            session,
            status_code=status_code,
            conflict=conflict,
            log=board_log(conflict["log"]),
            open_interventions=[i for i in conflict["interventions"] if not i["outcome"]],
            kinds=KINDS,
            bodies=BODIES,
            status=STATUS,
            formats=FORMATS,
            intervention_outcomes=INTERVENTION_OUTCOMES,
            resolutions=RESOLUTIONS,
            values=values,
            errors=errors,
            token=token,
            failed=failed,
            query=query,
            today=labels.date_de(today()),
            restored=restored,
        )

    @routes.get("/konflikte/{conflict_id}")
    async def conflict(request: Request, conflict_id: str) -> Response:
        session = ws.guard(request, BOARD)
        if not isinstance(session, Session):
            return session
        at_least = request.query_params.get("stand") or None
        found = await load(session, conflict_id, at_least)
        return await detail(request, session, found, {}, {}, session.form_token())

    @routes.get("/konflikte/{conflict_id}/{name}")
    async def restore(request: Request, conflict_id: str, name: str) -> Response:
        """A form of the conflict's page sent after its session ended, filled in again (once)
        after the user signed in; otherwise the conflict's page."""
        session = ws.guard(request, BOARD)
        if not isinstance(session, Session):
            return session
        draft = ws.draft(request) if name in FORMS or name == "eskalation" else None
        if draft is None:
            return RedirectResponse(f"/konflikte/{conflict_id}", status_code=303)
        found = await load(session, conflict_id, None)
        return await detail(
            request, session, found, draft, {}, session.form_token(), name, restored=True
        )

    @routes.post("/konflikte/{conflict_id}/eskalation")
    async def escalate(request: Request, conflict_id: str) -> Response:
        sent = await ws.submitted(request, BOARD)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        stage_text = forms.one(form, "bisher")
        value, errors = check_escalation(form, int(stage_text) if stage_text.isdigit() else 0)
        token = forms.one(form, "formular")

        target, errors, _ = await ws.send(
            session,
            token,
            errors,
            ESCALATE,
            {"input": {"conflictId": conflict_id, **value}},
            lambda data: done(conflict_id, data, "eskaliert"),
            lambda problems: _api_errors(
                problems, {"toStage": "stufe", "toBody": "gremium", "reason": "begruendung"}
            ),
        )
        if target is None:
            found = await load(session, conflict_id, None)
            return await detail(
                request, session, found, forms.kept(form), errors, token, "eskalation", 400
            )
        return RedirectResponse(target, status_code=303)

    @routes.post("/konflikte/{conflict_id}/{name}")
    async def act_on(request: Request, conflict_id: str, name: str) -> Response:
        session = await ws.guard_form(request, BOARD)
        if not isinstance(session, Session):
            return session
        if name not in FORMS:
            return ws.page(request, "not_found.html", session, status_code=404)
        form = await ws.posted(request, session)
        if not isinstance(form, dict):
            return form
        check, document, fields, flag = FORMS[name]
        found = await load(session, conflict_id, forms.one(form, "stand") or None)
        if found is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        value, errors = check(form, found)
        token = forms.one(form, "formular")

        target, errors, _ = await ws.send(
            session,
            token,
            errors,
            document,
            {"input": {"conflictId": conflict_id, **value}},
            lambda data: done(conflict_id, data, flag),
            lambda problems: _api_errors(problems, fields),
        )
        if target is None:
            return await detail(request, session, found, forms.kept(form), errors, token, name, 400)
        return RedirectResponse(target, status_code=303)

    return routes
