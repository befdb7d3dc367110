"""Inbound messages from the authority's specialist software (modelled on XAusländer)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from kernel.ids import uuid5_of as _uuid5  # a batch computes two for every message

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:hub:foreigners_authority:inbound")
_PER_SENDER = uuid5(NAMESPACE_URL, "urn:hub:foreigners_authority:inbound:per-sender")
_NAMESPACE_BYTES = _NAMESPACE.bytes
_PER_SENDER_BYTES = _PER_SENDER.bytes


def inbound_id(sender: str, message_id: str) -> UUID:
    """The aggregate id of an inbound message: the same sender and message id, the same
    aggregate. Message ids are unique per sending authority only, so the sender is part of
    the key: another authority's message with the same id is another message."""
    if type(sender) is str and type(message_id) is str:  # json.dumps's bytes, made directly
        name = f"[{encode_basestring_ascii(sender)}, {encode_basestring_ascii(message_id)}]"
    else:
        name = json.dumps([sender, message_id])
    return _uuid5(_PER_SENDER_BYTES, name)


def legacy_inbound_id(message_id: str) -> UUID:
    """The key messages were recorded under before keys named the sender (message id only).
    Such a record counts as an earlier message only for the sender it names."""
    return _uuid5(_NAMESPACE_BYTES, message_id)


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

    @classmethod
    def accepted(
        cls,
        *,
        id: UUID,
        message_id: str,
        message_type: str,
        person_id: UUID | None,
        sender: str,
    ) -> InboundMessage.Accepted:
        """The record of an accepted message as the one event creating it records, to be
        saved as it is: the same event, without building the aggregate around it (a batch
        records a message for every change, and reads none of them back)."""
        values: dict[str, Any] = {
            "originator_id": id,
            "originator_version": cls.INITIAL_VERSION,
            "timestamp": cls.Accepted.create_timestamp(),
            # the library's topic of the class (eventsourcing.utils.construct_topic)
            "originator_topic": getattr(cls, "TOPIC", f"{cls.__module__}:{cls.__qualname__}"),
            "message_id": message_id,
            "message_type": message_type,
            "person_id": person_id,
            "sender": sender,
        }
        return cls.Accepted(**values)
