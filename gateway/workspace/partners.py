"""Partner agencies: the referral inbox with accept, decline and complete; the shared case as
far as the referral's consent and the chosen purpose allow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from contracts.roles import PARTNERS
from gateway.workspace import forms, labels
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

INBOX = """query($atLeast: String) {
  referralInbox(atLeast: $atLeast) {
    id fromAgency service purpose sharedCategories status sentAt answeredAt declineReason
    outcome consentStatus
    sharedCase { targetGroup legalSpheres needs { domain level } goals { domain targetDate } }
  }
}"""
LIVE = "subscription { referralInbox { id status consentStatus } }"
#: how long one event stream stays open; the browser reconnects at once and refreshes the
#: list, and a stopping gateway never waits longer than this for an open page
STREAM_SECONDS = 20.0
ACTIONS = {
    "annehmen": ("acceptReferral", "AcceptReferralInput", None),
    "ablehnen": ("declineReferral", "DeclineReferralInput", "reason"),
    "abschliessen": ("completeReferral", "CompleteReferralInput", "outcome"),
}


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/eingang")
    async def inbox(request: Request) -> Response:
        session = ws.guard(request, PARTNERS)
        if not isinstance(session, Session):
            return session
        query = dict(request.query_params)
        purpose = query.get("zweck") or None
        answer = await ws.graphql(
            session, INBOX, {"atLeast": query.get("stand") or None}, purpose=purpose
        )
        return ws.page(
            request,
            "partners/_list.html" if query.get("teil") == "liste" else "partners/inbox.html",
            session,
            referrals=answer.data.get("referralInbox") or [],
            purpose=purpose,
            query=query,
            notices=answer.notices,
            problems=answer.problems,
            token=session.form_token(),
        )

    @routes.get("/eingang/live")
    async def live(request: Request) -> Response:
        """Server-sent events fed by the ``referralInbox`` subscription: an event (ids and
        states only, no case data) whenever a referral arrives, is answered or loses its
        consent."""
        session = ws.guard(request, PARTNERS)
        if not isinstance(session, Session):
            return session
        if not ws.may_subscribe(session):
            # an EventSource gives up on any answer but 200: without this, a refused stream
            # ended at once, and the page reconnected (and read its list again) every second
            return Response(status_code=429, headers={"Retry-After": str(int(STREAM_SECONDS))})
        purpose = request.query_params.get("zweck") or None
        stream = await ws.subscribe(session, LIVE, purpose=purpose)
        if stream is None:
            return Response(status_code=400)

        async def events() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            try:
                async with asyncio.timeout(STREAM_SECONDS):
                    async for result in stream:
                        if result.errors or not result.data:
                            continue
                        referral = result.data["referralInbox"]
                        yield f"data: {json.dumps(referral)}\n\n"
            except TimeoutError:
                pass
            finally:
                await stream.aclose()

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @routes.post("/eingang/{referral_id}/{action}")
    async def answer_referral(request: Request, referral_id: str, action: str) -> Response:
        session = ws.guard(request, PARTNERS)
        if not isinstance(session, Session):
            return session
        form = await ws.posted(request, session)
        if not isinstance(form, dict):
            return form
        if action not in ACTIONS:
            return ws.page(request, "not_found.html", session, status_code=404)
        mutation, input_type, reason_field = ACTIONS[action]
        value = {"referralId": referral_id}
        if reason_field is not None:
            reason = forms.one(form, "grund")
            allowed = labels.DECLINE_REASONS if action == "ablehnen" else labels.OUTCOMES
            if reason not in allowed:
                reason = "other"
            value[reason_field] = reason
        purpose = forms.one(form, "zweck")
        back = f"/eingang?zweck={purpose}" if purpose else "/eingang?"
        document = f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ position }} }}"

        async def act() -> str | None:
            answer = await ws.graphql(session, document, {"input": value})
            if not answer.ok:
                return f"{back}&fehler={answer.problems[0].code}"
            return f"{back}&stand={answer.data[mutation]['position']}&erledigt={action}"

        target = await ws.once(session, forms.one(form, "formular"), act)
        return RedirectResponse(target or back, status_code=303)

    return routes
