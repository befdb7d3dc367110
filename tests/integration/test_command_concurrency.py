"""A command server answers several requests at once when its commands are independent, over
a real NATS server: nats-py hands a subscription's messages to its callback one at a time, so
without a task per request the writer threads only ever saw one command and group commit
never formed a group (every arrival was its own transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from nats.aio.client import Client
from pydantic import BaseModel

from contracts.commands.foreigners_authority import RegisterArrival
from services.foreigners_authority.api import register_routes
from services.foreigners_authority.application import ForeignersAuthority
from services.runtime.commands import CommandClient, CommandServer, register_commands
from services.runtime.context import CommandContext
from services.runtime.settings import HubSettings
from tests.helpers import arrival, close_app, foreigners_authority
from tests.integration.test_group_commit import count, slow_first_write

SERVICE = "concurrency_test"
OFFICER = CommandContext(
    agency="abh-05111",
    role="abh_officer",
    legal_basis="§ 86 AufenthG",
    purpose="residence_administration",
)


class Empty(BaseModel):
    pass


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings, pool_size=5)
    yield application
    close_app(application)


class Meeting:
    """A handler that answers only once ``size`` requests are being answered together."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.inside = 0
        self.most = 0
        self.full = asyncio.Event()

    async def handle(self, body: Any, context: CommandContext) -> dict[str, Any]:
        self.inside += 1
        self.most = max(self.most, self.inside)
        if self.inside >= self.size:
            self.full.set()
        try:
            await asyncio.wait_for(self.full.wait(), timeout=3)
        finally:
            self.inside -= 1
        return {"together": self.most}


def arrival_payload() -> dict[str, Any]:
    """A register_arrival command's body, as the gateway sends it."""
    command = arrival()
    fields = {name: getattr(command, name) for name in RegisterArrival.model_fields}
    return RegisterArrival(**fields).model_dump(mode="json")


@pytest.fixture
async def client(nats_client: Client) -> CommandClient:
    return CommandClient(nats_client, timeout=10)


async def test_a_server_answers_up_to_its_limit_at_once_and_no_more(
    nats_client: Client, client: CommandClient
) -> None:
    server = CommandServer(nats_client, SERVICE, in_flight=4)
    meeting = Meeting(4)
    server.route("meet", Empty, meeting.handle)
    await server.start()
    try:
        replies = await asyncio.gather(
            *(client.send(SERVICE, "meet", {}, OFFICER) for _ in range(8))
        )
    finally:
        await server.stop()
    assert len(replies) == 8
    assert meeting.most == 4  # four at once (one at a time, the first would wait in vain)


async def test_a_server_stopped_while_answering_still_answers_what_it_took(
    nats_client: Client, client: CommandClient
) -> None:
    server = CommandServer(nats_client, SERVICE, in_flight=4)
    started = asyncio.Event()

    async def slow(body: Any, context: CommandContext) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(0.3)
        return {"done": True}

    server.route("slow", Empty, slow)
    await server.start()
    sending = [asyncio.create_task(client.send(SERVICE, "slow", {}, OFFICER)) for _ in range(3)]
    await started.wait()
    await asyncio.sleep(0.05)  # all three taken
    await server.stop()
    assert [await task for task in sending] == [{"done": True}] * 3


async def test_arrivals_sent_at_once_to_the_authority_share_transactions(
    nats_client: Client, client: CommandClient, app: ForeignersAuthority, database_url: str
) -> None:
    server = CommandServer(nats_client, "foreigners_authority")
    register_routes(server, app)
    assert server.committer is not None
    slow_first_write(server.committer)  # the others gather behind the first transaction
    before = count(database_url)
    await server.start()
    try:
        results = await asyncio.gather(
            *(
                client.send(
                    "foreigners_authority",
                    "register_arrival",
                    arrival_payload(),
                    OFFICER,
                )
                for _ in range(24)
            )
        )
    finally:
        await server.stop()
    stats = server.committer.stats
    assert stats.saves == 24
    assert stats.largest > 1  # grouped: before, each arrival was its own transaction
    assert stats.transactions < 24
    assert count(database_url) == before + 24 * 3
    assert len({r["position"] for r in results}) == 24
    assert len({r["person_id"] for r in results}) == 24


def test_services_whose_commands_read_other_aggregates_answer_one_at_a_time(
    app: ForeignersAuthority,
) -> None:
    server = CommandServer(None, "foreigners_authority")  # type: ignore[arg-type]
    register_commands(server, lambda command, payload, context: None, app)  # type: ignore[arg-type,return-value]
    assert server.committer is not None  # its scheduled jobs still run beside a command
    assert server.in_flight == 1
    independent = CommandServer(None, "foreigners_authority")  # type: ignore[arg-type]
    register_commands(
        independent,
        lambda command, payload, context: None,  # type: ignore[arg-type,return-value]
        app,
        independent=True,
    )
    assert independent.in_flight > 1
