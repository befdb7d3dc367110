"""The web workspace (Arbeitsoberfläche): German, server-rendered pages for every role, served
by the gateway at ``/``. Every page reads and writes through the gateway's GraphQL schema,
executed in-process as the signed-in user (docs/workspace.md)."""

from __future__ import annotations

import math

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

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

__all__ = ["Workspace", "graphiql_page", "install"]


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
