"""Reading case management's views where consent decides: consents and referrals.

A consent's status and whether a referral may still show what it shares are computed here,
in SQL, from the one visibility rule; the gateway only shapes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol
from uuid import UUID

from projections.timeline.visibility import consent_status, referral_shared


class Fetch(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


async def consents_of_cases(conn: Fetch, case_ids: Sequence[UUID], today: date) -> list[Any]:
    """The consents of these cases, each with its ``consent_status`` on ``today``."""
    return await conn.fetch(
        f"SELECT c.*, {consent_status(today='$2')} AS consent_status"
        " FROM projections.cv_consents c WHERE c.case_id = ANY($1::uuid[])"
        " ORDER BY c.valid_from, c.consent_id",
        list(case_ids),
        today,
    )


async def referrals(
    conn: Fetch,
    today: date,
    *,
    case_ids: Sequence[UUID] | None = None,
    to_agency: str | None = None,
    status: str | None = None,
    after_version: int | None = None,
) -> list[Any]:
    """Referrals (newest first) of these cases or to this agency, with the status and the
    basic data of their case, their consent's ``consent_status`` on ``today``, and ``shared``:
    whether that consent still covers what the referral shares, to whom and what for."""
    args: list[Any] = [today]

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["true"]
    if case_ids is not None:
        where.append(f"r.case_id = ANY({bind(list(case_ids))}::uuid[])")
    if to_agency is not None:
        where.append(f"r.to_agency = {bind(to_agency)}")
    if status is not None:
        where.append(f"r.status = {bind(status)}")
    if after_version is not None:
        where.append(f"r.version > {bind(after_version)}")
    return await conn.fetch(
        f"SELECT r.*, {consent_status(today='$1')} AS consent_status,"
        f" {referral_shared(today='$1')} AS shared,"
        " k.target_group, k.legal_spheres, k.needs"
        " FROM projections.cv_referrals r"
        " JOIN projections.cv_consents c ON c.consent_id = r.consent_id"
        " JOIN projections.cv_cases k ON k.case_id = r.case_id"
        f" WHERE {' AND '.join(where)} ORDER BY r.sent_at DESC",
        *args,
    )
