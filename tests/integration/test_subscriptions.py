"""GraphQL subscriptions over WebSocket (graphql-transport-ws), filtered at delivery time."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from gateway.auth import issue_token
from tests.integration.case_flow import (
    GOAL,
    PARTNER,
    WITHDRAW,
    consent_for_awo,
    ok,
    open_case,
    purpose_header,
    refer_to_awo,
)
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import served

INBOX = """subscription { referralInbox { id status consentStatus
  sharedCase { targetGroup } } }"""
EVENTS = """subscription($person: ID) { caseEvents(personId: $person) { eventType } }"""
ON_THE_TIMELINE = """query($id: ID!, $at: String) {
  person(id: $id) { timeline(atLeast: $at) { eventType } } }"""


@pytest.fixture
async def ws_url(hub: InProcessHub) -> AsyncIterator[str]:
    async with served(hub.app, hub.settings) as address:
        yield f"ws://{address}/graphql"


def token_for(hub: InProcessHub, who: dict[str, str]) -> str:
    return issue_token(
        hub.settings.resolved_jwt_secret(),
        subject=who["subject"],
        agency=who["agency"],
        role=who["role"],
        issuer=hub.settings.jwt_issuer,
    )


class Subscriber:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, url: str, token: str | None, purpose: str | None = None
    ) -> AsyncIterator[Subscriber]:
        """A connection with ``token`` in ``connection_init``, reading for ``purpose``."""
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
            payload = {"Authorization": f"Bearer {token}"} if token else {}
            payload.update(purpose_header(purpose))
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            yield cls(ws)

    async def acked(self) -> None:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        assert message["type"] == "connection_ack", message

    async def subscribe(
        self,
        sub_id: str,
        query: str,
        variables: dict[str, Any] | None = None,
    ) -> None:
        await self.ws.send(
            json.dumps(
                {
                    "id": sub_id,
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        assert message["type"] == "next", message
        data = message["payload"]["data"]
        assert isinstance(data, dict), message
        return data

    async def nothing_for(self, seconds: float) -> bool:
        try:
            message = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected delivery: {message}")


async def test_a_partner_receives_its_referral_and_the_withdrawal_but_nothing_after(
    hub: InProcessHub, ws_url: str
) -> None:
    opened = await open_case(hub)
    # the case's own events are on the timeline before the partner subscribes (a subscription
    # starts at what is projected then): otherwise, with the projector behind, the case's
    # opening came as a fourth delivery, and the inbox's referral was not among the first three
    await ok(hub, ON_THE_TIMELINE, {"id": opened["personId"], "at": opened["position"]})
    async with Subscriber.connect(ws_url, token_for(hub, PARTNER), PARTNER["purpose"]) as partner:
        await partner.acked()
        await partner.subscribe("inbox", INBOX)
        await partner.subscribe("events", EVENTS, {"person": opened["personId"]})
        await asyncio.sleep(0.3)

        consent = await consent_for_awo(hub, opened["caseId"])
        sent = await refer_to_awo(hub, opened["caseId"], consent["consentId"])
        deliveries = [await partner.next() for _ in range(3)]
        referral = next(d["referralInbox"] for d in deliveries if "referralInbox" in d)
        events = [
            d["caseEvents"]["eventType"].split(".")[2] for d in deliveries if "caseEvents" in d
        ]
        assert referral["id"] == sent["referralId"]
        assert referral["consentStatus"] == "active"
        assert referral["sharedCase"] == {"targetGroup": "newly_arrived"}
        assert events == ["consent_granted", "referral_sent"]

        await ok(hub, WITHDRAW, {"input": {"consentId": consent["consentId"]}})
        deliveries = [await partner.next() for _ in range(2)]
        update = next(d["referralInbox"] for d in deliveries if "referralInbox" in d)
        assert update["consentStatus"] == "withdrawn"
        assert update["sharedCase"] is None
        assert any(
            d.get("caseEvents", {}).get("eventType", "").endswith("consent_withdrawn.v1")
            for d in deliveries
        )

        await ok(
            hub,
            GOAL,
            {
                "input": {
                    "caseId": opened["caseId"],
                    "domain": "work",
                    "description": "Bewerbungstraining",
                    "targetDate": "2031-06-30",
                }
            },
        )
        assert await partner.nothing_for(1.5)


async def test_a_connection_without_a_valid_token_is_refused(
    hub: InProcessHub, ws_url: str
) -> None:
    async with Subscriber.connect(ws_url, "not-a-token") as stranger:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await stranger.acked()

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
