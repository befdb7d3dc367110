"""The contract registry: lookups, registration and decoding of raw messages."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import contracts.registry as registry_module
from contracts import (
    REGISTRY,
    ContractError,
    ContractRegistry,
    ContractSpec,
    Payload,
    contract,
    encode_event,
)
from contracts.foreigners_authority import EntryMode, EntryRecorded, PersonRegistered
from tests.unit.contracts.strategies import PAYLOADS, envelopes_for, make_event

ALL_SPECS = REGISTRY.all()
ENTRY = EntryRecorded(person_id="p-1", entry_date=date(2024, 5, 1), entry_mode=EntryMode.ASYLUM)


class Sample(Payload):
    """A sample payload.

    With a longer explanation.
    """

    person_id: str


class Other(Payload):
    """Another payload."""


def _spec(name: str = "sample_happened", payload: type[Payload] = Sample) -> ContractSpec:
    return ContractSpec("sample", name, 1, payload, "A sample payload.")


def test_every_registered_payload_has_a_test_strategy() -> None:
    assert {spec.payload for spec in ALL_SPECS} == set(PAYLOADS)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda spec: spec.type)
# 25 events per contract: ninety contracts share one encoder and decoder, so together they
# draw well over two thousand events a run (the default, 100 each, took a minute of the suite)
@settings(max_examples=25)
@given(data=st.data())
def test_every_contract_round_trips_through_encode_and_decode(
    spec: ContractSpec, data: st.DataObject
) -> None:
    # Given any valid event of the contract
    event, payload = data.draw(envelopes_for(spec))
    # When it is encoded and decoded by the registry
    decoded_event, decoded_payload = REGISTRY.decode(encode_event(event))
    # Then envelope and payload come back equal, as the contract's payload class
    assert decoded_event == event
    assert type(decoded_payload) is spec.payload
    assert decoded_payload == payload


def test_unknown_event_type_is_a_contract_error_naming_the_type() -> None:
    # Given a valid envelope of a type nobody registered
    event = make_event(_spec(), Sample(person_id="p-1"))
    # When it is decoded
    with pytest.raises(ContractError) as caught:
        REGISTRY.decode(encode_event(event))
    # Then the reason names the type
    assert caught.value.reason == "unknown event type 'hub.sample.sample_happened.v1'"


def test_invalid_payload_is_a_contract_error_naming_type_and_field() -> None:
    # Given an entry whose date is not a date
    spec = REGISTRY.for_payload(EntryRecorded)
    event = make_event(
        spec,
        ENTRY,
        data={"person_id": "p-1", "entry_date": "yesterday", "entry_mode": "asylum"},
    )
    # When it is decoded
    with pytest.raises(ContractError) as caught:
        REGISTRY.decode(encode_event(event))
    # Then the reason names type and field
    assert caught.value.reason.startswith(
        "invalid payload for hub.foreigners_authority.entry_recorded.v1: entry_date: "
        "Input should be a valid date"
    )


def test_missing_payload_field_is_named() -> None:
    spec = REGISTRY.for_payload(EntryRecorded)
    event = make_event(
        spec,
        ENTRY,
        data={"person_id": "p-1", "entry_date": "2024-05-01"},
    )
    with pytest.raises(ContractError, match="entry_mode: Field required"):
        REGISTRY.decode(encode_event(event))


def test_unknown_payload_fields_are_accepted_for_forward_compatibility() -> None:
    # Given an event from a producer that already sends a newer optional field
    spec = REGISTRY.for_payload(EntryRecorded)
    payload = ENTRY
    data = {**payload.model_dump(mode="json"), "border_crossing_point": "FRA"}
    event = make_event(spec, payload, data=data)
    # When it is decoded
    _, decoded = REGISTRY.decode(encode_event(event))
    # Then the known fields are read and the unknown one is ignored
    assert decoded == payload


def test_bad_envelopes_are_reported_by_decode() -> None:
    with pytest.raises(ContractError, match="Invalid JSON"):
        REGISTRY.decode(b"{")
    document = json.loads(encode_event(make_event(_spec(), Sample(person_id="p"))))
    del document["legalbasis"]
    with pytest.raises(ContractError, match="legalbasis: Field required"):
        REGISTRY.decode(json.dumps(document).encode())


def test_spec_derives_type_subject_and_dataschema() -> None:
    spec = REGISTRY.for_payload(PersonRegistered)
    assert spec.type == "hub.foreigners_authority.person_registered.v1"
    assert spec.subject == spec.type
    assert spec.dataschema == "urn:hub:schema:hub.foreigners_authority.person_registered.v1"


def test_spec_rejects_invalid_names() -> None:
    with pytest.raises(ValueError, match="name"):
        ContractSpec("sample", "Bad-Name", 1, Sample, "")
    with pytest.raises(ValueError, match="version"):
        ContractSpec("sample", "ok", 0, Sample, "")
    with pytest.raises(TypeError, match="Payload"):
        ContractSpec("sample", "ok", 1, dict, "")  # type: ignore[arg-type]


def test_registry_lookups() -> None:
    # Given a registry with two contracts of two services
    registry = ContractRegistry()
    later = ContractSpec("zeta", "b_happened", 1, Other, "")
    first = _spec()
    registry.register(later)
    registry.register(first)
    # Then they can be found by type and by payload class, and listed sorted
    assert registry.get(first.type) is first
    assert registry.for_payload(Other) is later
    assert registry.all() == [first, later]
    assert registry.services() == ["sample", "zeta"]


def test_registry_rejects_duplicates() -> None:
    registry = ContractRegistry()
    registry.register(_spec())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_spec(payload=Other))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_spec(name="another_name"))


def test_registry_lookup_failures_are_contract_errors() -> None:
    registry = ContractRegistry()
    with pytest.raises(ContractError, match=r"unknown event type 'hub\.x\.y\.v1'"):
        registry.get("hub.x.y.v1")
    with pytest.raises(ContractError, match="Sample"):
        registry.for_payload(Sample)


def test_contract_decorator_registers_with_docstring_description(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an empty global registry
    fresh = ContractRegistry()
    monkeypatch.setattr(registry_module, "REGISTRY", fresh)

    # When payload classes are decorated
    @contract("sample", "documented_thing", version=2)
    class Documented(Payload):
        """First line of the docstring.

        More detail.
        """

    @contract("sample", "described_thing", description="Explicit description.")
    class Described(Payload):
        """Ignored docstring."""

    @contract("sample", "bare_thing")
    class Bare(Payload):
        pass

    # Then they are registered, describing themselves
    assert fresh.for_payload(Documented).description == "First line of the docstring."
    assert fresh.for_payload(Documented).type == "hub.sample.documented_thing.v2"
    assert fresh.for_payload(Described).description == "Explicit description."
    assert fresh.for_payload(Bare).description == ""


def test_importing_contracts_registers_the_foreigners_authority_contracts() -> None:
    types = {spec.type for spec in ALL_SPECS if spec.service == "foreigners_authority"}
    assert {
        "hub.foreigners_authority.entry_recorded.v1",
        "hub.foreigners_authority.person_registered.v1",
        "hub.foreigners_authority.residence_registered.v1",
        "hub.foreigners_authority.residence_title_granted.v1",
        "hub.foreigners_authority.asylum_decision_received.v1",
        "hub.foreigners_authority.naturalisation_completed.v1",
    } <= types
    # with consent_confirmed, consent_declined, personal_data_erased, processing_restricted,
    # and (issue 11) the asylum procedure in court, stays abroad and single nationality, and
    # the suspensive effect a court orders after a rejection as manifestly unfounded, and the
    # refusal of a title applied for
    assert len(types) == 34
    assert REGISTRY.services() == [
        "case_management",
        "conflict_management",
        "foreigners_authority",
        "steering_group",
    ]
