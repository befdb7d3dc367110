"""Process indicators over the read models, pseudonymised and aggregated.

Rule for every result: a group that describes fewer than ``MIN_GROUP`` persons is left out
(its count, and any figure computed from it). Results carry no totals, so a left-out group
cannot be recovered by subtraction; only how many groups were left out is reported. No result
ever names a person, a case or a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from kernel.clock import today_in_germany

MIN_GROUP = 5
GROUPINGS = ("municipality", "target_group", "month")
MILESTONE_PAIRS = (
    ("entry", "first_title"),
    ("first_title", "integration_course_completed"),
    ("entry", "permanent_status"),
    ("entry", "naturalised"),
)


class Fetch(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


@dataclass(frozen=True)
class Result:
    rows: list[dict[str, Any]]
    suppressed_groups: int


def suppress(rows: list[dict[str, Any]], key: str = "persons") -> Result:
    kept = [row for row in rows if int(row[key]) >= MIN_GROUP]
    return Result(kept, len(rows) - len(kept))


async def stage_counts(
    db: Fetch, *, by: str, from_month: date | None = None, to_month: date | None = None
) -> Result:
    """Persons per pathway stage, grouped by municipality, target group or month."""
    if by == "municipality":
        rows = await db.fetch(
            "SELECT COALESCE(municipality_key, 'unknown') AS grp, stage, count(*) AS persons"
            " FROM projections.pathway_persons GROUP BY 1, 2 ORDER BY 1, 2"
        )
    elif by == "target_group":
        rows = await db.fetch(
            "SELECT COALESCE(c.target_group, 'no_case') AS grp, p.stage, count(*) AS persons"
            " FROM projections.pathway_persons p LEFT JOIN LATERAL ("
            "   SELECT target_group FROM projections.cv_cases k WHERE k.person_id = p.person_id"
            "   ORDER BY opened_on DESC LIMIT 1) c ON true"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        )
    elif by == "month":
        start = from_month or date(today_in_germany().year - 2, 1, 1)
        end = to_month or today_in_germany()
        rows = await db.fetch(
            "WITH months AS (SELECT (date_trunc('month', m) + interval '1 month - 1 day')::date"
            "   AS month_end FROM generate_series($1::date, $2::date, interval '1 month') m)"
            " SELECT to_char(months.month_end, 'YYYY-MM') AS grp, h.stage, count(*) AS persons"
            " FROM months CROSS JOIN LATERAL ("
            "   SELECT DISTINCT ON (person_id) person_id, stage"
            "   FROM projections.pathway_stage_history"
            "   WHERE since <= months.month_end ORDER BY person_id, since DESC, position DESC"
            " ) h GROUP BY 1, 2 ORDER BY 1, 2",
            start,
            end,
        )
    else:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}")
    return suppress(
        [{"group": r["grp"], "stage": r["stage"], "persons": r["persons"]} for r in rows]
    )


async def milestone_durations(db: Fetch, *, by_entry_year: bool = False) -> Result:
    """Median and 90th percentile of days between milestones, over persons who reached both."""
    out: list[dict[str, Any]] = []
    for start, end in MILESTONE_PAIRS:
        rows = await db.fetch(
            "SELECT "
            + ("extract(year FROM a.reached_on)::int::text" if by_entry_year else "'all'")
            + " AS grp,"
            " count(*) AS persons,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY b.reached_on - a.reached_on) AS p50,"
            " percentile_cont(0.9) WITHIN GROUP (ORDER BY b.reached_on - a.reached_on) AS p90"
            " FROM projections.pathway_milestones a JOIN projections.pathway_milestones b"
            "   ON a.person_id = b.person_id AND b.milestone = $2 AND b.reached_on >= a.reached_on"
            " WHERE a.milestone = $1 GROUP BY 1 ORDER BY 1",
            start,
            end,
        )
        out += [
            {
                "group": r["grp"],
                "from_milestone": start,
                "to_milestone": end,
                "persons": r["persons"],
                "median_days": float(r["p50"]),
                "p90_days": float(r["p90"]),
            }
            for r in rows
        ]
    return suppress(out)


async def referral_stats(db: Fetch) -> Result:
    """Per receiving agency: referrals, answers, acceptance rate, days to answer."""
    rows = await db.fetch(
        "SELECT to_agency, count(DISTINCT person_id) AS persons, count(*) AS referrals,"
        " count(*) FILTER (WHERE status IN ('accepted', 'completed')) AS accepted,"
        " count(*) FILTER (WHERE status = 'declined') AS declined,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - sent_at)"
        "   / 86400) FILTER (WHERE answered_at IS NOT NULL) AS median_days"
        " FROM projections.cv_referrals GROUP BY to_agency ORDER BY to_agency"
    )
    shown = []
    for r in rows:
        accepted, declined, total = int(r["accepted"]), int(r["declined"]), int(r["referrals"])
        rest = total - accepted
        shown.append(
            {
                "agency": r["to_agency"],
                "persons": r["persons"],
                "referrals": total,
                "accepted": cell(accepted),
                "declined": cell(declined),
                "acceptance_rate": accepted / total
                if total and cell(accepted) is not None and cell(rest) is not None
                else None,
                "median_days_to_answer": float(r["median_days"])
                if r["median_days"] is not None and cell(accepted + declined)
                else None,
            }
        )
    return suppress(shown)


def cell(count: int) -> int | None:
    """A count inside a shown group: 0 or at least MIN_GROUP, otherwise suppressed."""
    return count if count == 0 or count >= MIN_GROUP else None


async def open_conflicts(db: Fetch) -> Result:
    """Open conflicts per district and Glasl stage (groups of fewer than 5 left out)."""
    rows = await db.fetch(
        "SELECT district, stage, count(*) AS conflicts FROM projections.cf_conflicts"
        " WHERE status = 'open' GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return suppress(
        [
            {"district": r["district"], "stage": r["stage"], "conflicts": r["conflicts"]}
            for r in rows
        ],
        key="conflicts",
    )
