"""The consumer's spans (``RunSpans``): one per run of consecutive events with the same trace
context, current while each event is applied (as ``start_as_current_span`` would make it),
ended when the run ends; an exception is recorded on its span with error status."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from contracts import CloudEvent
from services.runtime.consumer import RunSpans

COMMAND_A = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
COMMAND_B = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@pytest.fixture
def tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def delivery(position: int, traceparent: str | None) -> tuple[Any, CloudEvent]:
    msg = SimpleNamespace(headers={"traceparent": traceparent} if traceparent else None)
    event = CloudEvent(
        id=f"event-{position}",
        source="/hub/foreigners_authority",
        type="hub.foreigners_authority.person_registered.v1",
        time=NOW,
        dataschema="urn:test",
        data={},
        correlationid="c",
        legalbasis="Art. 6 (1) e GDPR",
        purpose="operation",
        sourceagency="hub",
        actingrole="system",
        recordedtime=NOW,
        sourceposition=position,
        traceparent=traceparent,
    )
    return msg, event


def test_one_span_per_run_of_a_trace_current_while_each_event_is_applied(
    tracer: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    made, exporter = tracer
    spans = RunSpans(made, "consume x")
    before = trace.get_current_span()
    seen = []
    # a command's three events, then another command's two
    for position, traceparent in enumerate([COMMAND_A] * 3 + [COMMAND_B] * 2, start=1):
        with spans(*delivery(position, traceparent)) as span:
            assert trace.get_current_span() is span
            seen.append(span)
        assert trace.get_current_span() is before
    assert len(exporter.get_finished_spans()) == 1  # the second run is open until the end
    spans.end()

    first, second = exporter.get_finished_spans()
    assert seen == [seen[0]] * 3 + [seen[3]] * 2
    assert format(first.context.trace_id, "032x") == COMMAND_A.split("-")[1]
    assert first.parent is not None
    assert format(first.parent.span_id, "016x") == "b7ad6b7169203331"
    assert format(second.context.trace_id, "032x") == COMMAND_B.split("-")[1]
    assert first.kind == trace.SpanKind.CONSUMER
    assert first.attributes is not None
    assert second.attributes is not None
    assert (
        first.attributes["hub.source_position"],
        first.attributes["hub.source_position_last"],
    ) == (1, 3)
    assert first.attributes["messaging.batch.message_count"] == 3
    assert second.attributes["messaging.batch.message_count"] == 2
    assert first.status.status_code == StatusCode.UNSET


def test_a_single_event_has_a_span_of_its_own_without_batch_attributes(
    tracer: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    made, exporter = tracer
    spans = RunSpans(made, "consume x")
    with spans(*delivery(7, COMMAND_A)):
        pass
    spans.end()
    spans.end()  # ending twice ends nothing more

    (only,) = exporter.get_finished_spans()
    assert only.attributes is not None
    assert only.attributes["hub.source_position"] == 7
    assert "messaging.batch.message_count" not in only.attributes


def test_an_exception_is_recorded_sets_the_error_status_and_ends_the_run(
    tracer: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    made, exporter = tracer
    spans = RunSpans(made, "consume x")
    with spans(*delivery(1, COMMAND_A)):
        pass
    with pytest.raises(ValueError, match="bad"), spans(*delivery(2, COMMAND_A)):
        raise ValueError("bad")

    (finished,) = exporter.get_finished_spans()
    assert finished.status.status_code == StatusCode.ERROR
    assert finished.status.description == "ValueError: bad"
    assert [event.name for event in finished.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN
    # the next event of the same trace starts a new span
    with spans(*delivery(3, COMMAND_A)):
        pass
    spans.end()
    assert len(exporter.get_finished_spans()) == 2
