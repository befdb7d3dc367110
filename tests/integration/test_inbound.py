"""The foreigners authority's inbound interface: receipts, idempotency, no half-applied change,
and fuzzing that shows no input crashes it or corrupts a file."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import eventsourcing.persistence
import httpx
import psycopg
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.foreigners_authority.application import ForeignersAuthority
from services.foreigners_authority.domain import InboundMessage, ResidenceFile, legacy_inbound_id
from services.foreigners_authority.inbound.endpoint import create_inbound_app
from services.runtime.context import CommandContext, use_context
from services.runtime.settings import HubSettings
from services.runtime.tokens import issue_token
from tests.helpers import close_app, foreigners_authority

SENDER = "abh-05315"


async def run_inline(fn: Any, context: CommandContext) -> Any:
    with use_context(context):
        return fn()


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings)
    yield application
    close_app(application)


@pytest.fixture
def client_for(app: ForeignersAuthority, settings: HubSettings) -> Callable[..., Any]:
    """A sender with a token of ``agency`` (and ``role``), posting to the inbound endpoint."""
    api = create_inbound_app(
        app, run_inline, jwt_secret=settings.resolved_jwt_secret(), issuer=settings.jwt_issuer
    )

    def get(path: str) -> httpx.Response:
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
            ) as http:
                return await http.get(path)

        return asyncio.run(call())

    def make(agency: str, role: str = "abh_officer") -> Any:
        token = issue_token(
            settings.resolved_jwt_secret(),
            subject="advis",
            agency=agency,
            role=role,
            issuer=settings.jwt_issuer,
        )

        def post(
            message: Any,
            *,
            headers: dict[str, str] | None = None,
            raw: bytes | AsyncIterator[bytes] | None = None,
        ) -> httpx.Response:
            async def call() -> httpx.Response:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=api), base_url="http://abh.test"
                ) as http:
                    return await http.post(
                        "/inbound/messages",
                        content=raw if raw is not None else json.dumps(message).encode(),
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                            **(headers or {}),
                        },
                    )

            return asyncio.run(call())

        post.get = get  # type: ignore[attr-defined]
        return post

    return make


@pytest.fixture
def client(client_for: Callable[..., Any]) -> Any:
    return client_for(SENDER)


_ids = iter(range(1, 10**9))


def message(
    message_type: str,
    body: dict[str, Any],
    person_id: str | None = None,
    message_id: str | None = None,
    sender: str = SENDER,
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "messageId": message_id or f"msg-{next(_ids)}",
        "messageType": message_type,
        "sentAt": "2026-11-20T10:00:00+01:00",
        "sender": sender,
        "body": body,
    }
    if person_id is not None:
        envelope["personId"] = person_id
    return envelope


def new_person(
    sender: str = SENDER, message_id: str | None = None, **changes: Any
) -> dict[str, Any]:
    body = {
        "kind": "new_person",
        "givenNames": "Ahmad",
        "familyName": "Rahimi",
        "birthDate": "1994-02-03",
        "azrNumber": "123456789012",
        "nationalities": ["AFG"],
        "entryDate": "2015-11-02",
        "entryMode": "asylum",
        "municipalityKey": "05315000",
        "registeredOn": "2015-11-10",
    }
    body.update(changes)
    return message("registration_notice", body, message_id=message_id, sender=sender)


def registered(client: Any) -> str:
    response = client(new_person())
    assert response.status_code == 200, response.text
    person = response.json()["personId"]
    assert isinstance(person, str)
    return person


def events(app: ForeignersAuthority) -> int:
    return int(app.recorder.max_notification_id() or 0)


def test_a_registration_notice_opens_a_file_and_answers_a_receipt(
    client: Any, app: ForeignersAuthority
) -> None:
    response = client(new_person())

    receipt = response.json()
    assert response.status_code == 200
    assert receipt["status"] == "accepted"
    assert receipt["errors"] == []
    assert receipt["position"] == 3
    assert app.residence_file(UUID(receipt["personId"]))["municipality_key"] == "05315000"


def test_the_same_message_twice_is_applied_once(client: Any, app: ForeignersAuthority) -> None:
    first = new_person()
    accepted = client(first).json()
    stored = events(app)

    again = client(copy.deepcopy(first))

    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["personId"] == accepted["personId"]
    assert events(app) == stored


def test_a_whole_path_arrives_as_messages(client: Any, app: ForeignersAuthority) -> None:
    person = registered(client)
    steps = [
        ("asylum_decision", {"kind": "application_filed", "filedOn": "2015-11-20"}),
        ("asylum_decision", {"kind": "decision", "outcome": "refugee", "decidedOn": "2016-09-01"}),
        (
            "residence_decision",
            {
                "kind": "title_granted",
                "title": "residence_permit",
                "paragraph": "§ 25 Abs. 2 AufenthG",
                "grantedOn": "2016-10-01",
                "validFrom": "2016-10-01",
                "validUntil": "2019-09-30",
            },
        ),
        (
            "integration_course",
            {"kind": "obligation", "by": "foreigners_authority", "imposedOn": "2016-10-01"},
        ),
        ("integration_course", {"kind": "completed", "level": "B1", "completedOn": "2017-12-01"}),
        (
            "residence_decision",
            {
                "kind": "title_granted",
                "title": "settlement_permit",
                "paragraph": "§ 26 Abs. 3 AufenthG",
                "grantedOn": "2021-10-01",
                "validFrom": "2021-10-01",
            },
        ),
        ("naturalisation", {"kind": "applied", "channel": "online", "appliedOn": "2025-11-03"}),
        ("naturalisation", {"kind": "test_passed", "passedOn": "2025-11-10"}),
        ("naturalisation", {"kind": "completed", "certificateDate": "2026-06-01"}),
    ]

    receipts = [client(message(kind, body, person)).json() for kind, body in steps]

    assert [r["status"] for r in receipts] == ["accepted"] * len(steps)
    file = app.repository.get(UUID(person))
    assert isinstance(file, ResidenceFile)
    assert file.naturalised_on is not None


def test_a_contradicting_message_is_rejected_with_the_reason_and_changes_nothing(
    client: Any, app: ForeignersAuthority
) -> None:
    person = registered(client)
    client(
        message("asylum_decision", {"kind": "application_filed", "filedOn": "2015-11-20"}, person)
    )
    stored = events(app)

    response = client(
        message(
            "residence_decision",
            {
                "kind": "duldung_issued",
                "ground": "general",
                "validFrom": "2016-01-01",
                "validUntil": "2016-06-30",
            },
            person,
        )
    )

    receipt = response.json()
    assert response.status_code == 422
    assert receipt["status"] == "rejected"
    assert receipt["errors"][0]["field"] == "body.ground"
    assert "Aufenthaltsgestattung" in receipt["errors"][0]["message"]
    assert events(app) == stored


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b"{not json", 400, "message"),
        (json.dumps({"messageType": "nonsense"}).encode(), 422, "messageType"),
        (json.dumps(new_person(azrNumber="12")).encode(), 422, "body.azrNumber"),
        (json.dumps(new_person(birthDate="1994-13-01")).encode(), 422, "body.birthDate"),
    ],
)
def test_malformed_messages_are_rejected_per_field_and_store_nothing(
    client: Any, app: ForeignersAuthority, raw: bytes, status: int, field: str
) -> None:
    response = client(None, raw=raw)

    assert response.status_code == status
    assert response.json()["status"] == "rejected"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert events(app) == 0


def test_only_authenticated_senders_for_their_own_authority(
    client: Any, settings: HubSettings
) -> None:
    other = issue_token(
        settings.resolved_jwt_secret(),
        subject="x",
        agency="abh-05111",
        role="abh_officer",
        issuer=settings.jwt_issuer,
    )
    partner = issue_token(
        settings.resolved_jwt_secret(),
        subject="x",
        agency=SENDER,
        role="partner_agency",
        issuer=settings.jwt_issuer,
    )

    assert client(new_person(), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client(new_person(), headers={"Authorization": f"Bearer {other}"}).status_code == 403
    assert client(new_person(), headers={"Authorization": f"Bearer {partner}"}).status_code == 403


@pytest.mark.parametrize(
    "down",
    [
        psycopg.OperationalError("connection refused"),
        eventsourcing.persistence.OperationalError("server closed the connection"),
        eventsourcing.persistence.InterfaceError("connection already closed"),
    ],
)
def test_while_the_database_is_away_a_message_is_refused_503_and_sent_again_later(
    client: Any, app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch, down: Exception
) -> None:
    # Given an event store that cannot be reached (a restart)
    def unreachable(form: Any) -> Any:
        raise down

    monkeypatch.setattr(app, "receive", unreachable)
    notice = new_person()

    # When a message arrives, it is refused as unavailable, to be sent again
    refused = client(notice)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json()["status"] == "rejected"
    assert [error["code"] for error in refused.json()["errors"]] == ["unavailable"]
    assert "Ahmad" not in refused.text

    # and once the database is back, the same message is applied
    monkeypatch.undo()
    assert client(notice).json()["status"] == "accepted"


def test_the_message_schemas_are_published(client: Any) -> None:
    schema = client.get("/inbound/schemas").json()

    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {
        "registration_notice",
        "residence_decision",
        "asylum_decision",
        "integration_course",
        "file_transfer",
        "naturalisation",
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_no_arbitrary_json_crashes_the_endpoint(client: Any, value: Any) -> None:
    response = client(value)

    assert response.status_code in (400, 413, 422)
    assert response.json()["status"] == "rejected"


BODIES = [
    (
        "residence_decision",
        {
            "kind": "title_granted",
            "title": "residence_permit",
            "paragraph": "§ 25 Abs. 2 AufenthG",
            "grantedOn": "2016-10-01",
            "validFrom": "2016-10-01",
            "validUntil": "2019-09-30",
        },
    ),
    (
        "residence_decision",
        {
            "kind": "duldung_issued",
            "ground": "general",
            "validFrom": "2016-01-01",
            "validUntil": "2016-06-30",
        },
    ),
    ("residence_decision", {"kind": "departure", "departedOn": "2020-01-01"}),
    ("asylum_decision", {"kind": "decision", "outcome": "refugee", "decidedOn": "2016-09-01"}),
    ("integration_course", {"kind": "completed", "level": "B1", "completedOn": "2017-12-01"}),
    ("naturalisation", {"kind": "assured", "assuredOn": "2025-01-01"}),
    ("file_transfer", {"kind": "transfer", "toAbh": "abh-05111", "transferredOn": "2022-01-01"}),
]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    template=st.sampled_from(BODIES),
    field=st.sampled_from(
        [
            "kind",
            "validUntil",
            "validFrom",
            "outcome",
            "level",
            "grantedOn",
            "title",
            "paragraph",
            "departedOn",
            "toAbh",
            "extra",
        ]
    ),
    value=json_values | st.dates().map(lambda d: d.isoformat()),
)
def test_mutated_messages_never_crash_or_corrupt_a_file(
    client: Any,
    app: ForeignersAuthority,
    template: tuple[str, dict[str, Any]],
    field: str,
    value: Any,
) -> None:
    person = registered(client)
    body = dict(template[1])
    body[field] = value

    response = client(message(template[0], body, person))

    assert response.status_code in (200, 422), response.text
    assert response.json()["status"] in ("accepted", "rejected")
    replayed = app.repository.get(UUID(person))  # the file still loads
    assert isinstance(replayed, ResidenceFile)


# -- per authority: message ids, receipts and files -----------------------------------------

OTHER = "abh-05111"


def test_the_same_message_id_from_another_authority_is_another_message(
    client_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    ours = client_for(SENDER)(new_person(message_id="advis-2026-1")).json()

    theirs = client_for(OTHER)(new_person(sender=OTHER, message_id="advis-2026-1"))

    assert theirs.status_code == 200
    assert theirs.json()["status"] == "accepted"
    assert theirs.json()["personId"] not in (None, ours["personId"])  # no one else's person


def test_a_message_id_used_first_by_another_authority_does_not_drop_the_real_message(
    client_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    client_for(OTHER)(new_person(sender=OTHER, message_id="advis-2026-7"))

    ours = client_for(SENDER)(new_person(message_id="advis-2026-7"))
    again = client_for(SENDER)(new_person(message_id="advis-2026-7"))

    assert ours.json()["status"] == "accepted"
    assert again.json() == {**ours.json(), "status": "duplicate", "position": None, "atLeast": None}


def test_a_message_recorded_under_the_old_key_is_a_duplicate_for_its_own_sender_only(
    client_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    person = uuid4()
    app.save(
        InboundMessage(
            id=legacy_inbound_id("advis-2025-9"),
            message_id="advis-2025-9",
            message_type="registration_notice",
            person_id=person,
            sender=SENDER,
        )
    )

    ours = client_for(SENDER)(new_person(message_id="advis-2025-9"))
    theirs = client_for(OTHER)(new_person(sender=OTHER, message_id="advis-2025-9"))

    assert (ours.json()["status"], ours.json()["personId"]) == ("duplicate", str(person))
    assert theirs.json()["status"] == "accepted"
    assert theirs.json()["personId"] != str(person)


def _certificate(person: str, sender: str, message_id: str = "cert-1") -> dict[str, Any]:
    return message(
        "integration_course",
        {"kind": "language_certificate", "cefrLevel": "B1", "issuedOn": "2018-01-10"},
        person,
        message_id=message_id,
        sender=sender,
    )


def test_an_authority_writes_only_to_files_it_holds_and_learns_nothing_about_others(
    client_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    person = registered(client_for(SENDER))
    stored = events(app)
    other = client_for(OTHER)

    not_theirs = other(_certificate(person, OTHER))
    nobody = other(_certificate(str(uuid4()), OTHER))

    assert not_theirs.status_code == 403
    assert not_theirs.json()["errors"][0]["code"] == "unknown_person"
    assert (nobody.status_code, nobody.json()) == (not_theirs.status_code, not_theirs.json())
    assert person not in not_theirs.text
    assert events(app) == stored


def test_a_transfer_hands_the_file_over_to_the_new_authority(
    client_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    ours, theirs = client_for(SENDER), client_for(OTHER)
    person = registered(ours)
    transfer = ours(
        message(
            "file_transfer",
            {"kind": "transfer", "toAbh": OTHER, "transferredOn": "2018-01-01"},
            person,
        )
    )

    by_new_holder = theirs(
        message(
            "registration_notice",
            {
                "kind": "address_change",
                "personId": person,
                "municipalityKey": "05111000",
                "registeredOn": "2018-01-05",
            },
            sender=OTHER,
        )
    )
    by_old_holder = ours(_certificate(person, SENDER, "cert-old"))

    assert transfer.json()["status"] == "accepted"
    assert by_new_holder.status_code == 200, by_new_holder.text
    assert by_new_holder.json()["status"] == "accepted"
    assert by_old_holder.status_code == 403
    assert by_old_holder.json()["errors"][0]["code"] == "unknown_person"


def test_admin_is_no_authority_and_sends_no_messages(
    client_for: Callable[..., Any], app: ForeignersAuthority
) -> None:
    person = registered(client_for(SENDER))
    stored = events(app)
    admin = client_for(SENDER, role="admin")

    writes = admin(_certificate(person, SENDER))
    opens = admin(new_person())

    assert (writes.status_code, opens.status_code) == (403, 403)
    assert writes.json()["errors"][0]["code"] == "forbidden"
    assert events(app) == stored


# -- limits and odd ids ---------------------------------------------------------------------

CHUNK = 64 * 1024


def test_a_declared_length_over_the_limit_is_refused_before_reading(client: Any) -> None:
    read: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            read.append(CHUNK)
            yield b" " * CHUNK

    response = client(None, raw=chunks(), headers={"Content-Length": str(40 * CHUNK)})

    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "too_large"
    assert sum(read) <= CHUNK  # at most what the transport sent before the answer


def test_an_undeclared_long_body_is_read_only_up_to_the_limit(client: Any) -> None:
    read: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(160):  # 10 MiB, chunked
            read.append(CHUNK)
            yield b" " * CHUNK

    response = client(None, raw=chunks())

    assert response.status_code == 413
    assert sum(read) <= 256 * 1024 + CHUNK


def test_a_person_id_naming_another_kind_of_record_is_an_unknown_person(
    client: Any, app: ForeignersAuthority
) -> None:
    person = registered(client)
    records = {n.originator_id for n in app.recorder.select_notifications(start=1, limit=100)}
    (receipt_record,) = records - {UUID(person)}  # the record of the registration message
    unknown = client(_certificate(str(uuid4()), SENDER, "odd-1"))

    response = client(_certificate(str(receipt_record), SENDER, "odd-1"))

    assert (response.status_code, response.json()) == (unknown.status_code, unknown.json())
    assert response.status_code == 403


def test_an_address_change_names_the_person_in_its_body_and_is_applied(
    client: Any, app: ForeignersAuthority
) -> None:
    person = registered(client)
    change = {"kind": "address_change", "municipalityKey": "05111000", "registeredOn": "2016-03-01"}

    moved = client(message("registration_notice", {**change, "personId": person}))
    unknown = client(message("registration_notice", {**change, "personId": str(uuid4())}))

    assert moved.status_code == 200, moved.text
    assert app.residence_file(UUID(person))["municipality_key"] == "05111000"
    assert unknown.status_code == 403
    assert unknown.json()["errors"][0]["field"] == "body.personId"


def test_a_running_server_refuses_a_declared_oversize_body_without_waiting_for_it(
    app: ForeignersAuthority, settings: HubSettings
) -> None:
    api = create_inbound_app(
        app, run_inline, jwt_secret=settings.resolved_jwt_secret(), issuer=settings.jwt_issuer
    )
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        token = issue_token(
            settings.resolved_jwt_secret(),
            subject="advis",
            agency=SENDER,
            role="abh_officer",
            issuer=settings.jwt_issuer,
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sender:
            sender.sendall(
                b"POST /inbound/messages HTTP/1.1\r\nHost: abh.test\r\n"
                b"Content-Type: application/json\r\nContent-Length: 10485760\r\n"
                + f"Authorization: Bearer {token}\r\n\r\n".encode()
                + b" " * 1024  # of the 10 MiB announced, only 1 KiB is ever sent
            )
            answer = sender.recv(4096)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"too_large"' in answer


def test_a_messages_personal_values_are_redacted_from_every_log_line(
    app: ForeignersAuthority,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a service that (by mistake) logs what it receives
    import logging

    from services.runtime.logs import RedactionFilter

    received = app.receive
    careless = logging.getLogger("services.foreigners_authority.careless")

    def logging_receive(form: Any) -> Any:
        careless.warning("received %s", form)
        return received(form)

    monkeypatch.setattr(app, "receive", logging_receive)
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RedactionFilter())  # as every process's log handler has
    # when a new person arrives, and a message with a bad AZR number is refused
    accepted = client(new_person(givenNames="Zainab-Leila", azrNumber="998877665544"))
    client(new_person(givenNames="Zainab-Leila", azrNumber="not-a-number"))
    # then the log line is there, without the names, the birth date or the AZR number
    assert accepted.status_code == 200, accepted.text
    lines = "\n".join(r.getMessage() for r in caplog.records)
    assert "received" in lines
    assert "[redacted]" in lines
    for value in ("Zainab-Leila", "Rahimi", "1994-02-03", "998877665544"):
        assert value not in lines, value
