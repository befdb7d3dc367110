"""The read behind the Art. 15 report: ``subject_access`` on every service that holds personal
data.

It is a plain route, not a catalogue command (the catalogue makes mutations of what it
declares): the gateway sends ``{"person_id", "nonce"}`` as the data-protection officer, the
service checks the role again (the bus is not trusted), reads and decrypts what it holds on the
person on its writer thread, and answers ``{"sealed": ...}``: the whole answer sealed for the
gateway (services/runtime/sealing.py), so no personal value crosses the bus in clear. Inside
the seal, ``status`` is ``found`` (with ``data``), ``unknown`` or ``erased`` (the person's key
was destroyed: :class:`PersonalDataUnavailable`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.roles import DATA_PROTECTION
from services.runtime.commands import CommandRejected, CommandServer
from services.runtime.context import CommandContext
from services.runtime.eventstore import META_ATTRIBUTE
from services.runtime.vault import PersonalDataUnavailable

COMMAND = "subject_access"
#: what the report says of who recorded an event (from its stored command context)
RECORDED_BY = ("agency", "role", "legal_basis", "purpose")
FOUND, UNKNOWN, ERASED = "found", "unknown", "erased"

#: the person's data in clear text, or None when the service knows nothing of the person
Reader = Callable[[UUID], Mapping[str, Any] | None]


class SubjectAccessRequest(BaseModel):
    """Whose data, and the nonce the sealed answer is bound to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_id: UUID
    nonce: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


def answer(
    read: Reader, person_id: UUID, withdrawn: Callable[[UUID], str | None] | None = None
) -> dict[str, Any]:
    """What the service holds on the person, or why it holds nothing (any more); data whose
    processing is restricted (Art. 18 GDPR) is still reported, marked ``restricted``."""
    try:
        data = read(person_id)
    except PersonalDataUnavailable:
        return {"status": ERASED}
    if data is None:
        return {"status": UNKNOWN}
    restricted = withdrawn is not None and withdrawn(person_id) == "restricted"
    return {"status": FOUND, "data": dict(data), "restricted": restricted}


def register_subject_access(
    server: CommandServer,
    read: Reader,
    withdrawn: Callable[[UUID], str | None] | None = None,
) -> None:
    """Serve ``hub.cmd.<service>.subject_access`` for the data-protection officer only;
    ``withdrawn`` (the vault's) tells whether the person's processing is restricted."""

    async def handle(request: SubjectAccessRequest, context: CommandContext) -> dict[str, Any]:
        if context.role not in DATA_PROTECTION:
            raise CommandRejected("forbidden", f"role {context.role!r} may not read {COMMAND}")
        opener = server.opener
        if opener is None or not opener.seals_replies:
            raise CommandRejected(
                "unavailable", "this service holds no key to seal its answer for the gateway"
            )
        body = await server.execute(lambda: answer(read, request.person_id, withdrawn), context)
        return {"sealed": opener.seal_reply(f"{server.service}.{COMMAND}", request.nonce, body)}

    server.route(COMMAND, SubjectAccessRequest, handle)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def history(
    events: Iterable[Any],
    decrypt: Callable[[str, str], str],
    vault_fields: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """An aggregate's recorded events as plain data: the event's name, when, by which agency
    and role, on which legal basis and for which purpose it was recorded, and its own fields,
    each ``<x>_enc`` token decrypted into ``<x>`` (with ``decrypt(vault field, token)``;
    ``vault_fields`` maps a token's field to its vault field where the names differ; ``names``
    is the JSON of given and family names)."""
    fields_of_vault = vault_fields or {}
    records = []
    for event in events:
        fields: dict[str, Any] = {}
        for name, value in vars(event).items():
            if name.startswith("originator_") or name in ("timestamp", META_ATTRIBUTE):
                continue
            if name.endswith("_enc"):
                plain = name[: -len("_enc")]
                text = None if value is None else decrypt(fields_of_vault.get(name, plain), value)
                fields[plain] = json.loads(text) if plain == "names" and text else text
            else:
                fields[name] = value
        meta = getattr(event, META_ATTRIBUTE, None) or {}
        records.append(
            {
                "event": _snake(type(event).__name__),
                "recorded_at": getattr(event, "timestamp", None),
                # who recorded it and why (not the trace and correlation ids)
                "recorded_by": {k: meta[k] for k in RECORDED_BY if k in meta},
                "fields": fields,
            }
        )
    return records
