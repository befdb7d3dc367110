"""The pathway projection: stage, milestones and status periods per person.

Stages: arrival -> status_pending -> protected_or_tolerated -> titled -> permanent ->
naturalisation_applied -> naturalised; or departed / transferred. Readiness for
naturalisation is evaluated from these rows at query time (``readiness(asOf:)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
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


@dataclass(frozen=True)
class PersonPath:
    """One person's pathway rows, as the event at ``position`` changes them."""

    conn: asyncpg.Connection
    pid: UUID
    position: int

    async def set(self, **values: Any) -> None:
        assignments = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
        await self.conn.execute(
            f"UPDATE projections.pathway_persons SET {assignments} WHERE person_id = $1",
            self.pid,
            *values.values(),
        )

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
        current = await self.conn.fetchval(
            "SELECT stage FROM projections.pathway_persons WHERE person_id = $1", self.pid
        )
        if current is None or current in TERMINAL:
            return
        if only_from is not None and current not in only_from:
            return
        if current == "naturalisation_applied" and stage != "naturalised" and not force:
            return
        await self.conn.execute(
            "UPDATE projections.pathway_persons SET stage = $2, stage_since = $3"
            " WHERE person_id = $1",
            self.pid,
            stage,
            since,
        )
        await self.entered(stage, since)

    async def entered(self, stage: str, since: date) -> None:
        """Keep the stage the person entered, and since when (for counts by month)."""
        await self.conn.execute(
            "INSERT INTO projections.pathway_stage_history (person_id, since, stage, position)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (person_id, position)"
            " DO UPDATE SET since = EXCLUDED.since, stage = EXCLUDED.stage",
            self.pid,
            since,
            stage,
            self.position,
        )

    async def milestone(self, name: str, on: date) -> None:
        await self.conn.execute(
            "INSERT INTO projections.pathway_milestones (person_id, milestone, reached_on)"
            " VALUES ($1, $2, $3) ON CONFLICT (person_id, milestone) DO NOTHING",
            self.pid,
            name,
            on,
        )

    async def period(
        self, kind: str, start: date, end: date | None, paragraph: str | None = None
    ) -> None:
        await self.conn.execute(
            "INSERT INTO projections.pathway_periods (person_id, position, kind, start_on,"
            " end_on, paragraph) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            self.pid,
            self.position,
            kind,
            start,
            end,
            paragraph,
        )

    async def end(
        self, kinds: tuple[str, ...] | None, on: date, *, only_open_past: bool = False
    ) -> None:
        """End open (or later-ending) periods of these kinds the day before ``on``."""
        last = on - timedelta(days=1)
        await self.conn.execute(
            "UPDATE projections.pathway_periods SET end_on = $3 WHERE person_id = $1"
            " AND ($2::text[] IS NULL OR kind = ANY($2)) AND start_on <= $3"
            " AND (end_on IS NULL OR end_on > $3)"
            + (" AND end_on IS NULL" if only_open_past else ""),
            self.pid,
            list(kinds) if kinds else None,
            last,
        )

    async def raise_level(self, level: str) -> None:
        await self.conn.execute(
            "UPDATE projections.pathway_persons SET language_level = $2 WHERE person_id = $1"
            " AND (language_level IS NULL OR language_level < $2)",
            self.pid,
            level,
        )


on_event: Dispatch[PersonPath, None] = Dispatch()


@on_event.handles(fa.PersonRegistered)
async def _registered(person: PersonPath, event: CloudEvent, p: fa.PersonRegistered) -> None:
    await person.conn.execute(
        "INSERT INTO projections.pathway_persons (person_id, abh_id, stage, stage_since,"
        " eu_or_swiss) VALUES ($1, $2, 'arrival', $3, $4) ON CONFLICT DO NOTHING",
        person.pid,
        p.abh_id,
        date_in_germany(event.time),
        bool(set(p.nationalities) & EU_CODES),
    )
    await person.entered("arrival", date_in_germany(event.time))


@on_event.handles(fa.EntryRecorded)
async def _entry(person: PersonPath, event: CloudEvent, p: fa.EntryRecorded) -> None:
    await person.set(entry_date=p.entry_date, entry_mode=str(p.entry_mode))
    await person.milestone("entry", p.entry_date)
    await person.conn.execute(
        "UPDATE projections.pathway_persons SET stage_since = $2 WHERE person_id = $1"
        " AND stage = 'arrival'",
        person.pid,
        p.entry_date,
    )
    await person.conn.execute(
        "UPDATE projections.pathway_stage_history SET since = $2 WHERE person_id = $1"
        " AND stage = 'arrival'",
        person.pid,
        p.entry_date,
    )
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
    # After a positive decision the Gestattung runs on until the title follows
    # (§ 55 (2) AsylG: it ends when the decision is final); after a negative one, now.
    if p.outcome not in PROTECTION:
        await person.end(("gestattung",), p.decided_on)
    if p.outcome in PROTECTION:
        await person.set(protection_granted_on=p.decided_on)
        await person.milestone("protection_granted", p.decided_on)
        await person.stage("protected_or_tolerated", p.decided_on)


@on_event.handles(fa.DuldungIssued)
async def _duldung(person: PersonPath, event: CloudEvent, p: fa.DuldungIssued) -> None:
    await person.period("duldung", p.valid_from, p.valid_until)
    await person.stage("protected_or_tolerated", p.valid_from)


@on_event.handles(fa.ResidenceTitleApplied)
async def _title_applied(
    person: PersonPath, event: CloudEvent, p: fa.ResidenceTitleApplied
) -> None:
    await person.stage("status_pending", p.applied_on, only_from=("arrival",))


@on_event.handles(fa.FiktionsbescheinigungIssued)
async def _fiktion(
    person: PersonPath, event: CloudEvent, p: fa.FiktionsbescheinigungIssued
) -> None:
    await person.period("fiktion", p.issued_on, p.valid_until)


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
    await person.conn.execute(
        "UPDATE projections.pathway_periods SET end_on = $2 WHERE person_id = $1"
        " AND kind = 'temporary_protection' AND (end_on IS NULL OR end_on < $2)",
        person.pid,
        p.valid_until,
    )


@on_event.handles(fa.ResidenceTitleGranted)
async def _title(person: PersonPath, event: CloudEvent, p: fa.ResidenceTitleGranted) -> None:
    kind = TITLE_KINDS.get(p.title, "residence_title")
    start = p.valid_from
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
    await person.milestone("integration_course_completed", p.completed_on)


@on_event.handles(fa.LanguageCertificateRecorded)
async def _certificate(
    person: PersonPath, event: CloudEvent, p: fa.LanguageCertificateRecorded
) -> None:
    await person.raise_level(p.cefr_level)


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


@on_event.handles(fa.NaturalisationTestPassed)
async def _test(person: PersonPath, event: CloudEvent, p: fa.NaturalisationTestPassed) -> None:
    await person.set(test_passed_on=p.passed_on)


@on_event.handles(fa.NaturalisationCompleted)
async def _naturalised(
    person: PersonPath, event: CloudEvent, p: fa.NaturalisationCompleted
) -> None:
    await person.end(None, p.certificate_date)
    await person.set(naturalised_on=p.certificate_date)
    await person.stage("naturalised", p.certificate_date, force=True)
    await person.milestone("naturalised", p.certificate_date)


class PathwayProjection(NoHooks):
    """Applies foreigners-authority events to the pathway tables (idempotent per event)."""

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        person = getattr(payload, "person_id", None)
        if person is None:
            return
        await on_event(PersonPath(conn, UUID(person), event.sourceposition), event, payload)


@on_event.handles(PersonalDataErased, ProcessingRestricted)
async def _erased(
    path: PersonPath, event: CloudEvent, p: PersonalDataErased | ProcessingRestricted
) -> None:
    """The person is hidden from every read (their pathway, the authority's worklist) and their
    periods of stay are dropped; the stage, the stage history and the milestones stay for the
    pseudonymous process statistics, which therefore do not change."""
    await path.conn.execute(
        "UPDATE projections.pathway_persons SET erased = true WHERE person_id = $1", path.pid
    )
    await path.conn.execute(
        "DELETE FROM projections.pathway_periods WHERE person_id = $1", path.pid
    )
