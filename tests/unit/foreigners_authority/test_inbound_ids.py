"""An inbound message's aggregate ids are ``uuid5`` of the sender and message id (and, for
the legacy key, of the message id alone): the batch path computes them without the checks
of ``UUID.__init__``, and they must stay the very same ids, or a repeat would not be found.
Its record is the event creating the aggregate would record, made without the aggregate."""

from __future__ import annotations

import json
import pickle
from uuid import NAMESPACE_URL, uuid4, uuid5

import pytest

from services.foreigners_authority.domain import InboundMessage, inbound_id, legacy_inbound_id

PER_SENDER = uuid5(NAMESPACE_URL, "urn:hub:foreigners_authority:inbound:per-sender")
LEGACY = uuid5(NAMESPACE_URL, "urn:hub:foreigners_authority:inbound")


@pytest.mark.parametrize(
    ("sender", "message_id"),
    [
        ("abh-05315", "bench-0001-02"),
        ("abh-05111", 'quote " backslash \\ newline \n tab \t'),
        ("abh-ü", "Größe 😀 \u2028 \x00"),
        ("", ""),
    ],
)
def test_the_ids_are_uuid5_of_the_sender_and_message_id(sender: str, message_id: str) -> None:
    # when the ids are made
    made = inbound_id(sender, message_id)
    legacy = legacy_inbound_id(message_id)

    # then they are uuid5's, equal in every respect
    expected = uuid5(PER_SENDER, json.dumps([sender, message_id]))
    assert made == expected
    assert (made.version, made.variant) == (5, expected.variant)
    assert (str(made), hash(made), made.bytes) == (str(expected), hash(expected), expected.bytes)
    assert pickle.loads(pickle.dumps(made)) == expected  # noqa: S301 - our own bytes
    assert legacy == uuid5(LEGACY, message_id)


def test_a_records_event_is_the_one_creating_the_aggregate_records() -> None:
    # given the same accepted message, recorded both ways
    key, person = inbound_id("abh-05315", "m-1"), uuid4()
    values = {"message_id": "m-1", "message_type": "title_granted", "person_id": person}
    (created,) = InboundMessage(id=key, sender="abh-05315", **values).collect_events()

    # when the batch path makes the record's event alone
    record = InboundMessage.accepted(id=key, sender="abh-05315", **values)

    # then it is the same event (but for its time), and it makes the same aggregate
    assert type(record) is type(created)
    assert list(vars(record)) == list(vars(created))
    assert {**vars(record), "timestamp": None} == {**vars(created), "timestamp": None}
    assert record.timestamp.tzinfo is not None
    message = record.mutate(None)
    assert isinstance(message, InboundMessage)
    assert (message.id, message.version, message.person_id) == (key, 1, person)
