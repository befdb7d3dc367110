"""The demo's 200 synthetic paths are accepted by the real rules of the residence file."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from services.foreigners_authority.domain import ResidenceFile
from services.foreigners_authority.inbound.messages import InboundMessageForm
from services.foreigners_authority.inbound.synthetic import ARCHETYPES, synthetic_paths
from services.runtime.settings import HubSettings
from tests.helpers import close_app, foreigners_authority

FORMS: TypeAdapter[Any] = TypeAdapter(InboundMessageForm)


def test_every_synthetic_message_is_accepted_and_every_archetype_occurs(
    settings: HubSettings,
) -> None:
    app = foreigners_authority(settings)
    today = date(2026, 11, 21)
    app.today = lambda: today
    archetypes: Counter[str] = Counter()
    try:
        # as the demo loads them (hub import's batches): every path's notice, then the rest,
        # each path's messages in their order, naming the person its notice made
        paths = list(synthetic_paths(200, today=today))
        archetypes.update(path.archetype for path in paths)
        notices = [path.messages[0] for path in paths]
        receipts = app.receive_batch([FORMS.validate_python(m) for m in notices])
        persons = [str(receipt.person_id) for receipt in receipts]
        rest = [
            {**m, "personId": person} if m.get("personId") == "{person}" else m
            for path, person in zip(paths, persons, strict=True)
            for m in path.messages[1:]
        ]
        messages = [*notices, *rest]
        receipts += app.receive_batch([FORMS.validate_python(m) for m in rest])
        rejected = [
            (message["messageId"], receipt.errors)
            for message, receipt in zip(messages, receipts, strict=True)
            if receipt.status != "accepted"
        ]
        stages = Counter(
            type(app.repository.get(UUID(str(m.person_id)))).__name__
            for m in [app.receive(FORMS.validate_python(p.messages[0])) for p in paths[:3]]
        )
    finally:
        close_app(app)

    assert rejected == []
    assert set(archetypes) == set(ARCHETYPES)
    assert stages == {ResidenceFile.__name__: 3}  # repeats are duplicates of the same files
