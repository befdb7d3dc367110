"""The batch form of the inbound interface (POST /inbound/batches, NDJSON): a receipt a line,
the single endpoint's checks and exactly-once rules, few transactions, and its limits."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from services.foreigners_authority.application import ForeignersAuthority
from services.foreigners_authority.domain import ResidenceFile
from services.foreigners_authority.inbound.batch import BatchLimits
from services.foreigners_authority.inbound.endpoint import FORMS, create_inbound_app
from services.runtime.context import CommandContext, use_context
from services.runtime.eventstore import event_meta
from services.runtime.settings import HubSettings
from services.runtime.tokens import issue_token
from tests.helpers import close_app, foreigners_authority
from tests.integration.test_inbound import SENDER, message, new_person

OTHER = "abh-05111"
TITLE = {
    "kind": "title_granted",
    "title": "residence_permit",
    "paragraph": "§ 25 Abs. 2 AufenthG",
    "grantedOn": "2016-10-01",
    "validFrom": "2016-10-01",
    "validUntil": "2019-09-30",
}
DULDUNG = {
    "kind": "duldung_issued",
    "ground": "general",
    "validFrom": "2016-01-01",
    "validUntil": "2016-06-30",
}


async def run_inline(fn: Any, context: CommandContext) -> Any:
    with use_context(context):
        return fn()


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings)
    yield application
    close_app(application)


def ndjson(messages: list[Any]) -> bytes:
    return "".join(json.dumps(m) + "\n" for m in messages).encode()


def sender_token(settings: HubSettings, agency: str = SENDER, role: str = "abh_officer") -> str:
    """A bearer token of an authority's system sending batches."""
    return issue_token(
        settings.resolved_jwt_secret(),
        subject="advis",
        agency=agency,
        role=role,
        issuer=settings.jwt_issuer,
    )


@pytest.fixture
def post_for(app: ForeignersAuthority, settings: HubSettings) -> Callable[..., Any]:
    """``post_for(agency, limits=...)`` gives a sender posting batches with its token."""

    def make(agency: str = SENDER, role: str = "abh_officer", limits: BatchLimits | None = None):  # type: ignore[no-untyped-def]
        api = create_inbound_app(
            app,
            run_inline,
            jwt_secret=settings.resolved_jwt_secret(),
            issuer=settings.jwt_issuer,
            limits=limits,
        )
        token = sender_token(settings, agency, role)

        def post(
            body: list[Any] | bytes, content_type: str = "application/x-ndjson"
        ) -> httpx.Response:
            async def call() -> httpx.Response:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
                ) as http:
                    return await http.post(
                        "/inbound/batches",
                        content=body if isinstance(body, bytes) else ndjson(body),
                        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
                    )

            return asyncio.run(call())

        return post

    return make


def receipts(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def events(app: ForeignersAuthority) -> int:
    """The events stored (a transaction rolled back leaves a gap in the positions)."""
    return len(app.recorder.select_notifications(start=1, limit=1_000_000))


def test_a_batch_answers_a_receipt_a_line_in_order(
    post_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    post, post_other = post_for(), post_for(OTHER)
    held = post([new_person(message_id="held")])
    person = receipts(held)[0]["personId"]
    foreign = receipts(post_other([new_person(sender=OTHER, message_id="theirs")]))[0]["personId"]
    stored = events(app)
    batch = [
        new_person(message_id="b-1"),  # accepted
        message("asylum_decision", {"kind": "application_filed", "filedOn": "2015-11-20"}, person),
        new_person(message_id="held"),  # a duplicate of an earlier batch
        new_person(message_id="b-1"),  # a duplicate within this batch
        new_person(azrNumber="12"),  # invalid form
        message("residence_decision", DULDUNG, person),  # contradicts the file now
        message("residence_decision", TITLE, foreign),  # a file the sender does not hold
        message("residence_decision", TITLE, str(UUID(int=7))),  # no file at all
        new_person(sender=OTHER),  # for another authority
    ]

    answer = receipts(post(ndjson(batch) + b"{not json\n"))

    assert [r["status"] for r in answer] == [
        "accepted",
        "accepted",
        "duplicate",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [r["line"] for r in answer] == list(range(1, 11))
    assert answer[0]["messageId"] == "b-1"
    assert answer[3]["personId"] == answer[0]["personId"]
    assert answer[2]["personId"] == person
    assert answer[1]["personId"] == person
    assert answer[1]["atLeast"].startswith("p1.")
    assert answer[0]["position"] < answer[1]["position"]
    assert answer[4]["errors"][0]["field"] == "body.azrNumber"
    assert answer[5]["errors"][0]["field"] == "body.ground"
    # a file another authority holds, and no file: one and the same answer
    assert answer[6]["errors"] == answer[7]["errors"]
    assert answer[6]["errors"][0]["code"] == "unknown_person"
    assert answer[6]["personId"] is None
    assert answer[6]["position"] is None
    assert answer[8]["errors"][0] == {
        "field": "sender",
        "code": "forbidden",
        "message": f"your token is for {SENDER}, not {OTHER}",
    }
    assert answer[9]["errors"][0]["code"] == "invalid_json"
    # what was accepted is stored (3 + 1 events), nothing of the rest
    assert events(app) == stored + 3 + 1 + 2  # and the two messages' records
    file = app.repository.get(UUID(person))
    assert isinstance(file, ResidenceFile)
    assert file.asylum_filed_on is not None
    assert app.repository.get(UUID(foreign)).held_by(OTHER)


def test_the_receipts_are_those_of_the_single_endpoint(
    post_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    post = post_for()
    first = receipts(post([new_person(message_id="one")]))[0]

    assert first["status"] == "accepted"
    assert first["position"] == 3
    assert set(first) == {
        "messageId",
        "status",
        "personId",
        "position",
        "atLeast",
        "errors",
        "line",
    }
    file = app.repository.get(UUID(first["personId"]))
    # each message's events carry its context, correlated with the message id
    stored = list(app.events.get(file.id))
    assert {event_meta(e)["correlation_id"] for e in stored} == {"one"}
    assert {event_meta(e)["agency"] for e in stored} == {SENDER}


def test_several_messages_to_one_file_in_one_batch_apply_in_order(
    post_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    post = post_for()
    person = receipts(post([new_person()]))[0]["personId"]
    steps = [
        ("asylum_decision", {"kind": "application_filed", "filedOn": "2015-11-20"}),
        ("asylum_decision", {"kind": "decision", "outcome": "refugee", "decidedOn": "2016-09-01"}),
        ("residence_decision", TITLE),
        ("file_transfer", {"kind": "transfer", "toAbh": OTHER, "transferredOn": "2017-01-02"}),
        ("residence_decision", {**TITLE, "grantedOn": "2019-09-01", "validFrom": "2019-10-01"}),
    ]

    answer = receipts(post([message(kind, body, person) for kind, body in steps]))

    # after the transfer the file is no longer the sender's: refused like a stranger's
    assert [r["status"] for r in answer] == ["accepted"] * 4 + ["rejected"]
    assert answer[4]["errors"][0]["code"] == "unknown_person"
    positions = [r["position"] for r in answer[:4]]
    assert positions == sorted(positions)
    file = app.repository.get(UUID(person))
    assert file.held_by(OTHER)
    assert len(file.titles) == 1


def test_a_retried_batch_stores_only_what_was_not_stored(
    post_for: Callable[..., Any], app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a batch saved in transactions of two messages, and a crash after the first
    post = post_for(limits=BatchLimits(per_transaction=2))
    batch = [new_person(message_id=f"c-{n}", azrNumber=f"{n:012d}") for n in range(5)]
    save = app.save
    saved: list[int] = []

    def crashing_save(*objs: Any, **kwargs: Any) -> Any:
        if saved:
            raise ConnectionError("the service died")
        saved.append(1)
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", crashing_save)
    with pytest.raises(ConnectionError):
        post(batch)
    assert events(app) == 2 * 4
    monkeypatch.setattr(app, "save", save)

    # when the sender sends the batch again
    answer = receipts(post(batch))

    # then the first two are duplicates, with their persons, and the rest is stored once
    assert [r["status"] for r in answer] == ["duplicate"] * 2 + ["accepted"] * 3
    assert all(r["personId"] for r in answer)
    assert events(app) == 5 * 4
    assert [r["status"] for r in receipts(post(batch))] == ["duplicate"] * 5


def test_concurrent_batches_with_the_same_messages_apply_each_once(
    post_for: Callable[..., Any], app: ForeignersAuthority, settings: HubSettings
) -> None:
    # two processes of the service (two applications on one event store) take the same batch
    other = foreigners_authority(settings)
    try:
        post = post_for()
        person = receipts(post([new_person()]))[0]["personId"]
        batch = [new_person(message_id=f"r-{n}", azrNumber=f"{n:012d}") for n in range(30)] + [
            message(
                "integration_course",
                {
                    "kind": "language_certificate",
                    "cefrLevel": "B1",
                    "issuedOn": f"2020-01-{n + 1:02d}",
                },
                person,
                message_id=f"l-{n}",
            )
            for n in range(10)
        ]
        forms = [
            __import__(
                "services.foreigners_authority.inbound.endpoint", fromlist=["FORMS"]
            ).FORMS.validate_python(m)
            for m in batch
        ]
        results: dict[str, list[Any]] = {}
        start = threading.Barrier(2)

        def run(name: str, application: ForeignersAuthority) -> None:
            start.wait()
            results[name] = application.receive_batch(forms)

        threads = [
            threading.Thread(target=run, args=("a", app)),
            threading.Thread(target=run, args=("b", other)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        statuses = list(
            zip([r.status for r in results["a"]], [r.status for r in results["b"]], strict=True)
        )
        # every message accepted exactly once, the other answer a duplicate of it
        assert all(sorted(pair) == ["accepted", "duplicate"] for pair in statuses), statuses
        for a, b in zip(results["a"], results["b"], strict=True):
            assert a.person_id == b.person_id
        assert events(app) == 4 + 30 * 4 + 10 * 2
        assert app.repository.get(UUID(person)).version == 3 + 10
    finally:
        close_app(other)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"", "application/x-ndjson", 400, "empty"),
        (b"\n \n", "application/x-ndjson", 400, "empty"),
        (b"[{}, {}]", "application/x-ndjson", 400, "not_ndjson"),
        (b"<xml/>\nhello\n", "application/x-ndjson", 400, "not_ndjson"),
        (b"\xff\xfe{}", "application/x-ndjson", 400, "not_utf8"),
        (b"{}", "application/json", 415, "unsupported_media_type"),
        (ndjson([new_person()] * 4), "application/x-ndjson", 413, "too_many_messages"),
        (b"{}" + b" " * 2048, "application/x-ndjson", 413, "too_large"),
    ],
)
def test_a_malformed_or_oversize_batch_is_refused_with_a_reason(
    post_for: Callable[..., Any],
    app: ForeignersAuthority,
    body: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    post = post_for(limits=BatchLimits(messages=3, bytes=2048))

    response = post(body, content_type)

    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["code"] == code
    assert error["message"]
    assert error["messageDe"]
    assert events(app) == 0


def test_only_an_authoritys_officers_send_batches(post_for: Callable[..., Any]) -> None:
    for role, status in (("admin", 403), ("partner_agency", 403)):
        response = post_for(role=role)([new_person()])
        assert response.status_code == status
        assert response.json()["errors"][0]["code"] == "forbidden"


def test_a_batch_at_the_limits_is_taken(post_for: Callable[..., Any]) -> None:
    post = post_for(limits=BatchLimits(messages=3))
    batch = [new_person(azrNumber=f"{n:012d}") for n in range(3)]

    assert [r["status"] for r in receipts(post(batch))] == ["accepted"] * 3


def test_windows_line_ends_and_a_byte_order_mark_are_no_trouble(
    post_for: Callable[..., Any],
) -> None:
    batch = [new_person(azrNumber=f"{n:012d}") for n in range(2)]
    body = "\ufeff" + "".join(json.dumps(m) + "\r\n" for m in batch)

    answer = receipts(post_for()(body.encode()))

    assert [r["status"] for r in answer] == ["accepted", "accepted"]


def test_a_batchs_personal_values_are_redacted_from_every_log_line(
    post_for: Callable[..., Any],
    app: ForeignersAuthority,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a service that (by mistake) logs what it receives
    import logging

    from services.runtime.logs import RedactionFilter

    received = app.receive_batch
    careless = logging.getLogger("services.foreigners_authority.careless")

    def logging_receive(forms: Any) -> Any:
        careless.warning("received %s", forms)
        return received(forms)

    monkeypatch.setattr(app, "receive_batch", logging_receive)
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RedactionFilter())  # as every process's log handler has
    # when a batch brings two new persons, one of them refused for its AZR number
    batch = [
        new_person(givenNames="Zainab-Leila", azrNumber="998877665544"),
        new_person(familyName="Oluwembi-Kravonne", azrNumber="not-a-number"),
        new_person(givenNames="Quirinalda", birthDate="1971-04-05", azrNumber="112233445566"),
    ]
    answer = receipts(post_for()(batch))
    # then the log lines are there, without the names, the birth dates or the AZR numbers
    assert [r["status"] for r in answer] == ["accepted", "rejected", "accepted"]
    lines = "\n".join(r.getMessage() for r in caplog.records)
    assert "received" in lines
    assert "inbound batch" in lines
    assert "[redacted]" in lines
    for value in (
        "Zainab-Leila",
        "Rahimi",
        "1994-02-03",
        "998877665544",
        "Quirinalda",
        "1971-04-05",
        "112233445566",
    ):
        assert value not in lines, value


def test_a_person_erased_or_restricted_gets_the_single_endpoints_refusal(
    post_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    post = post_for()
    erased, restricted = (
        receipts(post([new_person(message_id=f"p-{n}", azrNumber=f"{n:012d}")]))[0]["personId"]
        for n in (1, 2)
    )
    app.vault.erase(UUID(erased))
    app.vault.restrict(UUID(restricted))
    stored = events(app)
    course = {"kind": "language_certificate", "cefrLevel": "B1", "issuedOn": "2020-01-01"}

    answer = receipts(
        post(
            [
                message("integration_course", course, erased),
                message("integration_course", course, restricted),
            ]
        )
    )

    assert [r["errors"][0]["code"] for r in answer] == ["erased", "restricted"]
    assert [r["errors"][0]["field"] for r in answer] == ["personId", "personId"]
    assert events(app) == stored
    # one by one, the same refusals
    single = [
        app.receive(FORMS.validate_python(message("integration_course", course, person)))
        for person in (erased, restricted)
    ]
    assert [r.errors for r in single] == [r["errors"] for r in answer]


def test_a_file_changed_meanwhile_is_a_conflict_to_retry_not_a_duplicate(
    post_for: Callable[..., Any], app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a file, and saves that meet a concurrent change of it (a conflict) once each
    post = post_for()
    person = receipts(post([new_person()]))[0]["personId"]
    course = {"kind": "language_certificate", "cefrLevel": "B1", "issuedOn": "2020-01-01"}
    from eventsourcing.persistence import RecordConflictError

    save = app.save
    conflicts = [1, 1]

    def conflicting_save(*objs: Any, **kwargs: Any) -> Any:
        if conflicts:
            conflicts.pop()
            raise RecordConflictError("the file changed meanwhile")
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", conflicting_save)
    sent = message("integration_course", course, person, message_id="c-1")
    # when the batch's transaction and then the message's own save conflict
    with pytest.raises(RecordConflictError):
        app.receive_batch([FORMS.validate_python(sent)])
    # then nothing was answered as a duplicate: the command server tries again (as it does
    # for any command that loses a race), and then the message is stored
    (receipt,) = app.receive_batch([FORMS.validate_python(sent)])
    assert receipt.status == "accepted"
    assert receipt.person_id == UUID(person)


def test_messages_that_keep_losing_races_are_refused_as_conflicts_to_send_again(
    app: ForeignersAuthority, settings: HubSettings
) -> None:
    from services.runtime.commands import CommandRejected

    async def always_conflicting(fn: Any, context: CommandContext) -> Any:
        raise CommandRejected("conflict", "the record changed meanwhile; please retry")

    api = create_inbound_app(
        app,
        always_conflicting,
        jwt_secret=settings.resolved_jwt_secret(),
        issuer=settings.jwt_issuer,
    )
    token = sender_token(settings)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
        ) as http:
            return await http.post(
                "/inbound/batches",
                content=ndjson([new_person(), new_person(azrNumber="12")]),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/x-ndjson",
                },
            )

    answer = receipts(asyncio.run(call()))

    assert [r["status"] for r in answer] == ["rejected", "rejected"]
    assert answer[0]["errors"][0]["code"] == "conflict"
    assert answer[1]["errors"][0]["field"] == "body.azrNumber"  # refused before, as ever
    assert events(app) == 0


def test_a_batch_refused_while_the_database_is_away_is_sent_again_in_full(
    post_for: Callable[..., Any], app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = post_for()
    batch = [new_person(message_id="away-1"), new_person(message_id="away-2")]
    real = app.receive_batch

    def fails_after_the_first_message(forms: Any) -> Any:
        real(forms[:1])  # the first message's transaction commits, then the database goes
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(app, "receive_batch", fails_after_the_first_message)

    # the batch is refused as unavailable (its first message was stored all the same)
    refused = post(batch)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert [error["code"] for error in refused.json()["errors"]] == ["unavailable"]

    # sent again in full once the database is back: the first is a duplicate, the second new
    monkeypatch.setattr(app, "receive_batch", real)
    assert [r["status"] for r in receipts(post(batch))] == ["duplicate", "accepted"]


class HeldBody:
    """A streamed batch whose last part waits for ``release``; counts the bytes read."""

    def __init__(self, data: bytes) -> None:
        self.data, self.read, self.release = data, 0, asyncio.Event()

    async def __aiter__(self) -> Any:
        half = len(self.data) // 2
        self.read = half
        yield self.data[:half]
        await self.release.wait()
        self.read = len(self.data)
        yield self.data[half:]


async def test_batches_beyond_the_limit_at_once_wait_with_their_bodies_unread(
    app: ForeignersAuthority, settings: HubSettings
) -> None:
    """Every batch was read and parsed at once, whatever the number of senders: 16 batches of
    31 MiB sent together took the service from 94 to 637 MiB."""
    api = create_inbound_app(
        app,
        run_inline,
        jwt_secret=settings.resolved_jwt_secret(),
        issuer=settings.jwt_issuer,
        limits=BatchLimits(at_once=1),
    )
    token = sender_token(settings)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    first = HeldBody(ndjson([new_person(message_id="held-1", azrNumber="700000000001")]))
    second = HeldBody(ndjson([new_person(message_id="held-2", azrNumber="700000000002")]))
    second.release.set()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
    ) as http:
        sending = asyncio.create_task(http.post("/inbound/batches", content=first, headers=headers))
        while not first.read:
            await asyncio.sleep(0.01)
        waiting = asyncio.create_task(
            http.post("/inbound/batches", content=second, headers=headers)
        )
        await asyncio.sleep(0.3)
        unread_while_the_first_is_read = second.read
        first.release.set()
        answers = await asyncio.gather(sending, waiting)

    assert unread_while_the_first_is_read == 0
    assert [receipts(a)[0]["status"] for a in answers] == ["accepted", "accepted"]
