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
    rejected: list[tuple[str, Any]] = []
    archetypes: Counter[str] = Counter()
    try:
        paths = list(synthetic_paths(200, today=today))
        for path in paths:
            archetypes[path.archetype] += 1
            person: str | None = None
            for message in path.messages:
                if message.get("personId") == "{person}":
                    message = {**message, "personId": person}
                receipt = app.receive(FORMS.validate_python(message))
                if receipt.status != "accepted":
                    rejected.append((message["messageId"], receipt.errors))
                person = person or str(receipt.person_id)
        stages = Counter(
            type(app.repository.get(UUID(str(m.person_id)))).__name__
            for m in [app.receive(FORMS.validate_python(p.messages[0])) for p in paths[:3]]
        )
    finally:
        close_app(app)

    assert rejected == []
    assert set(archetypes) == set(ARCHETYPES)
    assert stages == {ResidenceFile.__name__: 3}  # repeats are duplicates of the same files
