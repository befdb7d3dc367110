"""``telemetry.extract``: its direct reading of a plain ``traceparent`` gives what the
propagator gives."""

from __future__ import annotations

import pytest
from opentelemetry import propagate, trace

from services.runtime import telemetry

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _span_context(headers: dict[str, str]) -> trace.SpanContext:
    return trace.get_current_span(telemetry.extract(headers)).get_span_context()


def test_the_default_propagator_is_recognised() -> None:
    assert telemetry._default_propagation()


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "Nats-Msg-Id": "x"},
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-00"},
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "tracestate": "vendor=1"},
        {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01", "baggage": "k=v"},
        {"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"},
        {"traceparent": f"00-{TRACE}-{'0' * 16}-01"},
        {"traceparent": f"00-{TRACE.upper()}-00f067aa0ba902b7-01"},
        {"traceparent": f"ff-{TRACE}-00f067aa0ba902b7-01"},
        {"traceparent": f"01-{TRACE}-00f067aa0ba902b7-01-extra"},
        {"traceparent": "garbage"},
        {"Nats-Msg-Id": "x"},
        {},
    ],
)
def test_extract_gives_what_the_propagator_gives(headers: dict[str, str]) -> None:
    expected = propagate.extract(dict(headers))
    assert _span_context(headers) == trace.get_current_span(expected).get_span_context()
    assert sorted(telemetry.extract(headers)) == sorted(expected)  # same keys (span, baggage)


def test_a_plain_traceparent_continues_its_trace() -> None:
    found = _span_context({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    assert (format(found.trace_id, "032x"), found.is_remote, found.trace_flags.sampled) == (
        TRACE,
        True,
        True,
    )


def test_the_same_traceparent_twice_is_read_once_to_the_same_context() -> None:
    headers = {"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
    first = telemetry.extract(headers)
    assert telemetry.extract(dict(headers)) is first
    other = telemetry.extract({"traceparent": f"00-{TRACE}-b7ad6b7169203331-01"})
    assert other is not first
    assert trace.get_current_span(other).get_span_context().span_id == 0xB7AD6B7169203331
    # a traceparent with a tracestate is never taken from the last plain one
    stated = telemetry.extract({**headers, "tracestate": "vendor=1"})
    assert stated is not first
    assert trace.get_current_span(stated).get_span_context().trace_state.get("vendor") == "1"
