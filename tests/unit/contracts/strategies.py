"""Hypothesis strategies for envelopes and every registered payload."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from contracts import REGISTRY, CloudEvent, ContractSpec, Payload
from contracts import conflict_management as conflict
from contracts.foreigners_authority import (
    EntryMode,
    EntryRecorded,
    PersonRegistered,
    ResidenceRegistered,
    ResidenceTitleGranted,
)

non_empty = st.text(min_size=1, max_size=40)

# Offsets in whole minutes, as ISO 8601 can express them.
timezones = st.integers(min_value=-14 * 60 + 1, max_value=14 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=timezones
)

# One strategy per registered payload class; test_registry checks none is missing.
PAYLOADS: dict[type[Payload], st.SearchStrategy[Any]] = {
    PersonRegistered: st.builds(
        PersonRegistered,
        person_id=non_empty,
        names_enc=non_empty,
        birth_date_enc=non_empty,
        azr_number_enc=non_empty,
        nationalities=st.lists(st.from_regex(r"\A[A-Z]{3}\Z"), min_size=1, max_size=3).map(tuple),
        abh_id=non_empty,
    ),
    EntryRecorded: st.builds(
        EntryRecorded,
        person_id=non_empty,
        entry_date=st.dates(),
        entry_mode=st.sampled_from(EntryMode),
    ),
    ResidenceRegistered: st.builds(
        ResidenceRegistered,
        person_id=non_empty,
        municipality_key=st.from_regex(r"\A[0-9]{8}\Z"),
        registered_on=st.dates(),
    ),
    ResidenceTitleGranted: st.builds(
        ResidenceTitleGranted,
        person_id=non_empty,
        title=st.text(),
        paragraph=st.text(),
        valid_from=st.dates(),
        valid_until=st.none() | st.dates(),
        conditions=st.lists(st.text(), max_size=3).map(tuple),
    ),
}


def _field_strategy(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for one payload field, from its annotation (the hub's payload shapes)."""
    import types
    import typing
    from datetime import date

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _field_strategy(args[0])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        strategy = _field_strategy(options[0])
        return st.none() | strategy if type(None) in args else strategy
    if origin is tuple:
        return st.lists(_field_strategy(args[0]), max_size=3).map(tuple)
    if origin is dict:
        return st.dictionaries(non_empty, non_empty, max_size=3)
    if annotation is bool:
        return st.booleans()
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if annotation is int:
        return st.integers(min_value=1, max_value=100_000)
    if annotation is datetime or getattr(annotation, "__name__", "") == "AwareDatetime":
        return aware_datetimes
    if annotation is date:
        return st.dates()
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    return non_empty


def auto_payload(cls: type[Payload]) -> st.SearchStrategy[Any]:
    """Build ``cls`` with a value for every field (optional ones sometimes left out)."""
    fields = {name: _field_strategy(info.annotation) for name, info in cls.model_fields.items()}
    return st.fixed_dictionaries(fields).map(lambda values: cls(**values))


_STAGES = st.integers(min_value=1, max_value=9)
_PARTIES = st.lists(st.fixed_dictionaries({"type": non_empty, "name": non_empty}), max_size=3)
PAYLOADS[conflict.ConflictReported] = st.builds(
    conflict.ConflictReported,
    conflict_id=non_empty,
    kind=non_empty,
    district=non_empty,
    parties=_PARTIES.map(tuple),
    stage=_STAGES,
    description=non_empty,
)
PAYLOADS[conflict.ConflictEscalated] = st.builds(
    conflict.ConflictEscalated,
    conflict_id=non_empty,
    district=non_empty,
    from_stage=_STAGES,
    to_stage=_STAGES,
    to_body=non_empty,
    reason=non_empty,
)
PAYLOADS[conflict.InterventionOutcomeRecorded] = st.builds(
    conflict.InterventionOutcomeRecorded,
    conflict_id=non_empty,
    intervention_id=non_empty,
    outcome=non_empty,
    stage_after=st.none() | _STAGES,
    note=st.text(max_size=20),
)

for _spec in REGISTRY.all():
    if _spec.payload not in PAYLOADS:
        PAYLOADS[_spec.payload] = auto_payload(_spec.payload)


def make_event(spec: ContractSpec, payload: Payload, **overrides: Any) -> CloudEvent:
    """Return a valid envelope carrying ``payload`` (fixed attributes, easy to override)."""
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    attributes: dict[str, Any] = {
        "id": "evt-1",
        "source": f"/hub/{spec.service}",
        "type": spec.type,
        "time": now,
        "dataschema": spec.dataschema,
        "data": payload.model_dump(mode="json"),
        "personid": getattr(payload, "person_id", None),
        "correlationid": "corr-1",
        "legalbasis": "§ 86 AufenthG",
        "purpose": "integration_case_management",
        "sourceagency": "abh-05315000",
        "actingrole": "caseworker",
        "recordedtime": now,
        "sourceposition": 1,
    }
    attributes.update(overrides)
    return CloudEvent(**attributes)


@st.composite
def envelopes_for(draw: st.DrawFn, spec: ContractSpec) -> tuple[CloudEvent, Payload]:
    """Draw a payload of ``spec`` and an envelope with arbitrary attributes around it."""
    payload = draw(PAYLOADS[spec.payload])
    event = make_event(
        spec,
        payload,
        id=draw(non_empty),
        subject=draw(st.none() | non_empty),
        time=draw(aware_datetimes),
        personid=draw(st.none() | non_empty),
        correlationid=draw(non_empty),
        causationid=draw(st.none() | non_empty),
        legalbasis=draw(non_empty),
        purpose=draw(non_empty),
        sourceagency=draw(non_empty),
        actingrole=draw(non_empty),
        recordedtime=draw(aware_datetimes),
        sourceposition=draw(st.integers(min_value=1, max_value=2**63 - 1)),
        traceparent=draw(st.none() | st.from_regex(r"\A00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\Z")),
    )
    return event, payload
