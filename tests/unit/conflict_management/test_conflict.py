"""Conflicts: Glasl stages, escalation rules, interventions, the append-only board log."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kernel.glasl import phase as glasl_phase
from services.conflict_management.domain import (
    Conflict,
    DomainError,
    InvalidValue,
    NotAllowed,
)

PARTIES = [
    {"type": "group", "name": "Anwohnende Nordstraße"},
    {"type": "organisation", "name": "Jugendzentrum Nord"},
]


def reported(stage: int = 3) -> Conflict:
    conflict = Conflict.report(
        kind="neighbourhood",
        district="Köln-Chorweiler",
        parties=PARTIES,
        stage=stage,
        description="Lärmbeschwerden rund um den Bolzplatz eskalieren.",
    )
    conflict.collect_events()
    return conflict


def test_a_conflict_is_reported_with_parties_as_organisations_or_groups() -> None:
    conflict = reported()

    assert conflict.stage == 3
    assert glasl_phase(conflict.stage) == "win-win"
    assert conflict.parties[0] == {"type": "group", "name": "Anwohnende Nordstraße"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"stage": 0}, "stage"),
        ({"stage": 10}, "stage"),
        ({"kind": "war"}, "kind"),
        ({"parties": [PARTIES[0]]}, "parties"),
        ({"parties": [PARTIES[0], {"type": "person", "name": "Nachbar"}]}, "parties"),
        (
            {"parties": [PARTIES[0], {"type": "group", "name": "Herr Müller und Familie"}]},
            "parties",
        ),
        ({"description": "Frau Schmidt beschwert sich ständig."}, "description"),
    ],
)
def test_a_report_breaking_the_rules_is_refused(changes: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "kind": "neighbourhood",
        "district": "Köln-Chorweiler",
        "parties": PARTIES,
        "stage": 3,
        "description": "Lärmbeschwerden rund um den Bolzplatz.",
    }
    values.update(changes)

    with pytest.raises(InvalidValue) as refused:
        Conflict.report(**values)  # type: ignore[arg-type]

    assert refused.value.field == field


def test_escalation_moves_the_stage_up_only_and_names_the_body() -> None:
    conflict = reported(3)

    conflict.escalate(to_stage=6, to_body="steering_group", reason="Drohungen gegen Personal")

    assert conflict.stage == 6
    with pytest.raises(NotAllowed, match="not higher"):
        conflict.escalate(to_stage=5, to_body="board", reason="zurückgestuft")
    with pytest.raises(InvalidValue):
        conflict.escalate(to_stage=7, to_body="police", reason="weiter eskaliert")


def test_resolving_twice_or_escalating_a_resolved_conflict_is_refused() -> None:
    conflict = reported()
    conflict.resolve(outcome="agreement", lessons="Frühe Moderation hat geholfen.")

    with pytest.raises(NotAllowed, match="already resolved"):
        conflict.resolve(outcome="agreement", lessons="Noch einmal gelöst.")
    with pytest.raises(NotAllowed, match="resolved"):
        conflict.escalate(to_stage=5, to_body="board", reason="wieder aufgeflammt")


def test_an_intervention_outcome_is_recorded_once_and_may_lower_the_stage() -> None:
    conflict = reported(5)
    intervention = uuid4()
    conflict.schedule_intervention(
        intervention_id=intervention,
        format="mediation",
        scheduled_for="2026-12-01",
        facilitator="Mediationsstelle",
    )

    conflict.record_intervention_outcome(
        intervention_id=intervention,
        outcome="held",
        stage_after=3,
        note="Vereinbarung zu Ruhezeiten",
    )

    assert conflict.stage == 3
    with pytest.raises(NotAllowed, match="already recorded"):
        conflict.record_intervention_outcome(
            intervention_id=intervention, outcome="held", stage_after=None, note=""
        )


def test_a_correction_names_an_entry_of_the_same_log() -> None:
    conflict = reported()
    first = uuid4()
    conflict.add_log_entry(entry_id=first, text="Treffen am Mittwoch", corrects=None)

    conflict.add_log_entry(entry_id=uuid4(), text="Treffen am Donnerstag", corrects=first)

    with pytest.raises(NotAllowed):
        conflict.add_log_entry(entry_id=uuid4(), text="Korrektur", corrects=uuid4())


class ConflictMachine(RuleBasedStateMachine):
    """Random command sequences never break the rules."""

    def __init__(self) -> None:
        super().__init__()
        self.conflict = reported(1)
        self.resolved = False

    @rule(stage=st.integers(-2, 12), body=st.sampled_from(["board", "steering_group", "x"]))
    def escalate(self, stage: int, body: str) -> None:
        before = self.conflict.stage
        try:
            self.conflict.escalate(to_stage=stage, to_body=body, reason="Grund der Eskalation")
        except DomainError:
            assert self.conflict.stage == before
        else:
            assert not self.resolved
            assert before < stage <= 9

    @rule()
    def resolve(self) -> None:
        try:
            self.conflict.resolve(outcome="partial_agreement", lessons="Lernpunkte notiert.")
        except NotAllowed:
            assert self.resolved
        else:
            assert not self.resolved
            self.resolved = True

    @invariant()
    def stage_stays_within_glasl(self) -> None:
        assert 1 <= self.conflict.stage <= 9


TestConflictMachine = ConflictMachine.TestCase
