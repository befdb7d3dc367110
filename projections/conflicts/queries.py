"""Reading conflict management's views: conflicts, their escalations, interventions and the
board log (the ``cf_*`` tables)."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID


class Fetch(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


class FetchRow(Protocol):
    async def fetchrow(self, query: str, *args: Any) -> Any: ...


async def conflicts(
    conn: Fetch, *, status: str | None = None, district: str | None = None
) -> list[Any]:
    """Conflicts with this status in this district (or any), newest first, at most 500."""
    return await conn.fetch(
        "SELECT * FROM projections.cf_conflicts WHERE ($1::text IS NULL OR status = $1)"
        " AND ($2::text IS NULL OR district = $2) ORDER BY reported_at DESC LIMIT 500",
        status,
        district,
    )


async def conflict(conn: FetchRow, conflict_id: UUID) -> Any:
    """One conflict, or None."""
    return await conn.fetchrow(
        "SELECT * FROM projections.cf_conflicts WHERE conflict_id = $1", conflict_id
    )


async def escalations(conn: Fetch, conflict_id: UUID) -> list[Any]:
    """A conflict's escalations, in the order they happened."""
    return await conn.fetch(
        "SELECT * FROM projections.cf_escalations WHERE conflict_id = $1 ORDER BY position",
        conflict_id,
    )


async def interventions(conn: Fetch, conflict_id: UUID) -> list[Any]:
    """A conflict's interventions, by date."""
    return await conn.fetch(
        "SELECT * FROM projections.cf_interventions WHERE conflict_id = $1 ORDER BY scheduled_for",
        conflict_id,
    )


async def log(conn: Fetch, conflict_id: UUID) -> list[Any]:
    """A conflict's board log, in the order it was written."""
    return await conn.fetch(
        "SELECT * FROM projections.cf_log WHERE conflict_id = $1 ORDER BY position",
        conflict_id,
    )
