"""The web workspace (Arbeitsoberfläche): German, server-rendered pages for every role, served
by the gateway at ``/``. Every page reads and writes through the gateway's GraphQL schema,
executed in-process as the signed-in user (docs/workspace.md)."""

from __future__ import annotations

from fastapi import FastAPI
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
from gateway.workspace.web import HERE, Workspace

__all__ = ["Workspace", "graphiql_page", "install"]


def install(app: FastAPI, workspace: Workspace) -> None:
    """Serves the workspace's pages on ``app`` and its vendored assets under ``/assets``."""
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
        app.include_router(module.router(workspace))


def graphiql_page() -> str:
    """GraphiQL's page, loading its scripts and styles from the hub's ``/assets``."""
    return (HERE / "graphiql.html").read_text(encoding="utf-8")
