"""Conflict management's command endpoints (NATS request/reply)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.conflict_management.application import ConflictManagement
from services.runtime.commands import CommandServer, register_table

BOARD = frozenset({"conflict_board", "admin"})
REPORTERS = frozenset({"conflict_board", "case_manager", "partner_agency", "admin"})


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class Party(Body):
    type: str
    name: str = Field(max_length=200)


class ReportConflict(Body):
    kind: str
    district: str = Field(max_length=100)
    parties: list[Party] = Field(min_length=2, max_length=20)
    stage: int
    description: str = Field(max_length=4000)


class Escalate(Body):
    conflict_id: UUID
    to_stage: int
    to_body: str
    reason: str = Field(max_length=2000)


class ScheduleIntervention(Body):
    conflict_id: UUID
    format: str
    scheduled_for: date
    facilitator: str = Field(max_length=200)


class RecordOutcome(Body):
    conflict_id: UUID
    intervention_id: UUID
    outcome: str
    stage_after: int | None = None
    note: str = Field(default="", max_length=2000)


class Resolve(Body):
    conflict_id: UUID
    outcome: str
    lessons: str = Field(max_length=4000)


class LinkGap(Body):
    conflict_id: UUID
    gap_id: UUID


class AddLogEntry(Body):
    conflict_id: UUID
    text: str = Field(max_length=4000)
    corrects: UUID | None = None


class ReportGap(Body):
    category: str
    description: str = Field(max_length=2000)
    conflict_count: int | None = None


COMMANDS: dict[str, tuple[type[Body], str, frozenset[str]]] = {
    "report_gap": (ReportGap, "report_gap", BOARD),
    "report_conflict": (ReportConflict, "report_conflict", REPORTERS),
    "escalate": (Escalate, "escalate", BOARD),
    "schedule_intervention": (ScheduleIntervention, "schedule_intervention", BOARD),
    "record_intervention_outcome": (RecordOutcome, "record_intervention_outcome", BOARD),
    "resolve": (Resolve, "resolve", BOARD),
    "link_gap": (LinkGap, "link_gap", BOARD),
    "add_log_entry": (AddLogEntry, "add_log_entry", BOARD),
}


def register_routes(server: CommandServer, app: ConflictManagement) -> None:
    register_table(server, app, COMMANDS)
