"""OpenTelemetry set-up and W3C trace-context propagation over NATS headers.

A real SDK tracer provider is always installed so that trace ids exist (and reach the stored
events) even when nothing is exported. Export is OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set; tests add an in-memory exporter. Span attributes never name a person.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_provider: TracerProvider | None = None
_exporters: list[SpanExporter] = []


def setup_tracing(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install the process's tracer provider once; later calls may add an exporter."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
    if exporter is not None and all(exporter is not known for known in _exporters):
        _exporters.append(exporter)
        _provider.add_span_processor(SimpleSpanProcessor(exporter))
    return _provider


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def start_run_span(
    tracer: trace.Tracer,
    name: str,
    kind: trace.SpanKind,
    parent: Context,
    event_type: str,
    position: int,
) -> trace.Span:
    """The span of a run of consecutive events with one trace context (the relay's publish,
    a consumer's apply), named after the run's first event; :func:`end_run_span` ends it."""
    return tracer.start_span(
        name,
        context=parent,
        kind=kind,
        attributes={
            "messaging.system": "nats",
            "messaging.destination.name": event_type,
            "hub.source_position": position,
        },
    )


def end_run_span(span: trace.Span, count: int, last_position: int) -> None:
    """End a run's span; a run of more than one event records how many and the last one."""
    if count > 1:
        span.set_attribute("messaging.batch.message_count", count)
        span.set_attribute("hub.source_position_last", last_position)
    span.end()


def inject(headers: dict[str, str] | None = None, context: Context | None = None) -> dict[str, str]:
    """Add ``traceparent`` (and ``tracestate``) of the current span to ``headers``."""
    carrier = headers if headers is not None else {}
    propagate.inject(carrier, context=context)
    return carrier


#: a version-00 ``traceparent`` as the relay writes it: trace id, span id, flags
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_default_textmap: object = None  # the global propagator last found to be the default one


def _default_propagation() -> bool:
    """Is the global propagator OpenTelemetry's default (W3C trace context, then baggage)?"""
    global _default_textmap
    textmap = propagate.get_global_textmap()
    if textmap is _default_textmap:
        return True
    kinds = [type(p) for p in getattr(textmap, "_propagators", ())]
    if type(textmap) is CompositePropagator and kinds == [
        TraceContextTextMapPropagator,
        W3CBaggagePropagator,
    ]:
        _default_textmap = textmap
        return True
    return False


#: the last plain ``traceparent`` read directly and its context (consecutive events of one
#: command or one inbound batch carry the same one; a Context is immutable)
_last_plain: tuple[str, Context] | None = None


def extract(headers: Mapping[str, str] | None) -> Context:
    """The trace context in ``headers``. A plain version-00 ``traceparent`` (no
    ``tracestate``, no ``baggage``) under the default propagator is read directly, to the
    same context the propagator gives (every consumed event asks; the same one as the call
    before is not read again): anything else goes to the propagator."""
    global _last_plain
    if headers and "tracestate" not in headers and "baggage" not in headers:
        traceparent = headers.get("traceparent") or ""
        last = _last_plain
        if last is not None and last[0] == traceparent and _default_propagation():
            return last[1]
        match = _TRACEPARENT.fullmatch(traceparent)
        if match is not None and _default_propagation():
            trace_id, span_id = int(match[1], 16), int(match[2], 16)
            if trace_id and span_id:
                span_context = trace.SpanContext(
                    trace_id=trace_id,
                    span_id=span_id,
                    is_remote=True,
                    trace_flags=trace.TraceFlags(int(match[3], 16)),
                )
                context = trace.set_span_in_context(trace.NonRecordingSpan(span_context), Context())
                _last_plain = (traceparent, context)
                return context
    return propagate.extract(dict(headers or {}))


def context_from_traceparent(traceparent: str | None) -> Context:
    return extract({"traceparent": traceparent} if traceparent else {})


def current_traceparent() -> str | None:
    return inject({}).get("traceparent")


def trace_id_of(traceparent: str | None) -> str | None:
    """The 32-hex trace id of a W3C ``traceparent`` (``00-<trace>-<span>-<flags>``)."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32:
        return None
    return parts[1]


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x")
