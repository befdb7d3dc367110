"""Putting the Art. 15 report together.

The services that hold personal data (the foreigners authority, case management) decrypt it
themselves (only their command servers hold the vault key) and answer the gateway's
``subject_access`` read sealed for the gateway (services/runtime/subject_access.py); conflict
management and the steering group hold none by design. The access log comes from
``gateway.audit_log`` (through ``gateway.audit_entries_of``). Producing the report is itself
logged, without any personal value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from gateway import audit
from gateway.auth import Principal
from services.runtime.commands import CommandClient, CommandRejected, ServiceUnavailable
from services.runtime.context import CommandContext

ACTION = "subject_access_report"
PURPOSE = "data_subject_request"
LEGAL_BASIS = "Art. 15 GDPR"
COMMAND = "subject_access"
#: the services that hold personal data and answer ``subject_access``
HOLDERS = ("foreigners_authority", "case_management")
#: the services that hold no personal data by design (docs/data-protection.md)
WITHOUT_PERSONAL_DATA = ("conflict_management", "steering_group")
#: a service's answer: found (with data), unknown, erased; or none by design, or unavailable
FOUND, UNKNOWN, ERASED, NONE_BY_DESIGN, UNAVAILABLE = (
    "found",
    "unknown",
    "erased",
    "none_by_design",
    "unavailable",
)


async def _holding(
    commands: CommandClient, service: str, person_id: UUID, context: CommandContext
) -> dict[str, Any]:
    try:
        answer = await commands.read_sealed(
            service, COMMAND, {"person_id": str(person_id)}, context
        )
    except (ServiceUnavailable, CommandRejected) as error:
        return {"service": service, "status": UNAVAILABLE, "reason": str(error)}
    status = str(answer.get("status", UNAVAILABLE))
    holding: dict[str, Any] = {"service": service, "status": status}
    if status == FOUND:
        holding["data"] = answer.get("data") or {}
        holding["restricted"] = bool(answer.get("restricted"))
    return holding


def _consents(holdings: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Case management's consents, each with the authority's decisions on it."""
    cases = holdings["case_management"].get("data") or {}
    authority = holdings["foreigners_authority"].get("data") or {}
    decisions = authority.get("consent_decisions") or []
    return [
        {
            **{k: v for k, v in consent.items() if k != "history"},
            "authority_decisions": [
                {"decision": d["decision"], "on": d["on"]}
                for d in decisions
                if str(d["consent_id"]) == str(consent["consent_id"])
            ],
        }
        for consent in cases.get("consents") or []
    ]


def _recipients(
    holdings: Mapping[str, dict[str, Any]], entries: list[audit.AuditEntry]
) -> dict[str, Any]:
    cases = holdings["case_management"].get("data") or {}
    authority = holdings["foreigners_authority"].get("data") or {}
    referrals = [
        {
            "to_agency": r["to_agency"],
            "from_agency": r["from_agency"],
            "service": r["service"],
            "shared_categories": r["shared_categories"],
            "purpose": r["purpose"],
            "status": r["status"],
            "sent_at": r.get("sent_at"),
            "consent_id": r["consent_id"],
        }
        for r in cases.get("referrals") or []
    ]
    readers: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        if entry.action == ACTION:
            continue  # the data-protection officer's own reports are in the access log
        reader = readers.setdefault(
            (entry.agency, entry.role),
            {"agency": entry.agency, "role": entry.role, "reads": 0, "first": entry.at},
        )
        reader["reads"] += 1
        reader["last"] = entry.at
    return {
        "referrals": referrals,
        "readers": list(readers.values()),
        "authority_confirmations": [
            d for d in authority.get("consent_decisions") or [] if d["decision"] == "confirmed"
        ],
    }


async def produce(
    pool: asyncpg.Pool, commands: CommandClient, principal: Principal, person_id: UUID
) -> dict[str, Any] | None:
    """The report on ``person_id`` as one JSON-ready document, or None when no service knows
    the person and no read about them was logged (an unknown person). The caller has checked
    that ``principal`` is the data-protection officer."""
    context = CommandContext(
        agency=principal.agency,
        role=principal.role,
        legal_basis=LEGAL_BASIS,
        purpose=PURPOSE,
        subject=principal.subject,
    )
    answers, entries = await asyncio.gather(
        asyncio.gather(*(_holding(commands, s, person_id, context) for s in HOLDERS)),
        audit.entries_of(pool, person_id),
    )
    holdings = {h["service"]: h for h in answers}
    if all(h["status"] == UNKNOWN for h in answers) and not entries:
        return None
    for service in WITHOUT_PERSONAL_DATA:
        holdings[service] = {"service": service, "status": NONE_BY_DESIGN}
    document: dict[str, Any] = {
        "person_id": str(person_id),
        "generated_at": datetime.now(UTC).isoformat(),
        "requested_by": {
            "subject": principal.subject,
            "agency": principal.agency,
            "role": principal.role,
        },
        "services": [holdings[s] for s in (*HOLDERS, *WITHOUT_PERSONAL_DATA)],
        "consents": _consents(holdings),
        "recipients": _recipients(holdings, entries),
        "access_log": [
            {
                "at": e.at.isoformat(),
                "subject": e.subject,
                "agency": e.agency,
                "role": e.role,
                "action": e.action,
                "purpose": e.purpose,
            }
            for e in entries
        ],
    }
    await audit.record_read(
        pool,
        principal,
        action=ACTION,
        person_id=person_id,
        purpose=PURPOSE,
        detail=", ".join(f"{h['service']}: {h['status']}" for h in document["services"]),
    )
    jsonable: dict[str, Any] = _jsonable(document)
    return jsonable


def _jsonable(value: Any) -> Any:
    """Datetimes as ISO text; everything else as the services sent it (JSON already)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
