"""The web workspace (Arbeitsoberfläche): German, server-rendered pages for every role, served
by the gateway at ``/``. Every page reads and writes through the gateway's GraphQL schema,
executed in-process as the signed-in user (docs/workspace.md)."""

from __future__ import annotations

import logging
import math

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.errors import UNAVAILABLE
from gateway.workspace import (
    authority,
    cases,
    conflicts,
    gaps,
    gaps_board,
    mediation,
    partners,
    privacy,
    signin,
    steering,
)
from gateway.workspace.web import HERE, RateLimited, Workspace
from services.runtime.database import DATABASE_AWAY, RETRY_AFTER_SECONDS

__all__ = ["Workspace", "graphiql_page", "install"]

log = logging.getLogger(__name__)


def install(app: FastAPI, workspace: Workspace) -> None:
    """Serves the workspace's pages on ``app`` and its vendored assets under ``/assets``.
    Every page first loads its session (and a restored draft) and takes the signed-in
    principal's share of the API's rate limit (``Workspace.load``)."""
    app.mount("/assets", StaticFiles(directory=str(HERE / "static")), name="assets")
    for module in (
        signin,
        cases,
        mediation,
        gaps,
        partners,
        privacy,
        authority,
        conflicts,
        steering,
        gaps_board,
    ):
        app.include_router(module.router(workspace), dependencies=[Depends(workspace.load)])

    async def database_away(request: Request, error: Exception) -> Response:
        """A route whose database connection was lost meanwhile (a restart, a cut session):
        503, a page asking to try again for a browser, the API's error style otherwise. (The
        GraphQL routes answer ``unavailable`` themselves: gateway/schema.py.)"""
        log.warning("a request found the database unavailable (%s)", type(error).__name__)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if "text/html" in request.headers.get("accept", ""):
            response: Response = workspace.page(request, "unavailable.html", None, 503)
            response.headers.update(headers)
            return response
        return JSONResponse(
            {"errors": [{"message": UNAVAILABLE, "extensions": {"code": "unavailable"}}]},
            status_code=503,
            headers=headers,
        )

    for lost in DATABASE_AWAY:
        app.add_exception_handler(lost, database_away)

    @app.exception_handler(RateLimited)
    async def too_many(request: Request, error: Exception) -> Response:
        assert isinstance(error, RateLimited)
        wait = max(1, math.ceil(error.retry_after))
        response = workspace.page(
            request, "rate_limited.html", workspace.session(request), status_code=429, wait=wait
        )
        response.headers["Retry-After"] = str(wait)
        return response


def graphiql_page() -> str:
    """GraphiQL's page, loading its scripts and styles from the hub's ``/assets``."""
    return (HERE / "graphiql.html").read_text(encoding="utf-8")
