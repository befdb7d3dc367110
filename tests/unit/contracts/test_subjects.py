"""Naming rules for event types, subjects, streams and schema URIs."""

from __future__ import annotations

import pytest

from contracts import (
    DEAD_LETTER_STREAM,
    DEAD_LETTER_SUBJECTS,
    command_subject,
    dataschema_uri,
    dead_letter_subject,
    event_type,
    stream_name,
    stream_subjects,
)


def test_event_type_is_hub_service_name_version() -> None:
    assert (
        event_type("foreigners_authority", "person_registered", 1)
        == "hub.foreigners_authority.person_registered.v1"
    )
    assert event_type("a1", "b_2", 12) == "hub.a1.b_2.v12"


@pytest.mark.parametrize(
    ("service", "name", "version"),
    [
        ("Foreigners", "person_registered", 1),
        ("foreigners-authority", "person_registered", 1),
        ("foreigners.authority", "person_registered", 1),
        ("1service", "person_registered", 1),
        ("", "person_registered", 1),
        ("ausländer", "person_registered", 1),
        ("svc", "PersonRegistered", 1),
        ("svc", "person registered", 1),
        ("svc", "_private", 1),
        ("svc", "name\n", 1),
        ("svc", "name", 0),
        ("svc", "name", -1),
        ("svc", "name", True),
        ("cmd", "name", 1),
        ("dlq", "name", 1),
    ],
)
def test_event_type_rejects_invalid_parts(service: str, name: str, version: int) -> None:
    with pytest.raises(ValueError, match=r"service|name|version|reserved"):
        event_type(service, name, version)


def test_stream_naming() -> None:
    assert stream_name("foreigners_authority") == "HUB_FOREIGNERS_AUTHORITY"
    assert stream_subjects("foreigners_authority") == ["hub.foreigners_authority.>"]


def test_stream_subjects_returns_a_fresh_list() -> None:
    # Given the subjects of a stream, mutated by a caller
    stream_subjects("svc").append("oops")
    # Then later calls are unaffected
    assert stream_subjects("svc") == ["hub.svc.>"]


def test_command_and_dead_letter_subjects() -> None:
    assert (
        command_subject("foreigners_authority", "register_person")
        == "hub.cmd.foreigners_authority.register_person"
    )
    assert command_subject("foreigners_authority", "*") == "hub.cmd.foreigners_authority.*"
    assert dead_letter_subject("timeline-projection") == "hub.dlq.timeline-projection"
    assert DEAD_LETTER_STREAM == "HUB_DEAD_LETTERS"
    assert DEAD_LETTER_SUBJECTS == ["hub.dlq.>"]


@pytest.mark.parametrize("token", ["", "a.b", "a*", "a>", "a b", "tab\t"])
def test_command_and_consumer_must_be_single_subject_tokens(token: str) -> None:
    with pytest.raises(ValueError, match="command"):
        command_subject("svc", token)
    with pytest.raises(ValueError, match="consumer"):
        dead_letter_subject(token)


@pytest.mark.parametrize("wildcard", ["*", ">"])
def test_consumer_names_cannot_be_wildcards(wildcard: str) -> None:
    with pytest.raises(ValueError, match="consumer"):
        dead_letter_subject(wildcard)


@pytest.mark.parametrize("service", ["Svc", "a.b", "", "cmd", "dlq"])
def test_stream_and_command_helpers_validate_the_service(service: str) -> None:
    with pytest.raises(ValueError, match="service"):
        stream_name(service)
    with pytest.raises(ValueError, match="service"):
        stream_subjects(service)
    with pytest.raises(ValueError, match="service"):
        command_subject(service, "do_it")


def test_service_streams_do_not_capture_commands_or_dead_letters() -> None:
    # Given the subject filter of an ordinary service stream
    (pattern,) = stream_subjects("foreigners_authority")
    prefix = pattern.removesuffix(">")
    # Then neither commands nor dead letters fall under it
    assert not command_subject("foreigners_authority", "x").startswith(prefix)
    assert not dead_letter_subject("foreigners_authority").startswith(prefix)


def test_dataschema_uri() -> None:
    assert (
        dataschema_uri("hub.foreigners_authority.person_registered.v1")
        == "urn:hub:schema:hub.foreigners_authority.person_registered.v1"
    )
