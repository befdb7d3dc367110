"""Consent (Schweigepflichtentbindung): who may receive which data, for which purpose, until when.

A consent names recipients, data categories and purposes; special categories (Art. 9 GDPR)
need the explicit flag. It can be withdrawn at any time and lapses at its end date: from that
day on it covers nothing, whether or not the expiry has been recorded yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.case_management.domain.errors import InvalidValue, NotAllowed
from services.case_management.domain.vocabulary import SPECIAL_CATEGORIES, DataCategory, Purpose

LANGUAGES = frozenset(
    {
        "de",
        "en",
        "ar",
        "fa",
        "ps",
        "ku",
        "ti",
        "so",
        "tr",
        "uk",
        "ru",
        "fr",
        "es",
        "ro",
        "bg",
        "pl",
        "sq",
        "sr",
        "ur",
        "prs",
        "kmr",
    }
)


@dataclass(frozen=True)
class Coverage:
    """Whether a consent covers a sharing, and if not, which parts are missing."""

    missing: list[str] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return not self.missing


def coverage(
    *,
    status: str,
    valid_until: date,
    recipients: frozenset[str] | set[str] | list[str],
    categories: frozenset[str] | set[str] | list[str],
    purposes: frozenset[str] | set[str] | list[str],
    special_categories_explicit: bool,
    recipient: str,
    wanted_categories: frozenset[str] | set[str] | list[str],
    purpose: str | None,
    on: date,
) -> Coverage:
    """The consent rule, pure: does this consent let ``recipient`` receive these categories
    for ``purpose`` on day ``on``? Lists every missing part. A sharing or read that names no
    purpose (``None``) is covered by no consent (purpose at read time)."""
    missing: list[str] = []
    if status == "withdrawn":
        missing.append("the consent was withdrawn")
    elif status == "expired" or on > valid_until:
        missing.append(f"the consent expired on {valid_until.isoformat()}")
    elif status != "active":
        missing.append(f"the consent is {status}, not active")
    if recipient not in recipients:
        missing.append(f"recipient {recipient} is not named in the consent")
    uncovered = sorted(set(wanted_categories) - set(categories))
    if uncovered:
        missing.append(f"data categories not covered: {', '.join(uncovered)}")
    special = sorted(set(wanted_categories) & SPECIAL_CATEGORIES)
    if special and not special_categories_explicit:
        missing.append(
            f"special categories ({', '.join(special)}) need explicit consent (Art. 9 GDPR)"
        )
    if purpose is None:
        missing.append("no purpose was named")
    elif purpose not in purposes:
        missing.append(f"purpose {purpose} is not named in the consent")
    return Coverage(missing)


class Consent(Aggregate):
    """A person's consent to share data from their case (Schweigepflichtentbindung)."""

    class Granted(Aggregate.Created):
        person_id: UUID
        case_id: UUID
        recipients: list[str]
        categories: list[str]
        purposes: list[str]
        special_categories_explicit: bool
        valid_from: date
        valid_until: date
        language: str
        mutual: bool

    class Withdrawn(Aggregate.Event):
        withdrawn_on: date
        recorded_by: str

    class Expired(Aggregate.Event):
        expired_on: date

    @event(Granted)
    def __init__(
        self,
        *,
        person_id: UUID,
        case_id: UUID,
        recipients: list[str],
        categories: list[str],
        purposes: list[str],
        special_categories_explicit: bool,
        valid_from: date,
        valid_until: date,
        language: str,
        mutual: bool,
    ) -> None:
        self.person_id = person_id
        self.case_id = case_id
        self.recipients = list(recipients)
        self.categories = list(categories)
        self.purposes = list(purposes)
        self.special_categories_explicit = special_categories_explicit
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.language = language
        self.mutual = mutual
        self.status = "active"
        self.ended_on: date | None = None

    @classmethod
    def grant(
        cls,
        *,
        person_id: UUID,
        case_id: UUID,
        recipients: list[str],
        categories: list[str],
        purposes: list[str],
        special_categories_explicit: bool,
        valid_until: date,
        language: str,
        mutual: bool,
        today: date,
    ) -> Consent:
        if not recipients or any(not r.strip() for r in recipients):
            raise InvalidValue("a consent names at least one recipient agency", "recipients")
        if not categories:
            raise InvalidValue("a consent names at least one data category", "categories")
        unknown = sorted(set(categories) - {c.value for c in DataCategory})
        if unknown:
            raise InvalidValue(f"unknown data categories: {', '.join(unknown)}", "categories")
        if not purposes:
            raise InvalidValue("a consent names at least one purpose", "purposes")
        unknown = sorted(set(purposes) - {p.value for p in Purpose})
        if unknown:
            raise InvalidValue(f"unknown purposes: {', '.join(unknown)}", "purposes")
        special = set(categories) & SPECIAL_CATEGORIES
        if special and not special_categories_explicit:
            raise InvalidValue(
                "health, religion or ethnicity need the explicit consent flag (Art. 9 GDPR)",
                "specialCategoriesExplicit",
            )
        if valid_until < today:
            raise InvalidValue("the consent would already have lapsed", "validUntil")
        try:
            latest = today.replace(year=today.year + 3)
        except ValueError:  # 29 February: the period ends on the last day of February
            latest = today.replace(year=today.year + 3, day=28)
        if valid_until > latest:
            raise InvalidValue("a consent lasts at most three years", "validUntil")
        if language not in LANGUAGES:
            raise InvalidValue(f"language {language!r} is not a form language we have", "language")
        return cls(
            person_id=person_id,
            case_id=case_id,
            recipients=sorted(set(recipients)),
            categories=sorted(set(categories)),
            purposes=sorted(set(purposes)),
            special_categories_explicit=special_categories_explicit,
            valid_from=today,
            valid_until=valid_until,
            language=language,
            mutual=mutual,
        )

    def is_active(self, on: date) -> bool:
        return self.status == "active" and on <= self.valid_until

    def covers(
        self, *, recipient: str, categories: list[str], purpose: str | None, on: date
    ) -> Coverage:
        return coverage(
            status=self.status,
            valid_until=self.valid_until,
            recipients=self.recipients,
            categories=self.categories,
            purposes=self.purposes,
            special_categories_explicit=self.special_categories_explicit,
            recipient=recipient,
            wanted_categories=categories,
            purpose=purpose,
            on=on,
        )

    def withdraw(self, *, today: date, recorded_by: str) -> None:
        """The person withdraws the consent (Widerruf): effective at once."""
        if self.status == "withdrawn":
            raise NotAllowed("the consent was already withdrawn", "consentId")
        if self.status == "expired" or today > self.valid_until:
            raise NotAllowed("the consent has already expired", "consentId")
        self._withdrawn(withdrawn_on=today, recorded_by=recorded_by)

    @event(Withdrawn)
    def _withdrawn(self, withdrawn_on: date, recorded_by: str) -> None:
        self.status = "withdrawn"
        self.ended_on = withdrawn_on

    def expire(self, *, today: date) -> None:
        """Record the lapse (the sweeper calls this once the end date has passed)."""
        if self.status != "active":
            raise NotAllowed(f"the consent is {self.status}, not active", "consentId")
        if today <= self.valid_until:
            raise NotAllowed("the consent is still valid", "consentId")
        self._expired(expired_on=today)

    @event(Expired)
    def _expired(self, expired_on: date) -> None:
        self.status = "expired"
        self.ended_on = expired_on
