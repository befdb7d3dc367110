"""Reading case management's views: cases, goals, consents, referrals, mediation.

A consent's status and whether a referral may still show what it shares are computed here,
in SQL, from the one visibility rule; the gateway only shapes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from uuid import UUID

from projections.timeline.visibility import consent_status, referral_shared


class Fetch(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


class FetchRow(Protocol):
    async def fetchrow(self, query: str, *args: Any) -> Any: ...


class FetchVal(Protocol):
    async def fetchval(self, query: str, *args: Any) -> Any: ...


@dataclass(frozen=True)
class CaseCounts:
    """How many cases are open and how many closed."""

    open: int
    closed: int


async def cases(
    conn: Fetch,
    *,
    case_id: UUID | None = None,
    agency: str | None = None,
    case_manager: str | None = None,
    open_only: bool = False,
) -> list[Any]:
    """Cases (newest first) with this id, of this agency and case manager, open or all."""
    args: list[Any] = []

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["NOT erased"]
    if case_id is not None:
        where.append(f"case_id = {bind(case_id)}")
    if agency is not None:
        where.append(f"agency = {bind(agency)}")
    if case_manager is not None:
        where.append(f"case_manager = {bind(case_manager)}")
    if open_only:
        where.append("status = 'open'")
    return await conn.fetch(
        f"SELECT * FROM projections.cv_cases WHERE {' AND '.join(where)}"
        " ORDER BY opened_on DESC, case_id",
        *args,
    )


async def case_counts(conn: FetchRow, *, agency: str, case_manager: str) -> CaseCounts:
    """The open and the closed cases of a case manager at an agency."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'open') AS open,"
        " count(*) FILTER (WHERE status = 'closed') AS closed"
        " FROM projections.cv_cases WHERE agency = $1 AND case_manager = $2 AND NOT erased",
        agency,
        case_manager,
    )
    return CaseCounts(open=row["open"], closed=row["closed"])


async def goals_of_cases(conn: Fetch, case_ids: Sequence[UUID]) -> list[Any]:
    """The goals of these cases, by target date."""
    return await conn.fetch(
        "SELECT * FROM projections.cv_goals WHERE case_id = ANY($1::uuid[]) ORDER BY target_date",
        list(case_ids),
    )


async def sphere_changes_of_cases(conn: Fetch, case_ids: Sequence[UUID]) -> list[Any]:
    """The changes of legal sphere of these cases, oldest first (erasure drops them)."""
    return await conn.fetch(
        "SELECT * FROM projections.cv_sphere_changes WHERE case_id = ANY($1::uuid[])"
        " ORDER BY effective_on, position",
        list(case_ids),
    )


async def conferences_of_cases(conn: Fetch, case_ids: Sequence[UUID]) -> list[Any]:
    """The case conferences of these cases, oldest first (erasure drops them)."""
    return await conn.fetch(
        "SELECT * FROM projections.cv_conferences WHERE case_id = ANY($1::uuid[])"
        " ORDER BY held_on, position",
        list(case_ids),
    )


async def mediation_of_cases(conn: Fetch, case_ids: Sequence[UUID]) -> list[Any]:
    """The mediation requests of these cases, by start."""
    return await conn.fetch(
        "SELECT * FROM projections.cv_mediation WHERE case_id = ANY($1::uuid[]) ORDER BY starts_at",
        list(case_ids),
    )


async def mediation_of_agency(conn: Fetch, agency: str, start: date, end: date) -> list[Any]:
    """An agency's mediation requests that start on a day from ``start`` to ``end`` (both
    included, UTC days), by start."""
    return await conn.fetch(
        "SELECT * FROM projections.cv_mediation WHERE agency = $1"
        " AND starts_at >= $2 AND starts_at < $3 ORDER BY starts_at",
        agency,
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


async def mediators_of_agency(conn: Fetch, agency: str) -> list[Any]:
    """The mediators in the pools of an agency."""
    return await conn.fetch(
        "SELECT m.* FROM projections.cv_mediators m JOIN projections.cv_pools p"
        " ON p.pool_id = m.pool_id WHERE p.agency = $1 ORDER BY m.mediator_id",
        agency,
    )


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
    upto_version: int | None = None,
    purpose: str | None = None,
) -> list[Any]:
    """Referrals (newest first) of these cases or to this agency (changed after
    ``after_version`` and up to ``upto_version`` when given), with the status and the
    basic data of their case, their consent's ``consent_status`` on ``today``, and ``shared``:
    whether that consent still covers what the referral shares, to whom and what for, and
    names ``purpose``, the purpose of the read (``None``: the read named none, nothing is
    shared)."""
    args: list[Any] = [today, purpose]

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
    if upto_version is not None:
        where.append(f"r.version <= {bind(upto_version)}")
    return await conn.fetch(
        f"SELECT r.*, {consent_status(today='$1')} AS consent_status,"
        f" {referral_shared(today='$1', purpose='$2::text')} AS shared,"
        " k.target_group, k.legal_spheres, k.needs"
        " FROM projections.cv_referrals r"
        " JOIN projections.cv_consents c ON c.consent_id = r.consent_id"
        " JOIN projections.cv_cases k ON k.case_id = r.case_id AND NOT k.erased"
        f" WHERE {' AND '.join(where)} ORDER BY r.sent_at DESC",
        *args,
    )


async def inbox_version(conn: FetchVal, to_agency: str) -> int:
    """The latest version of any referral to this agency (0 without referrals)."""
    return int(
        await conn.fetchval(
            "SELECT COALESCE(max(version), 0) FROM projections.cv_referrals WHERE to_agency = $1",
            to_agency,
        )
    )


async def precheck_assessments(conn: Fetch, person_id: UUID, agency: str) -> list[Any]:
    """The pre-check assessments ``agency``'s case managers recorded on their cases about the
    person (never another agency's, and never read for the foreigners authority)."""
    return await conn.fetch(
        "SELECT p.requirement, p.outcome, p.assessed_on, p.agency"
        " FROM projections.cv_precheck p JOIN projections.cv_cases c USING (case_id)"
        " WHERE p.person_id = $1 AND p.agency = $2 AND c.agency = $2 AND NOT c.erased"
        " ORDER BY p.assessed_on, p.position",
        person_id,
        agency,
    )
