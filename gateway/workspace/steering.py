"""Lenkungsgruppe: indicators as SVG charts drawn on the server, each with its data table;
the escalations on its agenda and the integration concept's goals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contracts.roles import STEERING
from gateway.workspace import charts, labels
from gateway.workspace.sessions import Session
from gateway.workspace.web import Workspace

DASHBOARD = """query($by: String!) {
  steering {
    stageCounts(by: $by) { rows { group stage persons } suppressedGroups }
    milestoneDurations { rows { group fromMilestone toMilestone persons medianDays p90Days }
                         suppressedGroups }
    referralStats { rows { agency persons referrals accepted declined acceptanceRate
                           medianDaysToAnswer } suppressedGroups }
    openConflicts { rows { district stage conflicts } suppressedGroups }
    escalations { id district toStage receivedAt decision }
    goals { id fieldOfAction goal indicator unit baseline target due onTrack
            values { period value } }
  }
}"""
GROUPINGS = {"municipality": "Gemeinde", "target_group": "Zielgruppe", "month": "Monat"}


def _stage_bars(rows: list[dict[str, Any]]) -> list[charts.Bar]:
    return [
        charts.Bar(f"{r['group']}: {labels.label(labels.STAGES, r['stage'])}", r["persons"])
        for r in rows
    ]


def router(ws: Workspace) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/steuerung")
    async def dashboard(request: Request) -> Response:
        session = ws.guard(request, STEERING)
        if not isinstance(session, Session):
            return session
        by = request.query_params.get("nach") or "municipality"
        if by not in GROUPINGS:
            by = "municipality"
        answer = await ws.graphql(session, DASHBOARD, {"by": by})
        data: dict[str, Any] = answer.data.get("steering") or {}
        figures: dict[str, Any] = {}
        if data:
            figures["stages"] = charts.bar_chart(
                f"Personen je Stufe nach {GROUPINGS[by]}",
                _stage_bars(data["stageCounts"]["rows"]),
                "stufen",
            )
            figures["durations"] = charts.bar_chart(
                "Median der Tage zwischen Meilensteinen",
                [
                    charts.Bar(
                        f"{labels.label(labels.MILESTONES, r['fromMilestone'])} → "
                        f"{labels.label(labels.MILESTONES, r['toMilestone'])}",
                        r["medianDays"],
                    )
                    for r in data["milestoneDurations"]["rows"]
                ],
                "dauern",
                " Tage",
            )
            figures["referrals"] = charts.bar_chart(
                "Überweisungen je Stelle",
                [charts.Bar(r["agency"], r["referrals"]) for r in data["referralStats"]["rows"]],
                "ueberweisungen",
            )
            figures["conflicts"] = charts.bar_chart(
                "Offene Konflikte nach Stadtteil und Glasl-Stufe",
                [
                    charts.Bar(f"{r['district']}, Stufe {r['stage']}", r["conflicts"])
                    for r in data["openConflicts"]["rows"]
                ],
                "konflikte",
            )
            figures["goals"] = [
                charts.indicator_chart(
                    f"{goal['indicator']} ({goal['unit']})",
                    goal["baseline"],
                    goal["target"],
                    [(v["period"], v["value"]) for v in goal["values"]],
                    f"ziel-{index}",
                )
                for index, goal in enumerate(data["goals"])
            ]
        return ws.page(
            request,
            "steering/dashboard.html",
            session,
            data=data,
            figures=figures,
            by=by,
            groupings=GROUPINGS,
            problems=answer.problems,
        )

    return routes
