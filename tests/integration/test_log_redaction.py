"""A command's personal values never reach the logs of the service that handles it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.runtime.commands import CommandClient, CommandRejected, CommandServer
from services.runtime.context import CommandContext
from services.runtime.logs import REDACTED, configure_logging
from services.runtime.telemetry import setup_tracing

log = logging.getLogger("tests.redaction")
NAME = "Amira Haddad-Nasser"
FILE_NUMBER = "AZR-4711-0815"
CONTEXT = CommandContext(
    agency="kim-05315",
    role="case_manager",
    legal_basis="§ 45 SGB VIII",
    purpose="case management",
    correlation_id="corr-redaction",
)


class Person(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    family_name: str = Field(max_length=40, json_schema_extra={"personal": True})
    file_number: str | None = Field(default=None, json_schema_extra={"personal": True})


class RegisterPerson(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    person: Person
    visits: int = Field(ge=0, le=5)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """The service process's log output (prod format), the root logger restored after."""
    root = logging.getLogger()
    handlers = [(h, list(h.filters)) for h in root.handlers]
    level = root.level
    stream = io.StringIO()
    configure_logging("test_service", env="prod", level="DEBUG", stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler, filters in handlers:
        handler.filters[:] = filters
        root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
async def client(nats_client: Any) -> AsyncIterator[CommandClient]:
    """A command server whose handler logs the personal values everywhere, then fails."""
    setup_tracing("hub-tests")
    server = CommandServer(nats_client, "redaction_test")

    def write(body: RegisterPerson) -> None:  # runs on the writer thread
        log.info("writing %s", body.person.family_name, extra={"file": body.person.file_number})
        raise LookupError(f"no record for {body.person.family_name} ({body.person.file_number})")

    async def handle(body: Any, context: CommandContext) -> dict[str, Any]:
        log.info("registering %r", body, extra={"person": body.person.model_dump()})
        await server.execute(lambda: write(body), context)
        return {}

    server.route("register_person", RegisterPerson, handle)
    await server.start()
    yield CommandClient(nats_client, timeout=10)
    await server.stop()


def _assert_clean(stream: io.StringIO, caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    text = stream.getvalue()
    for value in (NAME, FILE_NUMBER, "Haddad", "4711-0815"):
        assert value.lower() not in text.lower()
        assert value.lower() not in caplog.text.lower()
        for record in caplog.records:
            assert value not in repr(record.__dict__)
    return [json.loads(line) for line in text.splitlines()]


async def test_a_failing_command_logs_no_personal_value(
    client: CommandClient, logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    # given a service whose handler logs the person's name and file number, then fails with
    # them in the exception
    body = {"person": {"familyName": NAME, "fileNumber": FILE_NUMBER}, "visits": 1}

    # when the command arrives over NATS
    with pytest.raises(CommandRejected) as rejected:
        await client.send("redaction_test", "register_person", body, CONTEXT)

    # then the caller gets a reference, and the logs hold the records, with neither value
    assert rejected.value.code == "internal"
    entries = _assert_clean(logs, caplog)
    by_message = {e["message"].split(" ")[0]: e for e in entries}
    assert set(by_message) >= {"registering", "writing", "command"}
    assert by_message["writing"]["message"] == f"writing {REDACTED}"
    assert by_message["writing"]["file"] == REDACTED
    failure = by_message["command"]["exception"]
    assert f"LookupError: no record for {REDACTED} ({REDACTED})" in failure
    for entry in by_message.values():  # in the handler, on the writer thread, at the failure
        assert entry["correlation_id"] == "corr-redaction"
        assert entry["trace_id"]
        assert entry["process"] == "test_service"


async def test_a_rejected_command_logs_no_personal_value(
    client: CommandClient, logs: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    # given invalid input that carries personal values (too many visits, a name too long)
    body = {"person": {"familyName": NAME * 3, "fileNumber": FILE_NUMBER}, "visits": 99}

    # when it is sent
    with pytest.raises(CommandRejected) as rejected:
        await client.send("redaction_test", "register_person", body, CONTEXT)
    log.warning("rejected: %s", rejected.value.message)

    # then it is rejected without logging either value (the rejection itself included, logged
    # here outside the request: the service's message names no input value)
    assert rejected.value.code == "invalid_input"
    _assert_clean(logs, caplog)
