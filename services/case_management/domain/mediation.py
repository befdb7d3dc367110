"""Language and cultural mediation (Sprach- und Kulturmittlung): the pool and its bookings.

One pool per municipality keeps its mediators and every booking, so a mediator is never booked
twice for overlapping appointments. A request that no mediator can serve stays visible as
unserved until someone is assigned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.case_management.domain.consent import LANGUAGES
from services.case_management.domain.errors import InvalidValue, NotAllowed, NotFound

POOL_NAMESPACE = UUID("9b0a5c1e-3f7d-4b8a-9e2c-6d1f0a7b3c55")
_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) (\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def pool_id(municipality: str) -> UUID:
    return uuid5(POOL_NAMESPACE, municipality)


@dataclass(frozen=True)
class Window:
    """A weekly availability window, e.g. ``mon 09:00-13:00`` (local time)."""

    weekday: int
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _WINDOW.match(text.strip().lower())
        if not match:
            raise InvalidValue(
                f"availability {text!r} is not like 'mon 09:00-13:00'", "availability"
            )
        day, h1, m1, h2, m2 = match.groups()
        try:
            start, end = time(int(h1), int(m1)), time(int(h2), int(m2))
        except ValueError:
            raise InvalidValue(
                f"availability {text!r} has an invalid time", "availability"
            ) from None
        if end <= start:
            raise InvalidValue(f"availability {text!r} ends before it starts", "availability")
        return cls(_DAYS.index(day), start, end)

    def contains(self, starts_at: datetime, minutes: int) -> bool:
        ends_at = starts_at + timedelta(minutes=minutes)
        return (
            starts_at.weekday() == self.weekday
            and ends_at.date() == starts_at.date()
            and self.start <= starts_at.time()
            and ends_at.time() <= self.end
        )


def _check_languages(languages: list[str]) -> list[str]:
    if not languages:
        raise InvalidValue("name at least one language", "languages")
    unknown = sorted(set(languages) - LANGUAGES)
    if unknown:
        raise InvalidValue(f"unknown language code(s): {', '.join(unknown)}", "languages")
    return sorted(set(languages))


class MediatorPool(Aggregate):
    """The municipality's pool of language and cultural mediators (Sprachmittlerpool)."""

    class Created(Aggregate.Created):
        municipality: str

    class MediatorRegistered(Aggregate.Event):
        mediator_id: UUID
        display_name_enc: str
        languages: list[str]
        availability: list[str]
        pledge_signed_on: date | None

    class PledgeSigned(Aggregate.Event):
        mediator_id: UUID
        signed_on: date

    class Booked(Aggregate.Event):
        request_id: UUID
        mediator_id: UUID
        starts_at: datetime
        minutes: int

    @event(Created)
    def __init__(self, *, id: UUID, municipality: str) -> None:
        self.municipality = municipality
        self.mediators: dict[UUID, dict[str, object]] = {}
        self.bookings: dict[UUID, list[tuple[datetime, datetime]]] = {}

    def register(
        self,
        *,
        mediator_id: UUID,
        display_name_enc: str,
        languages: list[str],
        availability: list[str],
        pledge_signed_on: date | None,
        today: date,
    ) -> None:
        if mediator_id in self.mediators:
            raise NotAllowed("the mediator is already in the pool", "mediatorId")
        for window in availability:
            Window.parse(window)
        if pledge_signed_on is not None and pledge_signed_on > today:
            raise InvalidValue("the pledge cannot be signed in the future", "pledgeSignedOn")
        self._registered(
            mediator_id=mediator_id,
            display_name_enc=display_name_enc,
            languages=_check_languages(languages),
            availability=[w.strip().lower() for w in availability],
            pledge_signed_on=pledge_signed_on,
        )

    @event(MediatorRegistered)
    def _registered(
        self,
        mediator_id: UUID,
        display_name_enc: str,
        languages: list[str],
        availability: list[str],
        pledge_signed_on: date | None,
    ) -> None:
        self.mediators[mediator_id] = {
            "languages": list(languages),
            "availability": [Window.parse(w) for w in availability],
            "pledge": pledge_signed_on,
        }
        self.bookings[mediator_id] = []

    def sign_pledge(self, *, mediator_id: UUID, signed_on: date, today: date) -> None:
        """The confidentiality pledge (Verschwiegenheitserklärung) was signed."""
        if mediator_id not in self.mediators:
            raise NotFound("no such mediator in the pool", "mediatorId")
        if signed_on > today:
            raise InvalidValue("the pledge cannot be signed in the future", "signedOn")
        self._pledge_signed(mediator_id=mediator_id, signed_on=signed_on)

    @event(PledgeSigned)
    def _pledge_signed(self, mediator_id: UUID, signed_on: date) -> None:
        self.mediators[mediator_id]["pledge"] = signed_on

    def why_not(
        self, mediator_id: UUID, language: str, starts_at: datetime, minutes: int
    ) -> str | None:
        """Why this mediator cannot take the appointment, or None if they can."""
        mediator = self.mediators[mediator_id]
        if mediator["pledge"] is None:
            return "has not signed the confidentiality pledge"
        if language not in mediator["languages"]:  # type: ignore[operator]
            return f"does not mediate {language}"
        windows = mediator["availability"]
        assert isinstance(windows, list)
        if not any(w.contains(starts_at, minutes) for w in windows):
            return "is not available then"
        ends_at = starts_at + timedelta(minutes=minutes)
        if any(s < ends_at and starts_at < e for s, e in self.bookings[mediator_id]):
            return "is already booked then"
        return None

    def book(
        self,
        *,
        request_id: UUID,
        language: str,
        starts_at: datetime,
        minutes: int,
        mediator_id: UUID | None = None,
    ) -> UUID | None:
        """Book ``mediator_id`` or the first mediator who can serve; None if nobody can."""
        if mediator_id is not None:
            if mediator_id not in self.mediators:
                raise NotFound("no such mediator in the pool", "mediatorId")
            reason = self.why_not(mediator_id, language, starts_at, minutes)
            if reason:
                raise NotAllowed(f"the mediator {reason}", "mediatorId")
            candidates = [mediator_id]
        else:
            candidates = [
                m
                for m in sorted(self.mediators)
                if self.why_not(m, language, starts_at, minutes) is None
            ]
        if not candidates:
            return None
        self._booked(
            request_id=request_id,
            mediator_id=candidates[0],
            starts_at=starts_at,
            minutes=minutes,
        )
        return candidates[0]

    @event(Booked)
    def _booked(
        self, request_id: UUID, mediator_id: UUID, starts_at: datetime, minutes: int
    ) -> None:
        self.bookings[mediator_id].append((starts_at, starts_at + timedelta(minutes=minutes)))


class MediationRequest(Aggregate):
    """A request for a mediator for one appointment in a case."""

    class Requested(Aggregate.Created):
        case_id: UUID
        person_id: UUID
        language: str
        starts_at: datetime
        minutes: int
        agency: str

    class Assigned(Aggregate.Event):
        mediator_id: UUID

    class Unserved(Aggregate.Event):
        reason: str

    @event(Requested)
    def __init__(
        self,
        *,
        case_id: UUID,
        person_id: UUID,
        language: str,
        starts_at: datetime,
        minutes: int,
        agency: str,
    ) -> None:
        self.case_id = case_id
        self.person_id = person_id
        self.language = language
        self.starts_at = starts_at
        self.minutes = minutes
        self.agency = agency
        self.status = "requested"
        self.mediator_id: UUID | None = None

    @classmethod
    def request(
        cls,
        *,
        case_id: UUID,
        person_id: UUID,
        language: str,
        starts_at: datetime,
        minutes: int,
        agency: str,
        now: datetime,
    ) -> MediationRequest:
        _check_languages([language])
        if starts_at.tzinfo is None:
            raise InvalidValue("the appointment needs a time zone", "startsAt")
        if starts_at <= now:
            raise InvalidValue("the appointment lies in the past", "startsAt")
        if not 15 <= minutes <= 480:
            raise InvalidValue("an appointment lasts 15 to 480 minutes", "minutes")
        return cls(
            case_id=case_id,
            person_id=person_id,
            language=language,
            starts_at=starts_at,
            minutes=minutes,
            agency=agency,
        )

    def assign(self, *, mediator_id: UUID) -> None:
        if self.status == "assigned":
            raise NotAllowed("a mediator is already assigned", "requestId")
        self._assigned(mediator_id=mediator_id)

    @event(Assigned)
    def _assigned(self, mediator_id: UUID) -> None:
        self.status = "assigned"
        self.mediator_id = mediator_id

    def mark_unserved(self, *, reason: str) -> None:
        if self.status == "assigned":
            raise NotAllowed("a mediator is already assigned", "requestId")
        self._unserved(reason=reason)

    @event(Unserved)
    def _unserved(self, reason: str) -> None:
        self.status = "unserved"
