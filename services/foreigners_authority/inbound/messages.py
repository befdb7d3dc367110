"""The inbound message forms (published as JSON Schemas at ``/inbound/schemas``).

Every message has an envelope (``messageId``, ``messageType``, ``sentAt``, ``sender``) and a
body whose ``kind`` says what happened. Field names follow the hub's GraphQL (camelCase).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.foreigners_authority.domain import (
    AsylumOutcome,
    Channel,
    CourseObligor,
    DuldungGround,
    EntryMode,
    FiktionKind,
    KnowledgeTestKind,
    NaturalisationRequirement,
    RequirementOutcome,
    TitleKind,
    WaiverGround,
)

Cefr = Literal["A1", "A2", "B1", "B2", "C1", "C2"]


class Form(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Envelope(Form):
    message_id: str = Field(min_length=1, max_length=100, description="Unique per message")
    sent_at: AwareDatetime
    sender: str = Field(min_length=1, max_length=64, description="Sending authority's id")


# -- registration notices (MBABH.Anmeldung from the residents' office) --------------------


class NewPerson(Form):
    kind: Literal["new_person"]
    given_names: str = Field(max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    birth_date: date
    azr_number: str = Field(pattern=r"^\d{12}$")
    nationalities: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] = Field(
        min_length=1, max_length=5
    )
    entry_date: date
    entry_mode: EntryMode
    municipality_key: str = Field(pattern=r"^\d{8}$")
    registered_on: date


class AddressChange(Form):
    kind: Literal["address_change"]
    person_id: UUID
    municipality_key: str = Field(pattern=r"^\d{8}$")
    registered_on: date


class RegistrationNotice(Envelope):
    message_type: Literal["registration_notice"]
    body: NewPerson | AddressChange = Field(discriminator="kind")


# -- residence decisions -------------------------------------------------------------------


class TitleGranted(Form):
    kind: Literal["title_granted"]
    title: TitleKind
    paragraph: str = Field(max_length=80)
    granted_on: date
    valid_from: date
    valid_until: date | None = None
    conditions: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=20
    )


class TitleApplied(Form):
    kind: Literal["title_applied"]
    paragraph: str = Field(max_length=80)
    applied_on: date


class TitleRefused(Form):
    """The pending application for a title was refused: a fiction it gave (§ 81 (4) AufenthG)
    ends, and a late application (§ 12b (3) StAG) no longer bridges the gap."""

    kind: Literal["title_refused"]
    paragraph: str = Field(max_length=80)
    refused_on: date


class FiktionIssued(Form):
    kind: Literal["fiktion_issued"]
    fiktion: FiktionKind
    issued_on: date
    valid_until: date


class DuldungIssued(Form):
    kind: Literal["duldung_issued"]
    ground: DuldungGround
    valid_from: date
    valid_until: date


class ProtectionGranted(Form):
    kind: Literal["temporary_protection_granted"]
    valid_from: date
    valid_until: date


class ProtectionExtended(Form):
    kind: Literal["temporary_protection_extended"]
    valid_until: date


class Departure(Form):
    kind: Literal["departure"]
    departed_on: date


class StayAbroad(Form):
    """A stay abroad that is not a departure (§ 12b (1) StAG): the file stays open."""

    kind: Literal["stay_abroad"]
    left_on: date
    permitted_until: date | None = Field(
        default=None,
        description="A longer period the authority set for the return (§ 12b (1) Satz 2 StAG)",
    )


class Returned(Form):
    """The return from the stay abroad."""

    kind: Literal["returned"]
    returned_on: date


Decision = Annotated[
    TitleGranted
    | TitleApplied
    | TitleRefused
    | FiktionIssued
    | DuldungIssued
    | ProtectionGranted
    | ProtectionExtended
    | Departure
    | StayAbroad
    | Returned,
    Field(discriminator="kind"),
]


class ResidenceDecision(Envelope):
    message_type: Literal["residence_decision"]
    person_id: UUID
    body: Decision


# -- asylum (BAMF) -------------------------------------------------------------------------


class AsylumFiled(Form):
    kind: Literal["application_filed"]
    filed_on: date


class AsylumDecided(Form):
    kind: Literal["decision"]
    outcome: AsylumOutcome
    decided_on: date
    manifestly_unfounded: bool = Field(
        default=False,
        description="A rejection as 'offensichtlich unbegründet' (§ 30 AsylG): an action has no"
        " suspensive effect (§ 75 (1) AsylG), so the Aufenthaltsgestattung ends when the"
        " decision is notified (§ 67 (1) Nr. 4 AsylG), unless a court orders the suspensive"
        " effect (suspensive_effect_ordered)",
    )


class SuspensiveEffectOrdered(Form):
    """A court ordered the suspensive effect of the action against a rejection as manifestly
    unfounded (§ 80 (5) VwGO, § 36 (3) AsylG): the rejection becomes ineffective and the
    procedure goes on (§ 37 (1) AsylG)."""

    kind: Literal["suspensive_effect_ordered"]
    ordered_on: date


class AppealFiled(Form):
    """An action against the BAMF's decision before the administrative court."""

    kind: Literal["appeal_filed"]
    filed_on: date


class CourtDecision(Form):
    """A court's decision on the asylum application (any instance)."""

    kind: Literal["court_decision"]
    outcome: AsylumOutcome
    decided_on: date


class DecisionFinal(Form):
    """The last decision became final: the Aufenthaltsgestattung ends (§ 67 (1) Nr. 6 AsylG)."""

    kind: Literal["decision_final"]
    final_on: date


class AsylumDecision(Envelope):
    message_type: Literal["asylum_decision"]
    person_id: UUID
    body: (
        AsylumFiled
        | AsylumDecided
        | AppealFiled
        | CourtDecision
        | DecisionFinal
        | SuspensiveEffectOrdered
    ) = Field(discriminator="kind")


# -- integration course --------------------------------------------------------------------


class CourseObligation(Form):
    kind: Literal["obligation"]
    by: CourseObligor
    imposed_on: date


class CourseCompleted(Form):
    kind: Literal["completed"]
    level: Cefr
    completed_on: date
    final_test_passed: bool | None = Field(
        default=None, description="Whether the course's final test (DTZ) was passed"
    )


class LanguageCertificate(Form):
    kind: Literal["language_certificate"]
    cefr_level: Cefr
    issued_on: date


class IntegrationCourseRecord(Envelope):
    message_type: Literal["integration_course"]
    person_id: UUID
    body: CourseObligation | CourseCompleted | LanguageCertificate = Field(discriminator="kind")


# -- file transfer -------------------------------------------------------------------------


class Transfer(Form):
    kind: Literal["transfer"]
    to_abh: str = Field(min_length=1, max_length=64)
    transferred_on: date


class FileTransfer(Envelope):
    message_type: Literal["file_transfer"]
    person_id: UUID
    body: Transfer


# -- naturalisation (XEinbürgerung) --------------------------------------------------------


class NaturalisationApplied(Form):
    kind: Literal["applied"]
    channel: Channel
    applied_on: date


class RequirementAssessed(Form):
    kind: Literal["requirement_assessed"]
    requirement: NaturalisationRequirement
    outcome: RequirementOutcome
    law_version: str = Field(min_length=1, max_length=40)
    assessed_on: date
    ground: WaiverGround | None = Field(
        default=None, description="A waiver's ground under § 10 (6) StAG"
    )


class TestPassed(Form):
    kind: Literal["test_passed"]
    passed_on: date
    test: KnowledgeTestKind = Field(
        default=KnowledgeTestKind.EINBUERGERUNGSTEST,
        description="The Einbürgerungstest, or the integration course's 'Leben in Deutschland'",
    )
    points: int | None = Field(default=None, ge=0, le=33, description="Correct answers of 33")


class Assured(Form):
    kind: Literal["assured"]
    assured_on: date


class Completed(Form):
    kind: Literal["completed"]
    certificate_date: date


class NationalityGivenUp(Form):
    """A nationality the file records was given up (or lost)."""

    kind: Literal["nationality_given_up"]
    nationality: str = Field(pattern=r"^[A-Z]{3}$")
    given_up_on: date


class MultipleNationalityAccepted(Form):
    """An exception under § 12 StAG: the nationality may be kept."""

    kind: Literal["multiple_nationality_accepted"]
    nationality: str = Field(pattern=r"^[A-Z]{3}$")
    paragraph: str = Field(max_length=80, description="e.g. § 12 Abs. 1 Satz 2 Nr. 1 StAG")
    decided_on: date


class Naturalisation(Envelope):
    message_type: Literal["naturalisation"]
    person_id: UUID
    body: (
        NaturalisationApplied
        | RequirementAssessed
        | TestPassed
        | Assured
        | Completed
        | NationalityGivenUp
        | MultipleNationalityAccepted
    ) = Field(discriminator="kind")


InboundMessageForm = Annotated[
    RegistrationNotice
    | ResidenceDecision
    | AsylumDecision
    | IntegrationCourseRecord
    | FileTransfer
    | Naturalisation,
    Field(discriminator="message_type"),
]

MESSAGE_TYPES = {
    "registration_notice": RegistrationNotice,
    "residence_decision": ResidenceDecision,
    "asylum_decision": AsylumDecision,
    "integration_course": IntegrationCourseRecord,
    "file_transfer": FileTransfer,
    "naturalisation": Naturalisation,
}
