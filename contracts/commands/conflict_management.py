"""Commands of the municipal conflict management board (Kommunales Konfliktmanagement)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from contracts.commands.spec import CommandPayload, ServiceCommands
from contracts.roles import BOARD, CONFLICT_REPORTERS

SERVICE = "conflict_management"
LEGAL_BASIS = "§ 3 GO NRW (kommunale Aufgabe)"
PURPOSE = "conflict_management"


class Party(CommandPayload):
    type: str = Field(description="organisation or group")
    name: str = Field(max_length=200)


class ReportConflict(CommandPayload):
    """A conflict, with parties as organisations or groups."""

    kind: str = Field(
        description="neighbourhood, school, housing, administration, "
        "workplace, public_space, religious_community, other"
    )
    district: str = Field(max_length=100)
    parties: list[Party] = Field(min_length=2, max_length=20)
    stage: int = Field(description="Glasl stage 1-9")
    description: str = Field(max_length=4000)


class EscalateConflict(CommandPayload):
    conflict_id: UUID
    to_stage: int
    to_body: str = Field(description="board, steering_group or mayors_office")
    reason: str = Field(max_length=2000)


class ScheduleIntervention(CommandPayload):
    conflict_id: UUID
    format: str = Field(description="moderation, mediation or dialogue")
    scheduled_for: date
    facilitator: str = Field(description="The facilitating organisation", max_length=200)


class RecordInterventionOutcome(CommandPayload):
    conflict_id: UUID
    intervention_id: UUID
    outcome: str = Field(description="held, cancelled or postponed")
    stage_after: int | None = None
    note: str = Field(default="", max_length=2000)


class ResolveConflict(CommandPayload):
    conflict_id: UUID
    outcome: str = Field(description="agreement, partial_agreement, no_agreement, withdrawn")
    lessons: str = Field(max_length=4000)


class LinkConflictToGap(CommandPayload):
    conflict_id: UUID
    gap_id: UUID


class ReportBoardGap(CommandPayload):
    """A systemic gap behind the board's conflicts, without personal data."""

    category: str = Field(
        description="access_to_service, waiting_times, missing_offer, language_barrier, "
        "interface_between_authorities, digital_access, social_cohesion, other"
    )
    description: str = Field(max_length=2000)
    conflict_count: int | None = None


class AddBoardLogEntry(CommandPayload):
    """A board log entry; to correct one, name it in corrects."""

    conflict_id: UUID
    text: str = Field(max_length=4000)
    corrects: UUID | None = None


_SERVICE = ServiceCommands(SERVICE, BOARD, LEGAL_BASIS, PURPOSE)

COMMANDS = (
    _SERVICE.command(
        "report_conflict",
        "reportConflict",
        ReportConflict,
        "Report a conflict (board members and agencies)",
        ("conflict_id",),
        roles=CONFLICT_REPORTERS,
    ),
    _SERVICE.command(
        "escalate",
        "escalateConflict",
        EscalateConflict,
        "Escalate to a higher Glasl stage and a body",
        ("conflict_id",),
    ),
    _SERVICE.command(
        "schedule_intervention",
        "scheduleIntervention",
        ScheduleIntervention,
        "Schedule a moderation, mediation or dialogue",
        ("conflict_id", "intervention_id"),
    ),
    _SERVICE.command(
        "record_intervention_outcome",
        "recordInterventionOutcome",
        RecordInterventionOutcome,
        "Record how an intervention went",
        ("conflict_id",),
    ),
    _SERVICE.command(
        "resolve",
        "resolveConflict",
        ResolveConflict,
        "Resolve a conflict, with lessons learned",
        ("conflict_id",),
    ),
    _SERVICE.command(
        "link_gap",
        "linkConflictToGap",
        LinkConflictToGap,
        "Link a conflict to a systemic gap",
        ("conflict_id",),
    ),
    _SERVICE.command(
        "report_gap",
        "reportBoardGap",
        ReportBoardGap,
        "Report a systemic gap to the steering group",
        ("gap_id",),
    ),
    _SERVICE.command(
        "add_log_entry",
        "addBoardLogEntry",
        AddBoardLogEntry,
        "Append to the board log (corrections are new entries)",
        ("conflict_id", "entry_id"),
    ),
)
