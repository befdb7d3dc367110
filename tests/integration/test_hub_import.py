"""``hub import FILE``: a synthetic file through the batch endpoint of a running inbound
server, the counts and rate it prints, its exit status, and a safe second run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hub.cli import main
from hub.importer import generate
from services.foreigners_authority.application import ForeignersAuthority
from services.foreigners_authority.domain import ResidenceFile
from services.foreigners_authority.inbound.batch import BatchLimits
from services.foreigners_authority.inbound.endpoint import create_inbound_app
from services.runtime.context import CommandContext, use_context
from services.runtime.settings import HubSettings
from services.runtime.tokens import issue_token
from tests.helpers import close_app, foreigners_authority

SENDER = "abh-05315"
#: the synthetic paths' "today": every date in them lies before it
TODAY = date(2026, 11, 20)


async def run_inline(fn: Any, context: CommandContext) -> Any:
    with use_context(context):
        return fn()


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings)
    application.today = lambda: TODAY
    yield application
    close_app(application)


@pytest.fixture
def inbound_url(app: ForeignersAuthority, settings: HubSettings) -> Iterator[str]:
    api = create_inbound_app(
        app,
        run_inline,
        jwt_secret=settings.resolved_jwt_secret(),
        issuer=settings.jwt_issuer,
        limits=BatchLimits(messages=50, per_transaction=20),
    )
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(250):
        if server.started:
            break
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def token(settings: HubSettings) -> str:
    return issue_token(
        settings.resolved_jwt_secret(),
        subject="migration",
        agency=SENDER,
        role="abh_officer",
        issuer=settings.jwt_issuer,
    )


def hub_import(path: Path, url: str, token: str, *extra: str) -> int:
    return main(["import", str(path), "--url", url, "--token", token, "--no-progress", *extra])


def files(app: ForeignersAuthority) -> int:
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    return sum(1 for n in notifications if n.topic.endswith("ResidenceFile.PersonRegistered"))


def test_a_synthetic_file_is_imported_and_a_second_run_changes_nothing(
    app: ForeignersAuthority,
    inbound_url: str,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a synthetic file of 30 persons' paths whose messages name their person by the
    # new_person notice (personRef)
    path = tmp_path / "abh.ndjson"
    lines = generate(path, 30, today=TODAY)
    first_lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert any("personRef" in m for m in first_lines)
    assert not any("personId" in m for m in first_lines)

    # when it is imported in batches of 13 messages
    status = hub_import(path, inbound_url, token, "--batch-size", "13")

    # then every message is accepted, and the counts and rate are printed
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"{lines} messages" in out
    assert f"accepted {lines}, duplicate 0, rejected 0" in out
    assert "events/s" in out
    assert files(app) == 30
    stored = len(app.recorder.select_notifications(start=1, limit=1_000_000))
    # a second run: duplicates, counted, not errors; nothing stored again
    assert hub_import(path, inbound_url, token) == 0
    assert f"accepted 0, duplicate {lines}, rejected 0" in capsys.readouterr().out
    assert len(app.recorder.select_notifications(start=1, limit=1_000_000)) == stored


def test_rejections_make_the_import_fail_and_are_listed_without_personal_values(
    app: ForeignersAuthority,
    inbound_url: str,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.ndjson"
    generate(path, 2, today=TODAY, seed=7)
    messages = [json.loads(line) for line in path.read_text().splitlines()]
    notice = messages[0]
    notice["body"]["azrNumber"] = "12"  # the first person's notice is invalid
    person = notice["body"]["givenNames"]
    path.write_text("".join(json.dumps(m) + "\n" for m in messages) + "not json\n")
    first_person = sum(1 for m in messages if m.get("personRef") == notice["messageId"])

    status = hub_import(path, inbound_url, token)

    out = capsys.readouterr().out
    assert status == 1
    # the notice, its person's messages (never sent) and the line that is no JSON
    assert f"rejected {1 + first_person + 1}" in out
    assert "body.azrNumber" in out
    assert "unresolved_reference" in out
    assert "invalid_json" in out
    assert person not in out
    assert files(app) == 1
    file = app.repository.get(
        next(
            n.originator_id
            for n in app.recorder.select_notifications(start=1, limit=100)
            if n.topic.endswith("PersonRegistered")
        )
    )
    assert isinstance(file, ResidenceFile)


def test_an_import_without_a_valid_token_stops_with_the_reason(
    inbound_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.ndjson"
    generate(path, 1, today=TODAY)

    assert hub_import(path, inbound_url, "not-a-token") == 2
    assert "401" in capsys.readouterr().err


def test_lines_that_are_not_utf8_json_or_small_enough_are_refused_one_by_one(
    app: ForeignersAuthority,
    inbound_url: str,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a file with a byte order mark, a line of binary, a line too large for a message,
    # lines that are no JSON (a whole batch of them: batches of 2) and two persons' paths
    path = tmp_path / "mixed.ndjson"
    generate(path, 2, today=TODAY, seed=11)
    good = path.read_bytes().splitlines()
    bad = [
        b"\xf0\x28\x8c\xbc binary \xff",
        b'{"messageId": "' + b"x" * 300_000 + b'"}',
        b"not json",
        b"{ neither",
    ]
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join([*bad, *good]) + b"\r\n")

    # when it is imported in batches of two
    status = hub_import(path, inbound_url, token, "--batch-size", "2")

    # then each bad line is refused with its line number and reason, every good one stored
    out = capsys.readouterr().out
    assert status == 1, out
    assert f"accepted {len(good)}, duplicate 0, rejected 4" in out, out
    assert "line 1 rejected: message: not_utf8" in out
    assert "line 2 rejected: message: too_large" in out
    assert "line 3 rejected: message: invalid_json" in out
    assert "line 4 rejected: message: invalid_json" in out
    assert "Traceback" not in out
    assert files(app) == 2


def test_a_directory_or_an_unreachable_endpoint_stops_with_a_clear_reason(
    token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hub_import(tmp_path, "http://127.0.0.1:9", token) == 2
    assert "is not a file" in capsys.readouterr().err
    path = tmp_path / "one.ndjson"
    generate(path, 1, today=TODAY)
    assert hub_import(path, "http://127.0.0.1:9", token) == 2
    assert "cannot reach the inbound interface at http://127.0.0.1:9" in capsys.readouterr().err


def test_the_scale_benchmarks_long_path_stores_its_events_for_one_person(
    app: ForeignersAuthority, inbound_url: str, token: str, tmp_path: Path
) -> None:
    """``hub bench scale`` reads the timeline of one imported person with PERSON_EVENTS
    events: its file must be accepted whole, every message one event of that person."""
    from hub.bench_import import _published_classes
    from hub.bench_reads import PERSON_EVENTS
    from hub.bench_scale import long_path, write_file

    # given the benchmark's file of the one long path
    path = tmp_path / "long.ndjson"
    write_file(path, long_path(PERSON_EVENTS, TODAY))

    # when it is imported
    assert hub_import(path, inbound_url, token, "--batch-size", "20") == 0

    # then exactly PERSON_EVENTS events are published (the timeline's), all of one person
    published = _published_classes()
    notifications = [
        n
        for n in app.recorder.select_notifications(start=1, limit=1_000_000)
        if n.topic in published
    ]
    assert len(notifications) == PERSON_EVENTS
    assert len({n.originator_id for n in notifications}) == 1
    assert files(app) == 1
