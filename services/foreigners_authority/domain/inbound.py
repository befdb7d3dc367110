"""Inbound messages from the authority's specialist software (modelled on XAusländer)."""

from __future__ import annotations

import json
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:hub:foreigners_authority:inbound")
_PER_SENDER = uuid5(NAMESPACE_URL, "urn:hub:foreigners_authority:inbound:per-sender")


def inbound_id(sender: str, message_id: str) -> UUID:
    """The aggregate id of an inbound message: the same sender and message id, the same
    aggregate. Message ids are unique per sending authority only, so the sender is part of
    the key: another authority's message with the same id is another message."""
    return uuid5(_PER_SENDER, json.dumps([sender, message_id]))


def legacy_inbound_id(message_id: str) -> UUID:
    """The key messages were recorded under before keys named the sender (message id only).
    Such a record counts as an earlier message only for the sender it names."""
    return uuid5(_NAMESPACE, message_id)


class InboundMessage(Aggregate):
    """One accepted inbound message. Saved with the changes it caused, in one transaction, so a
    message is applied exactly once: a repeat by the same sender finds it and gets the first
    receipt back."""

    class Accepted(Aggregate.Created):
        message_id: str
        message_type: str
        person_id: UUID | None
        sender: str

    @event(Accepted)
    def __init__(
        self,
        *,
        id: UUID,
        message_id: str,
        message_type: str,
        person_id: UUID | None,
        sender: str,
    ) -> None:
        self.message_id = message_id
        self.message_type = message_type
        self.person_id = person_id
        self.sender = sender
