"""The CloudEvents envelope: validation, encoding and decoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import CloudEvent, ContractError, decode_envelope, encode_event
from tests.unit.contracts.strategies import aware_datetimes, non_empty

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=10,
)


def _attributes(**overrides: Any) -> dict[str, Any]:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    attributes: dict[str, Any] = {
        "id": "evt-1",
        "source": "/hub/foreigners_authority",
        "type": "hub.foreigners_authority.entry_recorded.v1",
        "time": now,
        "dataschema": "urn:hub:schema:hub.foreigners_authority.entry_recorded.v1",
        "data": {"person_id": "p-1"},
        "correlationid": "corr-1",
        "legalbasis": "§ 86 AufenthG",
        "purpose": "integration_case_management",
        "sourceagency": "abh-05315000",
        "actingrole": "caseworker",
        "recordedtime": now,
        "sourceposition": 7,
    }
    attributes.update(overrides)
    return attributes


def _raw(**overrides: Any) -> bytes:
    document = json.loads(encode_event(CloudEvent(**_attributes())))
    document.update(overrides)
    return json.dumps(document).encode()


@given(
    data=st.dictionaries(st.text(), json_values, max_size=4),
    time=aware_datetimes,
    recordedtime=aware_datetimes,
    subject=st.none() | non_empty,
    sourceposition=st.integers(min_value=1),
)
def test_any_valid_envelope_survives_an_encode_decode_round_trip(
    data: dict[str, Any],
    time: datetime,
    recordedtime: datetime,
    subject: str | None,
    sourceposition: int,
) -> None:
    # Given a valid envelope
    event = CloudEvent(
        **_attributes(
            data=data,
            time=time,
            recordedtime=recordedtime,
            subject=subject,
            sourceposition=sourceposition,
        )
    )
    # When it is encoded and decoded again
    decoded = decode_envelope(encode_event(event))
    # Then nothing is lost
    assert decoded == event


def test_encoding_is_compact_json_with_iso_8601_timestamps() -> None:
    # Given an envelope
    event = CloudEvent(**_attributes())
    # When it is encoded
    raw = encode_event(event)
    # Then it is compact JSON carrying the CloudEvents defaults and ISO 8601 times
    assert b"\n" not in raw
    assert b'", "' not in raw
    document = json.loads(raw)
    assert document["specversion"] == "1.0"
    assert document["datacontenttype"] == "application/json"
    assert datetime.fromisoformat(document["time"]) == event.time
    assert datetime.fromisoformat(document["recordedtime"]) == event.recordedtime


@pytest.mark.parametrize("field", ["time", "recordedtime"])
def test_naive_datetimes_are_rejected_when_building_an_envelope(field: str) -> None:
    # Given a timestamp without a timezone
    naive = datetime(2025, 3, 1, 12, 0)
    # When an envelope is built with it
    # Then validation fails on that field
    with pytest.raises(ValidationError, match=field):
        CloudEvent(**_attributes(**{field: naive}))


@pytest.mark.parametrize("field", ["time", "recordedtime"])
def test_naive_datetimes_are_rejected_when_decoding(field: str) -> None:
    # Given a message whose timestamp has no offset
    raw = _raw(**{field: "2025-03-01T12:00:00"})
    # When it is decoded
    with pytest.raises(ContractError) as caught:
        decode_envelope(raw)
    # Then the reason names the field
    assert f"{field}: Input should have timezone info" in caught.value.reason


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe"])
def test_bad_json_is_a_contract_error(raw: bytes) -> None:
    # Given bytes that are not JSON
    # When they are decoded
    with pytest.raises(ContractError) as caught:
        decode_envelope(raw)
    # Then the reason says so, without a traceback
    assert "Invalid JSON" in caught.value.reason
    assert "Traceback" not in caught.value.reason
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"event"', b"null"])
def test_json_that_is_not_an_object_is_a_contract_error(raw: bytes) -> None:
    with pytest.raises(ContractError, match="Input should be an object"):
        decode_envelope(raw)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"id": ""}, "id"),
        ({"sourceposition": 0}, "sourceposition"),
        ({"sourceposition": "7"}, "sourceposition"),
        ({"datacontenttype": "text/plain"}, "datacontenttype"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"unknownattr": "x"}, "unknownattr"),
    ],
)
def test_invalid_attributes_are_named_in_the_reason(
    overrides: dict[str, Any], expected: str
) -> None:
    # Given an envelope with one invalid attribute
    raw = _raw(**overrides)
    # When it is decoded
    with pytest.raises(ContractError) as caught:
        decode_envelope(raw)
    # Then the reason names that attribute
    assert caught.value.reason.startswith("invalid envelope: ")
    assert f"{expected}: " in caught.value.reason


@pytest.mark.parametrize("field", ["correlationid", "legalbasis", "purpose", "recordedtime"])
def test_missing_required_attributes_are_named_in_the_reason(field: str) -> None:
    # Given an envelope lacking a required hub attribute
    document = json.loads(_raw())
    del document[field]
    # When it is decoded
    with pytest.raises(ContractError) as caught:
        decode_envelope(json.dumps(document).encode())
    # Then the reason names it
    assert f"{field}: Field required" in caught.value.reason


def test_reason_does_not_echo_input_values() -> None:
    # Given an invalid attribute holding something sensitive
    raw = _raw(personid=["Erika Mustermann"])
    # When it is decoded
    with pytest.raises(ContractError) as caught:
        decode_envelope(raw)
    # Then the value does not leak into the reason
    assert "personid" in caught.value.reason
    assert "Mustermann" not in caught.value.reason


def test_contract_error_is_a_value_error_carrying_its_reason() -> None:
    error = ContractError("something is off")
    assert isinstance(error, ValueError)
    assert error.reason == "something is off"
    assert str(error) == "something is off"


def test_envelopes_are_immutable() -> None:
    event = CloudEvent(**_attributes())
    with pytest.raises(ValidationError):
        event.id = "other"  # type: ignore[misc]
