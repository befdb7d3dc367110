"""Property-based fuzzing of ``/graphql``: schemathesis generates operations from the live
schema (every query and mutation with arguments of their types); each is sent over real HTTP
with a valid token of some role or an invalid one, as a POST or as a GET (also asking for
GraphiQL's HTML). No answer is a 5xx or an ``internal`` error, and without a valid token no
answer carries data. Examples per run: HUB_FUZZ_EXAMPLES (tests/bench/README.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from gateway.schema import schema
from kernel.clock import today_in_germany
from tests.conftest import Servers
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub
from tests.integration.fuzz_tokens import INVALID, Credential, credentials, examples
from tests.integration.live_hub import module_hub, served
from tests.integration.test_inbound import json_values  # any JSON value, of any shape

#: schemathesis draws from ``random`` inside its strategies (its own affair, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
GRAPHQL = schemathesis.graphql.from_file(str(schema))
#: ids of records that exist (filled by ``known_ids``): generated ids name them half the time,
#: so that operations reach past "not found" into the records' fields and arguments
KNOWN_IDS: list[str] = []
schemathesis.graphql.scalar(
    "ID",
    st.deferred(
        lambda: (st.sampled_from(KNOWN_IDS) if KNOWN_IDS else st.nothing()) | st.uuids().map(str)
    ).map(nodes.String),
)
AGENCIES = {
    "abh_officer": "abh-05315",
    "case_manager": "kim-05315",
    "partner_agency": "awo-05315",
    "steering": "steering-05315",
    "conflict_board": "board-05315",
    "admin": "hub-ops",
    "dpo": "datenschutz-05315",
}
TRANSPORTS = ("post", "get json", "get html")
CREDENTIALS = [*INVALID, *AGENCIES]


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


@pytest.fixture(scope="module")
async def base_url(hub: InProcessHub) -> AsyncIterator[str]:
    async with served(hub.app) as address:
        yield f"http://{address}"


@pytest.fixture(scope="module")
async def known_ids(hub: InProcessHub) -> list[str]:
    """A person on abh-05315's file with a case of kim-05315, a consent and a conflict."""

    async def run(role: str, query: str, value: dict[str, Any]) -> dict[str, Any]:
        response = await hub.client.post(
            "/graphql",
            json={"query": query, "variables": {"i": value}},
            headers=hub.headers(role, AGENCIES[role]),
        )
        body = response.json()
        assert "errors" not in body, body
        (result,) = body["data"].values()
        assert isinstance(result, dict)
        return result

    person = await run(
        "abh_officer",
        "mutation($i: RegisterArrivalInput!) { registerArrival(input: $i) { personId } }",
        arrival_input(abhId=AGENCIES["abh_officer"]),
    )
    case = await run(
        "case_manager",
        "mutation($i: OpenCaseInput!) { openCase(input: $i) { caseId } }",
        {
            "personId": person["personId"],
            "givenNames": "Olena",
            "familyName": "Demchenko",
            "targetGroup": "newly_arrived",
            "intakeSource": "foreigners_authority",
        },
    )
    consent = await run(
        "case_manager",
        "mutation($i: GrantConsentInput!) { grantConsent(input: $i) { consentId } }",
        {
            "caseId": case["caseId"],
            "recipients": [AGENCIES["partner_agency"]],
            "categories": ["case_basic"],
            "purposes": ["referral"],
            "validUntil": (today_in_germany() + dt.timedelta(days=180)).isoformat(),
        },
    )
    conflict = await run(
        "conflict_board",
        "mutation($i: ReportConflictInput!) { reportConflict(input: $i) { conflictId } }",
        {
            "kind": "school",
            "district": "Mitte",
            "parties": [{"type": "group", "name": "Eltern"}, {"type": "group", "name": "Schule"}],
            "stage": 2,
            "description": "Streit um den Schulweg",
        },
    )
    KNOWN_IDS[:] = [
        person["personId"],
        case["caseId"],
        consent["consentId"],
        conflict["conflictId"],
    ]
    return KNOWN_IDS


def send(http: httpx.Client, transport: str, query: str, credential: Credential) -> httpx.Response:
    headers = credential.headers()
    if transport == "post":
        return http.post("/graphql", json={"query": query}, headers=headers)
    accept = "text/html" if transport == "get html" else "application/json"
    return http.get("/graphql", params={"query": query}, headers={**headers, "Accept": accept})


def codes(answer: Any) -> set[str | None]:
    errors = answer.get("errors") or [] if isinstance(answer, dict) else []
    return {(e.get("extensions") or {}).get("code") for e in errors}


def check(response: httpx.Response, credential: Credential, query: str) -> None:
    assert response.status_code < 500, (credential.name, query, response.text)
    if not credential.valid:
        assert response.status_code == 401, (credential.name, query, response.text)
        answer = response.json()
        assert answer.get("data") is None, (credential.name, query, answer)
        assert codes(answer) == {"unauthenticated"}
        return
    if response.headers.get("content-type", "").startswith("application/json"):
        assert "internal" not in codes(response.json()), (credential.name, query, response.text)


@pytest.mark.parametrize("name", CREDENTIALS)
async def test_no_generated_operation_gets_a_5xx_or_data_without_a_valid_token(
    hub: InProcessHub, base_url: str, known_ids: list[str], name: str
) -> None:
    credential = credentials(hub.settings, AGENCIES)[name]

    @settings(
        max_examples=examples(16),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=GRAPHQL.as_strategy(), transport=st.sampled_from(TRANSPORTS))
    def fuzz(case: Any, transport: str) -> None:
        query = case.body if isinstance(case.body, str) else case.body["query"]
        check(send(http, transport, query, credential), credential, query)

    with httpx.Client(base_url=base_url, timeout=30) as http:
        await asyncio.to_thread(fuzz)


@pytest.mark.parametrize("name", CREDENTIALS)
async def test_no_arbitrary_document_gets_a_5xx(
    hub: InProcessHub, base_url: str, name: str
) -> None:
    credential = credentials(hub.settings, AGENCIES)[name]

    @settings(max_examples=examples(8), deadline=None, database=None)
    @given(
        query=st.text(max_size=300) | st.from_regex(r"\{ *[a-zA-Z_(){}:$ \"!]{0,80}\}"),
        transport=st.sampled_from(TRANSPORTS),
    )
    def fuzz(query: str, transport: str) -> None:
        check(send(http, transport, query, credential), credential, query)

    with httpx.Client(base_url=base_url, timeout=30) as http:
        await asyncio.to_thread(fuzz)


def _with_a_byte(data: tuple[bytes, int, int]) -> bytes:
    """``body`` with one byte replaced: often no UTF-8 any more."""
    body, at, byte = data
    at %= max(1, len(body))
    return body[:at] + bytes([byte]) + body[at + 1 :]


#: bodies of every kind: bytes, JSON of any shape, a valid request with one byte changed
BODIES = (
    st.binary(max_size=200)
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.tuples(
        st.just(json.dumps({"query": "{ __typename }", "variables": {"id": "x"}}).encode()),
        st.integers(0, 60),
        st.integers(0, 255),
    ).map(_with_a_byte)
)


async def test_no_arbitrary_body_gets_a_5xx(hub: InProcessHub, base_url: str) -> None:
    """Invalid UTF-8 in a body ended in a 500 (the standard library's JSON reader raised a
    ``UnicodeDecodeError``, not the ``JSONDecodeError`` strawberry's view answers with 400)."""
    credential = credentials(hub.settings, AGENCIES)["abh_officer"]

    @settings(max_examples=examples(60), deadline=None, database=None)
    @given(body=BODIES)
    @example(body=b'{"query": "{ __typename }\xff"}')
    def fuzz(body: bytes) -> None:
        headers = {**credential.headers(), "Content-Type": "application/json"}
        response = http.post("/graphql", content=body, headers=headers)
        assert response.status_code < 500, (body, response.text)

    with httpx.Client(base_url=base_url, timeout=30) as http:
        await asyncio.to_thread(fuzz)


#: graphql-transport-ws messages: any JSON, and the protocol's types with any id and payload
WS_MESSAGES = json_values | st.fixed_dictionaries(
    {
        "type": st.sampled_from(["subscribe", "complete", "ping", "pong", "connection_init"]),
        "id": json_values,
        "payload": json_values
        | st.fixed_dictionaries(
            {"query": json_values | st.just("subscription { caseEvents { eventType } }")},
            optional={"variables": json_values, "operationName": json_values},
        ),
    }
)
#: how the gateway may end a socket after a message it refuses: never 1011 (a failure)
PROTOCOL_CLOSES = {4400, 4409, 4429}


async def test_no_arbitrary_websocket_message_fails_the_socket(
    hub: InProcessHub, base_url: str
) -> None:
    """A message that was JSON but no object (a list, a string), or a ``subscribe`` whose
    payload was no object, failed inside strawberry's handler: a traceback, and the socket
    closed without the protocol's 4400."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    credential = credentials(hub.settings, AGENCIES)["case_manager"]
    url = base_url.replace("http", "ws", 1) + "/graphql"
    init = json.dumps({"type": "connection_init", "payload": {"Authorization": credential.header}})

    @settings(max_examples=examples(40), deadline=None, database=None)
    @given(message=WS_MESSAGES)
    @example(message=[1, 2])
    @example(message={"id": "1", "type": "subscribe", "payload": "x"})
    def fuzz(message: Any) -> None:
        with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
            ws.send(init)
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
            ws.send(json.dumps(message))
            try:
                answer = json.loads(ws.recv(timeout=0.3))
            except TimeoutError:
                return  # a subscription that runs, or a message needing no answer
            except ConnectionClosed as closed:
                assert closed.rcvd is not None, message
                assert closed.rcvd.code in PROTOCOL_CLOSES, (message, closed.rcvd)
                return
            assert answer["type"] in {"next", "error", "complete", "pong"}, (message, answer)

    await asyncio.to_thread(fuzz)
