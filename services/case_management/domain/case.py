"""Cases of KIM case management, and the persons they serve (Klientinnen und Klienten)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.case_management.domain.errors import InvalidValue, NotAllowed
from services.case_management.domain.vocabulary import (
    CloseReason,
    IntakeSource,
    LegalSphere,
    LifeDomain,
    ReopenReason,
    TargetGroup,
)

NEED_LEVELS = ("none", "low", "medium", "high")
#: what a case manager may assess in a pre-check (the rest follows from the authority's facts)
PRECHECK_REQUIREMENTS = ("livelihood", "no_conviction", "commitment")
PRECHECK_OUTCOMES = ("met", "not_met")


def _enum_values(values: list[str], enum: type, field: str) -> list[str]:
    known = {member.value for member in enum}  # type: ignore[attr-defined]
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidValue(f"unknown value(s): {', '.join(unknown)}", field)
    return sorted(set(values))


class Client(Aggregate):
    """A person as case management knows them: personal data only as ciphertext tokens.

    Case management serves people regardless of status, so a client may be known to no other
    service. Its id is the person's pseudonymous id, shared with other services where the
    person is known there too.
    """

    class Registered(Aggregate.Created):
        names_enc: str
        birth_date_enc: str | None
        contact_enc: str | None

    @event(Registered)
    def __init__(
        self, *, id: UUID, names_enc: str, birth_date_enc: str | None, contact_enc: str | None
    ) -> None:
        self.names_enc = names_enc
        self.birth_date_enc = birth_date_enc
        self.contact_enc = contact_enc


class Case(Aggregate):
    """A case (Fall) in KIM case management, owned by one case manager."""

    class Opened(Aggregate.Created):
        person_id: UUID
        target_group: str
        legal_spheres: list[str]
        intake_source: str
        interpreter_needed: bool
        case_manager: str
        agency: str
        opened_on: date

    class NeedsAssessed(Aggregate.Event):
        assessed_on: date
        needs: dict[str, str]

    class PrecheckAssessed(Aggregate.Event):
        """A pre-check assessment of a naturalisation requirement, by the case's manager."""

        requirement: str
        outcome: str
        assessed_on: date

    class GoalAgreed(Aggregate.Event):
        goal_id: UUID
        domain: str
        description_enc: str
        target_date: date

    class ConferenceHeld(Aggregate.Event):
        held_on: date
        participants: list[str]
        consent_id: UUID | None

    class LegalSphereChanged(Aggregate.Event):
        from_sphere: str | None
        to_sphere: str
        effective: date

    class Closed(Aggregate.Event):
        reason: str
        closed_on: date

    class Reopened(Aggregate.Event):
        reason: str
        reopened_on: date

    @event(Opened)
    def __init__(
        self,
        *,
        person_id: UUID,
        target_group: str,
        legal_spheres: list[str],
        intake_source: str,
        interpreter_needed: bool,
        case_manager: str,
        agency: str,
        opened_on: date,
    ) -> None:
        self.person_id = person_id
        self.target_group = target_group
        self.legal_spheres = list(legal_spheres)
        self.intake_source = intake_source
        self.interpreter_needed = interpreter_needed
        self.case_manager = case_manager
        self.agency = agency
        self.opened_on = opened_on
        self.needs: dict[str, str] = {}
        self.goals: dict[UUID, dict[str, object]] = {}
        self.conferences: list[date] = []
        self.closed_on: date | None = None
        self.close_reason: str | None = None

    @classmethod
    def open(
        cls,
        *,
        person_id: UUID,
        target_group: str,
        legal_spheres: list[str],
        intake_source: str,
        interpreter_needed: bool,
        case_manager: str,
        agency: str,
        today: date,
    ) -> Case:
        _enum_values([target_group], TargetGroup, "targetGroup")
        _enum_values([intake_source], IntakeSource, "intakeSource")
        spheres = _enum_values(legal_spheres, LegalSphere, "legalSpheres")
        if not case_manager.strip():
            raise InvalidValue("a case needs its case manager", "caseManager")
        if not agency.strip():
            raise InvalidValue("a case needs its agency", "agency")
        return cls(
            person_id=person_id,
            target_group=target_group,
            legal_spheres=spheres,
            intake_source=intake_source,
            interpreter_needed=interpreter_needed,
            case_manager=case_manager,
            agency=agency,
            opened_on=today,
        )

    @property
    def is_open(self) -> bool:
        return self.closed_on is None

    def _require_open(self) -> None:
        if not self.is_open:
            raise NotAllowed(f"the case was closed on {self.closed_on}", "caseId")

    def assess_needs(self, *, needs: dict[str, str], today: date) -> None:
        """Record the needs per life domain (Bedarfsfeststellung)."""
        self._require_open()
        if not needs:
            raise InvalidValue("assess at least one life domain", "needs")
        _enum_values(list(needs), LifeDomain, "needs")
        bad = sorted(level for level in needs.values() if level not in NEED_LEVELS)
        if bad:
            raise InvalidValue(
                f"need levels are one of {', '.join(NEED_LEVELS)}; got {', '.join(bad)}", "needs"
            )
        self._needs_assessed(assessed_on=today, needs=dict(sorted(needs.items())))

    @event(NeedsAssessed)
    def _needs_assessed(self, assessed_on: date, needs: dict[str, str]) -> None:
        self.needs.update(needs)

    def record_precheck(
        self, *, requirement: str, outcome: str, assessed_on: date, today: date
    ) -> None:
        """The case manager's own assessment for a pre-check (before any application)."""
        self._require_open()
        if requirement not in PRECHECK_REQUIREMENTS:
            raise InvalidValue(
                f"requirement is one of {', '.join(PRECHECK_REQUIREMENTS)}", "requirement"
            )
        if outcome not in PRECHECK_OUTCOMES:
            raise InvalidValue(f"outcome is one of {', '.join(PRECHECK_OUTCOMES)}", "outcome")
        if assessed_on > today:
            raise InvalidValue("the assessment lies in the future", "assessedOn")
        self._precheck(requirement=requirement, outcome=outcome, assessed_on=assessed_on)

    @event(PrecheckAssessed)
    def _precheck(self, requirement: str, outcome: str, assessed_on: date) -> None:
        pass

    def agree_goal(
        self, *, goal_id: UUID, domain: str, description_enc: str, target_date: date, today: date
    ) -> None:
        """Agree a goal with the person (Zielvereinbarung)."""
        self._require_open()
        _enum_values([domain], LifeDomain, "domain")
        if target_date <= today:
            raise InvalidValue("the target date must lie in the future", "targetDate")
        self._goal_agreed(
            goal_id=goal_id,
            domain=domain,
            description_enc=description_enc,
            target_date=target_date,
        )

    @event(GoalAgreed)
    def _goal_agreed(
        self, goal_id: UUID, domain: str, description_enc: str, target_date: date
    ) -> None:
        self.goals[goal_id] = {"domain": domain, "target_date": target_date}

    def hold_conference(
        self, *, held_on: date, participants: list[str], consent_id: UUID | None, today: date
    ) -> None:
        """Record a case conference (Fallkonferenz). Consent is checked by the application."""
        self._require_open()
        if held_on > today:
            raise InvalidValue("a conference is recorded once it was held", "heldOn")
        if held_on < self.opened_on:
            raise InvalidValue("the conference lies before the case was opened", "heldOn")
        if not participants:
            raise InvalidValue("name the participating agencies", "participants")
        self._conference_held(
            held_on=held_on, participants=sorted(set(participants)), consent_id=consent_id
        )

    @event(ConferenceHeld)
    def _conference_held(
        self, held_on: date, participants: list[str], consent_id: UUID | None
    ) -> None:
        self.conferences.append(held_on)

    def change_legal_sphere(
        self, *, from_sphere: str | None, to_sphere: str, effective: date, today: date
    ) -> None:
        """Record a change of benefit system (Rechtskreiswechsel), e.g. AsylbLG -> SGB II."""
        self._require_open()
        _enum_values([to_sphere], LegalSphere, "toSphere")
        if from_sphere is not None:
            _enum_values([from_sphere], LegalSphere, "fromSphere")
            if from_sphere not in self.legal_spheres:
                raise NotAllowed(f"the case is not in {from_sphere}", "fromSphere")
        if to_sphere in self.legal_spheres:
            raise NotAllowed(f"the case is already in {to_sphere}", "toSphere")
        if effective < self.opened_on:
            raise InvalidValue("the change lies before the case was opened", "effective")
        if (effective - today).days > 366:
            raise InvalidValue("the change lies more than a year ahead", "effective")
        self._sphere_changed(from_sphere=from_sphere, to_sphere=to_sphere, effective=effective)

    @event(LegalSphereChanged)
    def _sphere_changed(self, from_sphere: str | None, to_sphere: str, effective: date) -> None:
        if from_sphere is not None:
            self.legal_spheres.remove(from_sphere)
        self.legal_spheres = sorted([*self.legal_spheres, to_sphere])

    def close(self, *, reason: str, today: date) -> None:
        self._require_open()
        _enum_values([reason], CloseReason, "reason")
        self._closed(reason=reason, closed_on=today)

    @event(Closed)
    def _closed(self, reason: str, closed_on: date) -> None:
        self.closed_on = closed_on
        self.close_reason = reason

    def reopen(self, *, reason: str, today: date) -> None:
        """Reopen a closed case (Wiederaufnahme); its history stays as it was."""
        if self.is_open:
            raise NotAllowed("the case is open", "caseId")
        _enum_values([reason], ReopenReason, "reason")
        self._reopened(reason=reason, reopened_on=today)

    @event(Reopened)
    def _reopened(self, reason: str, reopened_on: date) -> None:
        self.closed_on = None
        self.close_reason = None
