"""Both services that feed the steering group refuse every kind of personal data in free text
(one rule, from the kernel) and accept ordinary organisational text."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eventsourcing.domain import Aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.errors import InvalidValue
from kernel.person_free import PersonalData
from services.case_management.domain import SystemicGap
from services.conflict_management.domain import BoardGap, Conflict
from tests.unit.kernel.strategies import PERSONAL, embedded, ordinary_text

FAST = settings(max_examples=40, deadline=None)


def case_management_gap(description: str) -> Aggregate:
    return SystemicGap.report(
        category="waiting_times",
        legal_sphere=None,
        description=description,
        affected_count=None,
        agency="kim-bielefeld",
    )


def board_gap(description: str) -> Aggregate:
    return BoardGap.report(category="waiting_times", description=description, conflict_count=2)


def conflict(description: str) -> Aggregate:
    return Conflict.report(
        kind="neighbourhood",
        district="Köln-Chorweiler",
        parties=[
            {"type": "group", "name": "Anwohnende Nordstraße"},
            {"type": "organisation", "name": "Jugendzentrum Nord"},
        ],
        stage=3,
        description=description,
    )


REPORTS: dict[str, Callable[[str], Aggregate]] = {
    "case management: systemic gap": case_management_gap,
    "conflict management: board gap": board_gap,
    "conflict management: conflict": conflict,
}


@pytest.mark.parametrize("report", REPORTS.values(), ids=REPORTS.keys())
@FAST
@given(description=ordinary_text)
def test_ordinary_organisational_text_is_accepted_by_both_services(
    report: Callable[[str], Aggregate], description: str
) -> None:
    recorded = report(description)

    (reported,) = recorded.collect_events()
    assert vars(reported)["description"] == description


@pytest.mark.parametrize("kind", list(PersonalData))
@pytest.mark.parametrize("report", REPORTS.values(), ids=REPORTS.keys())
@FAST
@given(data=st.data())
def test_every_kind_of_personal_data_is_refused_by_both_services(
    report: Callable[[str], Aggregate], kind: PersonalData, data: st.DataObject
) -> None:
    description = data.draw(embedded(PERSONAL[kind]))

    with pytest.raises(InvalidValue) as refused:
        report(description)

    assert refused.value.field == "description"
    assert refused.value.code == "invalid_value"


@pytest.mark.parametrize("kind", list(PersonalData))
@FAST
@given(data=st.data())
def test_case_management_says_what_it_found(kind: PersonalData, data: st.DataObject) -> None:
    description = data.draw(embedded(PERSONAL[kind]))

    with pytest.raises(InvalidValue) as refused:
        case_management_gap(description)

    assert refused.value.message.startswith("the description seems to contain ")
    assert any(str(found) in refused.value.message for found in PersonalData)
    assert refused.value.message.endswith("; describe the gap without personal data")


@pytest.mark.parametrize("kind", list(PersonalData))
@FAST
@given(data=st.data())
def test_conflict_management_keeps_its_message(kind: PersonalData, data: st.DataObject) -> None:
    description = data.draw(embedded(PERSONAL[kind]))

    with pytest.raises(InvalidValue) as refused:
        board_gap(description)

    assert refused.value.message == (
        "this looks like it names or identifies an individual; record organisations "
        "or groups and describe without personal data"
    )
