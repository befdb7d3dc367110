"""Process indicators over the read models, pseudonymised, aggregated and perturbed.

Rule for every result (kernel/disclosure.py, the cell-key method): every count is published
with consistent noise keyed to the set of persons (referrals, conflicts) it counts, and a
group whose published count is below ``MIN_GROUP`` is left out (its count, and any figure
computed from it). Results carry no totals, so a left-out group cannot be recovered by
subtraction, and the noise makes differencing two answers (before and after one person's
change) tell nothing certain; only how many groups were left out is reported. Durations are
whole days. No result ever names a person, a case or a file.

Every query takes ``key``, the deployment's secret for record keys (``HUB_INDICATOR_KEY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from kernel.clock import today_in_germany
from kernel.disclosure import KEY_SPACE, MIN_SHOWN, protect

MIN_GROUP = MIN_SHOWN
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


def record_keys(ids: str, key_parameter: str = "$1", *, distinct: bool = False) -> str:
    """SQL: the cell key of a group, the sum of its records' keys modulo KEY_SPACE (a record's
    key: the first 32 bits of SHA-256 over the secret and the record's id ``ids``); over
    distinct records with ``distinct``."""
    digest = f"sha256(convert_to({key_parameter} || {ids}::text, 'UTF8'))"
    record = f"('x' || encode(substr({digest}, 1, 4), 'hex'))::bit(32)::bigint"
    return f"(sum({'DISTINCT ' if distinct else ''}{record}) % {KEY_SPACE})"


def suppress(rows: list[dict[str, Any]], count: str = "persons") -> Result:
    """Publish each row's ``count`` perturbed by its cell key (``<count>_key``), and leave out
    the rows whose published count is below MIN_GROUP."""
    kept = []
    for row in rows:
        shown = protect(int(row[count]), int(row.pop(f"{count}_key")))
        if shown is not None and shown >= MIN_GROUP:
            kept.append({**row, count: shown})
    return Result(kept, len(rows) - len(kept))


async def stage_counts(
    db: Fetch,
    *,
    key: str,
    by: str,
    from_month: date | None = None,
    to_month: date | None = None,
) -> Result:
    """Persons per pathway stage, grouped by municipality, target group or month."""
    persons = f"count(*) AS persons, {record_keys('person_id')} AS persons_key"
    if by == "municipality":
        rows = await db.fetch(
            f"SELECT COALESCE(municipality_key, 'unknown') AS grp, stage, {persons}"
            " FROM projections.pathway_persons GROUP BY 1, 2 ORDER BY 1, 2",
            key,
        )
    elif by == "target_group":
        rows = await db.fetch(
            f"SELECT COALESCE(c.target_group, 'no_case') AS grp, p.stage, {persons}"
            " FROM projections.pathway_persons p LEFT JOIN LATERAL ("
            "   SELECT target_group FROM projections.cv_cases k WHERE k.person_id = p.person_id"
            "   ORDER BY opened_on DESC LIMIT 1) c ON true"
            " GROUP BY 1, 2 ORDER BY 1, 2",
            key,
        )
    elif by == "month":
        start = from_month or date(today_in_germany().year - 2, 1, 1)
        end = to_month or today_in_germany()
        rows = await db.fetch(
            "WITH months AS (SELECT (date_trunc('month', m) + interval '1 month - 1 day')::date"
            "   AS month_end FROM generate_series($2::date, $3::date, interval '1 month') m)"
            f" SELECT to_char(months.month_end, 'YYYY-MM') AS grp, h.stage, {persons}"
            " FROM months CROSS JOIN LATERAL ("
            "   SELECT DISTINCT ON (person_id) person_id, stage"
            "   FROM projections.pathway_stage_history"
            "   WHERE since <= months.month_end ORDER BY person_id, since DESC, position DESC"
            " ) h GROUP BY 1, 2 ORDER BY 1, 2",
            key,
            start,
            end,
        )
    else:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}")
    return suppress(
        [
            {
                "group": r["grp"],
                "stage": r["stage"],
                "persons": r["persons"],
                "persons_key": r["persons_key"],
            }
            for r in rows
        ]
    )


async def milestone_durations(db: Fetch, *, key: str, by_entry_year: bool = False) -> Result:
    """Median and 90th percentile of days between milestones (whole days), over persons who
    reached both."""
    out: list[dict[str, Any]] = []
    for start, end in MILESTONE_PAIRS:
        rows = await db.fetch(
            "SELECT "
            + ("extract(year FROM a.reached_on)::int::text" if by_entry_year else "'all'")
            + " AS grp,"
            f" count(*) AS persons, {record_keys('a.person_id')} AS persons_key,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY b.reached_on - a.reached_on) AS p50,"
            " percentile_cont(0.9) WITHIN GROUP (ORDER BY b.reached_on - a.reached_on) AS p90"
            " FROM projections.pathway_milestones a JOIN projections.pathway_milestones b"
            "   ON a.person_id = b.person_id AND b.milestone = $3 AND b.reached_on >= a.reached_on"
            " WHERE a.milestone = $2 GROUP BY 1 ORDER BY 1",
            key,
            start,
            end,
        )
        out += [
            {
                "group": r["grp"],
                "from_milestone": start,
                "to_milestone": end,
                "persons": r["persons"],
                "persons_key": r["persons_key"],
                "median_days": float(round(r["p50"])),
                "p90_days": float(round(r["p90"])),
            }
            for r in rows
        ]
    return suppress(out)


async def referral_stats(db: Fetch, *, key: str) -> Result:
    """Per receiving agency: referrals, answers, acceptance rate, days to answer."""
    accepted_ids = "CASE WHEN status IN ('accepted', 'completed') THEN referral_id END"
    declined_ids = "CASE WHEN status = 'declined' THEN referral_id END"
    rows = await db.fetch(
        "SELECT to_agency, count(DISTINCT person_id) AS persons,"
        f" {record_keys('person_id', distinct=True)} AS persons_key,"
        f" count(*) AS referrals, {record_keys('referral_id')} AS referrals_key,"
        " count(*) FILTER (WHERE status IN ('accepted', 'completed')) AS accepted,"
        f" COALESCE({record_keys(accepted_ids)}, 0) AS accepted_key,"
        " count(*) FILTER (WHERE status = 'declined') AS declined,"
        f" COALESCE({record_keys(declined_ids)}, 0) AS declined_key,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - sent_at)"
        "   / 86400) FILTER (WHERE answered_at IS NOT NULL) AS median_days"
        " FROM projections.cv_referrals GROUP BY to_agency ORDER BY to_agency",
        key,
    )
    shown = []
    for r in rows:
        referrals = protect(int(r["referrals"]), int(r["referrals_key"]))
        accepted = protect(int(r["accepted"]), int(r["accepted_key"]))
        declined = protect(int(r["declined"]), int(r["declined_key"]))
        shown.append(
            {
                "agency": r["to_agency"],
                "persons": r["persons"],
                "persons_key": r["persons_key"],
                "referrals": referrals or 0,
                "accepted": accepted,
                "declined": declined,
                "acceptance_rate": min(1.0, accepted / referrals)
                if referrals and accepted is not None
                else None,
                "median_days_to_answer": float(round(r["median_days"]))
                if r["median_days"] is not None and (accepted or 0) + (declined or 0) >= MIN_GROUP
                else None,
            }
        )
    kept = [row for row in suppress(shown).rows if row["referrals"] >= MIN_GROUP]
    return Result(kept, len(shown) - len(kept))


async def open_conflicts(db: Fetch, *, key: str) -> Result:
    """Open conflicts per district and Glasl stage (perturbed; published counts below 5 left
    out)."""
    rows = await db.fetch(
        "SELECT district, stage, count(*) AS conflicts,"
        f" {record_keys('conflict_id')} AS conflicts_key FROM projections.cf_conflicts"
        " WHERE status = 'open' GROUP BY 1, 2 ORDER BY 1, 2",
        key,
    )
    return suppress(
        [
            {
                "district": r["district"],
                "stage": r["stage"],
                "conflicts": r["conflicts"],
                "conflicts_key": r["conflicts_key"],
            }
            for r in rows
        ],
        count="conflicts",
    )
