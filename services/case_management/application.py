"""The KIM case management application: cases, consent, referrals, mediation, gaps."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.utils import EnvType, get_topic

from kernel.clock import BERLIN, today_in_germany
from services.case_management.domain import (
    Case,
    Client,
    Consent,
    InvalidValue,
    MediationRequest,
    MediatorPool,
    NotAllowed,
    NotFound,
    Referral,
    SharingRefused,
    SystemicGap,
)
from services.case_management.domain.mediation import pool_id
from services.runtime.erasure import refuse_if_erased
from services.runtime.eventstore import HubApplication
from services.runtime.subject_access import history
from services.runtime.vault import PersonalDataVault

SERVICE = "case_management"
A = TypeVar("A", bound=Aggregate)
#: the vault's field of each ciphertext whose name does not say it
_VAULT_FIELDS = {"description_enc": "goal", "note_enc": "referral_note"}
#: the records that hang on a person, by the event that creates them
_PERSON_RECORDS = {
    get_topic(Case.Opened): "cases",
    get_topic(Consent.Granted): "consents",
    get_topic(Referral.Sent): "referrals",
    get_topic(MediationRequest.Requested): "mediation",
}


@dataclass(frozen=True)
class Actor:
    """Who gives the command: pseudonymous user id, agency, role."""

    subject: str
    agency: str
    role: str


@dataclass(frozen=True)
class Result:
    """The position of the command's last event, and the ids it created or touched."""

    position: int
    ids: dict[str, str]


class CaseManagement(HubApplication):
    """KIM-Case-Management: event-sourced cases and everything that hangs on them."""

    name = SERVICE

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        vault: PersonalDataVault,
        today: Callable[[], date] = today_in_germany,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(env)
        self.vault = vault
        self.today = today
        self.now = now

    # -- helpers ----------------------------------------------------------------------------
    def _get(self, cls: type[A], aggregate_id: UUID, field: str, what: str) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no {what} {aggregate_id}", field) from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"no {what} {aggregate_id}", field)
        return aggregate

    def _save(self, *aggregates: Aggregate, **ids: UUID) -> Result:
        recordings = self.save(*aggregates)
        return Result(recordings[-1].notification.id, {k: str(v) for k, v in ids.items()})

    def _own_case(self, case_id: UUID, actor: Actor) -> Case:
        case = self._get(Case, case_id, "caseId", "case")
        if actor.role != "admin" and (
            case.case_manager != actor.subject or case.agency != actor.agency
        ):
            # the case exists, but not for this case manager: the same answer as for no case
            raise NotFound(f"no case {case_id}", "caseId")
        refuse_if_erased(self.vault, case.person_id, "caseId")
        return case

    def _encrypt(self, person_id: UUID, field: str, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return self.vault.encrypt(person_id, field, value.strip())

    # -- cases ------------------------------------------------------------------------------
    def open_case(
        self,
        actor: Actor,
        *,
        person_id: UUID | None,
        given_names: str,
        family_name: str,
        birth_date: date | None,
        contact: str | None,
        target_group: str,
        legal_spheres: list[str],
        intake_source: str,
        interpreter_needed: bool,
    ) -> Result:
        """Open a case; register the person with case management unless already known."""
        if not family_name.strip():
            raise InvalidValue("the family name is needed", "familyName")
        if birth_date is not None and birth_date > self.today():
            raise InvalidValue("the birth date lies in the future", "birthDate")
        person = person_id or uuid.uuid4()
        case = Case.open(
            person_id=person,
            target_group=target_group,
            legal_spheres=legal_spheres,
            intake_source=intake_source,
            interpreter_needed=interpreter_needed,
            case_manager=actor.subject,
            agency=actor.agency,
            today=self.today(),
        )
        aggregates: list[Aggregate] = []
        try:
            known: object = self.repository.get(person)
            if not isinstance(known, Client):
                raise InvalidValue("personId does not name a person", "personId")
        except AggregateNotFoundError:
            self.vault.create_key(person)
            names = json.dumps(
                {"given": given_names.strip(), "family": family_name.strip()}, ensure_ascii=False
            )
            aggregates.append(
                Client(
                    id=person,
                    names_enc=self.vault.encrypt(person, "names", names),
                    birth_date_enc=self._encrypt(
                        person, "birth_date", birth_date.isoformat() if birth_date else None
                    ),
                    contact_enc=self._encrypt(person, "contact", contact),
                )
            )
        return self._save(*aggregates, case, person_id=person, case_id=case.id)

    def assess_needs(self, actor: Actor, *, case_id: UUID, needs: dict[str, str]) -> Result:
        case = self._own_case(case_id, actor)
        case.assess_needs(needs=needs, today=self.today())
        return self._save(case, case_id=case.id)

    def record_precheck(
        self,
        actor: Actor,
        *,
        case_id: UUID,
        requirement: str,
        outcome: str,
        assessed_on: date,
    ) -> Result:
        case = self._own_case(case_id, actor)
        case.record_precheck(
            requirement=requirement, outcome=outcome, assessed_on=assessed_on, today=self.today()
        )
        return self._save(case, case_id=case.id)

    def agree_goal(
        self, actor: Actor, *, case_id: UUID, domain: str, description: str, target_date: date
    ) -> Result:
        case = self._own_case(case_id, actor)
        if not 3 <= len(description.strip()) <= 1000:
            raise InvalidValue("describe the goal in 3 to 1000 characters", "description")
        goal_id = uuid.uuid4()
        case.agree_goal(
            goal_id=goal_id,
            domain=domain,
            description_enc=self.vault.encrypt(case.person_id, "goal", description.strip()),
            target_date=target_date,
            today=self.today(),
        )
        return self._save(case, case_id=case.id, goal_id=goal_id)

    def hold_conference(
        self,
        actor: Actor,
        *,
        case_id: UUID,
        held_on: date,
        participants: list[str],
        consent_id: UUID | None,
    ) -> Result:
        """A conference shares the case with other agencies: a consent must cover each."""
        case = self._own_case(case_id, actor)
        # a named consent is recorded with the conference: it must be one of this case's
        consent = self._consent_of(case, consent_id) if consent_id is not None else None
        others = sorted(set(participants) - {case.agency})
        if others:
            if consent is None:
                raise SharingRefused(
                    "agencies other than your own take part: name the consent that covers them",
                    "consentId",
                    ["no consent named"],
                )
            missing: list[str] = []
            if held_on < consent.valid_from:
                # a consent does not cover a sharing that happened before it was given
                missing.append(f"the consent was given only on {consent.valid_from.isoformat()}")
            for agency in others:
                check = consent.covers(
                    recipient=agency,
                    categories=["case_basic"],
                    purpose="case_conference",
                    on=held_on,
                )
                missing += [m for m in check.missing if m not in missing]
            if missing:
                raise SharingRefused(
                    "the consent does not cover this conference: " + "; ".join(missing),
                    "consentId",
                    missing,
                )
        case.hold_conference(
            held_on=held_on, participants=participants, consent_id=consent_id, today=self.today()
        )
        return self._save(case, case_id=case.id)

    def change_legal_sphere(
        self,
        actor: Actor,
        *,
        case_id: UUID,
        from_sphere: str | None,
        to_sphere: str,
        effective: date,
    ) -> Result:
        case = self._own_case(case_id, actor)
        case.change_legal_sphere(
            from_sphere=from_sphere, to_sphere=to_sphere, effective=effective, today=self.today()
        )
        return self._save(case, case_id=case.id)

    def close_case(self, actor: Actor, *, case_id: UUID, reason: str) -> Result:
        case = self._own_case(case_id, actor)
        case.close(reason=reason, today=self.today())
        return self._save(case, case_id=case.id)

    def reopen_case(self, actor: Actor, *, case_id: UUID, reason: str) -> Result:
        case = self._own_case(case_id, actor)
        case.reopen(reason=reason, today=self.today())
        return self._save(case, case_id=case.id)

    # -- consent ----------------------------------------------------------------------------
    def grant_consent(
        self,
        actor: Actor,
        *,
        case_id: UUID,
        recipients: list[str],
        categories: list[str],
        purposes: list[str],
        special_categories_explicit: bool,
        valid_until: date,
        language: str,
        mutual: bool,
    ) -> Result:
        case = self._own_case(case_id, actor)
        if not case.is_open:
            raise NotAllowed("the case is closed", "caseId")
        consent = Consent.grant(
            person_id=case.person_id,
            case_id=case.id,
            recipients=recipients,
            categories=categories,
            purposes=purposes,
            special_categories_explicit=special_categories_explicit,
            valid_until=valid_until,
            language=language,
            mutual=mutual,
            today=self.today(),
        )
        return self._save(consent, consent_id=consent.id, case_id=case.id)

    def withdraw_consent(self, actor: Actor, *, consent_id: UUID) -> Result:
        consent = self._get(Consent, consent_id, "consentId", "consent")
        self._own_case(consent.case_id, actor)
        consent.withdraw(today=self.today(), recorded_by=actor.agency)
        return self._save(consent, consent_id=consent.id)

    def expire_consents(self) -> list[Result]:
        """Record the lapse of every active consent whose end date has passed."""
        today = self.today()
        results = []
        topic = get_topic(Consent.Granted)
        start = 1
        while True:
            batch = self.recorder.select_notifications(start=start, limit=500, topics=[topic])
            for notification in batch:
                consent = self._get(
                    Consent, UUID(str(notification.originator_id)), "consentId", "consent"
                )
                if (
                    consent.status == "active"
                    and consent.valid_until < today
                    and not self.vault.is_erased(consent.person_id)
                ):
                    consent.expire(today=today)
                    results.append(self._save(consent, consent_id=consent.id))
            if len(batch) < 500:
                return results
            start = batch[-1].id + 1

    def _consent_of(self, case: Case, consent_id: UUID) -> Consent:
        consent = self._get(Consent, consent_id, "consentId", "consent")
        if consent.case_id != case.id:
            raise NotAllowed("the consent belongs to another case", "consentId")
        return consent

    # -- referrals --------------------------------------------------------------------------
    def send_referral(
        self,
        actor: Actor,
        *,
        case_id: UUID,
        to_agency: str,
        service: str,
        consent_id: UUID,
        shared_categories: list[str],
        purpose: str,
        note: str | None,
    ) -> Result:
        """Refused unless the consent covers the recipient, every category and the purpose."""
        case = self._own_case(case_id, actor)
        if not case.is_open:
            raise NotAllowed("the case is closed", "caseId")
        consent = self._consent_of(case, consent_id)
        check = consent.covers(
            recipient=to_agency, categories=shared_categories, purpose=purpose, on=self.today()
        )
        if not check.covered:
            raise SharingRefused(
                "no valid consent covers this referral: " + "; ".join(check.missing),
                "consentId",
                check.missing,
            )
        referral = Referral.send(
            case_id=case.id,
            person_id=case.person_id,
            from_agency=case.agency,
            to_agency=to_agency,
            service=service,
            consent_id=consent.id,
            shared_categories=shared_categories,
            purpose=purpose,
            note_enc=self._encrypt(case.person_id, "referral_note", note),
        )
        return self._save(referral, referral_id=referral.id, case_id=case.id)

    def _referral_for(self, referral_id: UUID, actor: Actor) -> Referral:
        referral = self._get(Referral, referral_id, "referralId", "referral")
        if referral.to_agency != actor.agency:
            # the referral exists, but not for this agency: say nothing more about it
            raise NotFound(f"no referral {referral_id}", "referralId")
        refuse_if_erased(self.vault, referral.person_id, "referralId")
        return referral

    def accept_referral(self, actor: Actor, *, referral_id: UUID) -> Result:
        referral = self._referral_for(referral_id, actor)
        consent = self._get(Consent, referral.consent_id, "referralId", "consent")
        if not consent.is_active(self.today()):
            state = "expired" if consent.status == "active" else consent.status
            raise NotAllowed(f"the consent behind this referral is {state}", "referralId")
        referral.accept(agency=actor.agency)
        return self._save(referral, referral_id=referral.id)

    def decline_referral(self, actor: Actor, *, referral_id: UUID, reason: str) -> Result:
        referral = self._referral_for(referral_id, actor)
        referral.decline(agency=actor.agency, reason=reason)
        return self._save(referral, referral_id=referral.id)

    def complete_referral(self, actor: Actor, *, referral_id: UUID, outcome: str) -> Result:
        referral = self._referral_for(referral_id, actor)
        referral.complete(agency=actor.agency, outcome=outcome)
        return self._save(referral, referral_id=referral.id)

    # -- mediation --------------------------------------------------------------------------
    def _pool(self, agency: str) -> MediatorPool:
        try:
            pool: object = self.repository.get(pool_id(agency))
        except AggregateNotFoundError:
            return MediatorPool(id=pool_id(agency), municipality=agency)
        assert isinstance(pool, MediatorPool)
        return pool

    def register_mediator(
        self,
        actor: Actor,
        *,
        display_name: str,
        languages: list[str],
        availability: list[str],
        pledge_signed_on: date | None,
    ) -> Result:
        if not display_name.strip():
            raise InvalidValue("the mediator's name is needed", "displayName")
        pool = self._pool(actor.agency)
        mediator_id = uuid.uuid4()
        self.vault.create_key(mediator_id)
        pool.register(
            mediator_id=mediator_id,
            display_name_enc=self.vault.encrypt(mediator_id, "display_name", display_name.strip()),
            languages=languages,
            availability=availability,
            pledge_signed_on=pledge_signed_on,
            today=self.today(),
        )
        return self._save(pool, mediator_id=mediator_id)

    def sign_pledge(self, actor: Actor, *, mediator_id: UUID, signed_on: date) -> Result:
        pool = self._pool(actor.agency)
        pool.sign_pledge(mediator_id=mediator_id, signed_on=signed_on, today=self.today())
        return self._save(pool, mediator_id=mediator_id)

    def request_mediation(
        self, actor: Actor, *, case_id: UUID, language: str, starts_at: datetime, minutes: int
    ) -> Result:
        """Request a mediator; the first free one who speaks the language is booked at once,
        otherwise the request is recorded as unserved (visible, and assignable later)."""
        case = self._own_case(case_id, actor)
        if not case.is_open:
            raise NotAllowed("the case is closed", "caseId")
        if starts_at.tzinfo is not None:
            # availability windows are local (German) time, whatever offset the request uses
            starts_at = starts_at.astimezone(BERLIN)
        request = MediationRequest.request(
            case_id=case.id,
            person_id=case.person_id,
            language=language,
            starts_at=starts_at,
            minutes=minutes,
            agency=case.agency,
            now=self.now(),
        )
        pool = self._pool(case.agency)
        mediator = pool.book(
            request_id=request.id, language=language, starts_at=starts_at, minutes=minutes
        )
        if mediator is None:
            request.mark_unserved(
                reason=f"no mediator for {language} is free at {starts_at.isoformat()}"
            )
            return self._save(request, request_id=request.id)
        request.assign(mediator_id=mediator)
        return self._save(pool, request, request_id=request.id, mediator_id=mediator)

    def assign_mediator(self, actor: Actor, *, request_id: UUID, mediator_id: UUID) -> Result:
        request = self._get(MediationRequest, request_id, "requestId", "mediation request")
        case = self._own_case(request.case_id, actor)
        if not case.is_open:
            raise NotAllowed("the case is closed", "caseId")
        if request.starts_at <= self.now():
            raise NotAllowed("the appointment has already passed", "requestId")
        pool = self._pool(request.agency)
        pool.book(
            request_id=request.id,
            language=request.language,
            starts_at=request.starts_at.astimezone(BERLIN),
            minutes=request.minutes,
            mediator_id=mediator_id,
        )
        request.assign(mediator_id=mediator_id)
        return self._save(pool, request, request_id=request.id, mediator_id=mediator_id)

    # -- systemic gaps ----------------------------------------------------------------------
    def report_gap(
        self,
        actor: Actor,
        *,
        category: str,
        legal_sphere: str | None,
        description: str,
        affected_count: int | None,
    ) -> Result:
        gap = SystemicGap.report(
            category=category,
            legal_sphere=legal_sphere,
            description=description,
            affected_count=affected_count,
            agency=actor.agency,
        )
        return self._save(gap, gap_id=gap.id)

    # -- queries (plain data) --------------------------------------------------------------
    def client_names(self, actor: Actor, *, case_id: UUID) -> dict[str, Any]:
        """The person's names in clear text, for the owning case manager only."""
        case = self._own_case(case_id, actor)
        client = self._get(Client, case.person_id, "caseId", "client")
        names = json.loads(self.vault.decrypt(case.person_id, "names", client.names_enc))
        return {"given_names": names["given"], "family_name": names["family"]}

    # -- the Art. 15 report --------------------------------------------------------------
    def subject_access(self, person_id: UUID) -> dict[str, Any] | None:
        """Everything case management holds on the person, in clear text, for the
        data-protection officer's Art. 15 report: the client's data, cases (needs, goals with
        their descriptions, conferences), consents, referrals with the categories they shared,
        mediation requests; None when it knows nothing of the person. Raises
        ``PersonalDataUnavailable`` once the person's key is erased."""
        try:
            known: object = self.repository.get(person_id)
        except AggregateNotFoundError:
            known = None
        client = known if isinstance(known, Client) else None
        records = self._records_of(person_id)
        if client is None and not any(records.values()):
            return None

        def decrypt(field: str, token: str) -> str:
            return self.vault.decrypt(person_id, field, token)

        person: dict[str, Any] = {}
        if client is not None:
            names = json.loads(decrypt("names", client.names_enc))
            person = {
                "given_names": names["given"],
                "family_name": names["family"],
                "birth_date": decrypt("birth_date", client.birth_date_enc)
                if client.birth_date_enc
                else None,
                "contact": decrypt("contact", client.contact_enc) if client.contact_enc else None,
            }
        return {
            "client": person,
            "cases": [self._case_report(i, decrypt) for i in records["cases"]],
            "consents": [self._consent_report(i, decrypt) for i in records["consents"]],
            "referrals": [self._referral_report(i, decrypt) for i in records["referrals"]],
            "mediation": [self._mediation_report(i, decrypt) for i in records["mediation"]],
        }

    def _records_of(self, person_id: UUID) -> dict[str, list[UUID]]:
        """The ids of the cases, consents, referrals and mediation requests of the person (a
        scan of the events that create them: the report is rare, an index is not worth it)."""
        found: dict[str, list[UUID]] = {kind: [] for kind in _PERSON_RECORDS.values()}
        start = 1
        while True:
            batch = self.recorder.select_notifications(
                start=start, limit=500, topics=list(_PERSON_RECORDS)
            )
            for notification in batch:
                created = self.mapper.to_domain_event(notification)
                if getattr(created, "person_id", None) == person_id:
                    found[_PERSON_RECORDS[notification.topic]].append(created.originator_id)
            if len(batch) < 500:
                return found
            start = batch[-1].id + 1

    def _history(
        self, aggregate_id: UUID, decrypt: Callable[[str, str], str]
    ) -> list[dict[str, Any]]:
        return history(self.events.get(aggregate_id), decrypt, _VAULT_FIELDS)

    def _case_report(self, case_id: UUID, decrypt: Callable[[str, str], str]) -> dict[str, Any]:
        case = self._get(Case, case_id, "caseId", "case")
        events = self._history(case_id, decrypt)
        return {
            "case_id": case.id,
            "agency": case.agency,
            "case_manager": case.case_manager,
            "target_group": case.target_group,
            "legal_spheres": case.legal_spheres,
            "intake_source": case.intake_source,
            "interpreter_needed": case.interpreter_needed,
            "opened_on": case.opened_on,
            "status": "open" if case.is_open else "closed",
            "closed_on": case.closed_on,
            "close_reason": case.close_reason,
            "needs": dict(case.needs),
            "goals": [
                {
                    "goal_id": e["fields"]["goal_id"],
                    "domain": e["fields"]["domain"],
                    "description": e["fields"]["description"],
                    "target_date": e["fields"]["target_date"],
                }
                for e in events
                if e["event"] == "goal_agreed"
            ],
            "conferences": [
                {
                    "held_on": e["fields"]["held_on"],
                    "participants": e["fields"]["participants"],
                    "consent_id": e["fields"]["consent_id"],
                }
                for e in events
                if e["event"] == "conference_held"
            ],
            "history": events,
        }

    def _consent_report(
        self, consent_id: UUID, decrypt: Callable[[str, str], str]
    ) -> dict[str, Any]:
        consent = self._get(Consent, consent_id, "consentId", "consent")
        return {
            "consent_id": consent.id,
            "case_id": consent.case_id,
            "recipients": consent.recipients,
            "categories": consent.categories,
            "purposes": consent.purposes,
            "special_categories_explicit": consent.special_categories_explicit,
            "mutual": consent.mutual,
            "language": consent.language,
            "valid_from": consent.valid_from,
            "valid_until": consent.valid_until,
            "status": consent.status,
            "ended_on": consent.ended_on,
            "history": self._history(consent_id, decrypt),
        }

    def _referral_report(
        self, referral_id: UUID, decrypt: Callable[[str, str], str]
    ) -> dict[str, Any]:
        referral = self._get(Referral, referral_id, "referralId", "referral")
        events = self._history(referral_id, decrypt)
        sent = next((e for e in events if e["event"] == "sent"), None)
        return {
            "referral_id": referral.id,
            "case_id": referral.case_id,
            "from_agency": referral.from_agency,
            "to_agency": referral.to_agency,
            "service": referral.service,
            "consent_id": referral.consent_id,
            "shared_categories": referral.shared_categories,
            "purpose": referral.purpose,
            "note": sent["fields"].get("note") if sent else None,
            "sent_at": sent["recorded_at"] if sent else None,
            "status": referral.status,
            "history": events,
        }

    def _mediation_report(
        self, request_id: UUID, decrypt: Callable[[str, str], str]
    ) -> dict[str, Any]:
        request = self._get(MediationRequest, request_id, "requestId", "mediation request")
        return {
            "request_id": request.id,
            "case_id": request.case_id,
            "language": request.language,
            "starts_at": request.starts_at,
            "minutes": request.minutes,
            "agency": request.agency,
            "status": request.status,
            "history": self._history(request_id, decrypt),
        }
