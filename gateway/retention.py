"""Retention: the rules (data, ``retention_rules.toml``), what is due, and the run that erases it.

A rule says: for this record, once this trigger happened and this period has passed, erase
the person's data in these services. What is due is read from the read models (the pathway
for the foreigners authority's departures and naturalisations, the case views for closed
cases), leaving out persons already erased there (``gateway.erasures``). The run hands each
due person to the erasure coordinator (gateway/erasure.py) with the ground
``retention_elapsed`` and the rule's name, so the erasure is resumed like any other and each
service's ``PersonalDataErased`` names the rule. ``hub retention run --dry-run`` only reports.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from contracts.privacy import SERVICES, ErasureGround, RestrictionGround
from gateway.auth import Principal
from gateway.erasure import ErasureCoordinator
from kernel.clock import today_in_germany

log = logging.getLogger(__name__)

#: who the retention run acts as (the data-protection officer's role, no person's name)
RETENTION_RUN = Principal(subject="retention-run", agency="hub", role="dpo")
#: erase; or restrict, where erasure would be disproportionate (§ 84 (3) SGB X)
ACTIONS = frozenset({"erase", "restrict"})
_PERIOD = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?$")


@dataclass(frozen=True)
class Trigger:
    """An event that starts a retention period, and where the read models keep its date."""

    record: str
    description: str
    #: persons whose trigger date is at or before $1 (and who are not hidden yet)
    sql: str


TRIGGERS: dict[str, Trigger] = {
    "departure": Trigger(
        "residence_file",
        "the person's departure was recorded",
        "SELECT person_id, departed_on AS since FROM projections.pathway_persons"
        " WHERE NOT erased AND departed_on <= $1",
    ),
    "naturalisation": Trigger(
        "residence_file",
        "the person was naturalised",
        "SELECT person_id, naturalised_on AS since FROM projections.pathway_persons"
        " WHERE NOT erased AND naturalised_on <= $1",
    ),
    "case_closed": Trigger(
        "case",
        "every case of the person was closed",
        "SELECT person_id, max(closed_on) AS since FROM projections.cv_cases WHERE NOT erased"
        " GROUP BY person_id HAVING bool_and(status = 'closed') AND max(closed_on) <= $1",
    ),
}


class RuleError(ValueError):
    """A retention rule file that does not say what it must (the message names the rule)."""


@dataclass(frozen=True)
class Period:
    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip())
        if match is None or not any(match.groups()):
            raise ValueError(f"period {text!r} is not an ISO 8601 period such as P10Y or P18M")
        years, months, days = (int(g or 0) for g in match.groups())
        return cls(years, months, days)

    def before(self, day: date) -> date:
        """The day this period before ``day`` (the month's last day where it is shorter)."""
        month_index = day.year * 12 + day.month - 1 - (self.years * 12 + self.months)
        year, month = divmod(month_index, 12)
        last = calendar.monthrange(year, month + 1)[1]
        moved = date(year, month + 1, min(day.day, last))
        return moved - timedelta(days=self.days)

    def __str__(self) -> str:
        parts = [(self.years, "Y"), (self.months, "M"), (self.days, "D")]
        return "P" + "".join(f"{n}{unit}" for n, unit in parts if n)


@dataclass(frozen=True)
class RetentionRule:
    name: str
    record: str
    trigger: str
    period: Period
    action: str
    services: tuple[str, ...]
    legal_source: str = ""

    def cutoff(self, today: date) -> date:
        """A trigger on or before this day is due today."""
        return self.period.before(today)


def _rule(raw: dict[str, Any]) -> RetentionRule:
    name = str(raw.get("name") or "")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise RuleError(f"rule name {name!r}: lower-case letters, digits and _ only")
    missing = [k for k in ("record", "trigger", "period", "action", "services") if k not in raw]
    if missing:
        raise RuleError(f"rule {name}: {', '.join(missing)} missing")
    trigger = TRIGGERS.get(str(raw["trigger"]))
    if trigger is None:
        raise RuleError(f"rule {name}: trigger {raw['trigger']!r} is not one of {sorted(TRIGGERS)}")
    if raw["record"] != trigger.record:
        raise RuleError(f"rule {name}: trigger {raw['trigger']} concerns {trigger.record} records")
    if raw["action"] not in ACTIONS:
        raise RuleError(f"rule {name}: action {raw['action']!r} is not one of {sorted(ACTIONS)}")
    services = tuple(raw["services"])
    if not services or set(services) - set(SERVICES):
        raise RuleError(f"rule {name}: services must name some of {list(SERVICES)}")
    try:
        period = Period.parse(str(raw["period"]))
    except ValueError as error:
        raise RuleError(f"rule {name}: {error}") from None
    return RetentionRule(
        name=name,
        record=str(raw["record"]),
        trigger=str(raw["trigger"]),
        period=period,
        action=str(raw["action"]),
        services=services,
        legal_source=str(raw.get("legal_source", "")),
    )


def parse_rules(text: str) -> list[RetentionRule]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleError(f"not a TOML file: {error}") from None
    rules = [_rule(raw) for raw in data.get("rule", [])]
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise RuleError("rule names must be unique")
    return rules


def load_rules(path: str | Path | None = None) -> list[RetentionRule]:
    """The rules of ``path`` (``HUB_RETENTION_RULES``), or the hub's documented defaults."""
    if path is None:
        text = resources.files(__package__).joinpath("retention_rules.toml").read_text()
    else:
        text = Path(path).read_text(encoding="utf-8")
    return parse_rules(text)


@dataclass(frozen=True)
class Due:
    person_id: UUID
    since: date


@dataclass
class RuleOutcome:
    rule: RetentionRule
    cutoff: date
    due: list[Due] = field(default_factory=list)
    erased: int = 0
    pending: int = 0


async def due(pool: asyncpg.Pool, rule: RetentionRule, today: date) -> list[Due]:
    """The persons whose period under ``rule`` has run out by ``today`` and on whom the
    rule's action (or an erasure) is not recorded for the rule's services yet."""
    rows = await pool.fetch(
        f"SELECT d.person_id, d.since FROM ({TRIGGERS[rule.trigger].sql}) d"
        " WHERE NOT EXISTS (SELECT 1 FROM gateway.erasures e"
        "  WHERE e.person_id = d.person_id AND e.services @> $2::text[]"
        "  AND e.action IN ($3, 'erase'))"
        " ORDER BY d.since, d.person_id",
        rule.cutoff(today),
        list(rule.services),
        rule.action,
    )
    return [Due(row["person_id"], row["since"]) for row in rows]


async def run(
    pool: asyncpg.Pool,
    rules: list[RetentionRule],
    *,
    coordinator: ErasureCoordinator | None,
    today: date | None = None,
) -> list[RuleOutcome]:
    """What each rule finds due; without a coordinator (a dry run) nothing is erased."""
    day = today or today_in_germany()
    outcomes = []
    for rule in rules:
        outcome = RuleOutcome(rule, rule.cutoff(day), await due(pool, rule, day))
        if coordinator is not None:
            acting = coordinator.for_action(rule.action)
            ground = (
                ErasureGround.RETENTION_ELAPSED
                if rule.action == "erase"
                else RestrictionGround.ERASURE_DISPROPORTIONATE
            )
            for item in outcome.due:
                status = await acting.request(
                    RETENTION_RUN, item.person_id, ground, services=rule.services, rule=rule.name
                )
                if status.complete:
                    outcome.erased += 1
                else:
                    outcome.pending += 1
        outcomes.append(outcome)
    return outcomes


def report(outcomes: list[RuleOutcome], *, dry_run: bool, today: date, limit: int = 50) -> str:
    """The run's report, as ``hub retention run`` prints it."""
    lines = [f"retention run{' (dry run: nothing erased)' if dry_run else ''} on {today}"]
    for o in outcomes:
        rule = o.rule
        lines.append(
            f"  {rule.name}: {len(o.due)} due ({TRIGGERS[rule.trigger].description}"
            f" on or before {o.cutoff}, {rule.period}; {rule.action} in"
            f" {', '.join(rule.services)})"
        )
        if not dry_run:
            done = "erased" if rule.action == "erase" else "restricted"
            lines.append(f"    {done}: {o.erased}, still pending: {o.pending}")
        lines += [f"    {item.person_id} since {item.since}" for item in o.due[:limit]]
        if len(o.due) > limit:
            lines.append(f"    ... and {len(o.due) - limit} more")
    return "\n".join(lines)


async def run_daily(
    pool: asyncpg.Pool,
    coordinator: ErasureCoordinator,
    rules: list[RetentionRule],
    stop: asyncio.Event,
    *,
    every_seconds: float,
    first_after_seconds: float = 60.0,
) -> None:
    """The gateway's schedule: a run shortly after start, then every ``every_seconds``."""
    delay = first_after_seconds
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return
        except TimeoutError:
            pass
        delay = every_seconds
        try:
            outcomes = await run(pool, rules, coordinator=coordinator)
            log.info(
                "retention run: %s",
                "; ".join(
                    f"{o.rule.name} {o.erased} erased, {o.pending} pending" for o in outcomes
                ),
            )
        except Exception:
            log.exception("the retention run failed; trying again at the next run")
