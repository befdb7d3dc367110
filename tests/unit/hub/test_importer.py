"""hub import's scheduling, against a fake endpoint: each person's messages in their order
with the person id filled in, batches at most the size asked for, halved when the endpoint
finds them too large, and sent again after a transient failure."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub import importer
from hub.importer import generate, import_file


class FakeEndpoint:
    """Accepts every message once (duplicates after), a new person's with a new id."""

    def __init__(self, max_messages: int = 10_000, failures: int = 0) -> None:
        self.max_messages = max_messages
        self.failures = failures
        self.seen: dict[str, str | None] = {}
        self.batches: list[list[dict[str, Any]]] = []
        self.order: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.failures -= 1
            if self.failures % 2:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(503)
        lines = [json.loads(text) for text in request.content.decode().splitlines()]
        if len(lines) > self.max_messages:
            return httpx.Response(413, json={"errors": [{"code": "too_many_messages"}]})
        self.batches.append(lines)
        receipts = []
        for n, message in enumerate(lines, 1):
            assert "personRef" not in message
            key = message["messageId"]
            if key in self.seen:
                status, person = "duplicate", self.seen[key]
            else:
                status = "accepted"
                person = (
                    str(uuid.uuid4())
                    if message["body"]["kind"] == "new_person"
                    else message["personId"]
                )
                self.seen[key] = person
                self.order.append(message)
            receipts.append({"messageId": key, "status": status, "personId": person, "line": n})
        return httpx.Response(200, text="".join(json.dumps(r) + "\n" for r in receipts))


def run(path: Path, endpoint: FakeEndpoint, batch_size: int) -> importer.ImportResult:
    return import_file(
        path,
        "http://abh.test",
        "token",
        batch_size=batch_size,
        progress=False,
        transport=httpx.MockTransport(endpoint),
    )


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path / "paths.ndjson"
    generate(path, 25, today=date(2026, 11, 20), seed=3)
    return path, [json.loads(line) for line in path.read_text().splitlines()]


def test_each_persons_messages_arrive_in_order_with_the_person_filled_in(
    synthetic: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, messages = synthetic
    endpoint = FakeEndpoint()

    result = run(path, endpoint, batch_size=7)

    assert result.counts == {"accepted": len(messages)}
    assert all(len(batch) <= 7 for batch in endpoint.batches)
    persons = {
        m["messageId"]: endpoint.seen[m["messageId"]] for m in messages if "personRef" not in m
    }
    for message in messages:  # the file's order, per person
        if "personRef" in message:
            assert endpoint.seen[message["messageId"]] == persons[message["personRef"]]
    position = {m["messageId"]: n for n, m in enumerate(endpoint.order)}
    for earlier, later in itertools.pairwise(messages):
        same = earlier.get("personRef", earlier["messageId"]) == later.get("personRef")
        if same:
            assert position[earlier["messageId"]] < position[later["messageId"]]
    events = sum(3 if "personRef" not in m else 1 for m in messages)
    assert result.events == events


def test_a_second_run_is_all_duplicates(synthetic: tuple[Path, list[dict[str, Any]]]) -> None:
    path, messages = synthetic
    endpoint = FakeEndpoint()
    run(path, endpoint, batch_size=50)

    again = run(path, endpoint, batch_size=50)

    assert again.counts == {"duplicate": len(messages)}
    assert again.events == 0


def test_batches_too_large_for_the_endpoint_are_halved(
    synthetic: tuple[Path, list[dict[str, Any]]],
) -> None:
    path, messages = synthetic
    endpoint = FakeEndpoint(max_messages=9)

    result = run(path, endpoint, batch_size=40)

    assert result.counts == {"accepted": len(messages)}
    assert max(len(batch) for batch in endpoint.batches) <= 9


def test_a_transient_failure_sends_the_batch_again(
    synthetic: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "RETRY_PAUSES", (0.0, 0.0, 0.0))
    path, messages = synthetic
    endpoint = FakeEndpoint(failures=3)  # no connection, 503, no connection

    result = run(path, endpoint, batch_size=500)

    assert result.counts == {"accepted": len(messages)}
    assert result.retries == 3


def test_a_message_whose_notice_was_not_accepted_is_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "orphans.ndjson"
    orphan = {
        "messageId": "m-2",
        "messageType": "naturalisation",
        "sentAt": "2026-11-20T10:00:00+01:00",
        "sender": "abh-05315",
        "personRef": "never-sent",
        "body": {"kind": "assured", "assuredOn": "2026-01-01"},
    }
    path.write_text(json.dumps(orphan) + "\n")
    endpoint = FakeEndpoint()

    result = run(path, endpoint, batch_size=10)

    assert result.counts == {"rejected": 1}
    assert result.rejections[0]["errors"][0]["code"] == "unresolved_reference"
    assert endpoint.batches == []
