"""The blind index's writer (services/foreigners_authority/index_writer.py), on the real
PostgreSQL: an arrival answers before its tokens are written, many files' tokens are written in
one statement, a search first writes what is waiting, an erasure leaves no token whether the
person's file is waiting or being written meanwhile, a transfer moves a waiting file too, and a
process killed with files waiting is repaired by the index job."""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from contracts.privacy import ErasureGround
from services.foreigners_authority.application import ForeignersAuthority, SearchTerms
from services.foreigners_authority.index_writer import IndexWriter
from services.runtime.context import CommandContext, use_context
from services.runtime.settings import HubSettings
from tests.conftest import TEST_VAULT_KEY, Servers
from tests.helpers import arrival, arrival_input, close_app, foreigners_authority
from tests.integration.case_flow import ok
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import module_hub

AUTHORITY = "abh-05111"
CONTEXT = CommandContext(
    agency=AUTHORITY,
    role="abh_officer",
    legal_basis="§ 86 AufenthG",
    purpose="residence_administration",
)
#: long enough that the writer's thread never writes on its own during a test
FOREVER = 3600.0


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    """The service's application with its index writer running, as in the command server."""
    application = foreigners_authority(settings)
    yield application
    close_app(application)


def _writer(app: ForeignersAuthority, linger: float) -> IndexWriter[Any]:
    writer = app.index_writer
    assert writer is not None
    writer.linger = linger
    app.start_index_writer()
    assert writer.running
    return writer


def _rows(database_url: str, person: UUID) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM foreigners_authority.person_search_index WHERE person_id = %s",
            (person,),
        ).fetchone()
    return int(row[0]) if row else 0


def _register(app: ForeignersAuthority, **changes: Any) -> UUID:
    with use_context(CONTEXT):
        person = app.register_arrival(arrival(**changes)).person_id
    assert person is not None
    return person


def _found(app: ForeignersAuthority, family_name: str, authority: str = AUTHORITY) -> list[UUID]:
    return app.search_persons(SearchTerms(family_name=family_name, authority=authority))


def _until(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)


def test_arrivals_answer_before_their_tokens_which_are_written_in_one_statement(
    app: ForeignersAuthority, database_url: str
) -> None:
    writer = _writer(app, linger=0.0)
    # given the writer busy (a batch in flight holds its lock)
    with writer.writing():
        persons = [_register(app, family_name=f"Stapel-{n}") for n in range(20)]
        # then every arrival has answered and none of their tokens is written yet
        assert writer.waiting() == 20
        assert all(_rows(database_url, p) == 0 for p in persons)
    # when the writer is free, it writes all twenty files in one statement
    _until(lambda: writer.waiting() == 0 and writer.stats.files == 20)
    assert writer.stats.batches == 1
    assert writer.stats.largest == 20
    assert all(_rows(database_url, p) > 0 for p in persons)
    assert _found(app, "stapel-7") == [persons[7]]


def test_a_search_first_writes_what_is_waiting(app: ForeignersAuthority, database_url: str) -> None:
    writer = _writer(app, linger=FOREVER)
    person = _register(app, family_name="Sofort-Gesucht")
    assert writer.waiting() == 1
    assert _rows(database_url, person) == 0

    # a person registered and searched right away is found
    assert _found(app, "SOFORT-GESUCHT") == [person]
    assert writer.waiting() == 0
    assert _rows(database_url, person) > 0


def test_a_search_waits_for_a_batch_being_written(
    app: ForeignersAuthority, database_url: str
) -> None:
    writer = _writer(app, linger=FOREVER)
    person = _register(app, family_name="Unterwegs")
    found: list[list[UUID]] = []
    context = contextvars.copy_context()
    with writer.writing():  # as the writer's thread while it writes a batch
        taken = writer._take()
        assert person in taken
        search = threading.Thread(
            target=lambda: found.append(context.run(_found, app, "unterwegs"))
        )
        search.start()
        time.sleep(0.3)
        assert search.is_alive()  # the search waits for the batch in flight
        writer._write(taken)
    search.join(10)
    assert found == [[person]]


def test_a_close_writes_what_is_waiting(settings: HubSettings, database_url: str) -> None:
    application = foreigners_authority(settings)
    writer = _writer(application, linger=FOREVER)
    person = _register(application, family_name="Feierabend")
    assert writer.waiting() == 1
    close_app(application)
    assert _rows(database_url, person) > 0


def test_an_erasure_drops_a_waiting_file_and_restriction_still_hides(
    app: ForeignersAuthority, database_url: str
) -> None:
    writer = _writer(app, linger=FOREVER)
    erased = _register(app, family_name="Weg-Vorher")
    restricted = _register(app, family_name="Weg-Vorher")
    assert writer.waiting() == 2

    with use_context(CONTEXT):
        app.erase_person(erased, ErasureGround.REQUEST)
        app.restrict_processing(restricted, "accuracy_contested")

    assert writer.waiting() == 1  # the erased person's file is no longer waiting
    assert _found(app, "weg-vorher") == []  # the search drained: the restricted one is hidden
    assert _rows(database_url, erased) == 0
    assert _rows(database_url, restricted) > 0  # kept, like the data, but not shown
    assert app.index_unindexed_files() == 0
    assert _rows(database_url, erased) == 0


def test_a_batch_never_writes_tokens_after_an_erasure_it_races(
    app: ForeignersAuthority, database_url: str
) -> None:
    """Both orders of a batch (of this process, another replica or the index job) and an
    erasure that run at the same time, on two connections."""
    index = app.search_index
    assert index is not None
    first = _register(app, family_name="Wettlauf-Eins")
    second = _register(app, family_name="Wettlauf-Zwei")
    files = {p: (p, AUTHORITY, app._identity(app.repository.get(p))) for p in (first, second)}
    with psycopg.connect(database_url) as conn:  # as if both files were still waiting
        conn.execute("DELETE FROM foreigners_authority.person_search_index")

    # 1. the erasure's update of the vault row is uncommitted when the batch starts
    with psycopg.connect(database_url) as erasure:
        erasure.execute(
            "UPDATE foreigners_authority.person_keys SET wrapped_key = NULL, erased_at = now()"
            " WHERE person_id = %s",
            (first,),
        )
        batch = threading.Thread(target=index.index, args=([files[first]],))
        batch.start()
        time.sleep(0.3)
        assert batch.is_alive()  # the batch waits for the erasure
        erasure.commit()
    batch.join(10)
    assert not batch.is_alive()
    assert _rows(database_url, first) == 0  # and then leaves the erased person out

    # 2. the batch is uncommitted when the erasure starts
    statement = index.index_statement([files[second]])
    assert statement is not None
    with psycopg.connect(database_url) as batch_connection:
        batch_connection.execute(*statement)
        context = contextvars.copy_context()
        erase = threading.Thread(target=context.run, args=(_erase, app, second))
        erase.start()
        time.sleep(0.3)
        assert erase.is_alive()  # the erasure waits for the batch
        batch_connection.commit()
    erase.join(10)
    assert not erase.is_alive()
    assert _rows(database_url, second) == 0  # and its deletion saw the batch's rows


def _erase(app: ForeignersAuthority, person: UUID) -> None:
    with use_context(CONTEXT):
        app.erase_person(person, ErasureGround.REQUEST)


def test_a_transfer_moves_a_waiting_file(app: ForeignersAuthority) -> None:
    writer = _writer(app, linger=FOREVER)
    person = _register(app, family_name="Umzug-Wartend")
    assert writer.waiting() == 1
    file: Any = app.repository.get(person)
    file.transfer_file(to_abh="abh-05315", transferred_on=file.entry_date, today=app.today())
    app.save(file)
    assert _found(app, "umzug-wartend") == []
    assert _found(app, "umzug-wartend", authority="abh-05315") == [person]


def test_a_failed_batch_is_logged_without_values_and_repaired_by_the_index_job(
    app: ForeignersAuthority,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = _writer(app, linger=0.0)

    def broken(files: Any) -> None:
        raise psycopg.OperationalError("the server went away")

    monkeypatch.setattr(writer.index, "index", broken)
    person = _register(app, family_name="Verloren-Gegangen")  # the command succeeds
    _until(lambda: writer.stats.failed == 1)
    assert writer.running  # the thread goes on
    assert "search index: not updated now (OperationalError)" in caplog.text
    assert "Verloren" not in caplog.text
    monkeypatch.undo()
    assert _found(app, "verloren-gegangen") == []

    assert app.index_unindexed_files() >= 1
    assert _found(app, "verloren-gegangen") == [person]


_CRASHING_SERVICE = """
import os, signal, sys
from services.runtime.context import CommandContext, use_context
from services.runtime.settings import HubSettings
from tests.helpers import arrival, foreigners_authority

app = foreigners_authority(HubSettings())
app.index_writer.linger = 3600.0
app.start_index_writer()
context = CommandContext(agency="abh-05111", role="abh_officer",
                         legal_basis="§ 86 AufenthG", purpose="residence_administration")
with use_context(context):
    person = app.register_arrival(arrival(family_name=sys.argv[1])).person_id
print(person, app.index_writer.waiting(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_service_killed_before_writing_is_repaired_by_the_index_job(
    app: ForeignersAuthority, settings: HubSettings, database_url: str
) -> None:
    # given a command server that stored an arrival and was killed before writing its tokens
    assert settings.postgres_url is not None
    env = {
        **os.environ,
        "HUB_POSTGRES_URL": settings.postgres_url,
        "HUB_DATABASE": settings.database,
        "HUB_VAULT_MASTER_KEY": TEST_VAULT_KEY,
        "HUB_HOME": str(settings.home),
    }
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHING_SERVICE, "Abgestuerzt"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -9, crashed.stderr
    person_text, waiting = crashed.stdout.split()
    person = UUID(person_text)
    assert waiting == "1"
    assert _rows(database_url, person) == 0
    assert _found(app, "abgestuerzt") == []

    # when the index job runs (at the next start, or within 10 minutes)
    assert app.index_unindexed_files() >= 1
    assert _found(app, "Abgestürzt") == [person]


# -- through the gateway: the whole hub ------------------------------------------------------

REGISTER = """mutation($input: RegisterArrivalInput!) { registerArrival(input: $input) {
  personId position } }"""
SEARCH = """query($familyName: String, $atLeast: String) {
  personSearch(familyName: $familyName, atLeast: $atLeast) { personId } }"""
OFFICER = {"role": "abh_officer", "agency": "abh-05315", "subject": "abh-clara"}


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


async def test_the_command_server_writes_off_the_path_and_a_search_right_after_finds(
    hub: InProcessHub,
) -> None:
    assert hub.services is not None
    service, _server = hub.services["foreigners_authority"]
    writer = service.index_writer
    assert writer is not None
    assert writer.running  # the command server started it
    writer.linger = FOREVER  # its thread now writes nothing on its own
    try:
        data = await ok(
            hub, REGISTER, {"input": arrival_input(familyName="Gleich-Gesucht")}, OFFICER
        )
        person, position = data["registerArrival"]["personId"], data["registerArrival"]["position"]
        assert writer.waiting() == 1  # the arrival answered before its tokens were written

        found = await ok(
            hub, SEARCH, {"familyName": "gleich-gesucht", "atLeast": position}, OFFICER
        )
        assert [p["personId"] for p in found["personSearch"]] == [person]
        assert writer.waiting() == 0
    finally:
        writer.linger = 0.0
