"""Structured logging: one line per record with trace, process and correlation id; personal
values redacted from message, arguments, extra fields and tracebacks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.runtime.context import CommandContext, use_context
from services.runtime.logs import (
    REDACTED,
    RedactionFilter,
    collect_personal_values,
    configure_logging,
    current_personal_values,
    personal_field_names,
    personal_values,
    redacting,
)

log = logging.getLogger("tests.logs")
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CONTEXT = CommandContext(
    agency="kim-05315",
    role="case_manager",
    legal_basis="§ 45 SGB VIII",
    purpose="case management",
    correlation_id="corr-42",
    traceparent=f"00-{TRACE_ID}-b7ad6b7169203331-01",
)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Leave the root logger as the test found it."""
    root = logging.getLogger()
    handlers = [(h, list(h.filters)) for h in root.handlers]
    level = root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler, filters in handlers:
        handler.filters[:] = filters
        root.addHandler(handler)
    root.setLevel(level)


def configured(env: str) -> io.StringIO:
    stream = io.StringIO()
    configure_logging("case_management", env=env, level="INFO", stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


@pytest.mark.usefixtures("root_logging")
def test_a_prod_record_is_one_json_line_with_trace_process_and_correlation_id() -> None:
    # given a process logging in prod, inside a span and a command's context
    stream = configured("prod")
    tracer = TracerProvider().get_tracer("tests")

    # when it logs
    with tracer.start_as_current_span("command") as span, use_context(CONTEXT):
        log.info("case %s opened", "c-1", extra={"case_id": "c-1"})
    trace_id = format(span.get_span_context().trace_id, "032x")

    # then one JSON object carries the ids, the process, the message and the extra field
    [line] = lines(stream)
    entry = json.loads(line)
    assert entry["trace_id"] == trace_id
    assert entry["process"] == "case_management"
    assert entry["correlation_id"] == "corr-42"
    assert entry["message"] == "case c-1 opened"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "tests.logs"
    assert entry["case_id"] == "c-1"
    assert entry["time"].endswith("+00:00")


@pytest.mark.usefixtures("root_logging")
def test_without_a_span_the_trace_id_comes_from_the_commands_traceparent() -> None:
    stream = configured("prod")

    with use_context(CONTEXT):
        log.warning("retrying")

    assert json.loads(lines(stream)[0])["trace_id"] == TRACE_ID


@pytest.mark.usefixtures("root_logging")
def test_outside_a_command_the_ids_are_null() -> None:
    stream = configured("prod")

    log.info("started")

    entry = json.loads(lines(stream)[0])
    assert entry["trace_id"] is None
    assert entry["correlation_id"] is None
    assert entry["process"] == "case_management"


@pytest.mark.usefixtures("root_logging")
def test_a_dev_record_is_one_readable_line() -> None:
    # given a process logging in dev
    stream = configured("dev")

    # when it logs in a command's context, and outside one
    with use_context(CONTEXT):
        log.info("case %s opened", "c-1")
    log.info("idle")

    # then each record is one line: time, level, process, logger, message, then the ids
    first, second = lines(stream)
    assert first.endswith(
        f"INFO    case_management tests.logs: case c-1 opened  trace={TRACE_ID} correlation=corr-42"
    )
    assert first[:8].count(":") == 2  # HH:MM:SS
    assert second.endswith("INFO    case_management tests.logs: idle")


@pytest.mark.usefixtures("root_logging")
def test_the_level_is_applied_and_calling_again_replaces_the_handler() -> None:
    configured("dev")
    stream = io.StringIO()
    configure_logging("gateway", env="dev", level="warning", stream=stream)

    log.info("hidden")
    log.warning("shown")

    assert len(lines(stream)) == 1
    assert "gateway tests.logs: shown" in stream.getvalue()
    assert sum(type(h).__name__ == "_HubHandler" for h in logging.getLogger().handlers) == 1


def _log_everywhere(name: str) -> None:
    try:
        raise ValueError(f"no file for {name}")
    except ValueError:
        log.exception(
            "lookup of %s failed (%r)",
            name,
            {"familyName": name},
            extra={"person": {"name": name.upper()}, "names": [name], "plain": name},
        )


@pytest.mark.parametrize("env", ["prod", "dev"])
@pytest.mark.usefixtures("root_logging")
def test_personal_values_are_redacted_from_message_args_extra_and_traceback(
    env: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given a request whose personal values are registered
    stream = configured(env)

    # when a record names one in its message, arguments, extra fields and traceback
    with personal_values(["Amir Haddad", "1990-01-02"]):
        _log_everywhere("Amir Haddad")

    # then no output and no stored record contains it (in any letter case)
    output = stream.getvalue()
    assert "haddad" not in output.lower()
    assert "haddad" not in caplog.text.lower()
    assert output.count(REDACTED) >= (5 if env == "prod" else 3)  # dev shows no extra fields
    record = caplog.records[-1]
    assert record.args is None
    assert record.exc_info is None
    assert record.exc_text is not None
    assert "ValueError: no file for [redacted]" in record.exc_text
    assert record.__dict__["person"] == {"name": REDACTED}
    assert record.__dict__["names"] == [REDACTED]
    if env == "prod":
        entry = json.loads(output)
        assert entry["message"] == f"lookup of {REDACTED} failed ({{'familyName': '{REDACTED}'}})"
        assert entry["plain"] == REDACTED
        assert "Traceback" in entry["exception"]


@pytest.mark.usefixtures("root_logging")
def test_escaped_forms_of_a_personal_value_are_redacted_too() -> None:
    stream = configured("prod")

    with personal_values(["Jürgen Müller"]):
        log.info("body %r", json.dumps({"familyName": "Jürgen Müller"}).encode())
        log.info("raw %r", "Jürgen Müller".encode())

    assert "M\\\\u00fcller" not in stream.getvalue()
    assert "M\\\\xc3\\\\xbcller" not in stream.getvalue()
    assert stream.getvalue().count(REDACTED) == 2


@pytest.mark.usefixtures("root_logging")
def test_values_shorter_than_three_characters_are_not_redacted() -> None:
    stream = configured("prod")

    with personal_values(["Li", " ", "Ng"]):
        assert current_personal_values() == frozenset()
        log.info("Li and Ng")

    assert json.loads(stream.getvalue())["message"] == "Li and Ng"


@pytest.mark.usefixtures("root_logging")
def test_nested_blocks_redact_both_sets_and_nothing_after_they_end() -> None:
    stream = configured("prod")

    with personal_values(["Amir"]):
        with personal_values(["Haddad"]):
            log.info("Amir Haddad")
        log.info("Amir Haddad")
    log.info("Amir Haddad")

    messages = [json.loads(line)["message"] for line in lines(stream)]
    assert messages == [f"{REDACTED} {REDACTED}", f"{REDACTED} Haddad", "Amir Haddad"]


def test_without_personal_values_the_filter_leaves_the_record_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "a %s", ("b",), None)

    assert RedactionFilter().filter(record)

    assert record.msg == "a %s"
    assert record.args == ("b",)


def test_personal_values_are_collected_from_nested_bodies_in_either_case() -> None:
    # given GraphQL variables with personal fields at several depths
    variables: dict[str, Any] = {
        "input": {
            "givenNames": "Amir",
            "family_name": "Haddad",
            "caseId": "c-1",
            "address": {"street": "Hauptstraße 1", "city": "Köln"},
            "parties": [{"type": "group", "name": "Familie Haddad"}, {"type": "x"}],
            "birthDate": None,
            "azrNumber": 123456789012,
            "interpreterNeeded": True,
        }
    }
    names = {"given_names", "familyName", "address", "name", "birth_date", "azr_number"}

    # when the values are collected
    found = collect_personal_values(variables, names)

    # then every value under a personal key is there, and nothing else
    assert found == [
        "Amir",
        "Haddad",
        "Hauptstraße 1",
        "Köln",
        "Familie Haddad",
        "123456789012",
    ]


def test_collecting_with_no_field_names_finds_nothing() -> None:
    assert collect_personal_values({"givenNames": "Amir"}, []) == []


class Party(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    party_type: str
    display_name: str = Field(json_schema_extra={"personal": True})


class Address(BaseModel):
    street_line: str = Field(json_schema_extra={"personal": True})
    city: str


class OpenCase(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    given_names: str = Field(max_length=200, json_schema_extra={"personal": True})
    target_group: str
    parties: list[Party] = Field(default_factory=list)
    address: Address | None = None
    contact: str | None = Field(default=None, alias="kontakt", json_schema_extra={"personal": True})


def test_personal_field_names_are_read_from_the_model_and_its_nested_models() -> None:
    assert personal_field_names(OpenCase) == {
        "given_names",
        "givenNames",
        "display_name",
        "displayName",
        "street_line",
        "contact",
        "kontakt",
    }


@pytest.mark.usefixtures("root_logging")
def test_redacting_collects_and_registers_a_requests_values() -> None:
    # given a process logging, and a request body with personal fields
    stream = configured("prod")
    body = {"query": "mutation ...", "variables": {"input": {"givenNames": "Amir", "x": "y"}}}

    # when the entry point handles it inside ``redacting``
    with redacting(body, personal_field_names(OpenCase)):
        log.error("cannot handle %s", body)

    # then the value is gone, the rest stays
    message = json.loads(stream.getvalue())["message"]
    assert "Amir" not in message
    assert "'x': 'y'" in message
