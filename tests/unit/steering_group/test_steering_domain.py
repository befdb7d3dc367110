"""Steering group rules: gap triage and closing, goals and whether they are on track."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.steering_group.domain import Gap, Goal, InvalidValue, NotAllowed, on_track

TODAY = date(2026, 11, 21)


def received() -> Gap:
    gap = Gap(
        id=uuid4(),
        origin="case_management",
        category="waiting_times",
        legal_sphere=None,
        description="Wartezeiten",
        affected_count=12,
        reported_by="kim",
        reported_on=date(2026, 11, 1),
    )
    gap.collect_events()
    return gap


def test_a_gap_is_triaged_measured_and_closed_in_that_order() -> None:
    gap = received()
    with pytest.raises(NotAllowed, match="triage"):
        gap.decide_measure(measure_id=uuid4(), title="Kurse", owner="VHS", due=TODAY, today=TODAY)

    gap.triage(priority="high", owner="KI")
    measure = uuid4()
    gap.decide_measure(
        measure_id=measure,
        title="Mehr Kurse",
        owner="VHS",
        due=TODAY + timedelta(days=90),
        today=TODAY,
    )
    with pytest.raises(NotAllowed, match="not completed"):
        gap.close(resolution="Kurse ausgebaut")
    gap.complete_measure(measure_id=measure, completed_on=TODAY, today=TODAY)
    gap.close(resolution="Kurse ausgebaut")

    assert gap.status == "closed"
    with pytest.raises(NotAllowed, match="closed"):
        gap.triage(priority="low", owner="KI")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"field_of_action": "weather"}, "fieldOfAction"),
        ({"target": 40.0}, "target"),
        ({"due": TODAY}, "due"),
    ],
)
def test_a_goal_that_cannot_be_measured_is_refused(changes: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "field_of_action": "language",
        "goal": "Mehr B1-Abschlüsse",
        "indicator": "Anteil B1",
        "unit": "%",
        "baseline": 40.0,
        "target": 60.0,
        "due": TODAY + timedelta(days=365),
    }
    values.update(changes)

    with pytest.raises(InvalidValue) as refused:
        Goal.define(**values, today=TODAY)  # type: ignore[arg-type]

    assert refused.value.field == field


def test_an_indicator_value_per_period_only_once() -> None:
    goal = Goal.define(
        field_of_action="work",
        goal="Mehr Beschäftigung",
        indicator="Quote",
        unit="%",
        baseline=30,
        target=45,
        due=TODAY + timedelta(days=700),
        today=TODAY,
    )
    goal.record_value(period="2026-Q4", value=31)

    with pytest.raises(NotAllowed):
        goal.record_value(period="2026-Q4", value=32)
    with pytest.raises(InvalidValue):
        goal.record_value(period="Q4/2026", value=32)


@given(
    baseline=st.floats(-1e6, 1e6),
    delta=st.floats(1, 1e6),
    days=st.integers(0, 2000),
    value=st.floats(-2e6, 2e6),
)
def test_on_track_follows_the_straight_line_from_baseline_to_target(
    baseline: float, delta: float, days: int, value: float
) -> None:
    start, due = date(2026, 1, 1), date(2028, 1, 1)
    today = start + timedelta(days=days)

    up = on_track(
        baseline=baseline,
        target=baseline + delta,
        defined_on=start,
        due=due,
        latest_value=value,
        today=today,
    )
    down = on_track(
        baseline=baseline,
        target=baseline - delta,
        defined_on=start,
        due=due,
        latest_value=value,
        today=today,
    )

    assert up is not None
    assert down is not None
    if value >= baseline + delta:
        assert up  # at or past the target is always on track
    if value <= baseline - delta:
        assert down
    assert (
        on_track(baseline=0, target=1, defined_on=start, due=due, latest_value=None, today=today)
        is None
    )
