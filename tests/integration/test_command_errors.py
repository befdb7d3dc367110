"""How a service answers a refused command over NATS: a domain error (the kernel's
``DomainError``) becomes a coded error with its field and what is missing; any other exception
is an internal failure with a reference, whatever attributes it happens to have."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client
from pydantic import BaseModel

from contracts import command_subject
from gateway.context import HubError
from gateway.workspace.web import CODE_MESSAGES, OUTCOME_UNKNOWN, problem
from kernel.errors import DomainError, InvalidValue
from services.case_management.domain import SharingRefused
from services.runtime.commands import (
    CommandClient,
    CommandRejected,
    CommandServer,
    ServiceUnavailable,
)
from services.runtime.context import CommandContext

SERVICE = "error_test"
CONTEXT = CommandContext(
    agency="kim-bielefeld", role="case_manager", legal_basis="§ 9 TIntG NRW", purpose="test"
)


class Empty(BaseModel):
    pass


class LooksCoded(Exception):
    """Not a domain error, though it carries ``code`` and ``message`` like one."""

    def __init__(self) -> None:
        super().__init__("connection reset")
        self.code = "08006"
        self.message = "server closed the connection unexpectedly"


def raising(error: Exception) -> Any:
    async def handle(body: Any, context: CommandContext) -> dict[str, Any]:
        raise error

    return handle


@pytest.fixture
async def client(nats_client: Client) -> AsyncIterator[CommandClient]:
    server = CommandServer(nats_client, SERVICE)
    server.route("invalid", Empty, raising(InvalidValue("stage 10 is no stage", "stage")))
    server.route(
        "refused",
        Empty,
        raising(SharingRefused("no consent covers this", "consentId", ["no consent named"])),
    )
    server.route("custom", Empty, raising(DomainError("over quota", "quota_exceeded")))
    server.route("coded", Empty, raising(LooksCoded()))
    await server.start()
    yield CommandClient(nats_client, timeout=5)
    await server.stop()


async def refusal(client: CommandClient, command: str) -> CommandRejected:
    with pytest.raises(CommandRejected) as refused:
        await client.send(SERVICE, command, {}, CONTEXT)
    return refused.value


async def test_a_domain_error_is_answered_with_its_code_message_and_field(
    client: CommandClient,
) -> None:
    error = await refusal(client, "invalid")

    assert (error.code, error.message, error.field) == (
        "invalid_value",
        "stage 10 is no stage",
        "stage",
    )
    assert error.missing is None


async def test_what_is_missing_travels_with_the_refusal(client: CommandClient) -> None:
    error = await refusal(client, "refused")

    assert error.code == "consent_missing"
    assert error.field == "consentId"
    assert error.missing == ["no consent named"]


async def test_any_domain_error_keeps_its_own_code(client: CommandClient) -> None:
    error = await refusal(client, "custom")

    assert (error.code, error.message, error.field) == ("quota_exceeded", "over quota", None)


async def test_an_exception_that_only_looks_coded_is_an_internal_failure(
    client: CommandClient, caplog: pytest.LogCaptureFixture
) -> None:
    error = await refusal(client, "coded")

    assert error.code == "internal"
    assert error.message.startswith("internal error, reference ")
    assert "server closed the connection" not in error.message
    assert any("command coded failed" in record.getMessage() for record in caplog.records)


async def test_a_command_no_instance_takes_was_not_recorded(nats_client: Client) -> None:
    # given no instance of the service running
    client = CommandClient(nats_client, timeout=5)

    # when a command is sent to it, it is refused at once, saying nothing was recorded
    with pytest.raises(ServiceUnavailable) as refused:
        await client.send("nobody_runs", "open_case", {}, CONTEXT)
    assert refused.value.recorded is False
    assert "nothing was recorded" in str(refused.value)


async def test_a_command_taken_and_not_answered_in_time_may_have_been_recorded(
    nats_client: Client,
) -> None:
    # given an instance that takes the command and does not answer (stopped mid-command)
    taken: list[Any] = []

    async def take(msg: Any) -> None:
        taken.append(msg)

    silent = await nats_client.subscribe(command_subject(SERVICE, "slow"), cb=take)
    client = CommandClient(nats_client, timeout=0.3)

    # when a command is sent, the refusal says it may have been recorded: a client must look
    # before sending it again (the workspace says so in German)
    with pytest.raises(ServiceUnavailable) as refused:
        await client.send(SERVICE, "slow", {}, CONTEXT)
    await silent.unsubscribe()
    assert len(taken) == 1
    assert refused.value.recorded is None
    assert "a change may have been recorded" in str(refused.value)
    refusal = HubError(str(refused.value), "unavailable")
    refusal.extensions["outcome"] = "unknown"
    assert problem(refusal).message == OUTCOME_UNKNOWN
    assert problem(HubError("away", "unavailable")).message == CODE_MESSAGES["unavailable"]
