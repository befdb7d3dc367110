"""Erasure in a service (Art. 17 GDPR): destroy the person's key, record that it happened.

Every service serves the catalogue's ``erase_person`` (contracts/commands/privacy.py) the same
way, so it lives here:

1. an erasure already recorded is answered again, unchanged (idempotent);
2. the person's key in the service's vault is destroyed, leaving a tombstone so no new key
   can be made for them (crypto-shredding: every copy of their ciphertext, in the event
   store, on the stream, in any dead letter, becomes unreadable);
3. an ``Erasure`` aggregate (its id derived from the person's) records
   ``PersonalDataErased``, which the relay publishes as the service's erasure contract.

A crash between 2 and 3 is resumed by sending the command again: step 2 is idempotent and
step 3 happens then. Afterwards the service refuses every command about the person
(:func:`refuse_if_erased`, and the vault refuses to encrypt or decrypt for them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event

from contracts.privacy import ERASED, RESTRICTED, ErasureGround, RestrictionGround
from services.runtime.context import current_context
from services.runtime.outbox import IntegrationMapper, OutgoingEvent
from services.runtime.vault import PersonalDataVault, PersonErased, PersonRestricted

_NAMESPACE = uuid.UUID("8f5e1c2a-3b4d-4e6f-9a7b-1c2d3e4f5a6b")
#: who asked, when the retention run asked
RETENTION = "retention"


def erasure_id(person_id: UUID) -> UUID:
    """The id of the person's erasure record in a service (one per person)."""
    return uuid.uuid5(_NAMESPACE, f"erasure:{person_id}")


def restriction_id(person_id: UUID) -> UUID:
    """The id of the person's restriction record in a service (one per person)."""
    return uuid.uuid5(_NAMESPACE, f"restriction:{person_id}")


class Erasure(Aggregate):
    """The record that a person's data was erased in this service."""

    class PersonalDataErased(Aggregate.Created):
        person_id: UUID
        ground: str
        requested_by: str
        key_destroyed: bool
        rule: str | None

    @event(PersonalDataErased)
    def __init__(
        self,
        *,
        id: UUID,
        person_id: UUID,
        ground: str,
        requested_by: str,
        key_destroyed: bool,
        rule: str | None,
    ) -> None:
        self.person_id = person_id
        self.ground = ground
        self.requested_by = requested_by
        self.key_destroyed = key_destroyed
        self.rule = rule


class Restriction(Aggregate):
    """The record that the processing of a person's data was restricted in this service."""

    class ProcessingRestricted(Aggregate.Created):
        person_id: UUID
        ground: str
        requested_by: str
        rule: str | None

    @event(ProcessingRestricted)
    def __init__(
        self, *, id: UUID, person_id: UUID, ground: str, requested_by: str, rule: str | None
    ) -> None:
        self.person_id = person_id
        self.ground = ground
        self.requested_by = requested_by
        self.rule = rule


@dataclass(frozen=True)
class ErasureOutcome:
    position: int
    person_id: UUID

    @property
    def ids(self) -> dict[str, str]:
        return {"person_id": str(self.person_id)}


def _requested_by(rule: str | None) -> str:
    context = current_context()
    return RETENTION if rule else (context.role if context else "system")


def _once(
    app: Any, record_id: UUID, person_id: UUID, act: Callable[[], Aggregate]
) -> ErasureOutcome:
    """Record what ``act`` builds, unless the record exists: then the same answer again (the
    position the service's log has reached), and no second event."""
    try:
        app.repository.get(record_id)
    except AggregateNotFoundError:
        recordings = app.save(act())
        return ErasureOutcome(recordings[-1].notification.id, person_id)
    return ErasureOutcome(int(app.recorder.max_notification_id() or 0), person_id)


def erase_person(
    app: Any, vault: PersonalDataVault, person_id: UUID, ground: ErasureGround, rule: str | None
) -> ErasureOutcome:
    """Erase ``person_id`` in ``app``'s service (see the module's docstring)."""

    def erase() -> Aggregate:
        return Erasure(
            id=erasure_id(person_id),
            person_id=person_id,
            ground=str(ground),
            requested_by=_requested_by(rule),
            key_destroyed=vault.erase(person_id),
            rule=rule,
        )

    return _once(app, erasure_id(person_id), person_id, erase)


def restrict_processing(
    app: Any,
    vault: PersonalDataVault,
    person_id: UUID,
    ground: RestrictionGround,
    rule: str | None,
) -> ErasureOutcome:
    """Restrict the processing of ``person_id``'s data in ``app``'s service: the key is
    kept, the person is marked restricted in the vault (so every command about them is
    refused) and ``ProcessingRestricted`` is recorded. Idempotent, like the erasure; a person
    already erased needs no restriction (the erasure is answered)."""
    if vault.is_erased(person_id):
        return ErasureOutcome(int(app.recorder.max_notification_id() or 0), person_id)

    def restrict() -> Aggregate:
        vault.restrict(person_id)
        return Restriction(
            id=restriction_id(person_id),
            person_id=person_id,
            ground=str(ground),
            requested_by=_requested_by(rule),
            rule=rule,
        )

    return _once(app, restriction_id(person_id), person_id, restrict)


def refuse_if_erased(
    vault: PersonalDataVault, person_id: UUID | None, field: str = "personId"
) -> None:
    """Refuse a command about a person whose data was erased, or whose processing is
    restricted, in this service."""
    if person_id is None:
        return
    state = vault.withdrawn(person_id)
    if state == "erased":
        raise PersonErased(field)
    if state == "restricted":
        raise PersonRestricted(field)


def with_erasures(service: str, mapper: IntegrationMapper) -> IntegrationMapper:
    """The service's integration mapper, which also publishes its erasure and restriction
    records."""
    contract = ERASED[service]
    restricted = RESTRICTED[service]

    def to_contract(domain_event: Any) -> OutgoingEvent | None:
        if isinstance(domain_event, Restriction.ProcessingRestricted):
            person = str(domain_event.person_id)
            return OutgoingEvent(
                payload=restricted(
                    person_id=person,
                    ground=RestrictionGround(domain_event.ground),
                    requested_by=domain_event.requested_by,
                    rule=domain_event.rule,
                ),
                occurred_at=domain_event.timestamp,
                person_id=person,
            )
        if isinstance(domain_event, Erasure.PersonalDataErased):
            person = str(domain_event.person_id)
            return OutgoingEvent(
                payload=contract(
                    person_id=person,
                    ground=ErasureGround(domain_event.ground),
                    requested_by=domain_event.requested_by,
                    key_destroyed=domain_event.key_destroyed,
                    rule=domain_event.rule,
                ),
                occurred_at=domain_event.timestamp,
                person_id=person,
            )
        return mapper(domain_event)

    return to_contract
