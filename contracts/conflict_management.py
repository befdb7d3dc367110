"""Version 1 event payloads published by ``conflict_management`` (Kommunales
Konfliktmanagement). Parties are organisations or groups; no event names an individual."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from contracts.registry import Payload, contract

SERVICE = "conflict_management"


@contract(SERVICE, "conflict_reported")
class ConflictReported(Payload):
    """A conflict was reported (kind, district, parties, Glasl stage)."""

    conflict_id: str = Field(min_length=1)
    kind: str
    district: str
    parties: tuple[dict[str, str], ...]
    stage: int = Field(ge=1, le=9)
    description: str


@contract(SERVICE, "conflict_escalated")
class ConflictEscalated(Payload):
    """The conflict escalated to a higher Glasl stage and to a body (board, steering group,
    mayor's office). The steering group reacts to escalations addressed to it."""

    conflict_id: str = Field(min_length=1)
    district: str
    from_stage: int = Field(ge=1, le=9)
    to_stage: int = Field(ge=1, le=9)
    to_body: str
    reason: str


@contract(SERVICE, "intervention_scheduled")
class InterventionScheduled(Payload):
    """An intervention (moderation, mediation, dialogue) was scheduled."""

    conflict_id: str = Field(min_length=1)
    intervention_id: str
    format: str
    scheduled_for: date
    facilitator: str


@contract(SERVICE, "intervention_outcome_recorded")
class InterventionOutcomeRecorded(Payload):
    """The outcome of an intervention, and the stage after it where known."""

    conflict_id: str = Field(min_length=1)
    intervention_id: str
    outcome: str
    stage_after: int | None = None
    note: str = ""


@contract(SERVICE, "conflict_resolved")
class ConflictResolved(Payload):
    """The conflict was resolved, with the lessons learned."""

    conflict_id: str = Field(min_length=1)
    outcome: str
    lessons: str


@contract(SERVICE, "conflict_linked_to_gap")
class ConflictLinkedToGap(Payload):
    """The conflict points to a systemic gap."""

    conflict_id: str = Field(min_length=1)
    gap_id: str


@contract(SERVICE, "board_log_entry_added")
class BoardLogEntryAdded(Payload):
    """An entry in the board log; a correction names the entry it corrects."""

    conflict_id: str = Field(min_length=1)
    entry_id: str
    text: str
    corrects: str | None = None


@contract(SERVICE, "systemic_gap_reported")
class SystemicGapReported(Payload):
    """The board reported a systemic gap behind its conflicts, for the steering group."""

    gap_id: str = Field(min_length=1)
    category: str
    description: str
    conflict_count: int | None = None
    reported_on: date
