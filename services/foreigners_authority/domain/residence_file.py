"""The residence file (Aufenthaltsakte) kept by the foreigners authority (Ausländerbehörde).

One aggregate per person, identified by the person's pseudonymous id. Personal data arrives
already encrypted (``*_enc`` ciphertext tokens from the service's vault): the domain never
sees names, birth dates or AZR numbers in clear text. The file holds the whole status history
from entry to naturalisation; a change that contradicts it is refused with the reason.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.foreigners_authority.domain.arrival import ArrivalFacts, check_arrival
from services.foreigners_authority.domain.errors import Contradiction, InvalidValue
from services.foreigners_authority.domain.vocabulary import (
    CEFR_LEVELS,
    MUNICIPALITY_KEY,
    PARAGRAPH,
    PROTECTION_OUTCOMES,
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

PERMANENT = (TitleKind.SETTLEMENT_PERMIT, TitleKind.EU_LONG_TERM_RESIDENCE)


def _not_future(value: date, today: date, field: str, what: str) -> None:
    if value > today:
        raise InvalidValue(f"{what} lies in the future", field)


def _paragraph(paragraph: str) -> None:
    if not PARAGRAPH.match(paragraph):
        raise InvalidValue(
            f"paragraph {paragraph!r} is not a legal reference such as '§ 18b AufenthG'",
            "paragraph",
        )


class ResidenceFile(Aggregate):
    """A person's residence file at the foreigners authority (Ausländerakte)."""

    class PersonRegistered(Aggregate.Created):
        """A person's file was opened (personal data as ciphertext tokens only)."""

        names_enc: str
        birth_date_enc: str
        azr_number_enc: str
        nationalities: list[str]
        abh_id: str

    class EntryRecorded(Aggregate.Event):
        """The entry into Germany (Einreise) was recorded."""

        entry_date: date
        entry_mode: str

    class ResidenceRegistered(Aggregate.Event):
        """The residents' office registered the residence (Anmeldung, § 72 AufenthV)."""

        municipality_key: str
        registered_on: date

    class ResidenceTitleGranted(Aggregate.Event):
        """A residence title was granted (Aufenthaltstitel erteilt); settlement permits too."""

        title: str
        paragraph: str
        granted_on: date
        valid_from: date
        valid_until: date | None
        conditions: list[str]

    class AsylumApplicationFiled(Aggregate.Event):
        """Asylum applied for (Asylantrag): Aufenthaltsgestattung, § 55 AsylG."""

        filed_on: date

    class AsylumDecisionReceived(Aggregate.Event):
        """The BAMF decided on the asylum application. ``manifestly_unfounded``: rejected as
        "offensichtlich unbegründet" (§ 30 AsylG); events recorded before it existed lack it
        (False)."""

        outcome: str
        decided_on: date
        manifestly_unfounded: bool = False

    class DuldungIssued(Aggregate.Event):
        """Deportation suspended (Duldung, § 60a ff. AufenthG)."""

        ground: str
        valid_from: date
        valid_until: date

    class ResidenceTitleApplied(Aggregate.Event):
        """A residence title was applied for."""

        paragraph: str
        applied_on: date

    class ResidenceTitleRefused(Aggregate.Event):
        """The title applied for was refused (Ablehnung): the fiction of a timely application
        ends with it (§ 81 (4) AufenthG; an objection does not revive it, § 84 (2))."""

        paragraph: str
        refused_on: date

    class FiktionsbescheinigungIssued(Aggregate.Event):
        """A Fiktionsbescheinigung (§ 81 AufenthG) bridges a pending application."""

        kind: str
        issued_on: date
        valid_until: date

    class TemporaryProtectionGranted(Aggregate.Event):
        """Temporary protection (§ 24 AufenthG), e.g. for people from Ukraine."""

        valid_from: date
        valid_until: date

    class TemporaryProtectionExtended(Aggregate.Event):
        """§ 24 protection extended (by ordinance)."""

        valid_until: date

    class IntegrationCourseObligationImposed(Aggregate.Event):
        """Obligation to attend an integration course (§ 44a AufenthG)."""

        by: str
        imposed_on: date

    class IntegrationCourseCompleted(Aggregate.Event):
        """Integration course completed (DTZ result)."""

        level: str
        completed_on: date
        final_test_passed: bool | None = None

    class LanguageCertificateRecorded(Aggregate.Event):
        """A language certificate (CEFR level) was recorded."""

        cefr_level: str
        issued_on: date

    class AsylumAppealFiled(Aggregate.Event):
        """An action against the BAMF's decision was brought before the administrative court."""

        filed_on: date

    class AsylumCourtDecided(Aggregate.Event):
        """A court decided on the asylum application (it replaces the BAMF's outcome)."""

        outcome: str
        decided_on: date

    class AsylumSuspensiveEffectOrdered(Aggregate.Event):
        """A court ordered the suspensive effect of the action against a rejection as
        manifestly unfounded (§ 80 (5) VwGO, § 36 (3) AsylG): the BAMF's decision and its
        deportation warning become ineffective and the procedure goes on (§ 37 (1) AsylG)."""

        ordered_on: date

    class AsylumDecisionFinal(Aggregate.Event):
        """The decision on the asylum application became final (unanfechtbar): the
        Aufenthaltsgestattung ends (§ 67 (1) Nr. 6 AsylG)."""

        final_on: date

    class StayAbroadBegan(Aggregate.Event):
        """The person left Germany for a stay abroad that is not a departure (§ 12b (1) StAG);
        ``permitted_until``: a longer period the authority set for the return."""

        left_on: date
        permitted_until: date | None

    class ReturnedFromAbroad(Aggregate.Event):
        """The person came back from a stay abroad."""

        returned_on: date

    class NationalityGivenUp(Aggregate.Event):
        """The person gave up (or lost) a nationality they held (ISO 3166-1 alpha-3)."""

        nationality: str
        given_up_on: date

    class MultipleNationalityAccepted(Aggregate.Event):
        """The authority accepts that a nationality is kept: an exception under § 12 StAG."""

        nationality: str
        paragraph: str
        decided_on: date

    class DepartureRecorded(Aggregate.Event):
        """The person left Germany (Ausreise)."""

        departed_on: date

    class ConsentConfirmed(Aggregate.Event):
        """The authority confirmed a consent (it holds the signed form)."""

        consent_id: str
        confirmed_on: date

    class ConsentDeclined(Aggregate.Event):
        """The authority declined a consent, or revoked its confirmation."""

        consent_id: str
        declined_on: date

    class CaseFileTransferred(Aggregate.Event):
        """The file went to another foreigners authority (Aktenabgabe)."""

        to_abh: str
        transferred_on: date

    class NaturalisationApplied(Aggregate.Event):
        """Naturalisation applied for (Einbürgerungsantrag)."""

        channel: str
        applied_on: date

    class NaturalisationRequirementAssessed(Aggregate.Event):
        """One requirement of § 10 StAG assessed, under the law version named."""

        requirement: str
        outcome: str
        law_version: str
        assessed_on: date
        ground: str | None = None

    class NaturalisationTestPassed(Aggregate.Event):
        """The naturalisation test (Einbürgerungstest) was passed; or the integration course's
        test "Leben in Deutschland" (``test``), with its points out of 33 where known."""

        passed_on: date
        test: str | None = None
        points: int | None = None

    class NaturalisationAssured(Aggregate.Event):
        """Naturalisation assured (Einbürgerungszusicherung)."""

        assured_on: date

    class NaturalisationCompleted(Aggregate.Event):
        """The naturalisation certificate was handed over (Einbürgerungsurkunde)."""

        certificate_date: date

    @event(PersonRegistered)
    def __init__(
        self,
        *,
        id: UUID,
        names_enc: str,
        birth_date_enc: str,
        azr_number_enc: str,
        nationalities: list[str],
        abh_id: str,
    ) -> None:
        self.names_enc = names_enc
        self.birth_date_enc = birth_date_enc
        self.azr_number_enc = azr_number_enc
        self.nationalities = list(nationalities)
        self.abh_id = abh_id  # the authority that holds the file: registration, then transfers
        self.entry_date: date | None = None
        self.entry_mode: EntryMode | None = None
        self.municipality_key: str | None = None
        self.registered_on: date | None = None
        self.titles: list[dict[str, object]] = []
        self.asylum_filed_on: date | None = None
        self.asylum_outcome: str | None = None
        self.protection_granted_on: date | None = None
        self.duldung_until: date | None = None
        self.title_applied_on: date | None = None
        self.temporary_protection_until: date | None = None
        self.language_level: str | None = None
        self.course_completed_on: date | None = None
        self.departed_on: date | None = None
        self.naturalisation_applied_on: date | None = None
        self.naturalisation_assured_on: date | None = None
        self.naturalised_on: date | None = None
        self.test_passed_on: date | None = None
        self.asylum_decided_on: date | None = None
        self.asylum_appeal_on: date | None = None
        self.asylum_final_on: date | None = None
        self.asylum_manifestly_unfounded = False
        self.asylum_suspensive_on: date | None = None
        self.abroad_since: date | None = None
        self.given_up: dict[str, date] = {}
        self.kept: dict[str, date] = {}
        self.returned_on: date | None = None

    # -- arrival --------------------------------------------------------------------------
    @classmethod
    def register_arrival(
        cls,
        *,
        person_id: UUID,
        names_enc: str,
        birth_date_enc: str,
        azr_number_enc: str,
        abh_id: str,
        facts: ArrivalFacts,
        today: date,
    ) -> ResidenceFile:
        """Open the file: person registered, entry recorded, residence registered."""
        check_arrival(facts, today)
        if not abh_id.strip():
            raise InvalidValue("the responsible foreigners authority is missing", "abhId")
        file = cls(
            id=person_id,
            names_enc=names_enc,
            birth_date_enc=birth_date_enc,
            azr_number_enc=azr_number_enc,
            nationalities=list(facts.nationalities),
            abh_id=abh_id,
        )
        file.record_entry(entry_date=facts.entry_date, entry_mode=facts.entry_mode)
        file.register_residence(
            municipality_key=facts.municipality_key, registered_on=facts.registered_on
        )
        return file

    @event(EntryRecorded)
    def record_entry(self, entry_date: date, entry_mode: EntryMode) -> None:
        self.entry_date = entry_date
        self.entry_mode = EntryMode(entry_mode)

    @event(ResidenceRegistered)
    def register_residence(self, municipality_key: str, registered_on: date) -> None:
        self.municipality_key = municipality_key
        self.registered_on = registered_on

    def change_residence(self, *, municipality_key: str, registered_on: date, today: date) -> None:
        """A new registration (Ummeldung) within Germany."""
        self._require_open()
        if not MUNICIPALITY_KEY.match(municipality_key):
            raise InvalidValue("the municipality key must be an 8-digit AGS", "municipalityKey")
        _not_future(registered_on, today, "registeredOn", "the registration")
        self._not_before_entry(registered_on, "registeredOn")
        if self.registered_on is not None and registered_on < self.registered_on:
            raise Contradiction(
                f"the file has a later registration ({self.registered_on})", "registeredOn"
            )
        self.register_residence(municipality_key=municipality_key, registered_on=registered_on)

    # -- guards ---------------------------------------------------------------------------
    def _require_open(self) -> None:
        if self.naturalised_on is not None:
            raise Contradiction(
                f"the person was naturalised on {self.naturalised_on}: no residence status "
                "applies any more"
            )
        if self.departed_on is not None:
            raise Contradiction(f"the person departed on {self.departed_on}")

    def held_by(self, authority: str) -> bool:
        """Whether ``authority`` holds the file now: the authority that registered the person,
        or the one the file was last transferred to (only the holder writes to it)."""
        return self.abh_id == authority

    def _not_before_entry(self, value: date, field: str) -> None:
        if self.entry_date is not None and value < self.entry_date:
            raise Contradiction(f"{field} lies before the entry on {self.entry_date}", field)

    def valid_title_on(self, day: date) -> dict[str, object] | None:
        """The residence title valid on ``day`` (the latest granted), if any."""
        for title in reversed(self.titles):
            valid_from = title["valid_from"]
            valid_until = title["valid_until"]
            assert isinstance(valid_from, date)
            if valid_from <= day and (valid_until is None or day <= valid_until):  # type: ignore[operator]
                return title
        return None

    @property
    def asylum_pending(self) -> bool:
        """Whether no final decision on an asylum application exists: the person holds an
        Aufenthaltsgestattung, also while an action against the BAMF's decision is before the
        court (it ends only when the decision is final, § 67 (1) Nr. 6 AsylG). After a
        rejection as manifestly unfounded an action has no suspensive effect (§ 75 (1) AsylG):
        the Gestattung ends when the deportation warning is enforceable (§ 67 (1) Nr. 4 AsylG),
        unless a court orders the suspensive effect (§ 80 (5) VwGO, § 37 (1) AsylG)."""
        if self.asylum_filed_on is None or self.asylum_final_on is not None:
            return False
        if self.asylum_manifestly_unfounded:
            return False
        return self.asylum_outcome is None or self.asylum_appeal_on is not None

    # -- residence titles -----------------------------------------------------------------
    def grant_residence_title(
        self,
        *,
        title: TitleKind,
        paragraph: str,
        granted_on: date,
        valid_from: date,
        valid_until: date | None,
        conditions: list[str],
        today: date,
    ) -> None:
        """Record a residence title decision (Erteilung eines Aufenthaltstitels)."""
        self._require_open()
        _paragraph(paragraph)
        _not_future(granted_on, today, "grantedOn", "the decision date")
        if valid_until is not None and valid_until <= valid_from:
            raise InvalidValue("the title ends before it starts", "validUntil")
        if valid_until is not None and valid_until < granted_on:
            raise InvalidValue("the title would already have expired when granted", "validUntil")
        permanent = title in PERMANENT
        if permanent and valid_until is not None:
            raise InvalidValue("a permanent title has no end date", "validUntil")
        if not permanent and valid_until is None:
            raise InvalidValue("a temporary title needs an end date", "validUntil")
        if title is not TitleKind.NATIONAL_VISA:
            self._not_before_entry(granted_on, "grantedOn")
        if (
            permanent
            and not self.titles
            and self.protection_granted_on is None
            # the visa is a title (§ 4 (1) Nr. 1), also the visa for family reunification
            # (§ 6 (3) with §§ 27-36a AufenthG) a family reunification entry was made on
            and self.entry_mode not in (EntryMode.VISA, EntryMode.FAMILY_REUNIFICATION)
        ):
            raise Contradiction(
                "a settlement permit follows a residence title (a visa entry counts) or "
                "protection; the file has neither",
                "title",
            )
        if any(not c.strip() for c in conditions):
            raise InvalidValue("a condition (Nebenbestimmung) is empty", "conditions")
        self._title_granted(
            title=title,
            paragraph=paragraph,
            granted_on=granted_on,
            valid_from=valid_from,
            valid_until=valid_until,
            conditions=list(conditions),
        )

    @event(ResidenceTitleGranted)
    def _title_granted(
        self,
        title: TitleKind,
        paragraph: str,
        granted_on: date,
        valid_from: date,
        valid_until: date | None,
        conditions: list[str],
    ) -> None:
        self.titles.append(
            {
                "title": TitleKind(title),
                "paragraph": paragraph,
                "granted_on": granted_on,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "conditions": list(conditions),
            }
        )
        self.title_applied_on = None
        self.duldung_until = None

    def apply_for_title(self, *, paragraph: str, applied_on: date, today: date) -> None:
        self._require_open()
        _paragraph(paragraph)
        _not_future(applied_on, today, "appliedOn", "the application")
        self._not_before_entry(applied_on, "appliedOn")
        self._title_applied(paragraph=paragraph, applied_on=applied_on)

    @event(ResidenceTitleApplied)
    def _title_applied(self, paragraph: str, applied_on: date) -> None:
        self.title_applied_on = applied_on

    def refuse_title(self, *, paragraph: str, refused_on: date, today: date) -> None:
        """The pending application for a title was refused."""
        self._require_open()
        _paragraph(paragraph)
        if self.title_applied_on is None:
            raise Contradiction("no application for a title is pending", "refusedOn")
        _not_future(refused_on, today, "refusedOn", "the refusal")
        if refused_on < self.title_applied_on:
            raise Contradiction("the refusal lies before the application", "refusedOn")
        self._title_refused(paragraph=paragraph, refused_on=refused_on)

    @event(ResidenceTitleRefused)
    def _title_refused(self, paragraph: str, refused_on: date) -> None:
        self.title_applied_on = None

    def issue_fiktion(
        self, *, kind: FiktionKind, issued_on: date, valid_until: date, today: date
    ) -> None:
        """A Fiktionsbescheinigung needs a pending title application."""
        self._require_open()
        if self.title_applied_on is None:
            raise Contradiction(
                "a Fiktionsbescheinigung needs a pending application for a title", "kind"
            )
        _not_future(issued_on, today, "issuedOn", "the issue date")
        if issued_on < self.title_applied_on:
            raise Contradiction("it is issued before the application was made", "issuedOn")
        if valid_until <= issued_on:
            raise InvalidValue("it ends before it is issued", "validUntil")
        self._fiktion(kind=FiktionKind(kind), issued_on=issued_on, valid_until=valid_until)

    @event(FiktionsbescheinigungIssued)
    def _fiktion(self, kind: str, issued_on: date, valid_until: date) -> None:
        pass

    # -- asylum, protection, Duldung ------------------------------------------------------
    def file_asylum_application(self, *, filed_on: date, today: date) -> None:
        self._require_open()
        _not_future(filed_on, today, "filedOn", "the application")
        self._not_before_entry(filed_on, "filedOn")
        if self.asylum_pending:
            raise Contradiction(f"an asylum application is pending since {self.asylum_filed_on}")
        if self.protection_granted_on is not None:
            raise Contradiction(f"protection was already granted on {self.protection_granted_on}")
        self._asylum_filed(filed_on=filed_on)

    @event(AsylumApplicationFiled)
    def _asylum_filed(self, filed_on: date) -> None:
        self.asylum_filed_on = filed_on
        self.asylum_outcome = None
        self.asylum_decided_on = None
        self.asylum_appeal_on = None
        self.asylum_final_on = None
        self.asylum_manifestly_unfounded = False
        self.asylum_suspensive_on = None

    def record_asylum_decision(
        self,
        *,
        outcome: AsylumOutcome,
        decided_on: date,
        today: date,
        manifestly_unfounded: bool = False,
    ) -> None:
        """The BAMF's decision; a rejection may be "offensichtlich unbegründet" (§ 30 AsylG)."""
        self._require_open()
        if not self.asylum_pending or self.asylum_outcome is not None:
            raise Contradiction("no asylum application is pending", "outcome")
        assert self.asylum_filed_on is not None
        _not_future(decided_on, today, "decidedOn", "the decision")
        if decided_on < self.asylum_filed_on:
            raise Contradiction("the decision lies before the application", "decidedOn")
        if manifestly_unfounded and AsylumOutcome(outcome) is not AsylumOutcome.REJECTED:
            raise InvalidValue(
                "only a rejection can be manifestly unfounded (§ 30 AsylG)", "manifestlyUnfounded"
            )
        self._asylum_decided(
            outcome=AsylumOutcome(outcome),
            decided_on=decided_on,
            manifestly_unfounded=manifestly_unfounded,
        )

    @event(AsylumDecisionReceived)
    def _asylum_decided(
        self, outcome: str, decided_on: date, manifestly_unfounded: bool = False
    ) -> None:
        self.asylum_outcome = outcome
        self.asylum_decided_on = decided_on
        self.asylum_manifestly_unfounded = manifestly_unfounded
        if AsylumOutcome(outcome) in PROTECTION_OUTCOMES:
            self.protection_granted_on = decided_on

    def order_suspensive_effect(self, *, ordered_on: date, today: date) -> None:
        """A court ordered the suspensive effect of the action against a rejection as
        manifestly unfounded (§ 80 (5) VwGO, § 36 (3) AsylG): the rejection and the
        deportation warning become ineffective, the procedure (and the Gestattung) goes on
        (§ 37 (1) AsylG)."""
        self._require_open()
        if (
            not self.asylum_manifestly_unfounded
            or self.asylum_final_on is not None
            or self.asylum_decided_on is None
        ):
            raise Contradiction(
                "the file records no rejection as manifestly unfounded that is not final",
                "orderedOn",
            )
        _not_future(ordered_on, today, "orderedOn", "the order")
        if ordered_on < self.asylum_decided_on:
            raise Contradiction("the order lies before the decision", "orderedOn")
        self._suspensive_ordered(ordered_on=ordered_on)

    @event(AsylumSuspensiveEffectOrdered)
    def _suspensive_ordered(self, ordered_on: date) -> None:
        # the rejection is ineffective: the BAMF decides again (an action against the
        # ineffective decision has nothing left to act on)
        self.asylum_suspensive_on = ordered_on
        self.asylum_outcome = None
        self.asylum_manifestly_unfounded = False
        self.asylum_appeal_on = None

    def file_asylum_appeal(self, *, filed_on: date, today: date) -> None:
        """An action against the BAMF's decision (Klage, § 74 AsylG): the procedure, and with
        it the Aufenthaltsgestattung, goes on until the decision is final."""
        self._require_open()
        _not_future(filed_on, today, "filedOn", "the action")
        if self.asylum_decided_on is None:
            raise Contradiction(
                "the file records no decision of the BAMF to act against", "filedOn"
            )
        if self.asylum_final_on is not None:
            raise Contradiction(
                f"the decision on the asylum application became final on {self.asylum_final_on}",
                "filedOn",
            )
        if self.asylum_appeal_on is not None:
            raise Contradiction(f"an action is pending since {self.asylum_appeal_on}", "filedOn")
        if filed_on < self.asylum_decided_on:
            raise Contradiction("the action lies before the decision", "filedOn")
        self._appeal_filed(filed_on=filed_on)

    @event(AsylumAppealFiled)
    def _appeal_filed(self, filed_on: date) -> None:
        self.asylum_appeal_on = filed_on

    def record_court_decision(
        self, *, outcome: AsylumOutcome, decided_on: date, today: date
    ) -> None:
        """A court's decision on the asylum application (any instance); a grant of protection
        counts from the decision. The procedure ends when a decision becomes final."""
        self._require_open()
        if self.asylum_appeal_on is None or self.asylum_final_on is not None:
            raise Contradiction("no action against an asylum decision is pending", "outcome")
        _not_future(decided_on, today, "decidedOn", "the decision")
        if decided_on < self.asylum_appeal_on:
            raise Contradiction("the decision lies before the action", "decidedOn")
        self._court_decided(outcome=AsylumOutcome(outcome), decided_on=decided_on)

    @event(AsylumCourtDecided)
    def _court_decided(self, outcome: str, decided_on: date) -> None:
        self.asylum_outcome = outcome
        self.asylum_decided_on = decided_on
        if AsylumOutcome(outcome) in PROTECTION_OUTCOMES and self.protection_granted_on is None:
            self.protection_granted_on = decided_on

    def record_asylum_decision_final(self, *, final_on: date, today: date) -> None:
        """The last decision on the asylum application became final (unanfechtbar or
        rechtskräftig): the Aufenthaltsgestattung ends (§ 67 (1) Nr. 6 AsylG)."""
        self._require_open()
        if self.asylum_decided_on is None or self.asylum_final_on is not None:
            raise Contradiction(
                "no decision on an asylum application is waiting to become final", "finalOn"
            )
        _not_future(final_on, today, "finalOn", "the date")
        if final_on < self.asylum_decided_on:
            raise Contradiction("it lies before the decision", "finalOn")
        self._asylum_final(final_on=final_on)

    @event(AsylumDecisionFinal)
    def _asylum_final(self, final_on: date) -> None:
        self.asylum_final_on = final_on

    def issue_duldung(
        self, *, ground: DuldungGround, valid_from: date, valid_until: date, today: date
    ) -> None:
        """A Duldung contradicts a pending asylum application and a valid title."""
        self._require_open()
        _not_future(valid_from, today, "validFrom", "the start")
        self._not_before_entry(valid_from, "validFrom")
        if valid_until <= valid_from:
            raise InvalidValue("the Duldung ends before it starts", "validUntil")
        if self.asylum_pending:
            raise Contradiction(
                "an asylum application is pending: the person holds an Aufenthaltsgestattung, "
                "not a Duldung",
                "ground",
            )
        title = self.valid_title_on(valid_from)
        if title is not None:
            raise Contradiction(
                f"the person holds a valid title ({title['paragraph']}) on {valid_from}", "ground"
            )
        self._duldung(ground=DuldungGround(ground), valid_from=valid_from, valid_until=valid_until)

    @event(DuldungIssued)
    def _duldung(self, ground: str, valid_from: date, valid_until: date) -> None:
        self.duldung_until = valid_until

    def grant_temporary_protection(
        self, *, valid_from: date, valid_until: date, today: date
    ) -> None:
        self._require_open()
        _not_future(valid_from, today, "validFrom", "the start")
        if valid_until <= valid_from:
            raise InvalidValue("the protection ends before it starts", "validUntil")
        # the limit of § 24 protection is data (code lists), checked by the application
        self._protection(valid_from=valid_from, valid_until=valid_until)

    @event(TemporaryProtectionGranted)
    def _protection(self, valid_from: date, valid_until: date) -> None:
        self.temporary_protection_until = valid_until

    def extend_temporary_protection(self, *, valid_until: date, today: date) -> None:
        self._require_open()
        if self.temporary_protection_until is None:
            raise Contradiction("the person holds no temporary protection", "validUntil")
        if valid_until <= self.temporary_protection_until:
            raise InvalidValue("an extension ends later than the protection did", "validUntil")
        self._protection_extended(valid_until=valid_until)

    @event(TemporaryProtectionExtended)
    def _protection_extended(self, valid_until: date) -> None:
        self.temporary_protection_until = valid_until

    # -- integration course and language --------------------------------------------------
    def impose_course_obligation(self, *, by: CourseObligor, imposed_on: date, today: date) -> None:
        self._require_open()
        _not_future(imposed_on, today, "imposedOn", "the obligation")
        self._course_imposed(by=CourseObligor(by), imposed_on=imposed_on)

    @event(IntegrationCourseObligationImposed)
    def _course_imposed(self, by: str, imposed_on: date) -> None:
        pass

    def complete_integration_course(
        self,
        *,
        level: str,
        completed_on: date,
        today: date,
        final_test_passed: bool | None = None,
    ) -> None:
        """The course completed at ``level``; ``final_test_passed``: whether the course's final
        test (Deutsch-Test für Zuwanderer) was passed (None: not reported)."""
        self._require_open()
        if level not in CEFR_LEVELS:
            raise InvalidValue(f"level is one of {', '.join(CEFR_LEVELS)}", "level")
        _not_future(completed_on, today, "completedOn", "the completion")
        self._not_before_entry(completed_on, "completedOn")
        self._course_completed(
            level=level, completed_on=completed_on, final_test_passed=final_test_passed
        )

    @event(IntegrationCourseCompleted)
    def _course_completed(
        self, level: str, completed_on: date, final_test_passed: bool | None = None
    ) -> None:
        self.course_completed_on = completed_on
        self._raise_level(level)

    def record_language_certificate(self, *, cefr_level: str, issued_on: date, today: date) -> None:
        if self.naturalised_on is not None:
            raise Contradiction(f"the person was naturalised on {self.naturalised_on}")
        if cefr_level not in CEFR_LEVELS:
            raise InvalidValue(f"the level is one of {', '.join(CEFR_LEVELS)}", "cefrLevel")
        _not_future(issued_on, today, "issuedOn", "the certificate")
        self._certificate(cefr_level=cefr_level, issued_on=issued_on)

    @event(LanguageCertificateRecorded)
    def _certificate(self, cefr_level: str, issued_on: date) -> None:
        self._raise_level(cefr_level)

    def _raise_level(self, level: str) -> None:
        if self.language_level is None or CEFR_LEVELS.index(level) > CEFR_LEVELS.index(
            self.language_level
        ):
            self.language_level = level

    # -- stays abroad (§ 12b (1) StAG) -----------------------------------------------------
    def record_stay_abroad(
        self, *, left_on: date, permitted_until: date | None, today: date
    ) -> None:
        """A stay abroad that is not a departure: the file stays open, and the return is
        recorded later. ``permitted_until``: a longer period the authority set for the return
        (§ 12b (1) Satz 2 StAG, § 51 (1) Nr. 7 AufenthG)."""
        self._require_open()
        _not_future(left_on, today, "leftOn", "the journey")
        self._not_before_entry(left_on, "leftOn")
        if self.abroad_since is not None:
            raise Contradiction(f"the person is abroad since {self.abroad_since}", "leftOn")
        if self.returned_on is not None and left_on < self.returned_on:
            raise Contradiction(f"the file has a later return ({self.returned_on})", "leftOn")
        if permitted_until is not None and permitted_until <= left_on:
            raise InvalidValue(
                "the period for the return ends before the journey", "permittedUntil"
            )
        self._went_abroad(left_on=left_on, permitted_until=permitted_until)

    @event(StayAbroadBegan)
    def _went_abroad(self, left_on: date, permitted_until: date | None) -> None:
        self.abroad_since = left_on

    def record_return(self, *, returned_on: date, today: date) -> None:
        """The return from the open stay abroad."""
        self._require_open()
        if self.abroad_since is None:
            raise Contradiction("the file records no stay abroad to return from", "returnedOn")
        _not_future(returned_on, today, "returnedOn", "the return")
        if returned_on < self.abroad_since:
            raise Contradiction(
                f"the return lies before the journey ({self.abroad_since})", "returnedOn"
            )
        self._returned(returned_on=returned_on)

    @event(ReturnedFromAbroad)
    def _returned(self, returned_on: date) -> None:
        self.abroad_since = None
        self.returned_on = returned_on

    # -- leaving --------------------------------------------------------------------------
    def record_departure(self, *, departed_on: date, today: date) -> None:
        self._require_open()
        _not_future(departed_on, today, "departedOn", "the departure")
        self._not_before_entry(departed_on, "departedOn")
        self._departed(departed_on=departed_on)

    @event(DepartureRecorded)
    def _departed(self, departed_on: date) -> None:
        self.departed_on = departed_on

    def confirm_consent(self, *, consent_id: UUID, today: date) -> None:
        """Confirm a consent for this file's records; the authority learns only its id."""
        self._consent_confirmed(consent_id=str(consent_id), confirmed_on=today)

    @event(ConsentConfirmed)
    def _consent_confirmed(self, consent_id: str, confirmed_on: date) -> None:
        pass

    def decline_consent(self, *, consent_id: UUID, today: date) -> None:
        """Decline a consent for this file's records (a confirmation given before ends)."""
        self._consent_declined(consent_id=str(consent_id), declined_on=today)

    @event(ConsentDeclined)
    def _consent_declined(self, consent_id: str, declined_on: date) -> None:
        pass

    def transfer_file(self, *, to_abh: str, transferred_on: date, today: date) -> None:
        """Hand the file over to another authority (Aktenabgabe): it holds the file from now on,
        and the file stays open for its changes."""
        self._require_open()
        if not to_abh.strip() or to_abh == self.abh_id:
            raise InvalidValue("name the other foreigners authority", "toAbh")
        _not_future(transferred_on, today, "transferredOn", "the transfer")
        self._transferred(to_abh=to_abh, transferred_on=transferred_on)

    @event(CaseFileTransferred)
    def _transferred(self, to_abh: str, transferred_on: date) -> None:
        self.abh_id = to_abh

    # -- naturalisation (Einbürgerung) ----------------------------------------------------
    def apply_for_naturalisation(self, *, channel: Channel, applied_on: date, today: date) -> None:
        self._require_open()
        _not_future(applied_on, today, "appliedOn", "the application")
        self._not_before_entry(applied_on, "appliedOn")
        if self.naturalisation_applied_on is not None:
            raise Contradiction(
                f"a naturalisation application is pending since {self.naturalisation_applied_on}"
            )
        self._naturalisation_applied(channel=Channel(channel), applied_on=applied_on)

    @event(NaturalisationApplied)
    def _naturalisation_applied(self, channel: str, applied_on: date) -> None:
        self.naturalisation_applied_on = applied_on

    def _require_application(self, on: date, field: str) -> None:
        self._require_open()
        if self.naturalisation_applied_on is None:
            raise Contradiction("no naturalisation application is pending", field)
        if on < self.naturalisation_applied_on:
            raise Contradiction("this lies before the naturalisation application", field)

    def assess_requirement(
        self,
        *,
        requirement: NaturalisationRequirement,
        outcome: RequirementOutcome,
        law_version: str,
        assessed_on: date,
        today: date,
        ground: WaiverGround | None = None,
    ) -> None:
        """One requirement assessed, with or without a naturalisation application (a pre-check
        before one is the same assessment). A waiver of the language or the knowledge
        requirement (§ 10 (6) StAG) names its ground: illness, disability or age."""
        _not_future(assessed_on, today, "assessedOn", "the assessment")
        self._require_open()
        if not law_version.strip():
            raise InvalidValue("name the law version the assessment applies", "lawVersion")
        waived = RequirementOutcome(outcome) is RequirementOutcome.WAIVED
        waivable = NaturalisationRequirement(requirement) in (
            NaturalisationRequirement.LANGUAGE,
            NaturalisationRequirement.NATURALISATION_TEST,
        )
        if ground is not None and not (waived and waivable):
            raise InvalidValue(
                "only a waiver of the language or knowledge requirement names a ground", "ground"
            )
        if waived and waivable and ground is None:
            raise InvalidValue(
                "a waiver under § 10 (6) StAG names its ground: illness, disability or age",
                "ground",
            )
        self._assessed(
            requirement=NaturalisationRequirement(requirement),
            outcome=RequirementOutcome(outcome),
            law_version=law_version,
            assessed_on=assessed_on,
            ground=None if ground is None else WaiverGround(ground),
        )

    @event(NaturalisationRequirementAssessed)
    def _assessed(
        self,
        requirement: str,
        outcome: str,
        law_version: str,
        assessed_on: date,
        ground: str | None = None,
    ) -> None:
        pass

    # -- single nationality (§ 10 (1) Nr. 4 StAG before 2024-06-27, § 12 StAG) --------------
    def give_up_nationality(self, *, nationality: str, given_up_on: date, today: date) -> None:
        """A nationality the file records was given up (or lost)."""
        self._require_open()
        self._recorded_nationality(nationality)
        _not_future(given_up_on, today, "givenUpOn", "the date")
        self._nationality_given_up(nationality=nationality, given_up_on=given_up_on)

    @event(NationalityGivenUp)
    def _nationality_given_up(self, nationality: str, given_up_on: date) -> None:
        self.given_up[nationality] = given_up_on

    def accept_multiple_nationality(
        self, *, nationality: str, paragraph: str, decided_on: date, today: date
    ) -> None:
        """The authority decided that ``nationality`` may be kept, under § 12 StAG."""
        self._require_open()
        self._recorded_nationality(nationality)
        _paragraph(paragraph)
        if not paragraph.startswith("§ 12 ") or not paragraph.endswith(" StAG"):
            raise InvalidValue("an exception is granted under § 12 StAG", "paragraph")
        _not_future(decided_on, today, "decidedOn", "the decision")
        self._multiple_accepted(nationality=nationality, paragraph=paragraph, decided_on=decided_on)

    @event(MultipleNationalityAccepted)
    def _multiple_accepted(self, nationality: str, paragraph: str, decided_on: date) -> None:
        self.kept[nationality] = decided_on

    def _recorded_nationality(self, nationality: str) -> None:
        if nationality not in self.nationalities:
            raise Contradiction(f"the file records no nationality {nationality}", "nationality")
        if nationality in self.given_up or nationality in self.kept:
            raise Contradiction(
                f"the file already records what became of nationality {nationality}",
                "nationality",
            )

    def record_naturalisation_test(
        self,
        *,
        passed_on: date,
        today: date,
        test: KnowledgeTestKind = KnowledgeTestKind.EINBUERGERUNGSTEST,
        points: int | None = None,
    ) -> None:
        self._require_open()
        _not_future(passed_on, today, "passedOn", "the test")
        if points is not None and not 0 <= points <= 33:
            raise InvalidValue("a test has 33 questions: points are 0 to 33", "points")
        self._test_passed(passed_on=passed_on, test=KnowledgeTestKind(test), points=points)

    @event(NaturalisationTestPassed)
    def _test_passed(
        self, passed_on: date, test: str | None = None, points: int | None = None
    ) -> None:
        if test in (None, KnowledgeTestKind.EINBUERGERUNGSTEST):
            self.test_passed_on = passed_on

    def assure_naturalisation(self, *, assured_on: date, today: date) -> None:
        _not_future(assured_on, today, "assuredOn", "the assurance")
        self._require_application(assured_on, "assuredOn")
        self._assured(assured_on=assured_on)

    @event(NaturalisationAssured)
    def _assured(self, assured_on: date) -> None:
        self.naturalisation_assured_on = assured_on

    def complete_naturalisation(self, *, certificate_date: date, today: date) -> None:
        _not_future(certificate_date, today, "certificateDate", "the certificate")
        self._require_application(certificate_date, "certificateDate")
        self._naturalised(certificate_date=certificate_date)

    @event(NaturalisationCompleted)
    def _naturalised(self, certificate_date: date) -> None:
        self.naturalised_on = certificate_date
