"""Purpose at read time: a read under a consent names its purpose, and the consent must name it.

Issue 10, item 8. A request names its purpose (the ``Hub-Purpose`` header, a WebSocket's
``connection_init`` payload, or the token's ``purpose`` claim); a consent releases another
controller's records only for a purpose it names, a read naming none gets only the reader's
own agency's records (and the answer says why), an unknown purpose is refused clearly, and
the audit log records the purpose.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest
import websockets

from gateway.auth import issue_token
from gateway.context import PURPOSE_HEADER
from kernel.purposes import PURPOSES
from tests.integration.case_flow import (
    CASE_MANAGER,
    INBOX,
    PARTNER,
    TIMELINE,
    call,
    consent_for_awo,
    ok,
    open_case,
    reading_for,
    refer_to_awo,
)
from tests.integration.conftest import InProcessHub
from tests.integration.test_subscriptions import EVENTS, Subscriber, token_for, ws_url

__all__ = ["ws_url"]  # the fixture, used here too


#: what the consent releases to AWO for its purpose: the case (case_basic), the consent, the
#: referral
RELEASED = {"case_opened", "consent_granted", "referral_sent"}


def kinds(data: dict[str, Any]) -> list[str]:
    return [e["eventType"].split(".")[2] for e in data["person"]["timeline"]]


async def referred(hub: InProcessHub) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case at kim-05315 with a consent for AWO for the purpose ``referral`` and a referral
    under it; returns the opened case and the sent referral."""
    opened = await open_case(hub)
    consent = await consent_for_awo(hub, opened["caseId"])  # purposes: referral
    sent = await refer_to_awo(hub, opened["caseId"], consent["consentId"])
    return opened, sent


async def post(
    hub: InProcessHub, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> Any:
    return await hub.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def bearer(hub: InProcessHub, who: dict[str, str], **claims: Any) -> dict[str, str]:
    token = issue_token(
        hub.settings.resolved_jwt_secret(),
        subject=who["subject"],
        agency=who["agency"],
        role=who["role"],
        issuer=hub.settings.jwt_issuer,
        **claims,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_a_consent_for_referral_does_not_release_a_timeline_read_for_benefit_processing(
    hub: InProcessHub,
) -> None:
    # given a consent for AWO that names the purpose referral only
    opened, sent = await referred(hub)
    variables = {"id": opened["personId"], "atLeast": sent["position"]}

    # when AWO reads the person's timeline for benefit_processing, and for referral
    other = await ok(hub, TIMELINE, variables, reading_for(PARTNER, "benefit_processing"))
    named = await ok(hub, TIMELINE, variables, reading_for(PARTNER, "referral"))

    # then the consent releases nothing for the purpose it does not name
    assert kinds(other) == []
    assert set(kinds(named)) >= RELEASED


async def test_a_read_naming_no_purpose_sees_only_own_records_and_is_told_why(
    hub: InProcessHub,
) -> None:
    # given a consent and a referral to AWO, for the purpose referral
    opened, sent = await referred(hub)
    variables = {"id": opened["personId"], "atLeast": sent["position"]}

    # when AWO reads the timeline and its inbox naming no purpose
    result = await call(hub, TIMELINE, variables, reading_for(PARTNER, None))
    inbox = await call(hub, INBOX, {"atLeast": sent["position"]}, reading_for(PARTNER, None))

    # then nothing released by the consent reaches it, and the answer says why (for a UI)
    assert "errors" not in result
    assert kinds(result["data"]) == []
    (notice,) = result["extensions"]["notices"]
    assert notice["code"] == "purpose_missing"
    assert "Zweck" in notice["message"]
    (referral,) = inbox["data"]["referralInbox"]
    assert referral["id"] == sent["referralId"]  # its own inbox: the referral itself
    assert referral["sharedCase"] is None  # but not the case data the consent shares
    assert inbox["extensions"]["notices"][0]["code"] == "purpose_missing"
    # while the case-holding agency sees all its own records without a purpose
    own = await call(hub, TIMELINE, variables, CASE_MANAGER)
    assert set(kinds(own["data"])) >= RELEASED
    # and a read for the purpose gets the shared case data and no notice
    named = await call(hub, INBOX, {}, PARTNER)
    assert named["data"]["referralInbox"][0]["sharedCase"] is not None
    assert "extensions" not in named


async def test_a_token_bound_to_a_purpose_reads_for_it_and_cannot_be_widened(
    hub: InProcessHub,
) -> None:
    # given a consent for referral, and AWO's token bound to the purpose referral
    opened, sent = await referred(hub)
    variables = {"id": opened["personId"], "atLeast": sent["position"]}
    bound = bearer(hub, PARTNER, purpose="referral")

    # when it reads without a header, with the same purpose, and with another one
    plain = await post(hub, TIMELINE, variables, bound)
    same = await post(hub, TIMELINE, variables, {**bound, PURPOSE_HEADER: "referral"})
    other = await post(hub, TIMELINE, variables, {**bound, PURPOSE_HEADER: "counselling"})

    # then the claim counts, the header may repeat it, and a contradiction is refused
    assert set(kinds(plain.json()["data"])) >= RELEASED
    assert kinds(same.json()["data"]) == kinds(plain.json()["data"])
    assert other.status_code == 400
    (error,) = other.json()["errors"]
    assert error["extensions"]["code"] == "bad_purpose"
    assert "contradicts" in error["message"]


async def test_an_unknown_purpose_is_refused_clearly(hub: InProcessHub) -> None:
    # given a partner's valid token
    headers = bearer(hub, PARTNER)
    query = "{ referralInbox { id } }"

    # when it names a purpose outside the vocabulary, an empty one, or its token claims one
    unknown = await post(hub, query, {}, {**headers, PURPOSE_HEADER: "marketing"})
    empty = await post(hub, query, {}, {**headers, PURPOSE_HEADER: " "})
    forged = jwt.encode(
        {
            **jwt.decode(headers["Authorization"][7:], options={"verify_signature": False}),
            "purpose": "marketing",
        },
        hub.settings.resolved_jwt_secret(),
        algorithm="HS256",
    )
    claimed = await post(hub, query, {}, {"Authorization": f"Bearer {forged}"})

    # then each is a 400 with the code bad_purpose, listing the purposes, never quoting it
    for response in (unknown, empty, claimed):
        assert response.status_code == 400, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "bad_purpose"}
        assert "marketing" not in error["message"]
        assert all(purpose in error["message"] for purpose in PURPOSES)
    # and a bad token still gets its 401 first
    stranger = await post(hub, query, {}, {"Authorization": "Bearer x", PURPOSE_HEADER: "x"})
    assert stranger.status_code == 401


async def test_a_subscription_delivers_only_what_a_consent_releases_for_its_purpose(
    hub: InProcessHub, ws_url: str
) -> None:
    # given AWO subscribed to a person's events twice: for benefit_processing, and for referral
    opened = await open_case(hub)
    await ok(hub, TIMELINE, {"id": opened["personId"], "atLeast": opened["position"]})
    token = token_for(hub, PARTNER)
    async with (
        Subscriber.connect(ws_url, token, "benefit_processing") as other,
        Subscriber.connect(ws_url, token, "referral") as named,
    ):
        for subscriber in (other, named):
            await subscriber.acked()
            await subscriber.subscribe("events", EVENTS, {"person": opened["personId"]})
        await asyncio.sleep(0.3)

        # when the case manager records a consent for referral and refers the person to AWO
        consent = await consent_for_awo(hub, opened["caseId"])
        await refer_to_awo(hub, opened["caseId"], consent["consentId"])

        # then only the subscription for the consent's purpose receives them
        received = [(await named.next())["caseEvents"]["eventType"] for _ in range(2)]
        assert [kind.split(".")[2] for kind in received] == ["consent_granted", "referral_sent"]
        assert await other.nothing_for(1.5)


async def test_a_subscription_naming_an_unknown_purpose_is_refused(
    hub: InProcessHub, ws_url: str
) -> None:
    async with Subscriber.connect(ws_url, token_for(hub, PARTNER), "marketing") as partner:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await partner.acked()

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_the_audit_row_carries_the_purpose_of_the_read(hub: InProcessHub) -> None:
    # given a consent and a referral to AWO
    opened, sent = await referred(hub)
    variables = {"id": opened["personId"], "atLeast": sent["position"]}

    # when AWO reads the timeline for referral, and the case manager without a purpose
    await ok(hub, TIMELINE, variables, PARTNER)
    await ok(hub, TIMELINE, variables, CASE_MANAGER)

    # then the audit log names the purpose of each read (none named: the own processing)
    rows = await hub.pool.fetch(
        "SELECT agency, purpose FROM gateway.audit_log"
        " WHERE action = 'timeline' AND person_id = $1::uuid ORDER BY seq",
        opened["personId"],
    )
    assert [(r["agency"], r["purpose"]) for r in rows] == [
        (PARTNER["agency"], "referral"),
        (CASE_MANAGER["agency"], "case_processing"),
    ]
