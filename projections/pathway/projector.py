"""The pathway projection: stage, milestones and status periods per person.

Stages: arrival -> status_pending -> protected_or_tolerated -> titled -> permanent ->
naturalisation_applied -> naturalised; or departed / transferred. Readiness for
naturalisation is evaluated from these rows at query time (``readiness(asOf:)``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import foreigners_authority as fa
from contracts.privacy import PersonalDataErased, ProcessingRestricted
from kernel.clock import date_in_germany
from services.runtime.projection_base import Dispatch, NoHooks

NAME = "pathway"
SCHEMA = "projections"
EU_CODES = frozenset(
    {
        "AUT",
        "BEL",
        "BGR",
        "HRV",
        "CYP",
        "CZE",
        "DNK",
        "EST",
        "FIN",
        "FRA",
        "GRC",
        "HUN",
        "IRL",
        "ITA",
        "LVA",
        "LTU",
        "LUX",
        "MLT",
        "NLD",
        "POL",
        "PRT",
        "ROU",
        "SVK",
        "SVN",
        "ESP",
        "SWE",
        "CHE",
        "ISL",
        "LIE",
        "NOR",
    }
)
STAGES = (
    "arrival",
    "status_pending",
    "protected_or_tolerated",
    "titled",
    "permanent",
    "naturalisation_applied",
    "naturalised",
    "departed",
    "transferred",
)
TERMINAL = frozenset({"naturalised", "departed", "transferred"})
PROTECTION = frozenset({"asylum", "refugee", "subsidiary"})
TITLE_KINDS = {
    "national_visa": "visa",
    "settlement_permit": "settlement_permit",
    "eu_long_term_residence": "eu_long_term",
}


#: the columns of ``pathway_persons``, in the order :class:`Batch` writes them
PERSON_COLUMNS = (
    "person_id",
    "abh_id",
    "municipality_key",
    "entry_date",
    "entry_mode",
    "stage",
    "stage_since",
    "protection_granted_on",
    "language_level",
    "course_completed_on",
    "test_passed_on",
    "livelihood_secured",
    "no_relevant_conviction",
    "commitment_declared",
    "eu_or_swiss",
    "departed_on",
    "naturalisation_applied_on",
    "naturalised_on",
    "erased",
    "nationalities",
)
_UPSERT_PERSON = (
    f"INSERT INTO projections.pathway_persons ({', '.join(PERSON_COLUMNS)})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(PERSON_COLUMNS) + 1))})"
    " ON CONFLICT (person_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in PERSON_COLUMNS[1:])
)

PERIOD_COLUMNS = ("person_id", "position", "kind", "start_on", "end_on", "paragraph", "continues")

Row = dict[str, Any]
_ABSENT = object()
#: a person's id as the batch keys it: the canonical text of the UUID (hashed and compared in
#: C, and encoded by asyncpg from text)
Pid = str
_PIDS: dict[str, Pid] = {}


def person_key(person: str) -> Pid:
    """``person`` in its canonical form (``str(UUID(person))``; ValueError if it is none)."""
    key = _PIDS.get(person)
    if key is None:
        key = str(UUID(person))
        if len(_PIDS) >= 100_000:
            _PIDS.clear()
        _PIDS[person] = key
    return key


#: persons a replay remembers having met (with ``Batch.fresh``; about 100 bytes each)
MET_LIMIT = 1_000_000


@dataclass
class Batch:
    """The pathway rows of the current transaction that wait for ``flush``: each person's
    ``pathway_persons`` row (read once per batch, then kept here), the stage history and the
    milestones, and each person's periods of stay (read once per batch, ended and begun
    here), and the dated facts (certificates, assessments, ...) begun in the batch. One
    statement per table per batch instead of several per event. :meth:`prefetch` reads the
    rows and periods of a batch's persons in one statement each before the batch is applied
    (else each person's are read when first needed).

    With ``keep`` (a replay, which alone writes its tables: ``projections/pipeline.py``) the
    rows and periods of up to ``keep`` persons stay after a batch is written, as the next
    batches would read them back, and are not read again; with ``fresh`` too (the tables were
    empty when the replay began) a person the replay has not met has no rows, so nothing is
    read for them either. :meth:`forget` drops what was kept (a batch rolled back)."""

    #: the person rows read or created in this batch (None: the person has no row)
    persons: dict[Pid, Row | None] = field(default_factory=dict)
    #: the persons whose row changed
    dirty: set[Pid] = field(default_factory=set)
    #: (person, position) -> (since, stage)
    history: dict[tuple[Pid, int], tuple[date, str]] = field(default_factory=dict)
    #: the ``since`` of the stored history rows at ``arrival``, per person (the last word)
    arrival_since: dict[Pid, date] = field(default_factory=dict)
    #: (person, milestone) -> reached on (the first word counts, as ``DO NOTHING`` keeps it)
    milestones: dict[tuple[Pid, str], date] = field(default_factory=dict)
    #: each touched person's periods of stay by position (read once per batch)
    periods: dict[Pid, dict[int, Row]] = field(default_factory=dict)
    #: the periods (person, position) begun or changed in this batch
    changed_periods: set[tuple[Pid, int]] = field(default_factory=set)
    #: the history keys at ``arrival`` per person (what :meth:`PersonPath.arrived` moves)
    arrivals: dict[Pid, list[tuple[Pid, int]]] = field(default_factory=dict)
    #: the persons registered in this batch who had no row before it: they have no stored
    #: history rows either, so their arrival moves only the batch's own
    registered: set[Pid] = field(default_factory=set)
    #: dated facts waiting to be inserted: (table, columns) -> rows
    facts: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = field(default_factory=dict)
    #: how many persons' rows and periods stay after a batch (0: none)
    keep: int = 0
    #: the tables held nothing when the first batch began, and every batch since was written
    #: by this one (with ``keep``): a person not in ``met`` has no rows
    fresh: bool = False
    #: every person of a batch so far (with ``keep`` and ``fresh``)
    met: set[Pid] = field(default_factory=set)

    def clear(self) -> None:
        self.arrivals.clear()
        self.registered.clear()
        self.facts.clear()
        self.changed_periods.clear()
        self.dirty.clear()
        self.history.clear()
        self.arrival_since.clear()
        self.milestones.clear()
        if not self.keep:
            self.periods.clear()
            self.persons.clear()
            return
        for kept in (self.persons, self.periods):
            if len(kept) > self.keep:  # the persons met longest ago go first
                for pid in list(itertools.islice(kept, len(kept) - self.keep)):
                    del kept[pid]

    def forget(self) -> None:
        """Drop the rows and periods kept from earlier batches (they may not be committed)."""
        self.clear()
        self.persons.clear()
        self.periods.clear()
        # ``met`` stays: a person it misses still has no rows (a superset of them is fine)

    async def person(self, conn: asyncpg.Connection, pid: Pid) -> Row | None:
        if pid not in self.persons and self.fresh:
            self._recall([pid])
        if pid not in self.persons:
            found = await conn.fetchrow(
                f"SELECT {', '.join(PERSON_COLUMNS)} FROM projections.pathway_persons"
                " WHERE person_id = $1",
                pid,
            )
            self.persons[pid] = dict(found) if found is not None else None
        return self.persons[pid]

    async def prefetch(self, conn: asyncpg.Connection, pids: list[Pid]) -> None:
        """Read the person rows and periods of ``pids`` not read yet, one statement each."""
        if self.keep:
            self._recall(pids)
        rows = [pid for pid in dict.fromkeys(pids) if pid not in self.persons]
        if rows:
            self.persons.update(dict.fromkeys(rows))
            for found in await conn.fetch(
                f"SELECT {', '.join(PERSON_COLUMNS)} FROM projections.pathway_persons"
                " WHERE person_id = ANY($1::uuid[])",
                rows,
            ):
                self.persons[str(found["person_id"])] = dict(found)
        periods = [pid for pid in dict.fromkeys(pids) if pid not in self.periods]
        if periods:
            for pid in periods:
                self.periods[pid] = {}
            for found in await conn.fetch(
                f"SELECT {', '.join(PERIOD_COLUMNS)} FROM projections.pathway_periods"
                " WHERE person_id = ANY($1::uuid[])",
                periods,
            ):
                self.periods[str(found["person_id"])][found["position"]] = dict(found)

    def _recall(self, pids: list[Pid]) -> None:
        """With ``keep``: the persons kept become the latest met (the last to go); with
        ``fresh``, those never met have no rows (nothing to read)."""
        for pid in dict.fromkeys(pids):
            row = self.persons.pop(pid, _ABSENT)
            if row is not _ABSENT:
                self.persons[pid] = cast("Row | None", row)
            periods = self.periods.pop(pid, None)
            if periods is not None:
                self.periods[pid] = periods
            if self.fresh and pid not in self.met:
                if len(self.met) >= MET_LIMIT:  # too many to remember: read them back
                    self.fresh = False
                    self.met.clear()
                    continue
                self.met.add(pid)
                self.persons.setdefault(pid, None)
                self.periods.setdefault(pid, {})

    async def write_facts(self, conn: asyncpg.Connection) -> None:
        """Insert the dated facts waiting (before a statement that reads or changes them)."""
        for (table, columns), rows in self.facts.items():
            slots = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
            await conn.executemany(
                f"INSERT INTO projections.{table} ({', '.join(columns)})"
                f" VALUES ({slots}) ON CONFLICT DO NOTHING",
                rows,
            )
        self.facts.clear()

    async def periods_of(self, conn: asyncpg.Connection, pid: Pid) -> dict[int, Row]:
        if pid not in self.periods and self.fresh:
            self._recall([pid])
        if pid not in self.periods:
            rows = await conn.fetch(
                f"SELECT {', '.join(PERIOD_COLUMNS)} FROM projections.pathway_periods"
                " WHERE person_id = $1",
                pid,
            )
            self.periods[pid] = {row["position"]: dict(row) for row in rows}
        return self.periods[pid]

    async def write(self, conn: asyncpg.Connection) -> None:
        """Write what waits, one statement per table."""
        await self.write_facts(conn)
        if self.changed_periods:
            periods = [self.periods[pid][position] for pid, position in self.changed_periods]
            await conn.execute(
                f"INSERT INTO projections.pathway_periods ({', '.join(PERIOD_COLUMNS)})"
                " SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::date[],"
                " $5::date[], $6::text[], $7::text[])"
                " ON CONFLICT (person_id, position) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in PERIOD_COLUMNS[2:]),
                *([period[c] for period in periods] for c in PERIOD_COLUMNS),
            )
        if self.dirty:
            persons = [self.persons[pid] for pid in self.dirty]
            await conn.executemany(
                _UPSERT_PERSON,
                [tuple(row[c] for c in PERSON_COLUMNS) for row in persons if row is not None],
            )
        if self.arrival_since:
            await conn.execute(
                "UPDATE projections.pathway_stage_history h SET since = u.since"
                " FROM unnest($1::uuid[], $2::date[]) AS u(person_id, since)"
                " WHERE h.person_id = u.person_id AND h.stage = 'arrival'",
                list(self.arrival_since),
                list(self.arrival_since.values()),
            )
        if self.history:
            await conn.execute(
                "INSERT INTO projections.pathway_stage_history (person_id, position, since,"
                " stage) SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::date[], $4::text[])"
                " ON CONFLICT (person_id, position)"
                " DO UPDATE SET since = EXCLUDED.since, stage = EXCLUDED.stage",
                [pid for pid, _ in self.history],
                [position for _, position in self.history],
                [since for since, _ in self.history.values()],
                [stage for _, stage in self.history.values()],
            )
        if self.milestones:
            await conn.execute(
                "INSERT INTO projections.pathway_milestones (person_id, milestone, reached_on)"
                " SELECT * FROM unnest($1::uuid[], $2::text[], $3::date[])"
                " ON CONFLICT (person_id, milestone) DO NOTHING",
                [pid for pid, _ in self.milestones],
                [name for _, name in self.milestones],
                list(self.milestones.values()),
            )
        self.clear()


@dataclass(frozen=True)
class PersonPath:
    """One person's pathway rows, as the event at ``position`` changes them (the person's
    row, stage history, milestones and periods through the batch's cache)."""

    conn: asyncpg.Connection
    pid: Pid
    position: int
    batch: Batch

    async def row(self) -> Row | None:
        return await self.batch.person(self.conn, self.pid)

    async def set(self, **values: Any) -> None:
        row = await self.row()
        if row is None:
            return
        row.update(values)
        self.batch.dirty.add(self.pid)

    async def stage(
        self,
        stage: str,
        since: date,
        *,
        force: bool = False,
        only_from: tuple[str, ...] | None = None,
    ) -> None:
        """The stage follows the latest status event, except that terminal stages stay and
        an open naturalisation application holds until it is completed (``force`` overrides
        the latter, for departure and transfer)."""
        row = await self.row()
        current = None if row is None else row["stage"]
        if current is None or current in TERMINAL:
            return
        if only_from is not None and current not in only_from:
            return
        if current == "naturalisation_applied" and stage != "naturalised" and not force:
            return
        await self.set(stage=stage, stage_since=since)
        await self.entered(stage, since)

    async def entered(self, stage: str, since: date) -> None:
        """Keep the stage the person entered, and since when (for counts by month)."""
        key = (self.pid, self.position)
        before = self.batch.history.get(key)
        if before is not None and before[1] == "arrival":
            self.batch.arrivals[self.pid].remove(key)
        if stage == "arrival":
            self.batch.arrivals.setdefault(self.pid, []).append(key)
        self.batch.history[key] = (since, stage)

    async def arrived(self, on: date) -> None:
        """The person's arrival stage (if they are at it) and their history rows at
        ``arrival`` count from ``on``."""
        row = await self.row()
        if row is not None and row["stage"] == "arrival":
            await self.set(stage_since=on)
        for key in self.batch.arrivals.get(self.pid, ()):
            self.batch.history[key] = (on, "arrival")
        if self.pid not in self.batch.registered:
            self.batch.arrival_since[self.pid] = on

    async def milestone(self, name: str, on: date) -> None:
        self.batch.milestones.setdefault((self.pid, name), on)

    async def period(
        self,
        kind: str,
        start: date,
        end: date | None,
        paragraph: str | None = None,
        continues: str | None = None,
    ) -> None:
        periods = await self.periods()
        if self.position in periods:
            return  # a redelivery adds none
        periods[self.position] = {
            "person_id": self.pid,
            "position": self.position,
            "kind": kind,
            "start_on": start,
            "end_on": end,
            "paragraph": paragraph,
            "continues": continues,
        }
        self.batch.changed_periods.add((self.pid, self.position))

    async def periods(self) -> dict[int, Row]:
        """The person's periods of stay by position (kept in the batch, written in flush)."""
        return await self.batch.periods_of(self.conn, self.pid)

    async def set_end(self, period: Row, end: date) -> None:
        period["end_on"] = end
        self.batch.changed_periods.add((self.pid, period["position"]))

    async def insert(self, table: str, **values: Any) -> None:
        """A dated fact begun by this event (one row per event: a redelivery adds none),
        inserted in :meth:`Batch.write_facts`."""
        columns = ("person_id", "position", *values)
        self.batch.facts.setdefault((table, columns), []).append(
            (self.pid, self.position, *values.values())
        )

    async def entry_date(self) -> date | None:
        row = await self.row()
        return None if row is None else cast("date | None", row["entry_date"])

    async def end(
        self, kinds: tuple[str, ...] | None, on: date, *, only_open_past: bool = False
    ) -> None:
        """End open (or later-ending) periods of these kinds the day before ``on``."""
        last = on - timedelta(days=1)
        for period in (await self.periods()).values():
            if (
                (kinds is None or period["kind"] in kinds)
                and period["start_on"] <= last
                and (period["end_on"] is None or period["end_on"] > last)
                and not (only_open_past and period["end_on"] is not None)
            ):
                await self.set_end(period, last)

    async def raise_level(self, level: str) -> None:
        row = await self.row()
        if row is not None and (row["language_level"] is None or row["language_level"] < level):
            await self.set(language_level=level)


on_event: Dispatch[PersonPath, None] = Dispatch()


@on_event.handles(fa.PersonRegistered)
async def _registered(person: PersonPath, event: CloudEvent, p: fa.PersonRegistered) -> None:
    if await person.row() is None:
        row: Row = dict.fromkeys(PERSON_COLUMNS)
        row.update(
            person_id=person.pid,
            abh_id=p.abh_id,
            stage="arrival",
            stage_since=date_in_germany(event.time),
            eu_or_swiss=bool(set(p.nationalities) & EU_CODES),
            erased=False,
            nationalities=list(p.nationalities),
        )
        person.batch.persons[person.pid] = row
        person.batch.dirty.add(person.pid)
        person.batch.registered.add(person.pid)
    await person.entered("arrival", date_in_germany(event.time))


@on_event.handles(fa.EntryRecorded)
async def _entry(person: PersonPath, event: CloudEvent, p: fa.EntryRecorded) -> None:
    await person.set(entry_date=p.entry_date, entry_mode=str(p.entry_mode))
    await person.milestone("entry", p.entry_date)
    await person.arrived(p.entry_date)
    if str(p.entry_mode) == "eu_free_movement":
        await person.period("eu_free_movement", p.entry_date, None)


@on_event.handles(fa.ResidenceRegistered)
async def _residence(person: PersonPath, event: CloudEvent, p: fa.ResidenceRegistered) -> None:
    await person.set(municipality_key=p.municipality_key)
    await person.milestone("registered", p.registered_on)


@on_event.handles(fa.AsylumApplicationFiled)
async def _asylum_filed(
    person: PersonPath, event: CloudEvent, p: fa.AsylumApplicationFiled
) -> None:
    await person.period("gestattung", p.filed_on, None)
    await person.stage("status_pending", p.filed_on)
    await person.milestone("asylum_applied", p.filed_on)


@on_event.handles(fa.AsylumDecisionReceived)
async def _asylum_decided(
    person: PersonPath, event: CloudEvent, p: fa.AsylumDecisionReceived
) -> None:
    # The Gestattung runs on: after a positive decision until the title follows, after a
    # negative one until the decision is final (§ 67 (1) Nr. 6 AsylG: an action may follow).
    # A rejection as manifestly unfounded (§ 30 AsylG) ends it at once: an action has no
    # suspensive effect (§ 75 (1) AsylG), the deportation warning is enforceable on notice
    # (§ 67 (1) Nr. 4 AsylG)
    if p.outcome in PROTECTION:
        await _protected(person, p.decided_on)
    elif p.manifestly_unfounded:
        await person.end(("gestattung",), p.decided_on, only_open_past=True)


@on_event.handles(fa.AsylumSuspensiveEffectOrdered)
async def _suspensive(
    person: PersonPath, event: CloudEvent, p: fa.AsylumSuspensiveEffectOrdered
) -> None:
    # the rejection is ineffective and the procedure goes on (§ 37 (1) AsylG): a Gestattung
    # again from the court's order (the days between are not bridged)
    await person.end(("duldung",), p.ordered_on)
    await person.period("gestattung", p.ordered_on, None)
    await person.stage("status_pending", p.ordered_on)


async def _protected(person: PersonPath, on: date) -> None:
    row = await person.row()
    if row is not None and row["protection_granted_on"] is None:
        await person.set(protection_granted_on=on)
    await person.milestone("protection_granted", on)
    await person.stage("protected_or_tolerated", on)


@on_event.handles(fa.AsylumCourtDecided)
async def _court_decided(person: PersonPath, event: CloudEvent, p: fa.AsylumCourtDecided) -> None:
    if p.outcome in PROTECTION:
        await _protected(person, p.decided_on)


@on_event.handles(fa.AsylumDecisionFinal)
async def _asylum_final(person: PersonPath, event: CloudEvent, p: fa.AsylumDecisionFinal) -> None:
    row = await person.row()
    # with protection the stay stays lawful until the title follows
    if row is None or row["protection_granted_on"] is None:
        await person.end(("gestattung",), p.final_on, only_open_past=True)


@on_event.handles(fa.DuldungIssued)
async def _duldung(person: PersonPath, event: CloudEvent, p: fa.DuldungIssued) -> None:
    # a Duldung shows the asylum procedure is over: an open Gestattung ends before it
    await person.end(("gestattung",), p.valid_from, only_open_past=True)
    await person.period("duldung", p.valid_from, p.valid_until)
    await person.stage("protected_or_tolerated", p.valid_from)


@on_event.handles(fa.ResidenceTitleApplied)
async def _title_applied(
    person: PersonPath, event: CloudEvent, p: fa.ResidenceTitleApplied
) -> None:
    await person.stage("status_pending", p.applied_on, only_from=("arrival",))
    await person.insert(
        "pathway_title_applications", applied_on=p.applied_on, paragraph=p.paragraph
    )


@on_event.handles(fa.ResidenceTitleRefused)
async def _title_refused(
    person: PersonPath, event: CloudEvent, p: fa.ResidenceTitleRefused
) -> None:
    await person.batch.write_facts(person.conn)
    await person.conn.execute(
        "UPDATE projections.pathway_title_applications SET refused_on = $2"
        " WHERE person_id = $1 AND refused_on IS NULL AND applied_on <= $2",
        person.pid,
        p.refused_on,
    )


@on_event.handles(fa.FiktionsbescheinigungIssued)
async def _fiktion(
    person: PersonPath, event: CloudEvent, p: fa.FiktionsbescheinigungIssued
) -> None:
    continues = None
    if p.kind == "81_4":  # the title applied for in time is deemed to continue
        titles = [
            period
            for period in (await person.periods()).values()
            if period["kind"] in ("residence_title", "visa") and period["start_on"] <= p.issued_on
        ]
        if titles:  # the latest begun
            latest = max(titles, key=lambda period: (period["start_on"], period["position"]))
            continues = latest["paragraph"]
    await person.period("fiktion", p.issued_on, p.valid_until, continues=continues)


@on_event.handles(fa.TemporaryProtectionGranted)
async def _temporary_protection(
    person: PersonPath, event: CloudEvent, p: fa.TemporaryProtectionGranted
) -> None:
    await person.period("temporary_protection", p.valid_from, p.valid_until)
    await person.stage("protected_or_tolerated", p.valid_from)
    await person.milestone("protection_granted", p.valid_from)


@on_event.handles(fa.TemporaryProtectionExtended)
async def _temporary_protection_extended(
    person: PersonPath, event: CloudEvent, p: fa.TemporaryProtectionExtended
) -> None:
    for period in (await person.periods()).values():
        if period["kind"] == "temporary_protection" and (
            period["end_on"] is None or period["end_on"] < p.valid_until
        ):
            await person.set_end(period, p.valid_until)


@on_event.handles(fa.ResidenceTitleGranted)
async def _title(person: PersonPath, event: CloudEvent, p: fa.ResidenceTitleGranted) -> None:
    kind = TITLE_KINDS.get(p.title, "residence_title")
    # a title (a visa above all) counts from the entry, not from a validity before it
    entered = await person.entry_date()
    start = p.valid_from if entered is None else max(p.valid_from, entered)
    if p.valid_until is not None and p.valid_until < start:
        return  # a visa that ran out before the entry: no stay under it
    await person.end(("gestattung", "duldung", "fiktion"), start)
    await person.end(
        ("residence_title", "visa", "temporary_protection"), start, only_open_past=True
    )
    await person.period(kind, start, p.valid_until, p.paragraph)
    if kind in ("settlement_permit", "eu_long_term"):
        await person.stage("permanent", start)
        await person.milestone("permanent_status", start)
    elif kind == "residence_title":
        await person.stage("titled", start)
        await person.milestone("first_title", start)


@on_event.handles(fa.IntegrationCourseCompleted)
async def _course(person: PersonPath, event: CloudEvent, p: fa.IntegrationCourseCompleted) -> None:
    await person.raise_level(p.level)
    await person.set(course_completed_on=p.completed_on)
    await person.insert(
        "pathway_certificates",
        kind="integration_course",
        on_date=p.completed_on,
        level=p.level,
        final_test_passed=p.final_test_passed,
        **_who(event),
    )
    await person.milestone("integration_course_completed", p.completed_on)


@on_event.handles(fa.LanguageCertificateRecorded)
async def _certificate(
    person: PersonPath, event: CloudEvent, p: fa.LanguageCertificateRecorded
) -> None:
    await person.raise_level(p.cefr_level)
    await person.insert(
        "pathway_certificates",
        kind="language_certificate",
        on_date=p.issued_on,
        level=p.cefr_level,
        **_who(event),
    )


def _who(event: CloudEvent) -> dict[str, str]:
    """Who recorded a fact: the agency and role codes of the event's envelope (never a name)."""
    return {"agency": event.sourceagency, "role": event.actingrole}


@on_event.handles(fa.StayAbroadBegan)
async def _abroad(person: PersonPath, event: CloudEvent, p: fa.StayAbroadBegan) -> None:
    await person.insert(
        "pathway_stays_abroad", left_on=p.left_on, permitted_until=p.permitted_until
    )


@on_event.handles(fa.ReturnedFromAbroad)
async def _returned(person: PersonPath, event: CloudEvent, p: fa.ReturnedFromAbroad) -> None:
    await person.batch.write_facts(person.conn)
    await person.conn.execute(
        "UPDATE projections.pathway_stays_abroad SET returned_on = $2 WHERE person_id = $1"
        " AND returned_on IS NULL AND left_on <= $2",
        person.pid,
        p.returned_on,
    )


@on_event.handles(fa.NationalityGivenUp)
async def _given_up(person: PersonPath, event: CloudEvent, p: fa.NationalityGivenUp) -> None:
    await person.insert(
        "pathway_nationality", nationality=p.nationality, kind="given_up", on_date=p.given_up_on
    )


@on_event.handles(fa.MultipleNationalityAccepted)
async def _kept(person: PersonPath, event: CloudEvent, p: fa.MultipleNationalityAccepted) -> None:
    await person.insert(
        "pathway_nationality",
        nationality=p.nationality,
        kind="section_12_exception",
        on_date=p.decided_on,
        paragraph=p.paragraph,
    )


@on_event.handles(fa.DepartureRecorded)
async def _departure(person: PersonPath, event: CloudEvent, p: fa.DepartureRecorded) -> None:
    await person.end(None, p.departed_on)
    await person.set(departed_on=p.departed_on)
    await person.stage("departed", p.departed_on, force=True)
    await person.milestone("departed", p.departed_on)


@on_event.handles(fa.CaseFileTransferred)
async def _transfer(person: PersonPath, event: CloudEvent, p: fa.CaseFileTransferred) -> None:
    await person.stage("transferred", p.transferred_on, force=True)


@on_event.handles(fa.NaturalisationApplied)
async def _naturalisation_applied(
    person: PersonPath, event: CloudEvent, p: fa.NaturalisationApplied
) -> None:
    await person.set(naturalisation_applied_on=p.applied_on)
    await person.stage("naturalisation_applied", p.applied_on, force=True)
    await person.milestone("naturalisation_applied", p.applied_on)


@on_event.handles(fa.NaturalisationRequirementAssessed)
async def _requirement(
    person: PersonPath, event: CloudEvent, p: fa.NaturalisationRequirementAssessed
) -> None:
    column = {
        "livelihood": "livelihood_secured",
        "no_conviction": "no_relevant_conviction",
        "commitment": "commitment_declared",
    }.get(p.requirement)
    if column is not None:
        await person.set(**{column: p.outcome in ("met", "waived")})
    await person.insert(
        "pathway_assessments",
        requirement=p.requirement,
        outcome=p.outcome,
        assessed_on=p.assessed_on,
        law_version=p.law_version,
        ground=p.ground,
        **_who(event),
    )


@on_event.handles(fa.NaturalisationTestPassed)
async def _test(person: PersonPath, event: CloudEvent, p: fa.NaturalisationTestPassed) -> None:
    if p.test in (None, "einbuergerungstest"):
        await person.set(test_passed_on=p.passed_on)
    await person.insert(
        "pathway_certificates",
        kind="knowledge_test",
        on_date=p.passed_on,
        test=p.test or "einbuergerungstest",
        points=p.points,
        **_who(event),
    )


@on_event.handles(fa.NaturalisationCompleted)
async def _naturalised(
    person: PersonPath, event: CloudEvent, p: fa.NaturalisationCompleted
) -> None:
    await person.end(None, p.certificate_date)
    await person.set(naturalised_on=p.certificate_date)
    await person.stage("naturalised", p.certificate_date, force=True)
    await person.milestone("naturalised", p.certificate_date)


class PathwayProjection(NoHooks):
    """Applies foreigners-authority events to the pathway tables (idempotent per event).

    The persons' rows, stage history and milestones of a batch are kept in :class:`Batch`
    and written in :meth:`flush`."""

    def __init__(self, *, keep: int = 0, fresh: bool = False) -> None:
        """``keep``, ``fresh``: for a replay into tables it alone writes (see :class:`Batch`);
        the live projector keeps nothing across its batches."""
        self._batch = Batch(keep=keep, fresh=fresh and keep > 0)

    async def begin(self, conn: asyncpg.Connection) -> None:
        self._batch.clear()  # a rolled-back attempt leaves nothing behind (see ``forget``)

    def forget(self) -> None:
        """A batch was rolled back: drop what was kept across batches (with ``keep``)."""
        self._batch.forget()

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        person = getattr(payload, "person_id", None)
        if person is None:
            return
        path = PersonPath(conn, person_key(person), event.sourceposition, self._batch)
        await on_event(path, event, payload)

    async def prepare(
        self, conn: asyncpg.Connection, events: list[tuple[CloudEvent, Payload]]
    ) -> None:
        """Read the rows of the batch's persons at once (see ``Handler.prepare``)."""
        pids = []
        for _, payload in events:
            person = getattr(payload, "person_id", None)
            if person is not None:
                try:
                    pids.append(person_key(person))
                except ValueError:  # apply says what is wrong with it
                    continue
        await self._batch.prefetch(conn, pids)

    async def flush(self, conn: asyncpg.Connection) -> None:
        await self._batch.write(conn)


@on_event.handles(PersonalDataErased, ProcessingRestricted)
async def _erased(
    path: PersonPath, event: CloudEvent, p: PersonalDataErased | ProcessingRestricted
) -> None:
    """The person is hidden from every read (their pathway, the authority's worklist) and their
    periods of stay and dated facts are dropped; the stage, the stage history and the
    milestones stay for the pseudonymous process statistics, which therefore do not change."""
    await path.set(erased=True, nationalities=None)
    await path.batch.write_facts(path.conn)
    for table in ERASED_TABLES:
        await path.conn.execute(f"DELETE FROM projections.{table} WHERE person_id = $1", path.pid)
    path.batch.periods[path.pid] = {}  # none waits to be written either
    path.batch.changed_periods -= {key for key in path.batch.changed_periods if key[0] == path.pid}


#: the tables of a person's dated facts: dropped with the periods on erasure or restriction
ERASED_TABLES = (
    "pathway_periods",
    "pathway_certificates",
    "pathway_assessments",
    "pathway_stays_abroad",
    "pathway_nationality",
    "pathway_title_applications",
)
