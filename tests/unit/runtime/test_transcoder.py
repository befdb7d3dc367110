"""The services' transcoder encodes with orjson where that gives the library's bytes, and
leaves everything else to the library's encoder: the stored events stay byte for byte what
``eventsourcing``'s ``JSONTranscoder`` makes of them, errors included."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from services.runtime.eventstore import DateAsISO, HubTranscoder


class Mode(StrEnum):
    ASYLUM = "asylum"


class Level(IntEnum):
    B1 = 3


class Mixed(str, Enum):  # noqa: UP042 - the older form, which json treats as a str
    A = "ä"


def _both() -> tuple[JSONTranscoder, HubTranscoder]:
    made = []
    for transcoder in (JSONTranscoder(), HubTranscoder()):
        for transcoding in (UUIDAsHex(), DatetimeAsISO(), DateAsISO(), DecimalAsStr()):
            transcoder.register(transcoding)
        made.append(transcoder)
    library, hub = made
    assert isinstance(hub, HubTranscoder)
    return library, hub


def _value(rng: random.Random, depth: int = 0) -> Any:
    kinds = [
        lambda: (
            "".join(
                chr(rng.choice([0, 9, 10, 31, 34, 92, 127, 228, 0x2028, 0x1F600]))
                for _ in range(rng.randrange(4))
            )
            + "x"
        ),
        lambda: rng.randrange(-(2**70), 2**70),
        lambda: rng.randrange(-5, 5),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice([0.1, 1e16, 1e-7, 2.0, float("inf")]),
        lambda: UUID(int=rng.getrandbits(128)),
        lambda: datetime(2026, 11, 30, 17, 5, rng.randrange(60), rng.randrange(10**6), tzinfo=UTC),
        lambda: datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=1))),
        lambda: date(2015, 10, rng.randrange(1, 29)),
        lambda: rng.choice([Mode.ASYLUM, Level.B1, Mixed.A]),
        lambda: Decimal("1.50"),
    ]
    if depth < 3:
        kinds += [
            lambda: [_value(rng, depth + 1) for _ in range(rng.randrange(3))],
            lambda: tuple(_value(rng, depth + 1) for _ in range(rng.randrange(3))),
            lambda: {f"k{i}ü": _value(rng, depth + 1) for i in range(rng.randrange(4))},
        ]
    return rng.choice(kinds)()


def test_the_bytes_are_the_librarys_for_any_state() -> None:
    # given the library's transcoder and ours, with the same transcodings
    library, hub = _both()
    rng = random.Random(20261130)
    for _ in range(3000):
        # when each encodes a random state (floats, big integers, enums, nesting included)
        state = {"timestamp": datetime.now(UTC), "id": uuid4(), "value": _value(rng)}
        # then the bytes are the same, and decode to the same
        assert hub.encode(state) == library.encode(state)
        assert hub.decode(hub.encode(state)) == library.decode(library.encode(state))


def test_what_the_library_refuses_it_refuses_the_same_way() -> None:
    library, hub = _both()
    for state in ({"x": {1, 2}}, {"x": object()}, {"x": [complex(1, 2)]}):
        with pytest.raises(TranscodingNotRegisteredError):
            library.encode(state)
        with pytest.raises(TranscodingNotRegisteredError):
            hub.encode(state)
    # a key that is not a string: json turns it into one, so the library's bytes are kept
    assert hub.encode({1: "a", None: "b"}) == library.encode({1: "a", None: "b"})


def test_decoding_gives_what_the_library_decodes() -> None:
    # given the bytes of random states, and texts orjson would read differently
    library, hub = _both()
    rng = random.Random(1130)
    texts = [library.encode({"t": datetime.now(UTC), "v": _value(rng)}) for _ in range(3000)]
    texts += [
        b'{"big":123456789012345678901234567890}',
        b'{"n":NaN,"i":-Infinity}',
        b'{"s":"\\ud800"}',
        b'{"a":1,"a":2}',
        b'{"_type_":"uuid_hex","_data_":"' + uuid4().hex.encode() + b'","x":1}',
        b'[{"_type_":"date_iso","_data_":"2015-10-14"},{"_type_":"x"}]',
    ]
    for text in texts:
        # when both decode them
        ours, theirs = hub.decode(text), library.decode(text)
        # then the values are the same, of the same types
        assert repr(ours) == repr(theirs)
    with pytest.raises(TranscodingNotRegisteredError):
        library.decode(b'{"_type_":"unknown","_data_":1}')
    with pytest.raises(TranscodingNotRegisteredError):
        hub.decode(b'{"_type_":"unknown","_data_":1}')
