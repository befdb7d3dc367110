"""Name-based ids made directly are exactly ``uuid.uuid5``'s, for any namespace and name."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from kernel.ids import uuid5_of, uuid5_text


@given(st.uuids(), st.text())
def test_the_same_id_as_uuid5(namespace: uuid.UUID, name: str) -> None:
    expected = uuid.uuid5(namespace, name)
    made = uuid5_of(namespace.bytes, name)
    assert made == expected
    assert made.version == 5
    assert made.variant == uuid.RFC_4122
    assert str(made) == str(expected)
    assert hash(made) == hash(expected)
    assert uuid5_text(namespace.bytes, name) == str(expected)


def test_an_event_id_is_stable_and_the_same_as_before() -> None:
    from services.runtime.outbox import event_id

    class Stored:
        originator_id = uuid.UUID("7d9f3c1e-2b4a-4c6d-8e0f-1a2b3c4d5e6f")
        originator_version = 3

    # the value uuid.uuid5 gave for this event before the ids were made directly
    namespace = uuid.UUID("5d0c8f2e-7c1a-4a77-9a53-0d3b1c8e2f10")
    assert event_id(Stored()) == str(uuid.uuid5(namespace, f"{Stored.originator_id}:3"))
