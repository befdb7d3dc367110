"""Erasure (Art. 17 GDPR) through the real hub: ``erasePerson`` as the data-protection
officer destroys the person's key in every service, every service records
``PersonalDataErased``, every read model drops or hides what it held, the statistics stay as
they were, nothing readable is left anywhere (tables, streams, dead letters, logs), and the
erasure is idempotent, resumes after a service was down or a crash half way, and is audited
without personal data."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from contracts import DEAD_LETTER_STREAM, stream_name
from contracts.privacy import SERVICES
from gateway.erasure import ErasureCoordinator
from hub.catalog import SERVICES as SPECS
from services.runtime.commands import CommandClient, CommandServer
from services.runtime.erasure import Erasure, erasure_id
from services.runtime.messaging import close, connect
from services.runtime.sealing import opener_for
from services.runtime.vault import PersonErased
from tests.integration.case_flow import (
    CASE,
    CASE_MANAGER,
    PARTNER,
    call,
    consent_for_awo,
    ok,
    refer_to_awo,
)
from tests.integration.conftest import InProcessHub, settle

OFFICER = {"role": "abh_officer", "agency": "abh-05315", "subject": "abh-clara"}
DPO = {"role": "dpo", "agency": "datenschutz-05315", "subject": "dpo-greta"}
ADMIN = {"role": "admin", "agency": "hub-ops", "subject": "ops-fritz"}
NAMES = ("Lina-Marie", "Saleh-Haddad")
BIRTH = "1990-03-04"
AZR = "987654321098"
CONTACT = "lina.saleh@example.org"
GOAL_TEXT = "Lina-Marie moechte Pflegehelferin werden"
#: every personal value of the person, as stored and as a German date
VALUES = (*NAMES, BIRTH, "04.03.1990", AZR, CONTACT, GOAL_TEXT)

ERASE = """mutation($input: ErasePersonInput!) { erasePerson(input: $input) {
  personId complete erasedIn pending positions } }"""
TIMELINE = """query($id: ID!, $p: String) { person(id: $id) { timeline(atLeast: $p) {
  eventType } } }"""
PATHWAY = """query($id: ID!) { person(id: $id) { pathway { stage } } }"""


async def _person_with_a_case(hub: InProcessHub) -> dict[str, str]:
    registered = await ok(
        hub,
        """mutation($i: RegisterArrivalInput!) { registerArrival(input: $i) { personId } }""",
        {
            "i": {
                "givenNames": NAMES[0],
                "familyName": NAMES[1],
                "birthDate": BIRTH,
                "azrNumber": AZR,
                "nationalities": ["SYR"],
                "entryDate": "2024-02-01",
                "entryMode": "ASYLUM",
                "municipalityKey": "05315000",
                "abhId": "abh-05315",
            }
        },
        OFFICER,
    )
    person = registered["registerArrival"]["personId"]
    opened = await ok(
        hub,
        """mutation($i: OpenCaseInput!) { openCase(input: $i) { caseId } }""",
        {
            "i": {
                "personId": person,
                "givenNames": NAMES[0],
                "familyName": NAMES[1],
                "birthDate": BIRTH,
                "contact": CONTACT,
                "targetGroup": "newly_arrived",
                "legalSpheres": ["sgb_ii"],
                "intakeSource": "foreigners_authority",
            }
        },
    )
    case = opened["openCase"]["caseId"]
    await ok(
        hub,
        """mutation($i: AgreeGoalInput!) { agreeGoal(input: $i) { goalId } }""",
        {
            "i": {
                "caseId": case,
                "domain": "work",
                "description": GOAL_TEXT,
                "targetDate": "2027-06-30",
            }
        },
    )
    consent = (await consent_for_awo(hub, case))["consentId"]
    referral = await refer_to_awo(hub, case, consent)
    return {"person": person, "case": case, "consent": consent, "position": referral["position"]}


async def _erase(hub: InProcessHub, person: str, who: dict[str, str] = DPO) -> dict[str, Any]:
    return await call(hub, ERASE, {"input": {"personId": person, "ground": "REQUEST"}}, who)


async def _until(check: Any, timeout: float = 10.0) -> None:
    """Wait until ``check()`` holds (the relays and projectors run on their own)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


async def _erased_everywhere(hub: InProcessHub, person: str) -> None:
    async def projected() -> bool:
        rows = await hub.pool.fetch(
            "SELECT source FROM projections.timeline_events_erased WHERE person_id = $1",
            UUID(person),
        )
        return {row["source"] for row in rows} == set(SERVICES)

    # the timeline has read every service's erasure; every other read model reads it too
    await _until(projected)
    await settle(hub)


async def _everything_in_the_database(hub: InProcessHub) -> str:
    tables = await hub.pool.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    dumped = []
    for row in tables:
        name = f'"{row["table_schema"]}"."{row["table_name"]}"'
        text = await hub.pool.fetchval(f"SELECT string_agg(t::text, chr(10)) FROM {name} t")
        dumped.append(f"{name}\n{text or ''}")
    return "\n".join(dumped)


async def _everything_on_the_streams(nats_client: Any) -> bytes:
    js = nats_client.jetstream()
    raw = []
    for stream in [*(stream_name(s) for s in SERVICES), DEAD_LETTER_STREAM]:
        info = await js.stream_info(stream)
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                message = await js.get_msg(stream, seq)
            except Exception:  # noqa: S112 - a deleted sequence
                continue
            raw.append((message.data or b"") + repr(message.headers).encode())
    return b"\n".join(raw)


async def test_erasing_a_person_leaves_nothing_readable_and_keeps_the_statistics(
    hub: InProcessHub, nats_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # given a person with a residence file, a case, a goal, a consent and a referral
    given = await _person_with_a_case(hub)
    person = given["person"]
    await ok(hub, TIMELINE, {"id": person, "p": given["position"]}, ADMIN)
    fa_app = hub.services["foreigners_authority"][0]  # type: ignore[index]
    cm_app = hub.services["case_management"][0]  # type: ignore[index]
    assert fa_app.residence_file(UUID(person))["azr_number"] == AZR  # readable until now
    statistics = (
        "SELECT count(*), string_agg(stage, ',' ORDER BY stage) FROM projections.pathway_persons"
    )
    history = "SELECT count(*) FROM projections.pathway_stage_history"
    before = (await hub.pool.fetchrow(statistics), await hub.pool.fetchval(history))

    # when the data-protection officer erases the person
    body = await _erase(hub, person)

    # then every service confirms at once
    assert "errors" not in body, body
    result = body["data"]["erasePerson"]
    assert result["complete"] is True
    assert sorted(result["erasedIn"]) == sorted(SERVICES)
    assert result["pending"] == []
    await _erased_everywhere(hub, person)

    # the keys are gone: the stored ciphertext can never be read again
    with pytest.raises(PersonErased):
        fa_app.residence_file(UUID(person))
    with pytest.raises(PersonErased):
        cm_app.vault.decrypt(UUID(person), "names", "hubenc:v1:x")
    keys = await hub.pool.fetch(
        "SELECT wrapped_key FROM foreigners_authority.person_keys WHERE person_id = $1"
        " UNION ALL SELECT wrapped_key FROM case_management.person_keys WHERE person_id = $1",
        UUID(person),
    )
    assert [row["wrapped_key"] for row in keys] == [None, None]

    # no read shows the person any more
    timeline = await ok(hub, TIMELINE, {"id": person, "p": None}, ADMIN)
    assert timeline["person"]["timeline"] == []
    assert (await ok(hub, PATHWAY, {"id": person}, ADMIN))["person"]["pathway"] is None
    assert (await ok(hub, CASE, {"id": given["case"], "atLeast": None}))["case"] is None
    inbox = await ok(hub, "{ referralInbox { id } }", {}, PARTNER)
    assert inbox["referralInbox"] == []
    caseload = await ok(hub, "{ caseload { cases { id } } }", {})
    assert given["case"] not in str(caseload)

    # the pseudonymous statistics are unchanged
    after = (await hub.pool.fetchrow(statistics), await hub.pool.fetchval(history))
    assert tuple(after[0]) == tuple(before[0])
    assert after[1] == before[1]

    # nothing about the person is recorded any more, in any service
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
    assert refused["errors"][0]["extensions"]["code"] == "erased", refused
    refused = await call(
        hub,
        """mutation($i: AssessNeedsInput!) { assessNeeds(input: $i) { position } }""",
        {"i": {"caseId": given["case"], "needs": [{"domain": "work", "level": "high"}]}},
        CASE_MANAGER,
    )
    assert refused["errors"][0]["extensions"]["code"] == "erased", refused
    reopened = await call(
        hub,
        """mutation($i: OpenCaseInput!) { openCase(input: $i) { caseId } }""",
        {
            "i": {
                "personId": person,
                "givenNames": NAMES[0],
                "familyName": NAMES[1],
                "targetGroup": "newly_arrived",
                "legalSpheres": ["sgb_ii"],
                "intakeSource": "foreigners_authority",
            }
        },
        CASE_MANAGER,
    )
    assert reopened["errors"][0]["extensions"]["code"] == "erased", reopened

    # and no personal value is readable anywhere: tables, streams, dead letters, logs
    database = await _everything_in_the_database(hub)
    streams = await _everything_on_the_streams(nats_client)
    logs = "\n".join(record.getMessage() for record in caplog.records)
    for value in VALUES:
        assert value not in database, value
        assert value.encode() not in streams, value
        assert value not in logs, value
    # the erasure itself is on every service's stream, with no personal value
    assert streams.count(b"personal_data_erased") >= len(SERVICES)

    # and it is in the access log, pseudonymously
    entry = await hub.pool.fetchrow(
        "SELECT subject, role, purpose, detail FROM gateway.audit_log"
        " WHERE action = 'erase_person' AND person_id = $1",
        UUID(person),
    )
    assert dict(entry) == {
        "subject": "dpo-greta",
        "role": "dpo",
        "purpose": "data_subject_rights",
        "detail": "ground=request; services=" + ",".join(sorted(SERVICES)),
    }


def _erasures_recorded(hub: InProcessHub) -> list[int]:
    """How many erasure events each service has stored."""
    topic = get_topic(Erasure.PersonalDataErased)
    counts = []
    for service in SERVICES:
        app = hub.services[service][0]  # type: ignore[index]
        counts.append(len(app.recorder.select_notifications(start=1, limit=10_000, topics=[topic])))
    return counts


async def test_erasing_again_changes_nothing_and_only_the_officer_may_erase(
    hub: InProcessHub,
) -> None:
    given = await _person_with_a_case(hub)
    person = given["person"]
    first = (await _erase(hub, person))["data"]["erasePerson"]
    await _erased_everywhere(hub, person)
    before = _erasures_recorded(hub)

    second = (await _erase(hub, person))["data"]["erasePerson"]

    assert second["complete"]
    assert second["erasedIn"] == first["erasedIn"]
    assert _erasures_recorded(hub) == before == [1, 1, 1, 1]
    for who in (ADMIN, OFFICER, CASE_MANAGER):
        refused = await _erase(hub, person, who)
        assert refused["errors"][0]["extensions"]["code"] == "forbidden", refused


async def test_an_erasure_a_service_missed_is_completed_when_it_is_back(
    hub: InProcessHub,
) -> None:
    given = await _person_with_a_case(hub)
    person = given["person"]
    # given the steering group's command server is down
    app, server = hub.services["steering_group"]  # type: ignore[index]
    await server.stop()

    # when the officer erases the person
    result = (await _erase(hub, person))["data"]["erasePerson"]

    # then it is done where possible and pending where not
    assert result["complete"] is False
    assert result["pending"] == ["steering_group"]
    row = await hub.pool.fetchrow(
        "SELECT pending, last_error FROM gateway.erasures WHERE person_id = $1", UUID(person)
    )
    assert row["pending"] == ["steering_group"]
    assert row["last_error"] == "steering_group: unavailable"

    # and once the service is back, the gateway's resume completes it
    restarted = CommandServer(
        server.nc, "steering_group", opener=opener_for(hub.settings, "steering_group")
    )
    SPECS["steering_group"].register_routes(restarted, app)
    await restarted.start()
    try:
        gateway = await connect(hub.settings, "test-erasure", user="gateway")
        coordinator = ErasureCoordinator(hub.pool, CommandClient(gateway, timeout=5))
        assert await coordinator.resume_pending() == 0
        status = await coordinator.status(UUID(person))
        assert status.complete
        assert sorted(status.erased_in) == sorted(SERVICES)
        await _erased_everywhere(hub, person)
        await close(gateway)
    finally:
        await restarted.stop()


async def test_a_crash_between_destroying_the_key_and_recording_the_erasure_is_resumed(
    hub: InProcessHub,
) -> None:
    given = await _person_with_a_case(hub)
    person = UUID(given["person"])
    # given the authority destroyed the key and crashed before recording the erasure
    fa_app = hub.services["foreigners_authority"][0]  # type: ignore[index]
    assert fa_app.vault.erase(person) is True

    # when the erasure is sent (again)
    result = (await _erase(hub, str(person)))["data"]["erasePerson"]

    # then every service records it, the authority saying it held a key
    assert result["complete"] is True
    await _erased_everywhere(hub, str(person))
    record = fa_app.repository.get(erasure_id(person))
    assert record.key_destroyed is True
