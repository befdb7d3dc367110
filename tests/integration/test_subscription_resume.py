"""A ``caseEvents`` or ``referralInbox`` subscriber that lost its connection (its gateway
restarted) resumes with the token of the last item it received: it gets what followed, and
nothing before it; the token is only a cursor, authorised like the subscription itself (the
reader's rule at delivery)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.positions import Position
from gateway import subscriptions
from gateway.context import HubError
from gateway.subscriptions import parse_inbox_token, parse_resume_token, resume_token
from tests.integration.case_flow import (
    CASE_MANAGER,
    GOAL,
    PARTNER,
    TIMELINE,
    WITHDRAW,
    consent_for_awo,
    ok,
    open_case,
    refer_to_awo,
)
from tests.integration.case_flow import (
    INBOX as INBOX_QUERY,
)
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import served
from tests.integration.test_subscriptions import Subscriber, token_for


@pytest.fixture
async def ws_url(hub: InProcessHub) -> AsyncIterator[str]:
    async with served(hub.app, hub.settings) as address:
        yield f"ws://{address}/graphql"


RESUMABLE = """subscription($person: ID, $after: String) {
  caseEvents(personId: $person, after: $after) { eventType service position resume } }"""

INBOX = """subscription($after: String) {
  referralInbox(after: $after) { id status consentStatus resume } }"""


async def agree_goal(hub: InProcessHub, case_id: str, description: str) -> str:
    goal = await ok(
        hub,
        GOAL,
        {
            "input": {
                "caseId": case_id,
                "domain": "work",
                "description": description,
                "targetDate": "2031-06-30",
            }
        },
    )
    return str(goal["agreeGoal"]["position"])


async def on_timeline(hub: InProcessHub, person: str, position: str) -> list[Any]:
    data = await ok(hub, TIMELINE, {"id": person, "atLeast": position})
    return list(data["person"]["timeline"])


async def test_a_subscriber_resumes_after_the_last_event_it_received(
    hub: InProcessHub, ws_url: str
) -> None:
    # given a case manager who received a case's first events live, then lost the connection
    opened = await open_case(hub)
    person = opened["personId"]
    token = token_for(hub, CASE_MANAGER)
    first = await agree_goal(hub, opened["caseId"], "Sprachkurs")
    expected_before = len(await on_timeline(hub, person, first))
    async with Subscriber.connect(ws_url, token) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"person": person, "after": "c1."})
        received = [(await manager.next())["caseEvents"] for _ in range(expected_before)]
    assert [r["eventType"].split(".")[2] for r in received][-1] == "goal_agreed"
    last = received[-1]

    # when two more goals are agreed while it is away
    await agree_goal(hub, opened["caseId"], "Bewerbungstraining")
    latest = await agree_goal(hub, opened["caseId"], "Fahrschule")
    missed = (await on_timeline(hub, person, latest))[expected_before:]
    assert len(missed) == 2

    # then a new subscription after its last token delivers exactly those two, in order
    async with Subscriber.connect(ws_url, token) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"person": person, "after": last["resume"]})
        resumed = [(await manager.next())["caseEvents"] for _ in range(2)]
        assert await manager.nothing_for(1.5)
    assert [r["eventType"].split(".")[2] for r in resumed] == ["goal_agreed", "goal_agreed"]
    assert [r["position"] for r in resumed] == sorted(r["position"] for r in resumed)
    assert all(r["position"] > last["position"] for r in resumed)
    # each token names the cursor after its own event
    assert parse_resume_token(resumed[-1]["resume"])["case_management"] == resumed[-1]["position"]


async def test_a_connection_lost_in_the_middle_of_a_burst_resumes_without_a_gap(
    hub: InProcessHub, ws_url: str
) -> None:
    """The chaos run's "skipped range" after the projector's kill: the restarted projector's
    backlog was still being delivered when the next phase killed the gateway; the subscriber
    came back at the current position and the rows the dead gateway had not yet delivered
    were lost to it. With its token it receives them."""
    # given a subscriber with several events due, of which it has received only the first
    opened = await open_case(hub)
    person = opened["personId"]
    await on_timeline(hub, person, opened["position"])  # the case's own events are old news
    token = token_for(hub, CASE_MANAGER)
    async with Subscriber.connect(ws_url, token) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"person": person})
        await asyncio.sleep(0.3)
        for goal in ("Sprachkurs", "Bewerbungstraining", "Fahrschule"):
            latest = await agree_goal(hub, opened["caseId"], goal)
        due = await on_timeline(hub, person, latest)
        first = (await manager.next())["caseEvents"]
    # when the connection is gone (the gateway died) and the subscriber comes back
    async with Subscriber.connect(ws_url, token) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"person": person, "after": first["resume"]})
        rest = [(await manager.next())["caseEvents"] for _ in range(2)]
        assert await manager.nothing_for(1.0)
    # then it has every event that was due, each once and in order
    positions = [first["position"]] + [r["position"] for r in rest]
    assert positions == sorted(set(positions))
    assert all(r["eventType"].endswith("goal_agreed.v1") for r in [first, *rest])
    assert sum(d["eventType"].endswith("goal_agreed.v1") for d in due) == 3


async def test_a_resume_token_releases_only_what_the_reader_may_see(
    hub: InProcessHub, ws_url: str
) -> None:
    # given a case without any consent, and a token from the very start of every log
    opened = await open_case(hub)
    await agree_goal(hub, opened["caseId"], "Sprachkurs")
    start = resume_token({"case_management": 0, "foreigners_authority": 0})

    # when a partner agency (no consent) resumes from there about that person
    async with Subscriber.connect(ws_url, token_for(hub, PARTNER), PARTNER["purpose"]) as partner:
        await partner.acked()
        await partner.subscribe("events", RESUMABLE, {"person": opened["personId"], "after": start})
        # then it receives none of the case's events, as live
        assert await partner.nothing_for(2.0)

    # while the case manager, from the same token, receives them
    async with Subscriber.connect(ws_url, token_for(hub, CASE_MANAGER)) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"person": opened["personId"], "after": start})
        event = (await manager.next())["caseEvents"]
        assert event["service"] == "case_management"


@pytest.mark.parametrize(
    "token",
    ["", "p1.Y2FzZV9tYW5hZ2VtZW50OjE", "c1.!!!", resume_token({"nosuchservice": 1}), "c1.YTot"],
)
def test_a_token_that_names_no_cursor_is_invalid_input(token: str) -> None:
    with pytest.raises(HubError) as refused:
        parse_resume_token(token)
    assert refused.value.extensions == {"code": "invalid_input", "field": "after"}


async def test_an_invalid_resume_token_is_refused_on_subscribing(
    hub: InProcessHub, ws_url: str
) -> None:
    async with Subscriber.connect(ws_url, token_for(hub, CASE_MANAGER)) as manager:
        await manager.acked()
        await manager.subscribe("events", RESUMABLE, {"after": "not-a-token"})
        message = json.loads(await asyncio.wait_for(manager.ws.recv(), 5))
    assert message["type"] == "error" or (
        message["type"] == "next" and message["payload"].get("errors")
    ), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "invalid_input"


async def test_a_referral_inbox_resumes_after_the_last_referral_received(
    hub: InProcessHub, ws_url: str
) -> None:
    # given a partner agency that received a referral live, then lost the connection
    opened = await open_case(hub)
    consent = await consent_for_awo(hub, opened["caseId"])
    token = token_for(hub, PARTNER)
    async with Subscriber.connect(ws_url, token, PARTNER["purpose"]) as partner:
        await partner.acked()
        await partner.subscribe("inbox", INBOX)
        await asyncio.sleep(0.3)
        sent = await refer_to_awo(hub, opened["caseId"], consent["consentId"])
        first = (await partner.next())["referralInbox"]
    assert first["id"] == sent["referralId"]
    assert first["consentStatus"] == "active"

    # when the consent is withdrawn while it is away
    await ok(hub, WITHDRAW, {"input": {"consentId": consent["consentId"]}})

    # then a new subscription after its token delivers the change, and only that
    async with Subscriber.connect(ws_url, token, PARTNER["purpose"]) as partner:
        await partner.acked()
        await partner.subscribe("inbox", INBOX, {"after": first["resume"]})
        update = (await partner.next(timeout=30))["referralInbox"]
        assert await partner.nothing_for(1.5)
    assert update["id"] == sent["referralId"]
    assert update["consentStatus"] == "withdrawn"
    assert parse_inbox_token(update["resume"]) > parse_inbox_token(first["resume"])


@pytest.mark.parametrize(
    "token",
    ["", "c1.", Position("foreigners_authority", 3).token(), "p1.!!"],
)
def test_an_inbox_token_that_names_no_case_management_position_is_invalid(token: str) -> None:
    with pytest.raises(HubError) as refused:
        parse_inbox_token(token)
    assert refused.value.extensions == {"code": "invalid_input", "field": "after"}


async def test_a_change_committed_between_the_inbox_reads_is_delivered(
    hub: InProcessHub, ws_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inbox once read the changed referrals, then their latest version as its cursor: a
    change committed in between moved the cursor past it, and it was never delivered."""
    opened = await open_case(hub)
    consent = await consent_for_awo(hub, opened["caseId"])
    original = subscriptions.load_referrals
    raced: list[str] = []

    async def load_then_withdraw(pool: Any, **kwargs: Any) -> Any:
        found = await original(pool, **kwargs)
        if found and not raced:  # the consent ends right after the inbox has read
            withdrawn = await ok(hub, WITHDRAW, {"input": {"consentId": consent["consentId"]}})
            raced.append(withdrawn["withdrawConsent"]["position"])
            await ok(hub, INBOX_QUERY, {"atLeast": raced[0]}, PARTNER)  # projected
        return found

    monkeypatch.setattr(subscriptions, "load_referrals", load_then_withdraw)
    async with Subscriber.connect(ws_url, token_for(hub, PARTNER), PARTNER["purpose"]) as partner:
        await partner.acked()
        await partner.subscribe("inbox", INBOX)
        await asyncio.sleep(0.3)
        sent = await refer_to_awo(hub, opened["caseId"], consent["consentId"])
        first = (await partner.next(timeout=30))["referralInbox"]
        assert raced
        # then the withdrawal that committed between the two reads arrives too
        update = (await partner.next(timeout=15))["referralInbox"]
    assert first["id"] == update["id"] == sent["referralId"]
    assert first["consentStatus"] == "active"
    assert update["consentStatus"] == "withdrawn"
