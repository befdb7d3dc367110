"""A command whose database is away is refused as ``unavailable``, not as an internal error."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from pydantic import BaseModel

from services.runtime.commands import CommandServer, context_headers
from services.runtime.context import CommandContext

CONTEXT = CommandContext(
    agency="abh-05315", role="abh_officer", legal_basis="§ 86 AufenthG", purpose="residence"
)


class Body(BaseModel):
    n: int = 1


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("server closed the connection unexpectedly"),
        OperationalError("consuming input failed"),
    ],
)
async def test_a_command_during_a_database_outage_is_refused_as_unavailable(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    # given a command whose handler finds the database gone
    server = CommandServer(None, "foreigners_authority")  # type: ignore[arg-type]

    async def handler(payload: Any, context: CommandContext) -> dict[str, Any]:
        raise error

    server.route("register_arrival", Body, handler)

    # when it is sent
    reply = await server.dispatch("register_arrival", b"{}", context_headers(CONTEXT))

    # then the refusal is clear and retryable, and the log has no traceback
    assert reply == {
        "ok": False,
        "error": {
            "code": "unavailable",
            "message": "the service's database is unavailable; try again",
            "field": None,
        },
    }
    assert "Traceback" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)
    assert json.dumps(reply)  # a plain answer for the bus
