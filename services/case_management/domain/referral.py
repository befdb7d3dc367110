"""Referrals (Vermittlungen) to partner agencies, each relying on a consent."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.case_management.domain.errors import InvalidValue, NotAllowed

DECLINE_REASONS = ("no_capacity", "not_eligible", "person_unreachable", "wrong_service", "other")
OUTCOMES = ("service_provided", "person_withdrew", "handed_on", "other")


class Referral(Aggregate):
    """A referral of a person to a partner agency's service."""

    class Sent(Aggregate.Created):
        case_id: UUID
        person_id: UUID
        from_agency: str
        to_agency: str
        service: str
        consent_id: UUID
        shared_categories: list[str]
        purpose: str
        note_enc: str | None

    class Accepted(Aggregate.Event):
        by: str

    class Declined(Aggregate.Event):
        by: str
        reason: str

    class Completed(Aggregate.Event):
        by: str
        outcome: str

    @event(Sent)
    def __init__(
        self,
        *,
        case_id: UUID,
        person_id: UUID,
        from_agency: str,
        to_agency: str,
        service: str,
        consent_id: UUID,
        shared_categories: list[str],
        purpose: str,
        note_enc: str | None,
    ) -> None:
        self.case_id = case_id
        self.person_id = person_id
        self.from_agency = from_agency
        self.to_agency = to_agency
        self.service = service
        self.consent_id = consent_id
        self.shared_categories = list(shared_categories)
        self.purpose = purpose
        self.status = "sent"

    @classmethod
    def send(
        cls,
        *,
        case_id: UUID,
        person_id: UUID,
        from_agency: str,
        to_agency: str,
        service: str,
        consent_id: UUID,
        shared_categories: list[str],
        purpose: str,
        note_enc: str | None,
    ) -> Referral:
        """Send; the application has checked that the consent covers it."""
        if not service.strip() or len(service) > 200:
            raise InvalidValue("name the service the person is referred to", "service")
        if to_agency == from_agency:
            raise InvalidValue("a referral goes to another agency", "toAgency")
        if not shared_categories:
            raise InvalidValue("name the data categories shared", "sharedCategories")
        return cls(
            case_id=case_id,
            person_id=person_id,
            from_agency=from_agency,
            to_agency=to_agency,
            service=service.strip(),
            consent_id=consent_id,
            shared_categories=sorted(set(shared_categories)),
            purpose=purpose,
            note_enc=note_enc,
        )

    def _require_recipient(self, agency: str) -> None:
        if agency != self.to_agency:
            raise NotAllowed("only the receiving agency answers a referral", "referralId")

    def accept(self, *, agency: str) -> None:
        self._require_recipient(agency)
        if self.status != "sent":
            raise NotAllowed(f"the referral is {self.status}", "referralId")
        self._accepted(by=agency)

    @event(Accepted)
    def _accepted(self, by: str) -> None:
        self.status = "accepted"

    def decline(self, *, agency: str, reason: str) -> None:
        self._require_recipient(agency)
        if self.status != "sent":
            raise NotAllowed(f"the referral is {self.status}", "referralId")
        if reason not in DECLINE_REASONS:
            raise InvalidValue(f"the reason is one of {', '.join(DECLINE_REASONS)}", "reason")
        self._declined(by=agency, reason=reason)

    @event(Declined)
    def _declined(self, by: str, reason: str) -> None:
        self.status = "declined"

    def complete(self, *, agency: str, outcome: str) -> None:
        self._require_recipient(agency)
        if self.status != "accepted":
            raise NotAllowed(
                f"only an accepted referral can be completed (it is {self.status})", "referralId"
            )
        if outcome not in OUTCOMES:
            raise InvalidValue(f"the outcome is one of {', '.join(OUTCOMES)}", "outcome")
        self._completed(by=agency, outcome=outcome)

    @event(Completed)
    def _completed(self, by: str, outcome: str) -> None:
        self.status = "completed"
