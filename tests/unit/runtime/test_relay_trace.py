"""The relay's publish spans continue each stored event's own trace, also when it keeps the
last stored context for the events that follow with the same one."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace

from services.runtime.relay import OutboxRelay

ONE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TWO = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def relay() -> OutboxRelay:
    nothing: Any = object()
    return OutboxRelay(
        service="foreigners_authority", app=nothing, mapper=nothing, js=nothing, pool=nothing
    )


def trace_of(context: Any) -> str:
    return format(trace.get_current_span(context).get_span_context().trace_id, "032x")


def test_each_event_gets_its_own_stored_trace_as_parent() -> None:
    r = relay()

    parents = [r._parent(tp) for tp in (ONE, ONE, TWO, None, ONE)]

    assert [trace_of(p) for p in parents] == [ONE[3:35], ONE[3:35], TWO[3:35], "0" * 32, ONE[3:35]]
    assert parents[0] is parents[1]  # the same context, kept
    assert not trace.get_current_span(parents[3]).get_span_context().is_valid
