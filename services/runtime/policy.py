"""Policies: a service reacting to one event type of another service, on the one consumer loop.

The reaction runs on the service's writer thread and saves its effect together with a
tracking record (this consumer, the event's source position) in one transaction of the
service's process application (:class:`TrackedReaction`), so a redelivered event changes
nothing. Everything else (fetch, ack, dead letters, backoff) is ``consumer.ConsumerLoop``.

How a failure is told apart: the event is first decoded and validated against its contract;
what fails there is poison. A reaction then fails either transiently (the event store is
unreachable, a timeout, a lock or serialization failure: ``consumer.TRANSIENT_ERRORS``, or a
``TransientFailure`` the reaction raises itself), and the event is retried with backoff until
it is applied; or for any other reason (a domain rejection, a payload it cannot use such as an
id that is no UUID), and the event is dead-lettered, since it would fail the same way again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol, TypeVar

from eventsourcing.persistence import Tracking
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts import CloudEvent, Payload, stream_name
from services.runtime.consumer import ConsumerLoop, Delivery, SpanFactory
from services.runtime.context import SYSTEM_CONTEXT, CommandContext

T = TypeVar("T")

#: (event, payload, tracking) -> whether it was new; saves its effect with ``tracking``
Reaction = Callable[[CloudEvent, Payload, Tracking], bool]


class Execute(Protocol):
    """Runs a function on the service's writer thread in a command context."""

    def __call__(self, fn: Callable[[], T], context: CommandContext, /) -> Awaitable[T]: ...


def reaction_context(event: CloudEvent) -> CommandContext:
    """The system acts, for the legal basis and purpose of the event it reacts to."""
    return CommandContext(
        agency=SYSTEM_CONTEXT.agency,
        role=SYSTEM_CONTEXT.role,
        legal_basis=event.legalbasis,
        purpose=event.purpose,
        correlation_id=event.correlationid,
        causation_id=event.id,
        traceparent=event.traceparent,
    )


class TrackedReaction:
    """A policy's effect and position: the reaction's aggregates and an eventsourcing
    tracking record, saved in one transaction by the process application.

    The tracking record is kept per consumer (``tracking_name``), not per source service:
    eventsourcing keeps one row per name and only moves it forward, so two policies on one
    source sharing a row would each take the other's events for duplicates. Because it only
    moves forward, the loop keeps one message in flight (``max_ack_pending=1``): an event
    waiting to be retried is never overtaken by a later one.
    """

    database_cursor = False

    def __init__(self, *, react: Reaction, execute: Execute, tracking_name: str) -> None:
        self.react = react
        self.execute = execute
        self.tracking_name = tracking_name

    async def setup(self) -> None:
        return None  # the process application created its tracking table

    async def committed_seq(self) -> int:
        return 0  # the server's durable consumer is the cursor

    async def skip(self, msg: Msg) -> None:
        return None  # term() moves the server's cursor

    async def apply(self, batch: list[Delivery], span: SpanFactory) -> tuple[int, int]:
        applied = 0
        for msg, event, payload in batch:
            tracking = Tracking(
                application_name=self.tracking_name, notification_id=event.sourceposition
            )
            react = partial(self.react, event, payload, tracking)
            with span(msg, event):
                if await self.execute(react, reaction_context(event)):
                    applied += 1
        return len(batch), applied


class PolicyLoop(ConsumerLoop):
    """The consumer loop for one policy: a durable consumer filtered to ``event_type`` on the
    ``source`` service's stream, one message at a time, effects saved by ``react``."""

    def __init__(
        self,
        *,
        js: JetStreamContext,
        source: str,
        event_type: str,
        durable: str,
        react: Reaction,
        execute: Execute,
        nak_delay: float = 2.0,
        max_nak_delay: float = 60.0,
        fetch_timeout: float = 2.0,
    ) -> None:
        super().__init__(
            js=js,
            stream=stream_name(source),
            source=source,
            durable=durable,
            tracker=TrackedReaction(
                react=react, execute=execute, tracking_name=f"{source}:{durable}"
            ),
            filter_subject=event_type,
            batch_size=1,
            max_ack_pending=1,
            nak_delay=nak_delay,
            max_nak_delay=max_nak_delay,
            fetch_timeout=fetch_timeout,
        )
        self.event_type = event_type
