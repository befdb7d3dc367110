"""Process indicators over the read models, pseudonymised, aggregated and perturbed.

Rule for every result (kernel/disclosure.py, the cell-key method): every count is published
with consistent noise keyed to the set of persons (referrals, conflicts) it counts, and a
group whose published count is below ``MIN_GROUP`` is left out (its count, and any figure
computed from it). Results carry no totals, so a left-out group cannot be recovered by
subtraction, and the noise makes differencing two answers (before and after one person's
change) tell nothing certain; only how many groups were left out is reported. Durations are
whole days. No result ever names a person, a case or a file.

Every query takes ``key``, the deployment's secret (``HUB_INDICATOR_KEY``): the cell key of a
group is computed here from its count and the sum of its records' digests
(kernel/disclosure.py ``cell_key``).

Stage counts and milestone durations read the running aggregates that
``projections/indicators/schema.sql`` keeps from the pathway's and case views' tables (rows
per group, not per person); referral stats and open conflicts still aggregate their (smaller)
tables at query time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from kernel.clock import today_in_germany
from kernel.disclosure import KEY_SPACE, MIN_SHOWN, cell_key, protect

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


def record_digests(ids: str, *, distinct: bool = False) -> str:
    """SQL: the sum of the records' digests modulo KEY_SPACE (a record's digest: the first 32
    bits of SHA-256 over the record's id ``ids``); over distinct records with ``distinct``."""
    digest = f"sha256(convert_to({ids}::text, 'UTF8'))"
    record = f"('x' || encode(substr({digest}, 1, 4), 'hex'))::bit(32)::bigint"
    return f"(sum({'DISTINCT ' if distinct else ''}{record}) % {KEY_SPACE})"


def protected(key: str, count: int, digest_sum: int) -> int | None:
    """The published count of a cell of ``count`` records whose digests sum to ``digest_sum``."""
    return protect(count, cell_key(key, count, digest_sum))


def suppress(rows: list[dict[str, Any]], key: str, count: str = "persons") -> Result:
    """Publish each row's ``count`` perturbed by its cell key (from the sum of its records'
    digests, ``<count>_key``), and leave out the rows whose published count is below
    MIN_GROUP."""
    kept = []
    for row in rows:
        shown = protected(key, int(row[count]), int(row.pop(f"{count}_key")))
        if shown is not None and shown >= MIN_GROUP:
            kept.append({**row, count: shown})
    return Result(kept, len(rows) - len(kept))


async def stage_count_rows(
    db: Fetch, *, by: str, from_month: date | None = None, to_month: date | None = None
) -> list[dict[str, Any]]:
    """Persons per pathway stage and group, with the sum of their digests (not published)."""
    if by in ("municipality", "target_group"):
        rows = await db.fetch(
            "SELECT grp, stage, persons, persons_key FROM projections.ind_stage_counts"
            " WHERE dim = $1 AND persons > 0 ORDER BY grp, stage",
            by,
        )
    elif by == "month":
        start = from_month or date(today_in_germany().year - 2, 1, 1)
        end = to_month or today_in_germany()
        # a month's counts: the changes at every month end up to it. The months asked for are
        # consecutive month ends: each change goes into its own month, the earlier ones into
        # the first, and the months are summed up per stage (rows read grow with the months
        # and stages only)
        rows = await db.fetch(
            "WITH months AS (SELECT (date_trunc('month', m) + interval '1 month - 1 day')::date"
            "   AS month_end FROM generate_series($1::date, $2::date, interval '1 month') m),"
            " span AS (SELECT min(month_end) AS first, max(month_end) AS last FROM months),"
            " changes AS (SELECT greatest(a.month, span.first) AS month_end, a.stage,"
            "   sum(a.persons) AS persons, sum(a.persons_key) AS persons_key"
            "   FROM projections.ind_stage_month a, span WHERE a.month <= span.last"
            "   GROUP BY 1, 2),"
            " running AS (SELECT m.month_end, s.stage, sum(c.persons) OVER w AS persons,"
            "   sum(c.persons_key) OVER w AS persons_key"
            "   FROM months m CROSS JOIN (SELECT DISTINCT stage FROM changes) s"
            "   LEFT JOIN changes c ON c.month_end = m.month_end AND c.stage = s.stage"
            "   WINDOW w AS (PARTITION BY s.stage ORDER BY m.month_end))"
            " SELECT to_char(month_end, 'YYYY-MM') AS grp, stage, persons, persons_key"
            " FROM running WHERE persons > 0 ORDER BY 1, 2",
            start,
            end,
        )
    else:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}")
    return [
        {
            "group": r["grp"],
            "stage": r["stage"],
            "persons": int(r["persons"]),
            "persons_key": int(r["persons_key"]) % KEY_SPACE,
        }
        for r in rows
    ]


async def stage_counts(
    db: Fetch,
    *,
    key: str,
    by: str,
    from_month: date | None = None,
    to_month: date | None = None,
) -> Result:
    """Persons per pathway stage, grouped by municipality, target group or month."""
    rows = await stage_count_rows(db, by=by, from_month=from_month, to_month=to_month)
    return suppress(rows, key)


def interpolated(first: float, second: float, fraction: float, total: int) -> float:
    """``percentile_cont(fraction)`` of ``total`` values whose rows floor and ceil of
    fraction * (total - 1) hold ``first`` and ``second``, as PostgreSQL interpolates."""
    position = fraction * (total - 1)
    if math.ceil(position) == math.floor(position):
        return first
    return first + (position - math.floor(position)) * (second - first)


def percentile(histogram: list[tuple[int, int]], fraction: float) -> float:
    """``percentile_cont(fraction)`` over the values of ``histogram`` ((value, how many),
    ascending), computed as PostgreSQL does: the values at the rows floor and ceil of
    fraction * (n - 1), interpolated."""
    total = sum(n for _, n in histogram)
    position = fraction * (total - 1)
    first_row, second_row = math.floor(position), math.ceil(position)

    def value_at(row: int) -> float:
        seen = 0
        for value, n in histogram:
            seen += n
            if row < seen:
                return float(value)
        raise IndexError(row)

    first = value_at(first_row)
    second = first if second_row == first_row else value_at(second_row)
    return interpolated(first, second, fraction, total)


#: the width of the buckets of ``ind_milestone_buckets`` (``days / 30`` in schema.sql)
BUCKET_DAYS = 30

#: The days at the rows floor and ceil of 0.5 * (n - 1) and of 0.9 * (n - 1) (``i`` 1 to 4)
#: among a pair's persons over all years, and their count and digest sum. Each row is found
#: in two steps: its 30-day bucket by the buckets' running count (a few hundred rows at most),
#: then its days by the running count within that bucket (at most 30 rows), so the read does
#: not grow with the persons or with the spread of their days.
ALL_YEARS_PERCENTILES = (
    "WITH b AS (SELECT bucket, persons, persons_key,"
    "   sum(persons) OVER (ORDER BY bucket) AS upto FROM projections.ind_milestone_buckets"
    "   WHERE from_milestone = $1 AND to_milestone = $2 AND persons > 0),"
    " t AS (SELECT sum(persons) AS n, sum(persons_key) AS k FROM b),"
    " ranks AS (SELECT r.i, r.rank FROM t, LATERAL (VALUES (1, floor(0.5 * (t.n - 1))),"
    "   (2, ceil(0.5 * (t.n - 1))), (3, floor(0.9 * (t.n - 1))), (4, ceil(0.9 * (t.n - 1))))"
    "   r(i, rank) WHERE t.n > 0),"
    " found AS (SELECT ranks.i, x.bucket, ranks.rank - (x.upto - x.persons) AS within"
    "   FROM ranks CROSS JOIN LATERAL (SELECT bucket, upto, persons FROM b"
    "   WHERE b.upto > ranks.rank ORDER BY bucket LIMIT 1) x)"
    " SELECT found.i, t.n, t.k, (SELECT d.days FROM (SELECT days,"
    "   sum(persons) OVER (ORDER BY days) AS upto FROM projections.ind_milestone_days_all"
    "   WHERE from_milestone = $1 AND to_milestone = $2 AND persons > 0"
    f"   AND days >= found.bucket * {BUCKET_DAYS} AND days < (found.bucket + 1) * {BUCKET_DAYS}) d"
    "   WHERE d.upto > found.within ORDER BY d.days LIMIT 1) AS days"
    " FROM found, t ORDER BY found.i"
)


async def milestone_rows(db: Fetch, *, by_entry_year: bool = False) -> list[dict[str, Any]]:
    """Per milestone pair and group: persons, the sum of their digests, and the median and
    90th percentile of the days between (unrounded; not published)."""
    out: list[dict[str, Any]] = []
    for start, end in MILESTONE_PAIRS:
        if not by_entry_year:
            ranked = await db.fetch(ALL_YEARS_PERCENTILES, start, end)
            if ranked:
                total = int(ranked[0]["n"])
                days = [float(r["days"]) for r in ranked]
                out.append(
                    {
                        "group": "all",
                        "from_milestone": start,
                        "to_milestone": end,
                        "persons": total,
                        "persons_key": int(ranked[0]["k"]) % KEY_SPACE,
                        "p50": interpolated(days[0], days[1], 0.5, total),
                        "p90": interpolated(days[2], days[3], 0.9, total),
                    }
                )
            continue
        rows = await db.fetch(
            "SELECT year::text AS grp, days, persons, persons_key"
            " FROM projections.ind_milestone_days"
            " WHERE from_milestone = $1 AND to_milestone = $2 AND persons > 0"
            " ORDER BY year, days",
            start,
            end,
        )
        groups: dict[str, list[Any]] = {}
        for r in rows:
            groups.setdefault(r["grp"], []).append(r)
        for group, found in groups.items():
            histogram = [(int(r["days"]), int(r["persons"])) for r in found]
            out.append(
                {
                    "group": group,
                    "from_milestone": start,
                    "to_milestone": end,
                    "persons": sum(n for _, n in histogram),
                    "persons_key": sum(int(r["persons_key"]) for r in found) % KEY_SPACE,
                    "p50": percentile(histogram, 0.5),
                    "p90": percentile(histogram, 0.9),
                }
            )
    return out


async def milestone_durations(db: Fetch, *, key: str, by_entry_year: bool = False) -> Result:
    """Median and 90th percentile of days between milestones (whole days), over persons who
    reached both."""
    rows = [
        {
            **{k: v for k, v in r.items() if k not in ("p50", "p90")},
            "median_days": float(round(r["p50"])),
            "p90_days": float(round(r["p90"])),
        }
        for r in await milestone_rows(db, by_entry_year=by_entry_year)
    ]
    return suppress(rows, key)


async def referral_stats(db: Fetch, *, key: str) -> Result:
    """Per receiving agency: referrals, answers, acceptance rate, days to answer."""
    accepted_ids = "CASE WHEN status IN ('accepted', 'completed') THEN referral_id END"
    declined_ids = "CASE WHEN status = 'declined' THEN referral_id END"
    rows = await db.fetch(
        "SELECT to_agency, count(DISTINCT person_id) AS persons,"
        f" {record_digests('person_id', distinct=True)} AS persons_key,"
        f" count(*) AS referrals, {record_digests('referral_id')} AS referrals_key,"
        " count(*) FILTER (WHERE status IN ('accepted', 'completed')) AS accepted,"
        f" COALESCE({record_digests(accepted_ids)}, 0) AS accepted_key,"
        " count(*) FILTER (WHERE status = 'declined') AS declined,"
        f" COALESCE({record_digests(declined_ids)}, 0) AS declined_key,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - sent_at)"
        "   / 86400) FILTER (WHERE answered_at IS NOT NULL) AS median_days"
        " FROM projections.cv_referrals GROUP BY to_agency ORDER BY to_agency",
    )
    shown = []
    for r in rows:
        referrals = protected(key, int(r["referrals"]), int(r["referrals_key"]))
        accepted = protected(key, int(r["accepted"]), int(r["accepted_key"]))
        declined = protected(key, int(r["declined"]), int(r["declined_key"]))
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
    kept = [row for row in suppress(shown, key).rows if row["referrals"] >= MIN_GROUP]
    return Result(kept, len(shown) - len(kept))


async def open_conflicts(db: Fetch, *, key: str) -> Result:
    """Open conflicts per district and Glasl stage (perturbed; published counts below 5 left
    out)."""
    rows = await db.fetch(
        "SELECT district, stage, count(*) AS conflicts,"
        f" {record_digests('conflict_id')} AS conflicts_key FROM projections.cf_conflicts"
        " WHERE status = 'open' GROUP BY 1, 2 ORDER BY 1, 2",
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
        key,
        count="conflicts",
    )
