"""The policy loop: a service reacting to another service's contract events.

A durable pull consumer on the source's stream (filtered to the event types the policy
wants) hands each event to a reaction that runs on the service's writer thread and saves its
effect together with a tracking record (source, position) in one transaction, so a
redelivered event changes nothing. Undecodable events go to the dead-letter subject;
failures of the reaction are retried with a delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import REGISTRY, CloudEvent, ContractError, Payload, dead_letter_subject, stream_name
from services.runtime.context import SYSTEM_CONTEXT, CommandContext
from services.runtime.messaging import ensure_dead_letter_stream, ensure_service_stream

log = logging.getLogger(__name__)

Reaction = Callable[[CloudEvent, Payload, Tracking], bool]


@dataclass
class PolicyStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retried: int = 0


class PolicyLoop:
    def __init__(
        self,
        *,
        js: JetStreamContext,
        source: str,
        event_type: str,
        durable: str,
        react: Reaction,
        execute: Callable[..., Any],
        retry_delay: float = 2.0,
    ) -> None:
        self.js = js
        self.source = source
        self.event_type = event_type
        self.durable = durable
        self.react = react
        self.execute = execute
        self.retry_delay = retry_delay
        self.stats = PolicyStats()
        self._sub: Any = None

    async def setup(self) -> None:
        await ensure_service_stream(self.js, self.source)
        await ensure_dead_letter_stream(self.js)
        config = ConsumerConfig(
            name=self.durable,  # a named create carries the filter: NATS can restrict it
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=60,
            filter_subject=self.event_type,
            max_deliver=-1,
        )
        self._sub = await self.js.pull_subscribe(
            self.event_type, durable=self.durable, stream=stream_name(self.source), config=config
        )

    async def run(self, stop: asyncio.Event) -> None:
        if self._sub is None:
            await self.setup()
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.create_task(self._sub.fetch(100, timeout=2.0))
                done, _ = await asyncio.wait({fetch, stopper}, return_when="FIRST_COMPLETED")
                if fetch not in done:
                    fetch.cancel()
                    with contextlib.suppress(BaseException):
                        await fetch
                    break
                try:
                    msgs = fetch.result()
                except (NatsTimeoutError, TimeoutError):
                    continue
                for msg in msgs:
                    await self.handle(msg)
        finally:
            stopper.cancel()

    async def handle(self, msg: Any) -> None:
        try:
            event, payload = REGISTRY.decode(msg.data)
        except ContractError as error:
            await self.js.publish(
                dead_letter_subject(self.durable),
                msg.data,
                headers={"Hub-Dead-Letter-Reason": error.reason[:1000]},
            )
            await msg.term()
            self.stats.dead_lettered += 1
            return
        tracking = Tracking(notification_id=event.sourceposition, application_name=self.source)
        context = CommandContext(
            agency=SYSTEM_CONTEXT.agency,
            role=SYSTEM_CONTEXT.role,
            legal_basis=event.legalbasis,
            purpose=event.purpose,
            correlation_id=event.correlationid,
            causation_id=event.id,
            traceparent=event.traceparent,
        )
        try:
            new = await self.execute(lambda: self.react(event, payload, tracking), context)
        except Exception as error:
            log.warning("%s: reaction to %s failed, retrying: %s", self.durable, event.id, error)
            self.stats.retried += 1
            await msg.nak(delay=self.retry_delay)
            return
        if new:
            self.stats.applied += 1
        else:
            self.stats.duplicates += 1
        await msg.ack()
