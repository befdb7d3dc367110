"""Restriction of processing (Art. 18 GDPR, § 84 (3) SGB X) through the real hub: the data
and the keys are kept, every read stops showing the person, every service refuses to record
anything more about them, the retention run can restrict instead of erase, and a restricted
person can still be erased."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from contracts.privacy import SERVICES
from gateway import retention
from gateway.erasure import ErasureCoordinator
from kernel.clock import today_in_germany
from services.runtime.commands import CommandClient
from services.runtime.messaging import close, connect
from tests.integration.case_flow import CASE, CASE_MANAGER, call, ok
from tests.integration.conftest import InProcessHub, settle
from tests.integration.test_erasure import ADMIN, AZR, DPO, OFFICER, _person_with_a_case

RESTRICT = """mutation($input: RestrictProcessingInput!) { restrictProcessing(input: $input) {
  personId complete restrictedIn pending } }"""
TIMELINE = """query($id: ID!) { person(id: $id) { timeline { eventType } } }"""
PATHWAY = """query($id: ID!) { person(id: $id) { pathway { stage } } }"""


async def _until(check: Any) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out waiting")


async def _restricted_everywhere(hub: InProcessHub, person: str, services: Any = SERVICES) -> None:
    async def projected() -> bool:
        rows = await hub.pool.fetch(
            "SELECT source FROM projections.timeline_events_erased WHERE person_id = $1",
            UUID(person),
        )
        return {row["source"] for row in rows} >= set(services)

    # the timeline has read every service's restriction; every other read model reads it too
    await _until(projected)
    await settle(hub)


async def test_a_restricted_person_is_kept_but_neither_shown_nor_changed(
    hub: InProcessHub,
) -> None:
    given = await _person_with_a_case(hub)
    person = given["person"]
    await ok(hub, CASE, {"id": given["case"], "atLeast": given["position"]})

    # when the data-protection officer restricts the processing (the accuracy is contested)
    body = await call(
        hub, RESTRICT, {"input": {"personId": person, "ground": "ACCURACY_CONTESTED"}}, DPO
    )

    # then every service confirms
    assert "errors" not in body, body
    result = body["data"]["restrictProcessing"]
    assert result["complete"] is True
    assert sorted(result["restrictedIn"]) == sorted(SERVICES)
    await _restricted_everywhere(hub, person)

    # the data and the keys are kept (the service can still answer an Art. 15 request)
    fa_app = hub.services["foreigners_authority"][0]  # type: ignore[index]
    assert fa_app.residence_file(UUID(person))["azr_number"] == AZR
    assert fa_app.vault.withdrawn(UUID(person)) == "restricted"

    # no read shows the person
    assert (await ok(hub, TIMELINE, {"id": person}, ADMIN))["person"]["timeline"] == []
    assert (await ok(hub, PATHWAY, {"id": person}, ADMIN))["person"]["pathway"] is None
    assert (await ok(hub, CASE, {"id": given["case"], "atLeast": None}))["case"] is None

    # nothing more is recorded about them
    refused = await call(
        hub,
        """mutation($i: AssessNeedsInput!) { assessNeeds(input: $i) { position } }""",
        {"i": {"caseId": given["case"], "needs": [{"domain": "work", "level": "high"}]}},
        CASE_MANAGER,
    )
    assert refused["errors"][0]["extensions"]["code"] == "restricted", refused
    refused = await call(
        hub,
        """mutation($i: GrantResidenceTitleInput!) {
        grantResidenceTitle(input: $i) { position } }""",
        {
            "i": {
                "personId": person,
                "title": "RESIDENCE_PERMIT",
                "paragraph": "§ 25 Abs. 2 AufenthG",
                "validFrom": "2025-01-01",
            }
        },
        OFFICER,
    )
    assert refused["errors"][0]["extensions"]["code"] == "restricted", refused

    # a repeat changes nothing, only the officer may restrict, and erasure still works
    again = await call(
        hub, RESTRICT, {"input": {"personId": person, "ground": "ACCURACY_CONTESTED"}}, DPO
    )
    assert again["data"]["restrictProcessing"]["complete"] is True
    for who in (ADMIN, OFFICER, CASE_MANAGER):
        denied = await call(
            hub, RESTRICT, {"input": {"personId": person, "ground": "LEGAL_CLAIMS"}}, who
        )
        assert denied["errors"][0]["extensions"]["code"] == "forbidden", denied
    erased = await call(
        hub,
        """mutation($i: ErasePersonInput!) { erasePerson(input: $i) { complete } }""",
        {"i": {"personId": person, "ground": "REQUEST"}},
        DPO,
    )
    assert erased["data"]["erasePerson"]["complete"] is True
    assert fa_app.vault.withdrawn(UUID(person)) == "erased"
    entry = await hub.pool.fetchval(
        "SELECT count(*) FROM gateway.audit_log WHERE action = 'restrict_processing'"
        " AND person_id = $1",
        UUID(person),
    )
    assert entry == 2  # each request is in the access log


RESTRICTING_RULE = """
[[rule]]
name = "case_management_restricted_after_closure"
record = "case"
trigger = "case_closed"
period = "P1Y"
action = "restrict"
services = ["case_management"]
legal_source = "§ 84 (3) SGB X"
"""


async def test_a_retention_rule_may_restrict_instead_of_erasing(hub: InProcessHub) -> None:
    given = await _person_with_a_case(hub)
    await ok(
        hub,
        """mutation($i: CloseCaseInput!) { closeCase(input: $i) { position } }""",
        {"i": {"caseId": given["case"], "reason": "goals_reached"}},
    )

    async def closed() -> bool:
        return bool(
            await hub.pool.fetchval(
                "SELECT status = 'closed' FROM projections.cv_cases WHERE case_id = $1",
                UUID(given["case"]),
            )
        )

    await _until(closed)
    rules = retention.parse_rules(RESTRICTING_RULE)
    nc = await connect(hub.settings, "test-restrict", user="gateway")
    try:
        coordinator = ErasureCoordinator(hub.pool, CommandClient(nc, timeout=5))
        later = today_in_germany().replace(year=today_in_germany().year + 2)
        (outcome,) = await retention.run(hub.pool, rules, coordinator=coordinator, today=later)
        (again,) = await retention.run(hub.pool, rules, coordinator=coordinator, today=later)
    finally:
        await close(nc)

    assert outcome.erased == 1  # done (restricted)
    assert again.due == []
    cm_app = hub.services["case_management"][0]  # type: ignore[index]
    fa_app = hub.services["foreigners_authority"][0]  # type: ignore[index]
    assert cm_app.vault.withdrawn(UUID(given["person"])) == "restricted"
    assert fa_app.vault.withdrawn(UUID(given["person"])) is None  # only the rule's services
    row = await hub.pool.fetchrow(
        "SELECT action, ground, rule FROM gateway.erasures WHERE person_id = $1",
        UUID(given["person"]),
    )
    assert dict(row) == {
        "action": "restrict",
        "ground": "erasure_disproportionate",
        "rule": "case_management_restricted_after_closure",
    }
