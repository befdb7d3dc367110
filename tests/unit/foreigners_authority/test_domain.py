"""Residence file rules: given a file, when a command, then these events or this error."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.foreigners_authority.domain import (
    ArrivalFacts,
    DomainError,
    EntryMode,
    InvalidValue,
    ResidenceFile,
    TitleKind,
)

TODAY = date(2026, 11, 21)


def facts(**changes: object) -> ArrivalFacts:
    values: dict[str, object] = {
        "birth_date": date(1990, 5, 1),
        "nationalities": ["SYR"],
        "entry_date": date(2023, 3, 1),
        "entry_mode": EntryMode.ASYLUM,
        "municipality_key": "05315000",
        "registered_on": date(2023, 3, 8),
    }
    values.update(changes)
    return ArrivalFacts(**values)  # type: ignore[arg-type]


def register(**changes: object) -> ResidenceFile:
    return ResidenceFile.register_arrival(
        person_id=uuid4(),
        names_enc="hubenc:v1:names",
        birth_date_enc="hubenc:v1:birth",
        azr_number_enc="hubenc:v1:azr",
        abh_id="abh-05315",
        facts=facts(**changes),
        today=TODAY,
    )


def grant(file: ResidenceFile, **changes: object) -> None:
    values: dict[str, object] = {
        "title": TitleKind.RESIDENCE_PERMIT,
        "paragraph": "§ 25 Abs. 2 AufenthG",
        "granted_on": date(2024, 2, 1),
        "valid_from": date(2024, 2, 1),
        "valid_until": date(2027, 1, 31),
        "conditions": ["Erwerbstätigkeit erlaubt"],
        "today": TODAY,
    }
    values.update(changes)
    file.grant_residence_title(**values)  # type: ignore[arg-type]


def test_registering_an_arrival_records_person_entry_and_residence() -> None:
    file = register()

    events = file.collect_events()

    assert [type(e).__name__ for e in events] == [
        "PersonRegistered",
        "EntryRecorded",
        "ResidenceRegistered",
    ]
    registered, entry, residence = events
    assert isinstance(registered, ResidenceFile.PersonRegistered)
    assert registered.names_enc.startswith("hubenc:")
    assert isinstance(entry, ResidenceFile.EntryRecorded)
    assert entry.entry_date == date(2023, 3, 1)
    assert isinstance(residence, ResidenceFile.ResidenceRegistered)
    assert residence.municipality_key == "05315000"


def test_granting_a_title_records_it_with_conditions() -> None:
    file = register()
    file.collect_events()

    grant(file)

    (granted,) = file.collect_events()
    assert isinstance(granted, ResidenceFile.ResidenceTitleGranted)
    assert granted.paragraph == "§ 25 Abs. 2 AufenthG"
    assert granted.conditions == ["Erwerbstätigkeit erlaubt"]
    assert file.titles[0]["title"] is TitleKind.RESIDENCE_PERMIT


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_date": TODAY + timedelta(days=1)}, "birthDate"),
        ({"entry_date": TODAY + timedelta(days=1), "registered_on": TODAY}, "entryDate"),
        ({"entry_date": date(1980, 1, 1), "registered_on": date(1980, 1, 2)}, "entryDate"),
        ({"registered_on": date(2023, 2, 1)}, "registeredOn"),
        ({"registered_on": TODAY + timedelta(days=3)}, "registeredOn"),
        ({"nationalities": []}, "nationalities"),
        ({"nationalities": ["syr"]}, "nationalities"),
        ({"nationalities": ["SYR", "SYR"]}, "nationalities"),
        ({"municipality_key": "5315000"}, "municipalityKey"),
        ({"municipality_key": "99315000"}, "municipalityKey"),
    ],
)
def test_an_arrival_that_contradicts_itself_is_refused(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        register(**changes)

    assert refused.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"valid_until": date(2024, 1, 1)}, "validUntil"),
        ({"valid_until": date(2024, 2, 1)}, "validUntil"),
        ({"granted_on": TODAY + timedelta(days=1)}, "grantedOn"),
        ({"granted_on": date(2022, 1, 1)}, "grantedOn"),
        ({"paragraph": "25 AufenthG"}, "paragraph"),
        ({"title": TitleKind.SETTLEMENT_PERMIT}, "validUntil"),
        ({"valid_until": None}, "validUntil"),
        ({"conditions": ["  "]}, "conditions"),
    ],
)
def test_a_title_that_contradicts_the_file_is_refused(
    changes: dict[str, object], field: str
) -> None:
    file = register()
    file.collect_events()

    with pytest.raises(DomainError) as refused:
        grant(file, **changes)

    assert refused.value.field == field
    assert file.collect_events() == []


def test_a_settlement_permit_is_unlimited() -> None:
    file = register()
    grant(file)
    file.collect_events()

    grant(file, title=TitleKind.SETTLEMENT_PERMIT, paragraph="§ 9 AufenthG", valid_until=None)

    assert file.titles[-1]["valid_until"] is None


def test_a_national_visa_may_be_granted_before_entry() -> None:
    file = register()
    file.collect_events()

    grant(
        file,
        title=TitleKind.NATIONAL_VISA,
        paragraph="§ 6 Abs. 3 AufenthG",
        granted_on=date(2023, 1, 10),
        valid_from=date(2023, 2, 1),
        valid_until=date(2023, 5, 1),
    )

    assert len(file.titles) == 1


dates = st.dates(min_value=date(1930, 1, 1), max_value=date(2030, 12, 31))


@given(valid_from=dates, valid_until=dates)
def test_a_temporary_title_is_accepted_exactly_when_it_ends_after_it_starts(
    valid_from: date, valid_until: date
) -> None:
    file = register()
    file.collect_events()
    granted_on = date(2024, 1, 1)
    accepted = valid_until > valid_from and valid_until >= granted_on
    try:
        grant(file, granted_on=granted_on, valid_from=valid_from, valid_until=valid_until)
    except InvalidValue as error:
        assert not accepted
        assert error.field == "validUntil"
    else:
        assert accepted


@given(birth=dates, entry=dates, registered=dates)
def test_arrival_dates_are_accepted_exactly_when_in_order_and_not_future(
    birth: date, entry: date, registered: date
) -> None:
    in_order = birth <= entry <= registered <= TODAY
    try:
        register(birth_date=birth, entry_date=entry, registered_on=registered)
    except InvalidValue:
        assert not in_order
    else:
        assert in_order
