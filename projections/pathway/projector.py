"""The pathway projection: stage, milestones and status periods per person.

Stages: arrival -> status_pending -> protected_or_tolerated -> titled -> permanent ->
naturalisation_applied -> naturalised; or departed / transferred. Readiness for
naturalisation is evaluated from these rows at query time (``readiness(asOf:)``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import foreigners_authority as fa
from kernel.clock import date_in_germany
from services.runtime.projection_base import NoHooks

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


class PathwayProjection(NoHooks):
    """Applies foreigners-authority events to the pathway tables (idempotent per event)."""

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        person = getattr(payload, "person_id", None)
        if person is None:
            return
        pid = UUID(person)
        position = event.sourceposition
        p: Any = payload
        if isinstance(payload, fa.PersonRegistered):
            await conn.execute(
                "INSERT INTO projections.pathway_persons (person_id, abh_id, stage, stage_since,"
                " eu_or_swiss) VALUES ($1, $2, 'arrival', $3, $4) ON CONFLICT DO NOTHING",
                pid,
                p.abh_id,
                date_in_germany(event.time),
                bool(set(p.nationalities) & EU_CODES),
            )
        elif isinstance(payload, fa.EntryRecorded):
            await self._set(conn, pid, entry_date=p.entry_date, entry_mode=str(p.entry_mode))
            await self._milestone(conn, pid, "entry", p.entry_date)
            await conn.execute(
                "UPDATE projections.pathway_persons SET stage_since = $2 WHERE person_id = $1"
                " AND stage = 'arrival'",
                pid,
                p.entry_date,
            )
            if str(p.entry_mode) == "eu_free_movement":
                await self._period(conn, pid, position, "eu_free_movement", p.entry_date, None)
        elif isinstance(payload, fa.ResidenceRegistered):
            await self._set(conn, pid, municipality_key=p.municipality_key)
            await self._milestone(conn, pid, "registered", p.registered_on)
        elif isinstance(payload, fa.AsylumApplicationFiled):
            await self._period(conn, pid, position, "gestattung", p.filed_on, None)
            await self._stage(conn, pid, position, "status_pending", p.filed_on)
            await self._milestone(conn, pid, "asylum_applied", p.filed_on)
        elif isinstance(payload, fa.AsylumDecisionReceived):
            # After a positive decision the Gestattung runs on until the title follows
            # (§ 55 (2) AsylG: it ends when the decision is final); after a negative one, now.
            if p.outcome not in PROTECTION:
                await self._end(conn, pid, ("gestattung",), p.decided_on)
            if p.outcome in PROTECTION:
                await self._set(conn, pid, protection_granted_on=p.decided_on)
                await self._milestone(conn, pid, "protection_granted", p.decided_on)
                await self._stage(conn, pid, position, "protected_or_tolerated", p.decided_on)
        elif isinstance(payload, fa.DuldungIssued):
            await self._period(conn, pid, position, "duldung", p.valid_from, p.valid_until)
            await self._stage(conn, pid, position, "protected_or_tolerated", p.valid_from)
        elif isinstance(payload, fa.ResidenceTitleApplied):
            await self._stage(
                conn, pid, position, "status_pending", p.applied_on, only_from=("arrival",)
            )
        elif isinstance(payload, fa.FiktionsbescheinigungIssued):
            await self._period(conn, pid, position, "fiktion", p.issued_on, p.valid_until)
        elif isinstance(payload, fa.TemporaryProtectionGranted):
            await self._period(
                conn, pid, position, "temporary_protection", p.valid_from, p.valid_until
            )
            await self._stage(conn, pid, position, "protected_or_tolerated", p.valid_from)
            await self._milestone(conn, pid, "protection_granted", p.valid_from)
        elif isinstance(payload, fa.TemporaryProtectionExtended):
            await conn.execute(
                "UPDATE projections.pathway_periods SET end_on = $2 WHERE person_id = $1"
                " AND kind = 'temporary_protection' AND (end_on IS NULL OR end_on < $2)",
                pid,
                p.valid_until,
            )
        elif isinstance(payload, fa.ResidenceTitleGranted):
            kind = TITLE_KINDS.get(p.title, "residence_title")
            start = p.valid_from
            await self._end(conn, pid, ("gestattung", "duldung", "fiktion"), start)
            await self._end(
                conn,
                pid,
                ("residence_title", "visa", "temporary_protection"),
                start,
                only_open_past=True,
            )
            await self._period(conn, pid, position, kind, start, p.valid_until, p.paragraph)
            if kind in ("settlement_permit", "eu_long_term"):
                await self._stage(conn, pid, position, "permanent", start)
                await self._milestone(conn, pid, "permanent_status", start)
            elif kind == "residence_title":
                await self._stage(conn, pid, position, "titled", start)
                await self._milestone(conn, pid, "first_title", start)
        elif isinstance(payload, fa.IntegrationCourseCompleted):
            await self._raise_level(conn, pid, p.level)
            await self._set(conn, pid, course_completed_on=p.completed_on)
            await self._milestone(conn, pid, "integration_course_completed", p.completed_on)
        elif isinstance(payload, fa.LanguageCertificateRecorded):
            await self._raise_level(conn, pid, p.cefr_level)
        elif isinstance(payload, fa.DepartureRecorded):
            await self._end(conn, pid, None, p.departed_on)
            await self._set(conn, pid, departed_on=p.departed_on)
            await self._stage(conn, pid, position, "departed", p.departed_on, force=True)
            await self._milestone(conn, pid, "departed", p.departed_on)
        elif isinstance(payload, fa.CaseFileTransferred):
            await self._stage(conn, pid, position, "transferred", p.transferred_on, force=True)
        elif isinstance(payload, fa.NaturalisationApplied):
            await self._set(conn, pid, naturalisation_applied_on=p.applied_on)
            await self._stage(
                conn, pid, position, "naturalisation_applied", p.applied_on, force=True
            )
            await self._milestone(conn, pid, "naturalisation_applied", p.applied_on)
        elif isinstance(payload, fa.NaturalisationRequirementAssessed):
            column = {
                "livelihood": "livelihood_secured",
                "no_conviction": "no_relevant_conviction",
                "commitment": "commitment_declared",
            }.get(p.requirement)
            if column is not None:
                await self._set(conn, pid, **{column: p.outcome in ("met", "waived")})
        elif isinstance(payload, fa.NaturalisationTestPassed):
            await self._set(conn, pid, test_passed_on=p.passed_on)
        elif isinstance(payload, fa.NaturalisationCompleted):
            await self._end(conn, pid, None, p.certificate_date)
            await self._set(conn, pid, naturalised_on=p.certificate_date)
            await self._stage(conn, pid, position, "naturalised", p.certificate_date, force=True)
            await self._milestone(conn, pid, "naturalised", p.certificate_date)

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    async def _set(conn: asyncpg.Connection, pid: UUID, **values: Any) -> None:
        assignments = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
        await conn.execute(
            f"UPDATE projections.pathway_persons SET {assignments} WHERE person_id = $1",
            pid,
            *values.values(),
        )

    @staticmethod
    async def _stage(
        conn: asyncpg.Connection,
        pid: UUID,
        position: int,
        stage: str,
        since: date,
        *,
        force: bool = False,
        only_from: tuple[str, ...] | None = None,
    ) -> None:
        """The stage follows the latest status event, except that terminal stages stay and
        an open naturalisation application holds until it is completed (``force`` overrides
        the latter, for departure and transfer)."""
        current = await conn.fetchval(
            "SELECT stage FROM projections.pathway_persons WHERE person_id = $1", pid
        )
        if current is None or current in TERMINAL:
            return
        if only_from is not None and current not in only_from:
            return
        if current == "naturalisation_applied" and stage != "naturalised" and not force:
            return
        await conn.execute(
            "UPDATE projections.pathway_persons SET stage = $2, stage_since = $3"
            " WHERE person_id = $1",
            pid,
            stage,
            since,
        )

    @staticmethod
    async def _milestone(conn: asyncpg.Connection, pid: UUID, name: str, on: date) -> None:
        await conn.execute(
            "INSERT INTO projections.pathway_milestones (person_id, milestone, reached_on)"
            " VALUES ($1, $2, $3) ON CONFLICT (person_id, milestone) DO NOTHING",
            pid,
            name,
            on,
        )

    @staticmethod
    async def _period(
        conn: asyncpg.Connection,
        pid: UUID,
        position: int,
        kind: str,
        start: date,
        end: date | None,
        paragraph: str | None = None,
    ) -> None:
        await conn.execute(
            "INSERT INTO projections.pathway_periods (person_id, position, kind, start_on,"
            " end_on, paragraph) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            pid,
            position,
            kind,
            start,
            end,
            paragraph,
        )

    @staticmethod
    async def _end(
        conn: asyncpg.Connection,
        pid: UUID,
        kinds: tuple[str, ...] | None,
        on: date,
        *,
        only_open_past: bool = False,
    ) -> None:
        """End open (or later-ending) periods of these kinds the day before ``on``."""
        last = on - timedelta(days=1)
        await conn.execute(
            "UPDATE projections.pathway_periods SET end_on = $3 WHERE person_id = $1"
            " AND ($2::text[] IS NULL OR kind = ANY($2)) AND start_on <= $3"
            " AND (end_on IS NULL OR end_on > $3)"
            + (" AND end_on IS NULL" if only_open_past else ""),
            pid,
            list(kinds) if kinds else None,
            last,
        )

    @staticmethod
    async def _raise_level(conn: asyncpg.Connection, pid: UUID, level: str) -> None:
        await conn.execute(
            "UPDATE projections.pathway_persons SET language_level = $2 WHERE person_id = $1"
            " AND (language_level IS NULL OR language_level < $2)",
            pid,
            level,
        )
