"""Language and cultural mediation: availability windows, the pool's bookings, requests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.case_management.domain import (
    InvalidValue,
    MediationRequest,
    MediatorPool,
    NotAllowed,
    NotFound,
)
from services.case_management.domain.mediation import Window, pool_id

TODAY = date(2026, 11, 21)  # a Saturday
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 23)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

NO_PLEDGE = UUID(int=1)
FARSI_ONLY = UUID(int=2)
TUESDAYS_ONLY = UUID(int=3)
ABLE = UUID(int=4)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def new_pool() -> MediatorPool:
    return MediatorPool(id=pool_id("05711000"), municipality="05711000")


def register(pool: MediatorPool, mediator_id: UUID, **changes: object) -> None:
    values: dict[str, object] = {
        "mediator_id": mediator_id,
        "display_name_enc": "hubenc:v1:name",
        "languages": ["ar"],
        "availability": ["mon 09:00-13:00"],
        "pledge_signed_on": date(2026, 1, 15),
        "today": TODAY,
    }
    values.update(changes)
    pool.register(**values)  # type: ignore[arg-type]


def pool_of_four() -> MediatorPool:
    """Four mediators, of whom only ABLE can take an Arabic appointment on a Monday morning."""
    pool = new_pool()
    register(pool, NO_PLEDGE, pledge_signed_on=None)
    register(pool, FARSI_ONLY, languages=["fa"])
    register(pool, TUESDAYS_ONLY, availability=["tue 09:00-13:00"])
    register(pool, ABLE)
    pool.collect_events()
    return pool


# -- availability windows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weekday", "start", "end"),
    [
        ("mon 09:00-13:00", 0, time(9), time(13)),
        ("  SUN 18:30-20:00 ", 6, time(18, 30), time(20)),
        ("wed 00:00-23:59", 2, time(0), time(23, 59)),
    ],
)
def test_a_window_is_parsed_from_weekday_and_times(
    text: str, weekday: int, start: time, end: time
) -> None:
    window = Window.parse(text)

    assert window == Window(weekday, start, end)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is not like"),
        ("monday 09:00-13:00", "is not like"),
        ("mon 9:00-13:00", "is not like"),
        ("mon 09:00 - 13:00", "is not like"),
        ("mon 09:00-13:00 weekly", "is not like"),
        ("mon 09:00-24:00", "invalid time"),
        ("mon 09:60-10:00", "invalid time"),
        ("mon 13:00-09:00", "ends before it starts"),
        ("mon 09:00-09:00", "ends before it starts"),
    ],
)
def test_a_malformed_window_is_refused(text: str, says: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Window.parse(text)

    assert refused.value.field == "availability"
    assert says in refused.value.message


@settings(max_examples=50, deadline=None)
@given(
    weekday=st.integers(0, 6),
    start=st.integers(0, 24 * 60 - 1),
    end=st.integers(0, 24 * 60 - 1),
)
def test_any_well_formed_window_parses_back_to_its_parts_when_it_ends_after_it_starts(
    weekday: int, start: int, end: int
) -> None:
    text = f"{DAYS[weekday]} {start // 60:02}:{start % 60:02}-{end // 60:02}:{end % 60:02}"

    if start < end:
        window = Window.parse(text)
        assert window == Window(weekday, time(start // 60, start % 60), time(end // 60, end % 60))
    else:
        with pytest.raises(InvalidValue):
            Window.parse(text)


@pytest.mark.parametrize(
    ("starts_at", "minutes", "inside"),
    [
        (at(MONDAY, 9), 240, True),
        (at(MONDAY, 12), 60, True),
        (at(MONDAY, 12), 61, False),
        (at(MONDAY, 8, 59), 30, False),
        (at(MONDAY + timedelta(days=1), 10), 30, False),
        (at(MONDAY + timedelta(days=7), 10), 30, True),
    ],
)
def test_a_window_contains_appointments_that_start_and_end_inside_it(
    starts_at: datetime, minutes: int, inside: bool
) -> None:
    window = Window.parse("mon 09:00-13:00")

    assert window.contains(starts_at, minutes) is inside


def test_an_appointment_running_past_midnight_is_not_inside_a_late_window() -> None:
    window = Window.parse("mon 20:00-23:59")

    assert not window.contains(at(MONDAY, 23, 30), 60)


# -- the pool ---------------------------------------------------------------------------------


def test_registering_a_mediator_records_languages_and_normalised_windows() -> None:
    pool = new_pool()
    pool.collect_events()
    mediator_id = uuid4()

    register(
        pool,
        mediator_id,
        languages=["uk", "ru", "uk"],
        availability=[" MON 09:00-13:00", "thu 14:00-18:00"],
    )

    (event,) = pool.collect_events()
    assert isinstance(event, MediatorPool.MediatorRegistered)
    assert event.mediator_id == mediator_id
    assert event.languages == ["ru", "uk"]
    assert event.availability == ["mon 09:00-13:00", "thu 14:00-18:00"]
    assert event.pledge_signed_on == date(2026, 1, 15)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"languages": []}, "languages"),
        ({"languages": ["ar", "klingon"]}, "languages"),
        ({"availability": ["mondays"]}, "availability"),
        ({"pledge_signed_on": TODAY + timedelta(days=1)}, "pledgeSignedOn"),
    ],
)
def test_registering_is_refused_naming_the_field_at_fault(
    changes: dict[str, object], field: str
) -> None:
    pool = new_pool()
    pool.collect_events()

    with pytest.raises(InvalidValue) as refused:
        register(pool, uuid4(), **changes)

    assert refused.value.field == field
    assert pool.collect_events() == []


def test_registering_the_same_mediator_twice_is_refused_and_keeps_the_bookings() -> None:
    pool = pool_of_four()
    pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 10), minutes=60)

    with pytest.raises(NotAllowed) as refused:
        register(pool, ABLE)

    assert refused.value.field == "mediatorId"
    second = pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 10), minutes=60)
    assert second is None


def test_a_mediator_without_the_pledge_becomes_bookable_once_it_is_signed() -> None:
    pool = new_pool()
    mediator_id = uuid4()
    register(pool, mediator_id, pledge_signed_on=None)
    before = pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 10), minutes=60)
    pool.collect_events()

    pool.sign_pledge(mediator_id=mediator_id, signed_on=TODAY, today=TODAY)

    (event,) = pool.collect_events()
    assert isinstance(event, MediatorPool.PledgeSigned)
    assert event.mediator_id == mediator_id
    assert event.signed_on == TODAY
    after = pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 10), minutes=60)
    assert before is None
    assert after == mediator_id


def test_signing_the_pledge_for_an_unknown_mediator_or_in_the_future_is_refused() -> None:
    pool = pool_of_four()

    with pytest.raises(NotFound) as unknown:
        pool.sign_pledge(mediator_id=uuid4(), signed_on=TODAY, today=TODAY)
    with pytest.raises(InvalidValue) as future:
        pool.sign_pledge(mediator_id=NO_PLEDGE, signed_on=TODAY + timedelta(days=1), today=TODAY)

    assert unknown.value.field == "mediatorId"
    assert future.value.field == "signedOn"


def test_booking_picks_the_mediator_who_speaks_the_language_is_available_and_signed() -> None:
    pool = pool_of_four()
    request_id = uuid4()

    booked = pool.book(request_id=request_id, language="ar", starts_at=at(MONDAY, 10), minutes=90)

    assert booked == ABLE
    (event,) = pool.collect_events()
    assert isinstance(event, MediatorPool.Booked)
    assert event.request_id == request_id
    assert event.mediator_id == ABLE
    assert event.starts_at == at(MONDAY, 10)
    assert event.minutes == 90
    assert pool.bookings[ABLE] == [(at(MONDAY, 10), at(MONDAY, 11, 30))]


def test_the_pool_says_why_each_other_mediator_cannot_take_the_appointment() -> None:
    pool = pool_of_four()

    reasons = {m: pool.why_not(m, "ar", at(MONDAY, 10), 90) for m in sorted(pool.mediators)}

    assert reasons == {
        NO_PLEDGE: "has not signed the confidentiality pledge",
        FARSI_ONLY: "does not mediate ar",
        TUESDAYS_ONLY: "is not available then",
        ABLE: None,
    }


def test_an_overlapping_appointment_is_not_given_to_the_same_mediator() -> None:
    pool = pool_of_four()
    pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 10), minutes=60)
    pool.collect_events()

    booked = pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 10, 30), minutes=60)

    assert booked is None
    assert pool.collect_events() == []
    assert pool.why_not(ABLE, "ar", at(MONDAY, 10, 30), 60) == "is already booked then"


def test_back_to_back_appointments_go_to_the_same_mediator() -> None:
    pool = pool_of_four()
    pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 10), minutes=60)

    booked = pool.book(request_id=uuid4(), language="ar", starts_at=at(MONDAY, 11), minutes=60)

    assert booked == ABLE


def test_booking_returns_none_when_nobody_can_serve() -> None:
    pool = pool_of_four()

    booked = pool.book(request_id=uuid4(), language="ti", starts_at=at(MONDAY, 10), minutes=60)

    assert booked is None
    assert pool.collect_events() == []


def test_booking_a_named_mediator_who_cannot_serve_is_refused_with_the_reason() -> None:
    pool = pool_of_four()

    with pytest.raises(NotAllowed) as refused:
        pool.book(
            request_id=uuid4(),
            language="ar",
            starts_at=at(MONDAY, 10),
            minutes=60,
            mediator_id=TUESDAYS_ONLY,
        )

    assert refused.value.field == "mediatorId"
    assert "is not available then" in refused.value.message
    assert pool.collect_events() == []


def test_booking_an_unknown_mediator_is_refused() -> None:
    pool = pool_of_four()

    with pytest.raises(NotFound) as refused:
        pool.book(
            request_id=uuid4(),
            language="ar",
            starts_at=at(MONDAY, 10),
            minutes=60,
            mediator_id=uuid4(),
        )

    assert refused.value.field == "mediatorId"


MEDIATORS = {
    UUID(int=1): (["ar", "fa"], ["mon 08:00-16:00", "wed 08:00-12:00"], date(2026, 1, 1)),
    UUID(int=2): (["ar"], ["mon 10:00-18:00", "tue 08:00-18:00"], date(2026, 2, 1)),
    UUID(int=3): (["fa", "uk"], ["mon 08:00-18:00", "fri 09:00-13:00"], date(2026, 3, 1)),
    UUID(int=4): (["uk", "ar"], ["tue 08:00-18:00", "wed 08:00-18:00"], None),
}

appointments = st.lists(
    st.tuples(
        st.integers(0, 2),  # Monday to Wednesday
        st.integers(8 * 4, 14 * 4),  # start, in quarter hours
        st.integers(1, 12),  # length, in quarter hours
        st.sampled_from(["ar", "fa", "uk", "ti"]),
        st.sampled_from([None, None, None, *sorted(MEDIATORS)]),  # any, or a named mediator
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(appointments)
def test_no_mediator_is_ever_booked_for_overlapping_appointments(
    wanted: list[tuple[int, int, int, str, UUID | None]],
) -> None:
    pool = new_pool()
    for mediator_id, (languages, availability, pledge) in MEDIATORS.items():
        register(
            pool,
            mediator_id,
            languages=languages,
            availability=availability,
            pledge_signed_on=pledge,
        )
    pool.collect_events()

    for day, quarter, quarters, language, named in wanted:
        starts_at = at(MONDAY + timedelta(days=day), 0) + timedelta(minutes=15 * quarter)
        minutes = 15 * quarters
        reasons = {m: pool.why_not(m, language, starts_at, minutes) for m in MEDIATORS}
        if named is not None:
            try:
                booked = pool.book(
                    request_id=uuid4(),
                    language=language,
                    starts_at=starts_at,
                    minutes=minutes,
                    mediator_id=named,
                )
            except NotAllowed:
                assert reasons[named] is not None
                continue
            assert booked == named
        else:
            booked = pool.book(
                request_id=uuid4(), language=language, starts_at=starts_at, minutes=minutes
            )
        if booked is None:
            assert all(reason is not None for reason in reasons.values())
        else:
            assert reasons[booked] is None
            languages, availability, pledge = MEDIATORS[booked]
            assert language in languages
            assert pledge is not None
            assert any(Window.parse(w).contains(starts_at, minutes) for w in availability)

    booked_times: dict[UUID, list[tuple[datetime, datetime]]] = {}
    for event in pool.collect_events():
        assert isinstance(event, MediatorPool.Booked)
        booked_times.setdefault(event.mediator_id, []).append(
            (event.starts_at, event.starts_at + timedelta(minutes=event.minutes))
        )
    for times in booked_times.values():
        for (start_a, end_a), (start_b, end_b) in combinations(times, 2):
            assert end_a <= start_b or end_b <= start_a


# -- requests ---------------------------------------------------------------------------------


def request(**changes: object) -> MediationRequest:
    values: dict[str, object] = {
        "case_id": uuid4(),
        "person_id": uuid4(),
        "language": "ar",
        "starts_at": at(MONDAY, 10),
        "minutes": 60,
        "agency": "kim-bielefeld",
        "now": NOW,
    }
    values.update(changes)
    return MediationRequest.request(**values)  # type: ignore[arg-type]


def test_requesting_a_mediator_records_language_time_and_length() -> None:
    case_id = uuid4()

    mediation = request(case_id=case_id, minutes=15)

    (event,) = mediation.collect_events()
    assert isinstance(event, MediationRequest.Requested)
    assert event.case_id == case_id
    assert event.language == "ar"
    assert event.starts_at == at(MONDAY, 10)
    assert event.minutes == 15
    assert event.agency == "kim-bielefeld"
    assert mediation.status == "requested"
    assert mediation.mediator_id is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": NOW}, "startsAt"),
        ({"starts_at": NOW - timedelta(minutes=1)}, "startsAt"),
        ({"starts_at": datetime(2026, 11, 23, 10, 0)}, "startsAt"),
        ({"minutes": 14}, "minutes"),
        ({"minutes": 481}, "minutes"),
        ({"minutes": 0}, "minutes"),
        ({"language": "xx"}, "languages"),
    ],
)
def test_a_request_in_the_past_without_time_zone_or_of_bad_length_is_refused(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        request(**changes)

    assert refused.value.field == field


def test_an_appointment_of_eight_hours_may_be_requested() -> None:
    mediation = request(minutes=480)

    assert mediation.minutes == 480


def test_an_unserved_request_stays_visible_until_a_mediator_is_assigned() -> None:
    mediation = request()
    mediation.collect_events()
    mediator_id = uuid4()

    mediation.mark_unserved(reason="no mediator for ar is free")
    unserved_status = mediation.status
    mediation.assign(mediator_id=mediator_id)

    unserved, assigned = mediation.collect_events()
    assert unserved_status == "unserved"
    assert isinstance(unserved, MediationRequest.Unserved)
    assert unserved.reason == "no mediator for ar is free"
    assert isinstance(assigned, MediationRequest.Assigned)
    assert assigned.mediator_id == mediator_id
    assert mediation.status == "assigned"
    assert mediation.mediator_id == mediator_id


def test_assigning_a_second_mediator_is_refused() -> None:
    mediation = request()
    mediation.assign(mediator_id=uuid4())
    mediation.collect_events()

    with pytest.raises(NotAllowed) as refused:
        mediation.assign(mediator_id=uuid4())

    assert refused.value.field == "requestId"
    assert mediation.collect_events() == []
