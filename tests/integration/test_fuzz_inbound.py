"""Property-based fuzzing of the foreigners authority's inbound interface, wired as ``hub up``
wires it (the service's writer thread, the process's token verifier) and served over HTTP.

Every documented message kind (message type and body kind, docs/foreigners-authority.md) is
sent with VALID bodies that schemathesis generates from the kind's JSON Schema, the one
``/inbound/schemas`` publishes: none is refused as invalid input, and none gets a 5xx, on
the sender's own file, a file it does not hold, or a new one. Generated messages with every
kind of invalid token get 401 and no data, and other roles 403. Examples per run:
HUB_FUZZ_EXAMPLES (tests/bench/README.md)."""

from __future__ import annotations

import asyncio
import typing
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.foreigners_authority import SPEC
from services.foreigners_authority.inbound.messages import MESSAGE_TYPES
from tests.conftest import Servers
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub
from tests.integration.fuzz_tokens import INVALID, Credential, credentials, examples
from tests.integration.live_hub import module_hub, served

#: schemathesis draws from ``random`` inside its strategies (its own affair, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
SENDER = "abh-05315"
AGENCIES = {
    "abh_officer": SENDER,
    "case_manager": "kim-05315",
    "partner_agency": "awo-05315",
    "steering": "steering-05315",
    "conflict_board": "board-05315",
    "admin": "hub-ops",
    "dpo": "datenschutz-05315",
}


def body_kinds(message: Any) -> list[type[BaseModel]]:
    """The body forms a message type carries (its discriminated union, unwrapped)."""
    annotation = message.model_fields["body"].annotation
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return list(typing.get_args(annotation)) or [annotation]


KINDS = {
    f"{message_type}/{body.__name__}": (message, body)
    for message_type, message in MESSAGE_TYPES.items()
    for body in body_kinds(message)
}


def openapi_of(message: Any, body: type[BaseModel]) -> dict[str, Any]:
    """A one-operation OpenAPI document whose request body is ``message`` with ``body``."""
    schema = message.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    schema["properties"]["body"] = {"$ref": f"#/components/schemas/{body.__name__}"}
    operation = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"200": {"description": "a receipt"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "inbound message", "version": "1"},
        "paths": {"/inbound/messages": {"post": operation}},
        "components": {"schemas": components},
    }


def messages(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid messages of ``kind``, generated from its JSON Schema."""
    loaded = schemathesis.openapi.from_dict(openapi_of(*KINDS[kind]))
    operation = loaded["/inbound/messages"]["POST"]
    return operation.as_strategy().map(lambda case: typing.cast(dict[str, Any], case.body))


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


@pytest.fixture(scope="module")
async def base_url(hub: InProcessHub) -> AsyncIterator[str]:
    application, server = hub.services["foreigners_authority"]  # type: ignore[index]
    async with served(SPEC.http(application, server, hub.settings)) as address:  # type: ignore[misc]
        yield f"http://{address}"


@pytest.fixture
async def held_file(hub: InProcessHub, base_url: str) -> str:
    """The id of a person whose file the sender holds (a new one per test: a generated file
    transfer hands it over)."""
    sender = credentials(hub.settings, AGENCIES)["abh_officer"]
    arrival = arrival_input(abhId=SENDER)
    notice = {
        "messageId": f"fuzz-{uuid.uuid4()}",
        "messageType": "registration_notice",
        "sentAt": "2024-05-02T09:00:00+02:00",
        "sender": SENDER,
        "body": {
            "kind": "new_person",
            **{k: arrival[k] for k in ("givenNames", "familyName", "birthDate", "azrNumber")},
            "nationalities": arrival["nationalities"],
            "entryDate": arrival["entryDate"],
            "entryMode": "temporary_protection",
            "municipalityKey": arrival["municipalityKey"],
            "registeredOn": "2022-03-20",
        },
    }
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post("/inbound/messages", json=notice, headers=sender.headers())
    assert response.status_code == 200, response.text
    person: str = response.json()["personId"]
    return person


def addressed(message: dict[str, Any], agency: str, person: str | None) -> dict[str, Any]:
    """``message`` from ``agency`` with a fresh id, about ``person`` where it names one."""
    message = {**message, "sender": agency, "messageId": f"fuzz-{uuid.uuid4()}"}
    if person is not None and "personId" in message:
        message["personId"] = person
    if person is not None and "personId" in message["body"]:
        message["body"] = {**message["body"], "personId": person}
    return message


def codes(answer: dict[str, Any]) -> set[str]:
    return {e.get("code") for e in answer.get("errors") or []}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_valid_messages_of_every_kind_are_answered_without_a_5xx(
    hub: InProcessHub, base_url: str, held_file: str, kind: str
) -> None:
    sender = credentials(hub.settings, AGENCIES)["abh_officer"]
    answered: set[int] = set()

    @settings(
        max_examples=examples(10),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(message=messages(kind), about=st.sampled_from(["held", "unknown"]))
    def fuzz(message: dict[str, Any], about: str) -> None:
        sent = addressed(message, SENDER, held_file if about == "held" else None)
        response = http.post("/inbound/messages", json=sent, headers=sender.headers())
        answered.add(response.status_code)
        assert response.status_code < 500, (sent, response.text)
        answer = response.json()
        assert "invalid_input" not in codes(answer), (sent, answer)  # valid by its schema
        assert answer["messageId"] == sent["messageId"]

    with httpx.Client(base_url=base_url, timeout=30) as http:
        await asyncio.to_thread(fuzz)

    assert answered <= {200, 403, 422}, answered


@pytest.mark.parametrize("name", [*INVALID, *(role for role in AGENCIES if role != "abh_officer")])
async def test_without_a_sender_token_a_message_gets_no_data_and_changes_nothing(
    hub: InProcessHub, base_url: str, held_file: str, name: str
) -> None:
    credential: Credential = credentials(hub.settings, AGENCIES)[name]
    every_kind = st.sampled_from(list(KINDS)).flatmap(messages)

    @settings(max_examples=examples(8), deadline=None, database=None)
    @given(message=every_kind, about=st.sampled_from(["held", "unknown"]))
    def fuzz(message: dict[str, Any], about: str) -> None:
        sent = addressed(message, SENDER, held_file if about == "held" else None)
        response = http.post("/inbound/messages", json=sent, headers=credential.headers())
        answer = response.json()
        assert response.status_code == (403 if credential.valid else 401), answer
        assert codes(answer) == {"forbidden" if credential.valid else "unauthenticated"}
        assert answer.get("personId") is None, answer
        assert answer.get("position") is None, answer

    with httpx.Client(base_url=base_url, timeout=30) as http:
        await asyncio.to_thread(fuzz)


#: lines of a batch that are no message: other JSON, text, an array, a line over 256 KiB
JUNK = st.one_of(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    ).map(lambda value: __import__("json").dumps(value)),
    st.text(max_size=40).filter(lambda text: "\n" not in text and "\r" not in text),
    st.just('{"messageId": "x", "body": ' + '"' + "x" * (300 * 1024) + '"}'),
)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the line over 256 KiB
async def test_generated_batches_get_a_receipt_a_line_and_no_5xx(
    hub: InProcessHub, base_url: str, held_file: str
) -> None:
    """Batches (POST /inbound/batches) of valid messages of every kind, repeats and junk
    lines: one receipt a line, in order, never a 5xx, the valid ones never refused as
    invalid input."""
    import json

    sender = credentials(hub.settings, AGENCIES)["abh_officer"]
    every_kind = st.sampled_from(list(KINDS)).flatmap(messages)
    line = st.one_of(
        st.tuples(every_kind, st.sampled_from(["held", "unknown"])).map(
            lambda m: json.dumps(addressed(m[0], SENDER, held_file if m[1] == "held" else None))
        ),
        JUNK,
    )

    @settings(
        max_examples=examples(15),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(lines=st.lists(line, min_size=1, max_size=12), repeat=st.booleans())
    def fuzz(lines: list[str], repeat: bool) -> None:
        if repeat:
            lines = [*lines, lines[0]]
        response = http.post(
            "/inbound/batches",
            content="\n".join(lines).encode(),
            headers={**sender.headers(), "Content-Type": "application/x-ndjson"},
        )
        assert response.status_code < 500, (lines, response.text)
        if response.status_code != 200:  # the whole batch: blank, an array, no line of JSON
            assert response.status_code == 400, response.text
            assert response.json()["errors"][0]["code"] in {"empty", "not_ndjson"}
            return
        receipts = [json.loads(r) for r in response.text.splitlines()]
        sent = [text for text in lines if text.strip()]
        assert [r["line"] for r in receipts] == [
            n for n, text in enumerate(lines, 1) if text.strip()
        ]
        for text, receipt in zip(sent, receipts, strict=True):
            try:
                message = json.loads(text)
            except ValueError:
                assert receipt["status"] == "rejected"
                continue
            if isinstance(message, dict) and str(message.get("messageId", "")).startswith("fuzz-"):
                assert receipt["messageId"] == message["messageId"]
                assert "invalid_input" not in codes(receipt), (message, receipt)

    with httpx.Client(base_url=base_url, timeout=60) as http:
        await asyncio.to_thread(fuzz)
