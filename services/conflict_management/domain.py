"""Kommunales Konfliktmanagement: conflicts, escalations (Glasl), interventions, the board log.

Parties are organisations or groups, never named individuals. Every change is kept; the board
log is append-only, and a correction is a new entry that names the entry it corrects.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from kernel import glasl
from kernel.errors import DomainError as DomainError
from kernel.errors import InvalidValue as InvalidValue
from kernel.errors import NotAllowed as NotAllowed
from kernel.person_free import find_personal_data

KINDS = (
    "neighbourhood",
    "school",
    "housing",
    "administration",
    "workplace",
    "public_space",
    "religious_community",
    "other",
)
BODIES = ("board", "steering_group", "mayors_office")
FORMATS = ("moderation", "mediation", "dialogue")
INTERVENTION_OUTCOMES = ("held", "cancelled", "postponed")
RESOLUTIONS = ("agreement", "partial_agreement", "no_agreement", "withdrawn")
PARTY_TYPES = ("organisation", "group")


def _stage(stage: int, field: str) -> int:
    if not glasl.is_stage(stage):
        raise InvalidValue(
            f"a Glasl stage is between {glasl.FIRST_STAGE} and {glasl.LAST_STAGE}, not {stage}",
            field,
        )
    return stage


def check_no_individuals(text: str, field: str) -> str:
    value = text.strip()
    if find_personal_data(value) is not None:
        raise InvalidValue(
            "this looks like it names or identifies an individual; record organisations "
            "or groups and describe without personal data",
            field,
        )
    return value


def _choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidValue(f"{field} is one of {', '.join(allowed)}", field)
    return value


class Conflict(Aggregate):
    """A conflict the board follows (Konfliktfall)."""

    class Reported(Aggregate.Created):
        kind: str
        district: str
        parties: list[dict[str, str]]
        stage: int
        description: str

    class Escalated(Aggregate.Event):
        from_stage: int
        to_stage: int
        to_body: str
        reason: str

    class InterventionScheduled(Aggregate.Event):
        intervention_id: UUID
        format: str
        scheduled_for: str  # ISO date
        facilitator: str

    class InterventionOutcomeRecorded(Aggregate.Event):
        intervention_id: UUID
        outcome: str
        stage_after: int | None
        note: str

    class Resolved(Aggregate.Event):
        outcome: str
        lessons: str

    class LinkedToGap(Aggregate.Event):
        gap_id: UUID

    class LogEntryAdded(Aggregate.Event):
        entry_id: UUID
        text: str
        corrects: UUID | None

    @event(Reported)
    def __init__(
        self,
        *,
        kind: str,
        district: str,
        parties: list[dict[str, str]],
        stage: int,
        description: str,
    ) -> None:
        self.kind = kind
        self.district = district
        self.parties = [dict(p) for p in parties]
        self.stage = stage
        self.description = description
        self.status = "open"
        self.interventions: dict[UUID, str] = {}
        self.gaps: set[UUID] = set()
        self.log_entries: set[UUID] = set()

    @classmethod
    def report(
        cls,
        *,
        kind: str,
        district: str,
        parties: list[dict[str, str]],
        stage: int,
        description: str,
    ) -> Conflict:
        _choice(kind, KINDS, "kind")
        if not district.strip() or len(district) > 100:
            raise InvalidValue("name the district (Stadtteil)", "district")
        if len(parties) < 2:
            raise InvalidValue("a conflict has at least two parties", "parties")
        clean = []
        for party in parties:
            _choice(party.get("type", ""), PARTY_TYPES, "parties")
            name = check_no_individuals(party.get("name", ""), "parties")
            if not name:
                raise InvalidValue("every party needs a name (organisation or group)", "parties")
            clean.append({"type": party["type"], "name": name})
        text = check_no_individuals(description, "description")
        if not 10 <= len(text) <= 4000:
            raise InvalidValue("describe the conflict in 10 to 4000 characters", "description")
        return cls(
            kind=kind,
            district=district.strip(),
            parties=clean,
            stage=_stage(stage, "stage"),
            description=text,
        )

    def _require_open(self, field: str = "conflictId") -> None:
        if self.status == "resolved":
            raise NotAllowed("the conflict is resolved", field)

    def escalate(self, *, to_stage: int, to_body: str, reason: str) -> None:
        self._require_open()
        _stage(to_stage, "toStage")
        if to_stage <= self.stage:
            raise NotAllowed(
                f"an escalation moves the stage up from {self.stage}; {to_stage} is not higher",
                "toStage",
            )
        _choice(to_body, BODIES, "toBody")
        text = check_no_individuals(reason, "reason")
        if len(text) < 5:
            raise InvalidValue("give the reason for the escalation", "reason")
        self._escalated(from_stage=self.stage, to_stage=to_stage, to_body=to_body, reason=text)

    @event(Escalated)
    def _escalated(self, from_stage: int, to_stage: int, to_body: str, reason: str) -> None:
        self.stage = to_stage

    def schedule_intervention(
        self,
        *,
        intervention_id: UUID,
        format: str,
        scheduled_for: str,
        facilitator: str,
    ) -> None:
        self._require_open()
        _choice(format, FORMATS, "format")
        who = check_no_individuals(facilitator, "facilitator")
        if not who:
            raise InvalidValue("name the facilitating organisation", "facilitator")
        self._scheduled(
            intervention_id=intervention_id,
            format=format,
            scheduled_for=scheduled_for,
            facilitator=who,
        )

    @event(InterventionScheduled)
    def _scheduled(
        self,
        intervention_id: UUID,
        format: str,
        scheduled_for: str,
        facilitator: str,
    ) -> None:
        self.interventions[intervention_id] = "scheduled"

    def record_intervention_outcome(
        self, *, intervention_id: UUID, outcome: str, stage_after: int | None, note: str
    ) -> None:
        if intervention_id not in self.interventions:
            raise NotAllowed("no such intervention in this conflict", "interventionId")
        if self.interventions[intervention_id] != "scheduled":
            raise NotAllowed(
                "the outcome of this intervention is already recorded", "interventionId"
            )
        _choice(outcome, INTERVENTION_OUTCOMES, "outcome")
        if stage_after is not None:
            _stage(stage_after, "stageAfter")
        self._outcome(
            intervention_id=intervention_id,
            outcome=outcome,
            stage_after=stage_after,
            note=check_no_individuals(note, "note"),
        )

    @event(InterventionOutcomeRecorded)
    def _outcome(
        self, intervention_id: UUID, outcome: str, stage_after: int | None, note: str
    ) -> None:
        self.interventions[intervention_id] = outcome
        if stage_after is not None:
            self.stage = stage_after

    def resolve(self, *, outcome: str, lessons: str) -> None:
        if self.status == "resolved":
            raise NotAllowed("the conflict is already resolved", "conflictId")
        _choice(outcome, RESOLUTIONS, "outcome")
        text = check_no_individuals(lessons, "lessons")
        if len(text) < 10:
            raise InvalidValue("record the lessons learned (at least a sentence)", "lessons")
        self._resolved(outcome=outcome, lessons=text)

    @event(Resolved)
    def _resolved(self, outcome: str, lessons: str) -> None:
        self.status = "resolved"

    def link_gap(self, *, gap_id: UUID) -> None:
        if gap_id in self.gaps:
            raise NotAllowed("the conflict is already linked to this gap", "gapId")
        self._linked(gap_id=gap_id)

    @event(LinkedToGap)
    def _linked(self, gap_id: UUID) -> None:
        self.gaps.add(gap_id)

    def add_log_entry(self, *, entry_id: UUID, text: str, corrects: UUID | None) -> None:
        """Append to the board log; a correction names the entry it corrects."""
        body = check_no_individuals(text, "text")
        if not 3 <= len(body) <= 4000:
            raise InvalidValue("a log entry has 3 to 4000 characters", "text")
        if corrects is not None and corrects not in self.log_entries:
            raise NotAllowed("a correction names an entry of this conflict's log", "corrects")
        self._logged(entry_id=entry_id, text=body, corrects=corrects)

    @event(LogEntryAdded)
    def _logged(self, entry_id: UUID, text: str, corrects: UUID | None) -> None:
        self.log_entries.add(entry_id)


GAP_CATEGORIES = (
    "access_to_service",
    "waiting_times",
    "missing_offer",
    "language_barrier",
    "interface_between_authorities",
    "digital_access",
    "social_cohesion",
    "other",
)


class BoardGap(Aggregate):
    """A systemic gap the conflict board sees behind its conflicts (no personal data)."""

    class Reported(Aggregate.Created):
        category: str
        description: str
        conflict_count: int | None

    @event(Reported)
    def __init__(self, *, category: str, description: str, conflict_count: int | None) -> None:
        self.category = category

    @classmethod
    def report(cls, *, category: str, description: str, conflict_count: int | None) -> BoardGap:
        _choice(category, GAP_CATEGORIES, "category")
        text = check_no_individuals(description, "description")
        if not 20 <= len(text) <= 2000:
            raise InvalidValue("describe the gap in 20 to 2000 characters", "description")
        if conflict_count is not None and conflict_count < 1:
            raise InvalidValue("the number of conflicts behind it is 1 or more", "conflictCount")
        return cls(category=category, description=text, conflict_count=conflict_count)
