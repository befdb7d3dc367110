"""OpenTelemetry set-up and W3C trace-context propagation over NATS headers.

A real SDK tracer provider is always installed so that trace ids exist (and reach the stored
events) even when nothing is exported. Export is OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set; tests add an in-memory exporter. Span attributes never name a person.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)

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


def inject(headers: dict[str, str] | None = None, context: Context | None = None) -> dict[str, str]:
    """Add ``traceparent`` (and ``tracestate``) of the current span to ``headers``."""
    carrier = headers if headers is not None else {}
    propagate.inject(carrier, context=context)
    return carrier


def extract(headers: Mapping[str, str] | None) -> Context:
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
