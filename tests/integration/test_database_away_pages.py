"""A page or a REST route whose database connection is lost meanwhile (a restart, a cut
session) is answered 503 ``unavailable``: the workspace with a German page that asks to try
again, the API with the error style of the rest of the API; never "Internal Server Error"."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from gateway.subject_access import http as subject_access_http
from gateway.workspace.sessions import SessionStore
from tests.integration.conftest import InProcessHub
from tests.integration.test_workspace import browser

LOST = [
    asyncpg.exceptions.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
    asyncpg.exceptions.AdminShutdownError("terminating connection (administrator)"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    ConnectionRefusedError("connection refused"),
]


def failing_with(error: Exception) -> Any:
    async def fails(*args: Any, **kwargs: Any) -> Any:
        raise error

    return fails


@pytest.mark.parametrize("lost", LOST)
async def test_a_workspace_page_says_in_german_to_try_again(
    hub: InProcessHub, monkeypatch: pytest.MonkeyPatch, lost: Exception
) -> None:
    monkeypatch.setattr(SessionStore, "lookup", failing_with(lost))
    async with browser(hub) as client:
        page = await client.get("/", headers={"Accept": "text/html"})

    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "Der Hub ist gerade nicht erreichbar" in page.text
    assert page.headers["Retry-After"] == "5"
    assert "Internal Server Error" not in page.text


@pytest.mark.parametrize("lost", LOST)
async def test_a_rest_route_answers_unavailable(
    hub: InProcessHub,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    lost: Exception,
) -> None:
    monkeypatch.setattr(subject_access_http, "produce", failing_with(lost))

    answer = await hub.client.get(
        f"{subject_access_http.PREFIX}/{uuid.uuid4()}.json",
        headers=hub.headers(role="dpo", agency="datenschutz-05315"),
    )

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    (error,) = answer.json()["errors"]
    assert error["extensions"] == {"code": "unavailable"}
    assert "unexpected error" not in caplog.text
    assert "found the database unavailable" in caplog.text
