"""The authority's person search by family and given name, birth date and AZR number, over the
foreigners-authority service's blind index, on the real PostgreSQL and NATS: each key finds
the person (spelt differently), another authority's person is not found, a restricted person
is hidden, an erased person is not found and their tokens are gone, and no searched value is
stored, sent in clear on the bus or written to the access log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from nats.aio.msg import Msg

from contracts.privacy import ErasureGround
from services.foreigners_authority.application import ForeignersAuthority, SearchTerms
from services.foreigners_authority.domain import InvalidValue
from services.foreigners_authority.search_index import Tokens
from services.runtime.context import CommandContext, use_context
from services.runtime.settings import HubSettings
from tests.conftest import Servers
from tests.helpers import arrival, arrival_input, close_app, foreigners_authority
from tests.integration.case_flow import call, ok
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import module_hub

OFFICER = {"role": "abh_officer", "agency": "abh-05315", "subject": "abh-clara"}
OTHER_OFFICER = {"role": "abh_officer", "agency": "abh-05111", "subject": "abh-kai"}
ADMIN = {"role": "admin", "agency": "hub-ops", "subject": "ops-fritz"}
DPO = {"role": "dpo", "agency": "datenschutz-05315", "subject": "dpo-greta"}
CASE_MANAGER = {"role": "case_manager", "agency": "kim-05315", "subject": "cm-anna"}
CONTEXT = CommandContext(
    agency="abh-05111",
    role="abh_officer",
    legal_basis="§ 86 AufenthG",
    purpose="residence_administration",
)
REGISTER = """mutation($input: RegisterArrivalInput!) { registerArrival(input: $input) {
  personId position } }"""
SEARCH = """query($familyName: String, $givenName: String, $birthDate: Date, $azrNumber: String,
                $ags: String, $atLeast: String) {
  personSearch(familyName: $familyName, givenName: $givenName, birthDate: $birthDate,
               azrNumber: $azrNumber, municipalityKey: $ags, atLeast: $atLeast) { personId } }"""
ERASE = """mutation($input: ErasePersonInput!) { erasePerson(input: $input) { complete } }"""
RESTRICT = """mutation($input: RestrictProcessingInput!) {
  restrictProcessing(input: $input) { complete } }"""


# -- the service's index, on the real PostgreSQL -------------------------------------------


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings)
    yield application
    close_app(application)


def _index_rows(database_url: str, person: UUID) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT authority, kind, token FROM foreigners_authority.person_search_index"
            " WHERE person_id = %s",
            (person,),
        ).fetchall()


def test_an_opened_file_is_indexed_by_tokens_only(
    app: ForeignersAuthority, database_url: str
) -> None:
    with use_context(CONTEXT):
        result = app.register_arrival(
            arrival(given_names="Jürgen Paul", family_name="Strauß", azr_number="555666777888")
        )
    person = result.person_id
    assert person is not None
    rows = _index_rows(database_url, person)
    assert {kind for _, kind, _ in rows} == {
        "family_name",
        "given_name",
        "birth_date",
        "azr_number",
    }
    assert {authority for authority, _, _ in rows} == {"abh-05111"}
    with psycopg.connect(database_url) as conn:
        dump = conn.execute(
            "SELECT string_agg(person_id::text || authority || kind || encode(token, 'escape'),"
            " '') FROM foreigners_authority.person_search_index"
        ).fetchone()
    text = str(dump[0] if dump else "").casefold()
    for value in ("strauß", "strauss", "juergen", "jürgen", "555666777888", "1995-11-02"):
        assert value not in text

    def search(**terms: Any) -> list[UUID]:
        return app.search_persons(SearchTerms(authority="abh-05111", **terms))

    assert search(family_name="STRAUSS") == [person]
    assert search(family_name="strauss", given_name="Juergen") == [person]
    assert search(azr_number="5556 6677 7888") == [person]
    assert search(family_name="Strauss", given_name="Peter") == []
    with pytest.raises(InvalidValue):  # a family name of nothing but accents is none
        search(family_name="\u0301", given_name="Juergen")
    assert app.search_persons(SearchTerms(family_name="Strauß", authority="abh-05315")) == []
    assert app.search_persons(SearchTerms(family_name="Strauß", authority=None)) == [person]


def test_the_start_up_job_indexes_files_without_tokens_once(
    app: ForeignersAuthority, database_url: str
) -> None:
    with use_context(CONTEXT):
        person = app.register_arrival(arrival(family_name="Backfill-Öz")).person_id
    assert person is not None
    # given a store from before the index: the file's tokens are missing
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM foreigners_authority.person_search_index")
    assert app.search_persons(SearchTerms(family_name="Backfill-Oez", authority="abh-05111")) == []

    assert app.index_unindexed_files() >= 1
    assert app.search_persons(SearchTerms(family_name="backfill-oez", authority="abh-05111")) == [
        person
    ]
    assert app.index_unindexed_files() == 0  # idempotent


def test_a_failed_index_write_does_not_fail_the_arrival_and_is_caught_up(
    app: ForeignersAuthority, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    index = app.search_index
    assert index is not None

    def broken(files: Any) -> None:
        raise psycopg.OperationalError("the server went away")

    monkeypatch.setattr(index, "index", broken)
    with use_context(CONTEXT):
        person = app.register_arrival(arrival(family_name="Nachgeholt")).person_id
    assert person is not None  # the events are stored: the command succeeded
    assert "search index: not updated now" in caplog.text
    assert "Nachgeholt" not in caplog.text
    monkeypatch.undo()

    assert app.index_unindexed_files() >= 1
    assert app.search_persons(SearchTerms(family_name="nachgeholt", authority="abh-05111")) == [
        person
    ]


def test_a_new_index_key_rebuilds_the_tokens(app: ForeignersAuthority, database_url: str) -> None:
    with use_context(CONTEXT):
        person = app.register_arrival(arrival(family_name="Schluesselwechsel")).person_id
    assert person is not None
    index = app.search_index
    assert index is not None
    old_tokens = {token for _, _, token in _index_rows(database_url, person)}

    # when the master key (and so the index key) changes
    index.tokens = Tokens(bytes(range(1, 33)))
    assert app.search_persons(SearchTerms(family_name="Schlüsselwechsel", authority=None)) == []
    app.index_unindexed_files()

    new_tokens = {token for _, _, token in _index_rows(database_url, person)}
    assert new_tokens
    assert not new_tokens & old_tokens
    assert app.search_persons(SearchTerms(family_name="Schlüsselwechsel", authority=None)) == [
        person
    ]


def test_erasure_deletes_the_tokens_and_restriction_hides_the_person(
    app: ForeignersAuthority, database_url: str
) -> None:
    with use_context(CONTEXT):
        erased = app.register_arrival(arrival(family_name="Gone")).person_id
        restricted = app.register_arrival(arrival(family_name="Held")).person_id
    assert erased is not None
    assert restricted is not None
    assert _index_rows(database_url, erased)

    with use_context(CONTEXT):
        app.erase_person(erased, ErasureGround.REQUEST)
        app.restrict_processing(restricted, "accuracy_contested")

    assert _index_rows(database_url, erased) == []
    assert app.search_persons(SearchTerms(family_name="Gone", authority="abh-05111")) == []
    assert app.search_persons(SearchTerms(family_name="Held", authority="abh-05111")) == []
    assert _index_rows(database_url, restricted)  # kept, like the data, but not shown
    assert app.index_unindexed_files() == 0  # an erased person is never indexed again
    assert _index_rows(database_url, erased) == []


def test_a_transferred_file_is_found_by_its_new_authority_only(
    app: ForeignersAuthority,
) -> None:
    with use_context(CONTEXT):
        person = app.register_arrival(arrival(family_name="Umzug")).person_id
    assert person is not None
    file = app.repository.get(person)
    file.transfer_file(to_abh="abh-05315", transferred_on=file.entry_date, today=app.today())
    app.save(file)
    assert app.search_persons(SearchTerms(family_name="Umzug", authority="abh-05111")) == []
    assert app.search_persons(SearchTerms(family_name="Umzug", authority="abh-05315")) == [person]


# -- through the gateway: the whole hub ------------------------------------------------------


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


async def _register(hub: InProcessHub, who: dict[str, str], **changes: Any) -> tuple[str, str]:
    data = await ok(hub, REGISTER, {"input": arrival_input(**changes)}, who)
    return data["registerArrival"]["personId"], data["registerArrival"]["position"]


async def _search(hub: InProcessHub, who: dict[str, str] = OFFICER, **variables: Any) -> list[str]:
    data = await ok(hub, SEARCH, variables, who)
    return [p["personId"] for p in data["personSearch"]]


async def test_the_authority_finds_its_persons_by_each_key(
    hub: InProcessHub, nats_client: Any
) -> None:
    mine, _ = await _register(
        hub,
        OFFICER,
        givenNames="Amina Fatima",
        familyName="Müller-Şahin",
        birthDate="1991-07-08",
        azrNumber="111122223333",
    )
    namesake, _ = await _register(
        hub,
        OFFICER,
        givenNames="Omar",
        familyName="Müller-Şahin",
        birthDate="1985-01-02",
        municipalityKey="05334002",
    )
    theirs, last = await _register(
        hub,
        OTHER_OFFICER,
        givenNames="Amina",
        familyName="Müller-Şahin",
        birthDate="1991-07-08",
        azrNumber="444455556666",
        abhId="abh-05111",
        municipalityKey="05111000",
    )
    recorded: list[bytes] = []

    async def record(msg: Msg) -> None:
        recorded.append(msg.subject.encode() + msg.data)

    tap = await nats_client.subscribe("hub.cmd.>", cb=record)
    await nats_client.flush()

    by_name = await _search(hub, familyName="MUELLER-SAHIN", atLeast=last)
    assert set(by_name) == {mine, namesake}
    assert await _search(hub, familyName="mueller-sahin", givenName="fatima") == [mine]
    assert await _search(hub, familyName="Müller-Şahin", givenName="Amina Fatima") == [mine]
    assert await _search(hub, birthDate="1991-07-08") == [mine]
    assert await _search(hub, familyName="Müller-Şahin", birthDate="1985-01-02") == [namesake]
    assert await _search(hub, azrNumber="1111 2222 3333") == [mine]
    # combined with the read model's criteria
    assert await _search(hub, familyName="Müller-Sahin", ags="05334002") == [namesake]
    # another authority's person is not found, not even by its exact AZR number
    assert await _search(hub, azrNumber="444455556666") == []
    assert await _search(hub, OTHER_OFFICER, familyName="Muller-Sahin") == []  # ü is not u
    assert await _search(hub, OTHER_OFFICER, familyName="Mueller-Sahin") == [theirs]
    # the hub's admin acts for every authority
    assert set(await _search(hub, ADMIN, familyName="Mueller-Sahin")) == {mine, namesake, theirs}

    await nats_client.flush()
    await tap.unsubscribe()
    sent = b"".join(recorded)
    assert b"search_persons" in sent
    for value in (
        b"MUELLER",
        b"mueller",
        b"M\xc3\xbcller",
        b"fatima",
        b"1991-07-08",
        b"111122223333",
    ):
        assert value not in sent

    # each person found by who they are is in their own access log; no value in any entry
    logged = await hub.pool.fetch(
        "SELECT person_id, detail FROM gateway.audit_log WHERE action = 'person_search'"
    )
    assert UUID(mine) in {row["person_id"] for row in logged}
    details = " ".join(str(row["detail"]) for row in logged)
    assert "familyName" in details
    assert "ller" not in details
    assert "1991" not in details
    assert "1111" not in details


async def test_restricted_and_erased_persons_are_not_found(hub: InProcessHub) -> None:
    restricted, _ = await _register(hub, OFFICER, familyName="Verborgen", givenNames="Rana")
    erased, last = await _register(hub, OFFICER, familyName="Verborgen", givenNames="Sami")
    assert set(await _search(hub, familyName="verborgen", atLeast=last)) == {restricted, erased}

    assert await ok(
        hub, RESTRICT, {"input": {"personId": restricted, "ground": "ACCURACY_CONTESTED"}}, DPO
    )
    assert (await ok(hub, ERASE, {"input": {"personId": erased, "ground": "REQUEST"}}, DPO))[
        "erasePerson"
    ]["complete"]

    assert await _search(hub, familyName="Verborgen") == []
    assert await _search(hub, familyName="Verborgen", givenName="Rana") == []
    left = await hub.pool.fetchval(
        "SELECT count(*) FROM foreigners_authority.person_search_index WHERE person_id = $1",
        UUID(erased),
    )
    assert left == 0


async def test_bad_search_terms_are_refused_at_their_field(hub: InProcessHub) -> None:
    cases = [
        ({"givenName": "Amina"}, "familyName"),
        ({"azrNumber": "12345"}, "azrNumber"),
        ({"familyName": "x" * 201}, "familyName"),
    ]
    for variables, field in cases:
        body = await call(hub, SEARCH, variables, OFFICER)
        error = body["errors"][0]
        assert error["extensions"]["code"] == "invalid_input", body
        assert error["extensions"]["field"] == field
        assert "Amina" not in error["message"]
        assert "12345" not in error["message"]
    refused = await call(hub, SEARCH, {"familyName": "Müller"}, CASE_MANAGER)
    assert refused["errors"][0]["extensions"]["code"] == "forbidden"
    await asyncio.sleep(0)
