"""Each stream message is decoded once per process for the running loops on its stream."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from contracts import REGISTRY, encode_event
from services.runtime import consumer
from services.runtime.consumer import SharedDecodes
from tests.integration.test_consumer import entry_event

STREAM = "HUB_FOREIGNERS_AUTHORITY"


def message(seq: int, data: bytes) -> Msg:
    reply = f"$JS.ACK.{STREAM}.timeline_foreigners_authority.1.{seq}.{seq}.1764512345678901234.0"
    return Msg(_client=None, subject="hub.x", reply=reply, data=data)  # type: ignore[arg-type]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    decode = REGISTRY.decode

    def counted(raw: bytes) -> object:
        calls.append(raw)
        return decode(raw)

    monkeypatch.setattr(REGISTRY, "decode", counted)
    return calls


def test_two_readers_of_a_stream_decode_each_message_once(decodes: list[bytes]) -> None:
    shared = SharedDecodes()
    shared.join(STREAM)
    shared.join(STREAM)
    raw = encode_event(entry_event(1))

    first = shared.decode(STREAM, message(1, raw))
    second = shared.decode(STREAM, message(1, raw))

    assert second is first
    assert len(decodes) == 1
    assert len(shared) == 0  # both took it: nothing kept


def test_poison_is_decoded_once_too(decodes: list[bytes]) -> None:
    shared = SharedDecodes()
    shared.join(STREAM)
    shared.join(STREAM)
    reason = shared.decode(STREAM, message(1, b"\x00\xffnot json"))
    assert isinstance(reason, str)
    assert shared.decode(STREAM, message(1, b"\x00\xffnot json")) == reason
    assert len(decodes) == 1


def test_a_lone_reader_keeps_nothing(decodes: list[bytes]) -> None:
    shared = SharedDecodes()
    shared.join(STREAM)
    raw = encode_event(entry_event(1))
    shared.decode(STREAM, message(1, raw))
    shared.decode(STREAM, message(1, raw))
    assert len(decodes) == 2
    assert len(shared) == 0


def test_other_bytes_at_the_same_sequence_are_decoded_anew(decodes: list[bytes]) -> None:
    # (a stream deleted and made again: its sequences start over)
    shared = SharedDecodes()
    shared.join(STREAM)
    shared.join(STREAM)
    old, new = encode_event(entry_event(1)), encode_event(entry_event(2))
    shared.decode(STREAM, message(1, old))

    decoded = shared.decode(STREAM, message(1, new))

    assert not isinstance(decoded, str)
    assert decoded[0].sourceposition == 2
    assert len(decodes) == 2


def test_what_is_kept_is_bounded_and_dropped_when_the_readers_leave(
    decodes: list[bytes],
) -> None:
    shared = SharedDecodes(limit=3)
    shared.join(STREAM)
    shared.join(STREAM)
    raws = [encode_event(entry_event(position)) for position in range(1, 6)]
    for seq, raw in enumerate(raws, 1):
        shared.decode(STREAM, message(seq, raw))
    assert len(shared) == 3  # the oldest went first

    shared.decode(STREAM, message(1, raws[0]))  # a reader far behind decodes for itself
    assert len(decodes) == 6
    shared.leave(STREAM)
    shared.leave(STREAM)
    assert len(shared) == 0


def test_the_process_shares_one() -> None:
    assert isinstance(consumer.DECODES, SharedDecodes)
