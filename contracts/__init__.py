"""Integration event contracts of the hub: envelope, subjects, payloads and registry.

Importing this package registers every payload contract in ``REGISTRY``.
"""

from __future__ import annotations

from contracts import case_management as case_management
from contracts import conflict_management as conflict_management
from contracts import foreigners_authority as foreigners_authority
from contracts import privacy as privacy
from contracts import steering_group as steering_group
from contracts.envelope import CloudEvent, decode_envelope, encode_event
from contracts.errors import ContractError
from contracts.registry import REGISTRY, ContractRegistry, ContractSpec, Payload, contract
from contracts.subjects import (
    DEAD_LETTER_STREAM,
    DEAD_LETTER_SUBJECTS,
    command_subject,
    dataschema_uri,
    dead_letter_subject,
    event_type,
    stream_name,
    stream_subjects,
)

__all__ = [
    "DEAD_LETTER_STREAM",
    "DEAD_LETTER_SUBJECTS",
    "REGISTRY",
    "CloudEvent",
    "ContractError",
    "ContractRegistry",
    "ContractSpec",
    "Payload",
    "command_subject",
    "contract",
    "dataschema_uri",
    "dead_letter_subject",
    "decode_envelope",
    "encode_event",
    "event_type",
    "stream_name",
    "stream_subjects",
]
