"""Reading the steering group's views: its gaps, measures, escalations, goals and indicator
values (the ``sg_*`` tables)."""

from __future__ import annotations

from typing import Any, Protocol


class Fetch(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


async def gaps(conn: Fetch, status: str | None = None) -> list[Any]:
    """Gaps (with this status, or all), newest report first."""
    return await conn.fetch(
        "SELECT * FROM projections.sg_gaps WHERE ($1::text IS NULL OR status = $1)"
        " ORDER BY reported_on DESC",
        status,
    )


async def gap_measures(conn: Fetch) -> list[Any]:
    """Measures decided for a gap, by due date."""
    return await conn.fetch(
        "SELECT * FROM projections.sg_measures WHERE gap_id IS NOT NULL ORDER BY due"
    )


async def escalations(conn: Fetch) -> list[Any]:
    """Conflicts escalated to the steering group, newest first."""
    return await conn.fetch("SELECT * FROM projections.sg_escalations ORDER BY received_at DESC")


async def goals(conn: Fetch) -> list[Any]:
    """The integration concept's goals, by field of action and due date."""
    return await conn.fetch("SELECT * FROM projections.sg_goals ORDER BY field_of_action, due")


async def indicator_values(conn: Fetch) -> list[Any]:
    """Every goal's indicator values, by period."""
    return await conn.fetch("SELECT * FROM projections.sg_indicator_values ORDER BY period")


async def goal_measures(conn: Fetch) -> list[Any]:
    """Measures decided for a goal, by due date."""
    return await conn.fetch(
        "SELECT * FROM projections.sg_measures WHERE goal_id IS NOT NULL ORDER BY due"
    )
