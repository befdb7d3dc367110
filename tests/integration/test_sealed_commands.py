"""No personal value in clear on the bus: everything that crosses NATS while the gateway
registers an arrival and opens a case (commands, replies, JetStream API calls and the events
the relays publish) is recorded raw, and none of the person's values appears in it; nor in
the dead letters of a consumer that fails on every event."""

from __future__ import annotations

import json
from typing import Any

from nats.aio.msg import Msg

from contracts import DEAD_LETTER_STREAM, stream_name
from projections.timeline.projector import TimelineProjection, ddl
from services.runtime.consumer import ConsumerLoop, PoisonMessage
from tests.integration.case_flow import ok
from tests.integration.conftest import InProcessHub

OFFICER = {"role": "abh_officer", "agency": "abh-05315", "subject": "abh-1"}
MANAGER = {"role": "case_manager", "agency": "kim-05315", "subject": "cm-anna"}
VALUES = ("Lina-Marie", "Saleh-Haddad", "1990-03-04", "987654321098", "lina@example.org")
ARRIVAL = {
    "givenNames": VALUES[0],
    "familyName": VALUES[1],
    "birthDate": VALUES[2],
    "azrNumber": VALUES[3],
    "nationalities": ["SYR"],
    "entryDate": "2024-02-01",
    "entryMode": "ASYLUM",
    "municipalityKey": "05315000",
    "abhId": "abh-05315",
}
REGISTER = """mutation($input: RegisterArrivalInput!) { registerArrival(input: $input) {
  personId position } }"""


async def test_no_personal_value_crosses_the_bus_in_clear(
    hub: InProcessHub, nats_client: Any
) -> None:
    # given a recording of every message on the bus
    recorded: list[bytes] = []

    async def record(msg: Msg) -> None:
        headers = "".join(f"{k}:{v}" for k, v in (msg.headers or {}).items())
        recorded.append(msg.subject.encode() + headers.encode() + msg.data)

    tap = await nats_client.subscribe(">", cb=record)
    await nats_client.flush()  # the server knows the tap before the first command

    # when the authority registers an arrival and a case manager opens a case
    registered = await ok(
        hub,
        REGISTER,
        {"input": ARRIVAL},
        OFFICER,
    )
    opened = await ok(
        hub,
        """mutation($input: OpenCaseInput!) { openCase(input: $input) { caseId position } }""",
        {
            "input": {
                "personId": registered["registerArrival"]["personId"],
                "givenNames": VALUES[0],
                "familyName": VALUES[1],
                "birthDate": VALUES[2],
                "contact": VALUES[4],
                "targetGroup": "newly_arrived",
                "legalSpheres": ["sgb_ii"],
                "intakeSource": "foreigners_authority",
            }
        },
        MANAGER,
    )
    await ok(  # until the relays have published the events
        hub,
        """query($id: ID!, $p: String) { person(id: $id) {
        timeline(atLeast: $p) { eventType } } }""",
        {"id": registered["registerArrival"]["personId"], "p": opened["openCase"]["position"]},
        MANAGER,
    )
    await nats_client.flush()
    await tap.unsubscribe()

    # then the commands went sealed, and nothing on the bus holds a personal value
    raw = b"\n".join(recorded)
    assert b"hub.cmd.foreigners_authority.register_arrival" in raw
    assert b"hub.cmd.case_management.open_case" in raw
    assert raw.count(b'"_sealed"') >= 2
    assert b"hub.foreigners_authority." in raw  # the events were on the bus too
    for value in VALUES:
        assert value.encode() not in raw, value


class RefusesEverything(TimelineProjection):
    """A projection that cannot apply any event, and says which in its reason (the worst
    case: a reason that quotes the event it failed on)."""

    async def apply(self, conn: Any, event: Any, payload: Any) -> None:
        raise PoisonMessage(f"cannot apply {payload!r}")


async def test_dead_letters_hold_no_personal_value(hub: InProcessHub, nats_client: Any) -> None:
    # given an arrival registered through the gateway, on the authority's stream
    registered = await ok(
        hub,
        REGISTER,
        {"input": ARRIVAL},
        OFFICER,
    )
    await ok(
        hub,
        """query($id: ID!, $p: String) { person(id: $id) {
        timeline(atLeast: $p) { eventType } } }""",
        {
            "id": registered["registerArrival"]["personId"],
            "p": registered["registerArrival"]["position"],
        },
        OFFICER,
    )

    # when a consumer that can apply none of its events dead-letters them all
    js = nats_client.jetstream()
    loop = ConsumerLoop(
        js=js,
        pool=hub.pool,
        stream=stream_name("foreigners_authority"),
        source="foreigners_authority",
        durable="timeline_rebuild_foreigners_authority",
        position_name="dead_letter_test",
        handler=RefusesEverything(table="timeline_events_rebuild", lock=False),
        schema="projections",
        nak_delay=0.1,
    )
    await hub.pool.execute(ddl("timeline_events_rebuild"))
    await loop.setup()
    for _ in range(50):
        if await loop.num_pending() == 0:
            break
        await loop.poll(timeout=0.3)

    # then the dead letters (bodies and headers, reasons included) hold ciphertext only
    assert loop.stats.dead_lettered >= 3
    dead = []
    for sequence in range(1, (await js.stream_info(DEAD_LETTER_STREAM)).state.last_seq + 1):
        message = await js.get_msg(DEAD_LETTER_STREAM, sequence)
        dead.append(json.dumps(dict(message.headers or {})).encode() + message.data)
    raw = b"\n".join(dead)
    assert b"person_registered" in raw
    for value in VALUES[:4]:
        assert value.encode() not in raw, value
