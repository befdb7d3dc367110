"""Cases: opening, needs, goals, conferences, change of legal sphere, closing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.case_management.domain import Case, InvalidValue, NotAllowed
from services.case_management.domain.case import NEED_LEVELS
from services.case_management.domain.vocabulary import LegalSphere, LifeDomain

OPENED_ON = date(2026, 3, 2)
TODAY = date(2026, 11, 21)


def open_case(**changes: object) -> Case:
    values: dict[str, object] = {
        "person_id": uuid4(),
        "target_group": "newly_arrived",
        "legal_spheres": ["asylblg"],
        "intake_source": "foreigners_authority",
        "interpreter_needed": True,
        "case_manager": "cm-4711",
        "agency": "kim-bielefeld",
        "today": OPENED_ON,
    }
    values.update(changes)
    return Case.open(**values)  # type: ignore[arg-type]


def opened(**changes: object) -> Case:
    """An open case whose Opened event has been collected already."""
    case = open_case(**changes)
    case.collect_events()
    return case


# -- open -------------------------------------------------------------------------------------


def test_opening_a_case_records_who_it_serves_and_who_runs_it() -> None:
    person_id = uuid4()

    case = open_case(person_id=person_id, legal_spheres=["sgb_viii", "asylblg", "sgb_viii"])

    (event,) = case.collect_events()
    assert isinstance(event, Case.Opened)
    assert event.person_id == person_id
    assert event.target_group == "newly_arrived"
    assert event.legal_spheres == ["asylblg", "sgb_viii"]
    assert event.intake_source == "foreigners_authority"
    assert event.interpreter_needed is True
    assert event.case_manager == "cm-4711"
    assert event.agency == "kim-bielefeld"
    assert event.opened_on == OPENED_ON
    assert case.is_open


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"target_group": "tourists"}, "targetGroup", "tourists"),
        ({"intake_source": "newspaper"}, "intakeSource", "newspaper"),
        ({"legal_spheres": ["sgb_ii", "sgb_x"]}, "legalSpheres", "sgb_x"),
        ({"legal_spheres": ["SGB_II"]}, "legalSpheres", "SGB_II"),
        ({"case_manager": "  "}, "caseManager", None),
        ({"agency": ""}, "agency", None),
    ],
)
def test_opening_is_refused_naming_the_field_at_fault(
    changes: dict[str, object], field: str, named: str | None
) -> None:
    with pytest.raises(InvalidValue) as refused:
        open_case(**changes)

    assert refused.value.field == field
    if named is not None:
        assert named in refused.value.message


# -- needs ------------------------------------------------------------------------------------


def test_assessing_needs_records_a_level_per_life_domain() -> None:
    case = opened()

    case.assess_needs(needs={"work": "high", "language": "medium"}, today=TODAY)

    (event,) = case.collect_events()
    assert isinstance(event, Case.NeedsAssessed)
    assert event.assessed_on == TODAY
    assert event.needs == {"language": "medium", "work": "high"}
    assert list(event.needs) == ["language", "work"]
    assert case.needs == {"language": "medium", "work": "high"}


def test_a_later_assessment_updates_only_the_domains_it_names() -> None:
    case = opened()
    case.assess_needs(needs={"work": "high", "language": "medium"}, today=TODAY)

    case.assess_needs(needs={"work": "low"}, today=TODAY)

    assert case.needs == {"language": "medium", "work": "low"}


@pytest.mark.parametrize(
    ("needs", "named"),
    [
        ({}, None),
        ({"astrology": "high"}, "astrology"),
        ({"work": "urgent"}, "urgent"),
        ({"work": "high", "housing": "HIGH"}, "HIGH"),
    ],
)
def test_an_assessment_with_an_unknown_domain_or_level_is_refused(
    needs: dict[str, str], named: str | None
) -> None:
    case = opened()

    with pytest.raises(InvalidValue) as refused:
        case.assess_needs(needs=needs, today=TODAY)

    assert refused.value.field == "needs"
    if named is not None:
        assert named in refused.value.message
    assert case.collect_events() == []


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([d.value for d in LifeDomain] + ["leisure"]),
        st.sampled_from([*NEED_LEVELS, "urgent", ""]),
        max_size=4,
    )
)
def test_an_assessment_is_recorded_exactly_when_every_domain_and_level_is_known(
    needs: dict[str, str],
) -> None:
    case = opened()
    valid = (
        bool(needs)
        and set(needs) <= {d.value for d in LifeDomain}
        and set(needs.values()) <= set(NEED_LEVELS)
    )

    if valid:
        case.assess_needs(needs=needs, today=TODAY)
    else:
        with pytest.raises(InvalidValue):
            case.assess_needs(needs=needs, today=TODAY)

    assert len(case.collect_events()) == int(valid)


# -- goals ------------------------------------------------------------------------------------


def test_agreeing_a_goal_records_domain_description_and_target_date() -> None:
    case = opened()
    goal_id = uuid4()

    case.agree_goal(
        goal_id=goal_id,
        domain="language",
        description_enc="hubenc:v1:goal",
        target_date=TODAY + timedelta(days=1),
        today=TODAY,
    )

    (event,) = case.collect_events()
    assert isinstance(event, Case.GoalAgreed)
    assert event.goal_id == goal_id
    assert event.domain == "language"
    assert event.description_enc == "hubenc:v1:goal"
    assert event.target_date == date(2026, 11, 22)
    assert case.goals[goal_id] == {"domain": "language", "target_date": date(2026, 11, 22)}


@pytest.mark.parametrize("target_date", [TODAY, TODAY - timedelta(days=1), OPENED_ON])
def test_a_goal_must_lie_in_the_future(target_date: date) -> None:
    case = opened()

    with pytest.raises(InvalidValue) as refused:
        case.agree_goal(
            goal_id=uuid4(),
            domain="work",
            description_enc="hubenc:v1:goal",
            target_date=target_date,
            today=TODAY,
        )

    assert refused.value.field == "targetDate"
    assert case.collect_events() == []


def test_a_goal_in_an_unknown_life_domain_is_refused() -> None:
    case = opened()

    with pytest.raises(InvalidValue) as refused:
        case.agree_goal(
            goal_id=uuid4(),
            domain="leisure",
            description_enc="hubenc:v1:goal",
            target_date=date(2027, 6, 1),
            today=TODAY,
        )

    assert refused.value.field == "domain"
    assert "leisure" in refused.value.message


# -- conferences ------------------------------------------------------------------------------


def test_holding_a_conference_records_the_day_participants_and_consent() -> None:
    case = opened()
    consent_id = uuid4()

    case.hold_conference(
        held_on=TODAY,
        participants=["jobcenter", "awo", "jobcenter"],
        consent_id=consent_id,
        today=TODAY,
    )

    (event,) = case.collect_events()
    assert isinstance(event, Case.ConferenceHeld)
    assert event.held_on == TODAY
    assert event.participants == ["awo", "jobcenter"]
    assert event.consent_id == consent_id
    assert case.conferences == [TODAY]


def test_a_conference_on_the_opening_day_is_recorded() -> None:
    case = opened()

    case.hold_conference(
        held_on=OPENED_ON, participants=["kim-bielefeld"], consent_id=None, today=TODAY
    )

    assert case.conferences == [OPENED_ON]


@pytest.mark.parametrize(
    ("held_on", "participants", "field"),
    [
        (TODAY + timedelta(days=1), ["awo"], "heldOn"),
        (OPENED_ON - timedelta(days=1), ["awo"], "heldOn"),
        (TODAY, [], "participants"),
    ],
)
def test_a_conference_in_the_future_before_opening_or_without_participants_is_refused(
    held_on: date, participants: list[str], field: str
) -> None:
    case = opened()

    with pytest.raises(InvalidValue) as refused:
        case.hold_conference(
            held_on=held_on, participants=participants, consent_id=None, today=TODAY
        )

    assert refused.value.field == field
    assert case.collect_events() == []


# -- change of legal sphere (Rechtskreiswechsel) ----------------------------------------------


def test_recognition_moves_a_case_from_asylblg_to_sgb_ii() -> None:
    case = opened(legal_spheres=["asylblg", "sgb_viii"])

    case.change_legal_sphere(
        from_sphere="asylblg", to_sphere="sgb_ii", effective=date(2026, 12, 1), today=TODAY
    )

    (event,) = case.collect_events()
    assert isinstance(event, Case.LegalSphereChanged)
    assert event.from_sphere == "asylblg"
    assert event.to_sphere == "sgb_ii"
    assert event.effective == date(2026, 12, 1)
    assert case.legal_spheres == ["sgb_ii", "sgb_viii"]


def test_a_sphere_can_be_added_without_leaving_another() -> None:
    case = opened(legal_spheres=["sgb_ii"])

    case.change_legal_sphere(from_sphere=None, to_sphere="sgb_viii", effective=TODAY, today=TODAY)

    (event,) = case.collect_events()
    assert isinstance(event, Case.LegalSphereChanged)
    assert event.from_sphere is None
    assert case.legal_spheres == ["sgb_ii", "sgb_viii"]


@pytest.mark.parametrize(
    ("from_sphere", "to_sphere", "error", "field"),
    [
        ("sgb_xii", "sgb_ii", NotAllowed, "fromSphere"),
        ("asylblg", "asylblg", NotAllowed, "toSphere"),
        (None, "asylblg", NotAllowed, "toSphere"),
        ("asylblg", "sgb_v", InvalidValue, "toSphere"),
        ("asylum", "sgb_ii", InvalidValue, "fromSphere"),
    ],
)
def test_a_change_must_leave_a_current_sphere_for_a_new_one(
    from_sphere: str | None, to_sphere: str, error: type[Exception], field: str
) -> None:
    case = opened(legal_spheres=["asylblg"])

    with pytest.raises(error) as refused:
        case.change_legal_sphere(
            from_sphere=from_sphere, to_sphere=to_sphere, effective=TODAY, today=TODAY
        )

    assert getattr(refused.value, "field", None) == field
    assert case.legal_spheres == ["asylblg"]
    assert case.collect_events() == []


@pytest.mark.parametrize("effective", [OPENED_ON - timedelta(days=1), TODAY + timedelta(days=367)])
def test_a_change_before_opening_or_more_than_a_year_ahead_is_refused(effective: date) -> None:
    case = opened(legal_spheres=["asylblg"])

    with pytest.raises(InvalidValue) as refused:
        case.change_legal_sphere(
            from_sphere="asylblg", to_sphere="sgb_ii", effective=effective, today=TODAY
        )

    assert refused.value.field == "effective"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.none() | st.sampled_from(list(LegalSphere)),
            st.sampled_from(list(LegalSphere)),
        ),
        max_size=8,
    )
)
def test_the_spheres_stay_a_sorted_set_of_known_spheres_whatever_changes_are_tried(
    changes: list[tuple[str | None, str]],
) -> None:
    case = opened(legal_spheres=["asylblg"])
    expected = {"asylblg"}

    for from_sphere, to_sphere in changes:
        try:
            case.change_legal_sphere(
                from_sphere=from_sphere, to_sphere=to_sphere, effective=TODAY, today=TODAY
            )
        except NotAllowed:
            assert (from_sphere is not None and from_sphere not in expected) or (
                to_sphere in expected
            )
        else:
            expected = (expected - {from_sphere}) | {to_sphere}

    assert case.legal_spheres == sorted(expected)


# -- close ------------------------------------------------------------------------------------


def test_closing_records_the_reason_and_day() -> None:
    case = opened()

    case.close(reason="handed_over", today=TODAY)

    (event,) = case.collect_events()
    assert isinstance(event, Case.Closed)
    assert event.reason == "handed_over"
    assert event.closed_on == TODAY
    assert not case.is_open
    assert case.close_reason == "handed_over"


def test_closing_for_an_unknown_reason_is_refused() -> None:
    case = opened()

    with pytest.raises(InvalidValue) as refused:
        case.close(reason="bored", today=TODAY)

    assert refused.value.field == "reason"
    assert case.is_open


def test_closing_twice_is_refused() -> None:
    case = opened()
    case.close(reason="goals_reached", today=TODAY)
    case.collect_events()

    with pytest.raises(NotAllowed) as refused:
        case.close(reason="goals_reached", today=TODAY)

    assert refused.value.field == "caseId"
    assert case.collect_events() == []


def test_reopening_a_closed_case_records_the_reason_and_day_and_opens_it_again() -> None:
    case = opened()
    case.close(reason="no_contact", today=OPENED_ON)
    case.collect_events()

    case.reopen(reason="person_returned", today=TODAY)

    (event,) = case.collect_events()
    assert isinstance(event, Case.Reopened)
    assert (event.reason, event.reopened_on) == ("person_returned", TODAY)
    assert case.is_open
    assert case.close_reason is None
    case.assess_needs(needs={"work": "high"}, today=TODAY)  # work on it goes on
    assert case.needs == {"work": "high"}


def test_reopening_an_open_case_or_for_an_unknown_reason_is_refused() -> None:
    case = opened()
    with pytest.raises(NotAllowed) as refused:
        case.reopen(reason="person_returned", today=TODAY)
    assert refused.value.field == "caseId"

    case.close(reason="no_contact", today=TODAY)
    case.collect_events()
    with pytest.raises(InvalidValue) as unknown:
        case.reopen(reason="bored", today=TODAY)
    assert unknown.value.field == "reason"
    assert not case.is_open
    assert case.collect_events() == []


COMMANDS: dict[str, Callable[[Case], None]] = {
    "assess_needs": lambda case: case.assess_needs(needs={"work": "high"}, today=TODAY),
    "agree_goal": lambda case: case.agree_goal(
        goal_id=uuid4(),
        domain="work",
        description_enc="hubenc:v1:goal",
        target_date=date(2027, 6, 1),
        today=TODAY,
    ),
    "hold_conference": lambda case: case.hold_conference(
        held_on=TODAY, participants=["awo"], consent_id=None, today=TODAY
    ),
    "change_legal_sphere": lambda case: case.change_legal_sphere(
        from_sphere="asylblg", to_sphere="sgb_ii", effective=TODAY, today=TODAY
    ),
    "close": lambda case: case.close(reason="other", today=TODAY),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_after_closing_is_refused_naming_the_case(command: str) -> None:
    case = opened()
    case.close(reason="moved_away", today=TODAY)
    case.collect_events()

    with pytest.raises(NotAllowed) as refused:
        COMMANDS[command](case)

    assert refused.value.field == "caseId"
    assert "2026-11-21" in refused.value.message
    assert case.collect_events() == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_accepted_on_an_open_case(command: str) -> None:
    case = opened()

    COMMANDS[command](case)

    assert len(case.collect_events()) == 1


def test_replaying_the_events_rebuilds_the_case() -> None:
    case = open_case()
    goal_id = uuid4()
    case.assess_needs(needs={"language": "high"}, today=TODAY)
    case.agree_goal(
        goal_id=goal_id,
        domain="language",
        description_enc="hubenc:v1:goal",
        target_date=date(2027, 6, 1),
        today=TODAY,
    )
    case.change_legal_sphere(
        from_sphere="asylblg", to_sphere="sgb_ii", effective=TODAY, today=TODAY
    )
    case.close(reason="goals_reached", today=TODAY)

    rebuilt = None
    for event in case.collect_events():
        rebuilt = event.mutate(rebuilt)

    assert isinstance(rebuilt, Case)
    assert rebuilt.needs == {"language": "high"}
    assert set(rebuilt.goals) == {goal_id}
    assert rebuilt.legal_spheres == ["sgb_ii"]
    assert rebuilt.closed_on == TODAY
    assert rebuilt.version == case.version == 5
    assert rebuilt.id == case.id
