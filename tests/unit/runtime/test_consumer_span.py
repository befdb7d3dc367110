"""The consumer's span per event (``CurrentSpan``) does what ``start_as_current_span`` does:
current while the event is applied, ended after, an exception recorded with error status."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from services.runtime.consumer import CurrentSpan


@pytest.fixture
def tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_the_span_is_current_inside_and_ended_after(
    tracer: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    made, exporter = tracer
    before = trace.get_current_span()
    with CurrentSpan(made.start_span("consume x", kind=trace.SpanKind.CONSUMER)) as span:
        assert trace.get_current_span() is span
        assert not exporter.get_finished_spans()
    assert trace.get_current_span() is before
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "consume x"
    assert finished.kind == trace.SpanKind.CONSUMER
    assert finished.status.status_code == StatusCode.UNSET


def test_an_exception_is_recorded_and_sets_the_error_status(
    tracer: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    made, exporter = tracer
    with pytest.raises(ValueError, match="bad"), CurrentSpan(made.start_span("consume x")):
        raise ValueError("bad")
    (finished,) = exporter.get_finished_spans()
    assert finished.status.status_code == StatusCode.ERROR
    assert finished.status.description == "ValueError: bad"
    assert [event.name for event in finished.events] == ["exception"]
    assert trace.get_current_span() is trace.INVALID_SPAN
