"""A read whose database connection is lost meanwhile (a restart, a cut session) is answered
``unavailable``, a code the client may retry on, not as an unexpected ``internal`` failure."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from gateway import timeline
from gateway.errors import UNAVAILABLE
from tests.integration.conftest import InProcessHub

TIMELINE = """query($id: ID!) { person(id: $id) { timeline { eventType } } }"""


@pytest.mark.parametrize(
    "lost",
    [
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        asyncpg.exceptions.AdminShutdownError("terminating connection (administrator)"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        ConnectionRefusedError("connection refused"),
    ],
)
async def test_a_read_that_loses_its_database_is_answered_unavailable(
    hub: InProcessHub,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    lost: Exception,
) -> None:
    async def read_meets_a_lost_session(*args: Any, **kwargs: Any) -> Any:
        raise lost

    monkeypatch.setattr(timeline, "person_timeline", read_meets_a_lost_session)

    body = await hub.graphql(TIMELINE, {"id": str(uuid.uuid4())}, role="case_manager")

    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": UNAVAILABLE,
            "locations": [{"line": 1, "column": 37}],
            "path": ["person", "timeline"],
            "extensions": {"code": "unavailable"},
        }
    ]
    assert "unexpected error" not in caplog.text  # no traceback for an outage
    assert "found the database unavailable" in caplog.text
