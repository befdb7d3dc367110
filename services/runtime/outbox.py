"""From a stored domain event to the contract event the relay publishes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import REGISTRY, CloudEvent, Payload, encode_event
from kernel.ids import uuid5_text
from services.runtime.context import SYSTEM_CONTEXT
from services.runtime.eventstore import event_meta

_EVENT_ID_NAMESPACE = uuid.UUID("5d0c8f2e-7c1a-4a77-9a53-0d3b1c8e2f10")
_EVENT_ID_NAMESPACE_BYTES = _EVENT_ID_NAMESPACE.bytes


@dataclass(frozen=True)
class OutgoingEvent:
    """What a service's ``integration.py`` makes of one domain event."""

    payload: Payload
    occurred_at: datetime
    person_id: str | None = None


IntegrationMapper = Callable[[Any], OutgoingEvent | None]


def event_id(domain_event: Any) -> str:
    """A stable id: the same stored event always yields the same contract event id
    (``uuid5`` in the event id namespace of ``<originator id>:<version>``, made directly: the
    relay makes one for every event it publishes)."""
    return uuid5_text(
        _EVENT_ID_NAMESPACE_BYTES, f"{domain_event.originator_id}:{domain_event.originator_version}"
    )


def to_cloud_event(
    service: str, domain_event: Any, outgoing: OutgoingEvent, notification_id: int
) -> CloudEvent:
    spec = REGISTRY.for_payload(type(outgoing.payload))
    meta = event_meta(domain_event)
    this_id = event_id(domain_event)
    return CloudEvent(
        id=this_id,
        source=f"/hub/{service}",
        type=spec.type,
        subject=outgoing.person_id or str(domain_event.originator_id),
        time=outgoing.occurred_at,
        dataschema=spec.dataschema,
        data=outgoing.payload.model_dump(mode="json"),
        personid=outgoing.person_id,
        correlationid=meta.get("correlation_id", this_id),
        causationid=meta.get("causation_id"),
        legalbasis=meta.get("legal_basis", SYSTEM_CONTEXT.legal_basis),
        purpose=meta.get("purpose", SYSTEM_CONTEXT.purpose),
        sourceagency=meta.get("agency", SYSTEM_CONTEXT.agency),
        actingrole=meta.get("role", SYSTEM_CONTEXT.role),
        recordedtime=domain_event.timestamp,
        sourceposition=notification_id,
        traceparent=meta.get("traceparent"),
        actorid=meta.get("subject") or None,
    )


def encode(event: CloudEvent) -> bytes:
    return encode_event(event)
