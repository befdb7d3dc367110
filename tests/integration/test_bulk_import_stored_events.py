"""What the batch path stores is pinned: the stored events of a fixed synthetic import, byte
for byte once the values that differ from run to run are named (person ids in order of
appearance, record times, and the vault's ciphertexts, each decrypted and checked under its
person's key and field). A change that makes the batch path faster must store the same events.

The pinned form is ``bulk_import_stored_events.golden`` beside this file; to write it again
(only for a deliberate change of what is stored) run this test with
``HUB_WRITE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from services.foreigners_authority.application import ForeignersAuthority, Receipt
from services.foreigners_authority.inbound.endpoint import FORMS
from services.foreigners_authority.inbound.synthetic import synthetic_paths
from services.runtime.context import CommandContext, use_context
from services.runtime.settings import HubSettings
from services.runtime.vault import TOKEN_PREFIX
from tests.helpers import close_app, foreigners_authority

GOLDEN = Path(__file__).with_name("bulk_import_stored_events.golden")
TODAY = date(2026, 11, 30)
SENDER = "abh-05315"
CONTEXT = CommandContext(
    agency=SENDER,
    role="abh_officer",
    legal_basis="§ 86 AufenthG",
    purpose="residence_administration",
    correlation_id="golden-import",
    subject="golden",
)
_TIMESTAMP = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"')
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]+")
_UUID_HEX = re.compile(r'"_type_":"uuid_hex","_data_":"([0-9a-f]{32})"')


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings)
    application.today = lambda: TODAY
    yield application
    close_app(application)


def _import(app: ForeignersAuthority) -> list[Receipt]:
    """Twelve synthetic persons' paths as the bench's raw path sends them (the new persons
    first, then the rest with their person filled in), with a repeated batch, a message
    repeated within its batch and one about a person the sender does not hold."""
    paths = list(synthetic_paths(12, seed=1913, today=TODAY, sender=SENDER))
    notices = [p.messages[0] for p in paths]
    receipts: list[Receipt] = []
    with use_context(CONTEXT):
        first = app.receive_batch([FORMS.validate_python(m) for m in notices])
        receipts += first
        persons = {m["messageId"]: str(r.person_id) for m, r in zip(notices, first, strict=True)}
        rest: list[dict[str, Any]] = []
        for path in paths:
            person = persons[path.messages[0]["messageId"]]
            for sent in path.messages[1:]:
                sent = json.loads(json.dumps(sent).replace('"{person}"', json.dumps(person)))
                rest.append(sent)
        rest.insert(3, rest[1])  # the same message twice in one batch
        stranger = {**rest[0], "messageId": "golden-stranger"}
        stranger["personId"] = "00000000-0000-4000-8000-000000000000"
        rest.insert(5, stranger)
        half = len(rest) // 2
        for part in (rest[:half], rest[half:], notices[:3]):
            receipts += app.receive_batch([FORMS.validate_python(m) for m in part])
    return receipts


def _stored(app: ForeignersAuthority) -> list[tuple[int, UUID, int, str, bytes]]:
    recorder: Any = app.recorder
    statement = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state"
        " FROM {schema}.{table} ORDER BY notification_id"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    with (
        recorder.datastore.get_connection() as connection,
        connection.cursor(row_factory=tuple_row) as cursor,
    ):
        cursor.execute(statement)
        return [(n, o, v, t, bytes(s)) for n, o, v, t, s in cursor.fetchall()]


def _pinned(app: ForeignersAuthority, receipts: list[Receipt]) -> list[str]:
    """One line a stored event (originator, version, topic, state) and one a receipt, with the
    person ids named P1, P2, ... in order of appearance, record times as <time> and each
    ciphertext as <sealed field=clear text> once it decrypts under its person's key and
    field."""
    persons: dict[str, str] = {}

    def person(hex_id: str) -> str:
        return persons.setdefault(hex_id, f"P{len(persons) + 1}")

    lines = []
    for _, originator_id, version, topic, state in _stored(app):
        text = state.decode("utf-8")
        decoded = json.loads(text)
        for key, value in decoded.items():
            if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
                field = key.removesuffix("_enc")
                clear = app.vault.decrypt(originator_id, field, value)
                text = text.replace(value, f"<sealed {field}={clear}>")
        assert not _TOKEN.search(text), "a ciphertext outside the known fields"
        text = _TIMESTAMP.sub('"<time>"', text)
        text = _UUID_HEX.sub(
            lambda m: (
                f'"_type_":"uuid_hex","_data_":"{person(m.group(1))}"'
                if UUID(m.group(1)).version == 4
                else m.group(0)
            ),
            text,
        )
        origin = person(originator_id.hex) if originator_id.version == 4 else originator_id.hex
        lines.append(f"event {origin} v{version} {topic} {text}")
    for receipt in receipts:
        named = person(receipt.person_id.hex) if receipt.person_id else None
        errors = json.dumps(receipt.errors, ensure_ascii=False, sort_keys=True)
        position = "position" if receipt.position is not None else "-"
        lines.append(f"receipt {receipt.message_id} {receipt.status} {named} {position} {errors}")
    return lines


def test_the_batch_path_stores_the_pinned_events(app: ForeignersAuthority) -> None:
    # given a fixed synthetic import, with duplicates and a refusal among it
    # when it goes through receive_batch
    receipts = _import(app)

    # then the stored events and the receipts are the pinned ones, byte for byte
    lines = _pinned(app, receipts)
    if os.environ.get("HUB_WRITE_GOLDEN") == "1":
        GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(expected)
    for got, wanted in zip(lines, expected, strict=True):
        assert got == wanted
    statuses = {r.status for r in receipts}
    assert statuses == {"accepted", "duplicate", "rejected"}
