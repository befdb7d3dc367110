"""The foreigners authority application on the real embedded PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from uuid import uuid4

import psycopg
import pytest

from services.foreigners_authority.application import (
    ForeignersAuthority,
    GrantResidenceTitle,
)
from services.foreigners_authority.domain import InvalidValue, TitleKind, UnknownPerson
from services.runtime.context import CommandContext, use_context
from services.runtime.eventstore import event_meta
from services.runtime.settings import HubSettings
from services.runtime.vault import PersonalDataUnavailable
from tests.helpers import arrival, close_app, foreigners_authority

CONTEXT = CommandContext(
    agency="abh-05111",
    role="abh_officer",
    legal_basis="§ 86 AufenthG",
    purpose="residence_administration",
    traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
)


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings)
    yield application
    close_app(application)


def test_an_arrival_is_stored_with_personal_data_encrypted(
    app: ForeignersAuthority, database_url: str
) -> None:
    with use_context(CONTEXT):
        result = app.register_arrival(arrival(family_name="Haddad", azr_number="123456789012"))

    assert result.person_id is not None
    assert result.position == 3  # three events: registered, entry, residence
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT topic, state FROM foreigners_authority.foreigners_authority_events"
        ).fetchall()
    assert len(rows) == 3
    stored = b"".join(bytes(state) for _, state in rows)
    assert b"Haddad" not in stored
    assert b"123456789012" not in stored
    assert b"1995-11-02" not in stored
    assert app.residence_file(result.person_id)["family_name"] == "Haddad"


def test_the_command_context_is_stored_beside_each_event(app: ForeignersAuthority) -> None:
    with use_context(CONTEXT):
        result = app.register_arrival(arrival())

    notifications = app.recorder.select_notifications(start=1, limit=10)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    assert result.position == notifications[-1].id
    for domain_event in events:
        meta = event_meta(domain_event)
        assert meta["agency"] == "abh-05111"
        assert meta["legal_basis"] == "§ 86 AufenthG"
        assert meta["traceparent"] == CONTEXT.traceparent


def test_a_title_for_an_unknown_person_is_refused(app: ForeignersAuthority) -> None:
    with pytest.raises(UnknownPerson) as refused:
        app.grant_residence_title(
            GrantResidenceTitle(
                person_id=uuid4(),
                title=TitleKind.RESIDENCE_PERMIT,
                paragraph="§ 25 Abs. 2 AufenthG",
                valid_from=date(2024, 1, 1),
                valid_until=date(2026, 12, 31),
                granted_on=date(2024, 1, 1),
            )
        )

    assert refused.value.field == "personId"


def test_a_granted_title_is_on_the_file(app: ForeignersAuthority) -> None:
    person = app.register_arrival(arrival()).person_id
    assert person is not None

    result = app.grant_residence_title(
        GrantResidenceTitle(
            person_id=person,
            title=TitleKind.RESIDENCE_PERMIT,
            paragraph="§ 25 Abs. 2 AufenthG",
            valid_from=date(2016, 8, 1),
            valid_until=date(2019, 7, 31),
            granted_on=date(2016, 8, 1),
            conditions=["Wohnsitzauflage Köln"],
        )
    )

    assert result.position == 4
    assert app.residence_file(person)["titles"][0]["paragraph"] == "§ 25 Abs. 2 AufenthG"


def test_a_refused_arrival_leaves_no_trace(app: ForeignersAuthority, database_url: str) -> None:
    with pytest.raises(InvalidValue):
        app.register_arrival(arrival(azr_number="12-34"))
    with pytest.raises(InvalidValue):
        app.register_arrival(arrival(birth_date=date(2999, 1, 1)))

    assert app.recorder.max_notification_id() in (None, 0)
    with psycopg.connect(database_url) as conn:
        keys = conn.execute("SELECT count(*) FROM foreigners_authority.person_keys").fetchone()
    assert keys == (0,)


def test_erasing_the_key_makes_the_personal_data_unreadable(app: ForeignersAuthority) -> None:
    person = app.register_arrival(arrival()).person_id
    assert person is not None

    assert app.vault.erase(person) is True

    with pytest.raises(PersonalDataUnavailable, match="erased"):
        app.residence_file(person)
    assert app.vault.erase(person) is True  # it had a key: the same answer again
    assert app.vault.is_erased(person)
