"""Datenschutz: the data-protection officer's page. The Art. 15 report on a person (with the
report as PDF and JSON), restricting the processing of a person's data (Art. 18) and erasing
it (Art. 17), the erasure only after a confirmation step. All through the API's
``subjectAccessReport``, ``restrictProcessing`` and ``erasePerson``."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from contracts.privacy import ErasureGround, RestrictionGround
from contracts.roles import DATA_PROTECTION
from gateway.subject_access import pdf
from gateway.workspace import forms
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

REPORT = """query($p: ID!) {
  subjectAccessReport(personId: $p) {
    personId generatedAt
    services { service status restricted }
    consents { id recipients categories purposes validFrom validUntil status endedOn }
    recipients { referrals { toAgency fromAgency purpose status sentAt }
                 readers { agency role reads first last } }
    accessLog { at agency role action purpose }
  }
}"""
DOCUMENT = """query($p: ID!) { subjectAccessReport(personId: $p) { document } }"""
ERASE = """mutation($input: ErasePersonInput!) {
  erasePerson(input: $input) { complete erasedIn pending }
}"""
RESTRICT = """mutation($input: RestrictProcessingInput!) {
  restrictProcessing(input: $input) { complete restrictedIn pending }
}"""

ERASURE_GROUNDS = {
    ErasureGround.REQUEST: "Antrag der betroffenen Person (Art. 17 Abs. 1 lit. a, c DSGVO)",
    ErasureGround.NO_LONGER_NEEDED: (
        "Für den Zweck nicht mehr erforderlich (Art. 17 Abs. 1 lit. a DSGVO, § 84 Abs. 2 SGB X)"
    ),
    ErasureGround.UNLAWFUL: "Unrechtmäßig verarbeitet (Art. 17 Abs. 1 lit. d DSGVO)",
    ErasureGround.LEGAL_OBLIGATION: (
        "Rechtliche Verpflichtung, z. B. Gerichtsentscheidung (Art. 17 Abs. 1 lit. e DSGVO)"
    ),
}
RESTRICTION_GROUNDS = {
    RestrictionGround.ERASURE_DISPROPORTIONATE: "Löschung unverhältnismäßig (§ 84 Abs. 3 SGB X)",
    RestrictionGround.ACCURACY_CONTESTED: "Richtigkeit bestritten (Art. 18 Abs. 1 lit. a DSGVO)",
    RestrictionGround.ERASURE_OPPOSED: (
        "Unrechtmäßig, die Person lehnt die Löschung ab (Art. 18 Abs. 1 lit. b DSGVO)"
    ),
    RestrictionGround.LEGAL_CLAIMS: (
        "Die Person braucht die Daten für Rechtsansprüche (Art. 18 Abs. 1 lit. c DSGVO)"
    ),
    RestrictionGround.OBJECTION_PENDING: "Widerspruch wird geprüft (Art. 18 Abs. 1 lit. d DSGVO)",
}
SERVICES = {
    "foreigners_authority": "Ausländerbehörde",
    "case_management": "KIM-Case-Management",
    "conflict_management": "Konfliktmanagement",
    "steering_group": "Lenkungsgruppe",
}
HOLDING = {
    "found": "Daten vorhanden",
    "unknown": "keine Daten zu dieser Person",
    "erased": "gelöscht",
    "none_by_design": "hält keine personenbezogenen Daten",
    "unavailable": "nicht erreichbar",
}
#: the API's fields -> the page's
FIELDS = {"personId": "person", "ground": "grund"}


def _person(form: forms.Form, errors: forms.Errors) -> str:
    person = forms.one(form, "person")
    try:
        return str(UUID(person))
    except ValueError:
        errors["person"] = (
            "Bitte geben Sie die Personenkennung ein (36 Zeichen, z. B. "
            "3f2b8c1e-0d4a-4f6e-9b7a-2c1d5e8f9a0b)."
        )
        return person


def unprefixed(form: forms.Form, prefix: str) -> forms.Form:
    """A form of the page whose fields are named ``<prefix>-<field>`` (several forms on one
    page, each field with its own id), by its plain field names."""
    return {k.removeprefix(prefix + "-"): v for k, v in form.items()}


def prefixed(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k if k in ("_", "csrf", "formular") else f"{prefix}-{k}": v for k, v in values.items()}


def check(
    form: forms.Form, grounds: dict[Any, str], confirm: bool = False
) -> tuple[dict[str, Any], forms.Errors]:
    errors: forms.Errors = {}
    person = _person(form, errors)
    ground = forms.one(form, "grund")
    if ground not in {str(g) for g in grounds}:
        errors["grund"] = "Bitte wählen Sie den Grund."
    if confirm and forms.one(form, "bestaetigt") != "ja":
        errors["bestaetigt"] = (
            "Bitte bestätigen Sie, dass die Daten unwiderruflich gelöscht werden."
        )
    return {"personId": person, "ground": ground.upper()}, errors


def refusals(problems: list[Any]) -> forms.Errors:
    """The API's refusals of an erasure or restriction as the form's errors."""
    return forms.api_errors(problems, fields=FIELDS)


def done_page(done: str, answer: dict[str, Any]) -> str:
    """The officer's page after an erasure or restriction, naming the services still to
    confirm."""
    return "/datenschutz?" + urlencode({"erledigt": done, "offen": ",".join(answer["pending"])})


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    def page(
        request: Request,
        session: Session,
        *,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        failed: str = "",
        token: str = "",
        report: Any = None,
        problems: Any = (),
        status_code: int = 200,
        restored: bool = False,
    ) -> Response:
        return ws.page(
            request,
            "privacy/index.html",
            session,
            status_code=status_code,
            values=values or {},
            errors=errors or {},
            failed=failed,
            token=token,
            report=report,
            problems=list(problems),
            query=dict(request.query_params),
            erasure_grounds={str(k): v for k, v in ERASURE_GROUNDS.items()},
            restriction_grounds={str(k): v for k, v in RESTRICTION_GROUNDS.items()},
            services=SERVICES,
            holding=HOLDING,
            restored=restored,
        )

    @routes.get("/datenschutz")
    async def index(request: Request) -> Response:
        session = ws.guard(request, DATA_PROTECTION)
        if not isinstance(session, Session):
            return session
        return page(request, session)

    @routes.get("/datenschutz/einschraenken")
    @routes.get("/datenschutz/loeschen")
    async def restore(request: Request) -> Response:
        """A form sent after its session ended, filled in again (once) after signing in."""
        session = ws.guard(request, DATA_PROTECTION)
        if not isinstance(session, Session):
            return session
        draft = ws.draft(request)
        if draft is None:
            return RedirectResponse("/datenschutz", status_code=303)
        name = request.url.path.rsplit("/", 1)[1]
        return page(
            request,
            session,
            values=draft,
            failed=name,
            token=session.form_token(),
            restored=True,
        )

    @routes.get("/datenschutz/loeschen/bestaetigen")
    async def restore_confirmation(request: Request) -> Response:
        """The confirmation sent after its session ended: shown again, to be confirmed anew."""
        session = ws.guard(request, DATA_PROTECTION)
        if not isinstance(session, Session):
            return session
        draft = ws.draft(request)
        if draft is None:
            return RedirectResponse("/datenschutz", status_code=303)
        value, errors = check({k: [str(v)] for k, v in draft.items()}, ERASURE_GROUNDS)
        if errors:
            return RedirectResponse("/datenschutz", status_code=303)
        return confirm_page(request, session, value, {}, session.form_token())

    @routes.get("/datenschutz/auskunft")
    async def report(request: Request) -> Response:
        session = ws.guard(request, DATA_PROTECTION)
        if not isinstance(session, Session):
            return session
        errors: forms.Errors = {}
        form = {"person": [request.query_params.get("person", "")]}
        person = _person(form, errors)
        if errors:
            errors = {"auskunft-person": errors["person"]}
            return page(
                request,
                session,
                values={"auskunft-person": forms.one(form, "person")},
                errors=errors,
                status_code=400,
            )
        answer = await ws.graphql(session, REPORT, {"p": person})
        found = answer.data.get("subjectAccessReport")
        if found is None and answer.ok:
            errors = {"auskunft-person": "Keine Person mit dieser Kennung ist dem Hub bekannt."}
        return page(
            request,
            session,
            values={"auskunft-person": person},
            errors=errors,
            report=found,
            problems=answer.problems,
            status_code=404 if errors else 200,
        )

    async def document(session: Session, person_id: str) -> dict[str, Any] | None:
        try:
            UUID(person_id)
        except ValueError:
            return None
        answer = await ws.graphql(session, DOCUMENT, {"p": person_id})
        found = answer.data.get("subjectAccessReport")
        return found["document"] if found else None

    @routes.get("/datenschutz/auskunft/{person_id}.json")
    async def as_json(request: Request, person_id: str) -> Response:
        session = ws.guard(request, DATA_PROTECTION)
        if not isinstance(session, Session):
            return session
        found = await document(session, person_id)
        if found is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        return Response(
            json.dumps(found, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="auskunft-art15-{person_id}.json"',
            },
        )

    @routes.get("/datenschutz/auskunft/{person_id}.pdf")
    async def as_pdf(request: Request, person_id: str) -> Response:
        session = ws.guard(request, DATA_PROTECTION)
        if not isinstance(session, Session):
            return session
        found = await document(session, person_id)
        if found is None:
            return ws.page(request, "not_found.html", session, status_code=404)
        content = await asyncio.to_thread(pdf.render, found)
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="auskunft-art15-{person_id}.pdf"',
            },
        )

    @routes.post("/datenschutz/einschraenken")
    async def restrict(request: Request) -> Response:
        sent = await ws.submitted(request, DATA_PROTECTION)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        form = unprefixed(form, "einschraenken")
        value, errors = check(form, RESTRICTION_GROUNDS)
        token = forms.one(form, "formular")

        target, errors, _ = await ws.send(
            session,
            token,
            errors,
            RESTRICT,
            {"input": value},
            lambda data: done_page("einschraenkung", data["restrictProcessing"]),
            refusals,
        )
        if target is None:
            return page(
                request,
                session,
                values=prefixed(forms.kept(form), "einschraenken"),
                errors=prefixed(errors, "einschraenken"),
                failed="einschraenken",
                token=token,
                status_code=400,
            )
        return RedirectResponse(target, status_code=303)

    @routes.post("/datenschutz/loeschen")
    async def erase_asked(request: Request) -> Response:
        """The first step: checks the form and shows what will happen, to be confirmed."""
        sent = await ws.submitted(request, DATA_PROTECTION)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        form = unprefixed(form, "loeschen")
        value, errors = check(form, ERASURE_GROUNDS)
        if errors:
            return page(
                request,
                session,
                values=prefixed(forms.kept(form), "loeschen"),
                errors=prefixed(errors, "loeschen"),
                failed="loeschen",
                token=forms.one(form, "formular"),
                status_code=400,
            )
        return confirm_page(request, session, value, {}, session.form_token())

    def confirm_page(
        request: Request,
        session: Session,
        value: dict[str, Any],
        errors: dict[str, str],
        token: str,
        status_code: int = 200,
    ) -> Response:
        ground = value["ground"].lower()
        return ws.page(
            request,
            "privacy/confirm.html",
            session,
            status_code=status_code,
            person=value["personId"],
            ground=ground,
            ground_text=dict((str(k), v) for k, v in ERASURE_GROUNDS.items()).get(ground, ground),
            services=SERVICES,
            errors=errors,
            token=token,
        )

    @routes.post("/datenschutz/loeschen/bestaetigen")
    async def erase(request: Request) -> Response:
        sent = await ws.submitted(request, DATA_PROTECTION)
        if isinstance(sent, Response):
            return sent
        session, form = sent
        value, errors = check(form, ERASURE_GROUNDS, confirm=True)
        token = forms.one(form, "formular")

        target, errors, _ = await ws.send(
            session,
            token,
            errors,
            ERASE,
            {"input": value},
            lambda data: done_page("loeschung", data["erasePerson"]),
            refusals,
        )
        if target is None:
            if set(errors) - {"bestaetigt", "_"}:  # the person or ground was tampered with
                return page(request, session, errors=errors, status_code=400)
            return confirm_page(request, session, value, errors, token, 400)
        return RedirectResponse(target, status_code=303)

    return routes
