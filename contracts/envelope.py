"""The CloudEvents 1.0 envelope (structured JSON mode) wrapping every hub event."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import ContractError, validation_reason

__all__ = ["CloudEvent", "decode_envelope", "encode_event"]

_NonEmptyStr = Annotated[str, Field(min_length=1)]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode, plus the hub's extension attributes.

    Extension attribute names are lowercase alphanumeric, as CloudEvents requires.
    Both timestamps must carry a timezone; naive datetimes are rejected.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: _NonEmptyStr = Field(description="Unique id of the event within its source.")
    source: _NonEmptyStr = Field(description="Producing service, e.g. /hub/foreigners_authority.")
    type: _NonEmptyStr = Field(description="Event type, hub.<service>.<name>.v<version>.")
    subject: _NonEmptyStr | None = None
    # ``AwareDatetime`` is ``datetime`` for type checkers; at runtime it rejects naive values.
    time: AwareDatetime = Field(description="Business time: when it happened.")
    dataschema: _NonEmptyStr = Field(description="URI of the payload schema.")
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any] = Field(description="The payload, a JSON object.")

    personid: _NonEmptyStr | None = Field(default=None, description="Pseudonymous person id.")
    correlationid: _NonEmptyStr
    causationid: _NonEmptyStr | None = None
    legalbasis: _NonEmptyStr = Field(description="Legal basis of the processing.")
    purpose: _NonEmptyStr = Field(description="Purpose of the processing.")
    sourceagency: _NonEmptyStr = Field(description="Agency that produced the event.")
    actingrole: _NonEmptyStr = Field(description="Role of the acting official.")
    recordedtime: AwareDatetime = Field(description="When the event was recorded.")
    sourceposition: int = Field(
        ge=1, strict=True, description="Notification id of the event in its source's log."
    )
    traceparent: str | None = Field(default=None, description="W3C trace context.")
    actorid: str | None = None
    """Pseudonymous id of the acting user (added in 1.0 of the hub envelope, optional)."""


def encode_event(event: CloudEvent) -> bytes:
    """Serialise ``event`` as compact JSON bytes (datetimes in ISO 8601)."""
    return event.model_dump_json().encode("utf-8")


def decode_envelope(raw: bytes) -> CloudEvent:
    """Parse and validate a structured-mode CloudEvent.

    Raises ``ContractError`` whose ``reason`` names what is wrong (bad JSON or the
    offending envelope fields).
    """
    try:
        return CloudEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise ContractError(f"invalid envelope: {validation_reason(exc)}") from None
