"""Reading the pathway: what of a person's path a reader may see, by the one visibility rule.

The pathway is the foreigners authority's data: residence data throughout, and language data
where it records an integration course or a language level. A reader sees the pathway when
the rule lets them see the person's residence data, and its language facts only when it lets
them see language data too (as the same facts are shown, or not, on the timeline).

Beside that check: a person's pathway rows, and the foreigners authority's worklist of
persons at a stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol
from uuid import UUID

from projections.pathway.readiness import (
    ASSESSED,
    REQUIREMENT_KEYS,
    Assessment,
    CourseCompletion,
    KnowledgeTest,
    LanguageCertificate,
    NationalityFact,
    PathwayFacts,
    Period,
    StayAbroad,
    TitleApplication,
    Waiver,
)
from projections.timeline.visibility import Fact, Reader, may_see


class Fetch(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...


class FetchRow(Protocol):
    async def fetchrow(self, query: str, *args: Any) -> Any: ...


#: The reader's parameters, typed once (the rule may leave some of them unused)
READER = {"agency": "p.agency", "role": "p.role", "today": "p.today", "purpose": "p.purpose"}


@dataclass(frozen=True)
class PathwayAccess:
    """Which parts of a person's pathway a reader may see."""

    residence: bool
    language: bool


async def pathway_access(conn: FetchRow, person: UUID, reader: Reader) -> PathwayAccess:
    residence = may_see(Fact.residence_file("p.person_id", "residence"), **READER)
    language = may_see(Fact.residence_file("p.person_id", "language"), **READER)
    row = await conn.fetchrow(
        f"SELECT {residence} AS residence, {language} AS language"
        " FROM (SELECT $1::uuid AS person_id, $2::text AS agency, $3::text AS role,"
        " $4::date AS today, $5::text AS purpose) p",
        person,
        reader.agency,
        reader.role,
        reader.today,
        reader.purpose,
    )
    return PathwayAccess(residence=bool(row["residence"]), language=bool(row["language"]))


async def person(conn: FetchRow, person_id: UUID) -> Any:
    """The person's pathway row (stage, dates, the facts readiness needs), or None."""
    return await conn.fetchrow(
        "SELECT * FROM projections.pathway_persons WHERE person_id = $1 AND NOT erased",
        person_id,
    )


async def periods(conn: Fetch, person_id: UUID) -> list[Any]:
    """The person's status periods, in the order they began."""
    return await conn.fetch(
        "SELECT kind, start_on, end_on, paragraph, continues FROM projections.pathway_periods"
        " WHERE person_id = $1 ORDER BY start_on, position",
        person_id,
    )


async def milestones(conn: Fetch, person_id: UUID) -> list[Any]:
    """The milestones the person reached, in the order reached."""
    return await conn.fetch(
        "SELECT milestone, reached_on FROM projections.pathway_milestones WHERE person_id = $1"
        " ORDER BY reached_on, milestone",
        person_id,
    )


async def persons_at_stage(
    conn: Fetch, stage: str, reader: Reader, *, after: UUID, limit: int
) -> list[Any]:
    """Up to ``limit`` persons at a stage whose id comes after ``after``, by id: those whose
    residence data the reader may see (for an authority's officers, the files it holds)."""
    visible = may_see(
        Fact.residence_file("p.person_id", "residence"),
        agency="$4",
        role="$5",
        today="$6",
        purpose="$7",
    )
    return await conn.fetch(
        "SELECT person_id, stage, stage_since, municipality_key, entry_date"
        f" FROM projections.pathway_persons p WHERE stage = $1 AND person_id > $2 AND NOT erased"
        f" AND {visible}"
        " ORDER BY person_id LIMIT $3",
        stage,
        after,
        limit,
        reader.agency,
        reader.role,
        reader.today,
        reader.purpose,
    )


#: countries whose code says "stateless" (ICAO): no nationality to give up
STATELESS = frozenset({"XXA"})


async def facts(conn: Fetch, row: Any, *, with_language: bool = True) -> PathwayFacts:
    """The readiness engine's facts of the person whose pathway row is ``row``, each dated, as
    the foreigners authority recorded them. Without ``with_language`` the language facts
    (certificates, integration courses, the language level) are left out, as the reader may not
    see them.

    Only the authority's own records are here: a case manager's assessments never reach the
    pathway (§ 87 AufenthG); a case manager's pre-check adds them on their own side."""
    person_id = row["person_id"]
    periods = await conn.fetch(
        "SELECT kind, start_on, end_on, paragraph, continues FROM projections.pathway_periods"
        " WHERE person_id = $1 ORDER BY start_on, position",
        person_id,
    )
    certificates = await conn.fetch(
        "SELECT kind, on_date, level, final_test_passed, test, points"
        " FROM projections.pathway_certificates WHERE person_id = $1 ORDER BY on_date, position",
        person_id,
    )
    assessments = await conn.fetch(
        "SELECT requirement, outcome, assessed_on, ground, agency"
        " FROM projections.pathway_assessments WHERE person_id = $1"
        " ORDER BY assessed_on, position",
        person_id,
    )
    stays = await conn.fetch(
        "SELECT left_on, returned_on, permitted_until FROM projections.pathway_stays_abroad"
        " WHERE person_id = $1 ORDER BY left_on, position",
        person_id,
    )
    applications = await conn.fetch(
        "SELECT applied_on, paragraph, refused_on FROM projections.pathway_title_applications"
        " WHERE person_id = $1 ORDER BY applied_on, position",
        person_id,
    )
    nationality = await _nationality(conn, row)
    return PathwayFacts(
        periods=tuple(
            Period(p["kind"], p["start_on"], p["end_on"], p["paragraph"], p["continues"])
            for p in periods
        ),
        protection_granted_on=row["protection_granted_on"],
        language_level=row["language_level"] if with_language else None,
        naturalisation_test_passed_on=row["test_passed_on"],
        integration_course_completed_on=row["course_completed_on"] if with_language else None,
        livelihood_secured=row["livelihood_secured"],
        no_relevant_conviction=row["no_relevant_conviction"],
        commitment_declared=row["commitment_declared"],
        eu_or_swiss_citizen=row["eu_or_swiss"],
        departed_on=row["departed_on"],
        language_certificates=tuple(
            LanguageCertificate(c["level"], c["on_date"])
            for c in certificates
            if with_language and c["kind"] == "language_certificate"
        ),
        integration_courses=tuple(
            CourseCompletion(c["level"], c["on_date"], c["final_test_passed"])
            for c in certificates
            if with_language and c["kind"] == "integration_course"
        ),
        knowledge_tests=tuple(
            KnowledgeTest(c["test"], c["on_date"], c["points"])
            for c in certificates
            if c["kind"] == "knowledge_test"
        ),
        assessments=tuple(
            Assessment(a["requirement"], a["outcome"], a["assessed_on"], assessor_code(a["agency"]))
            for a in assessments
            if a["requirement"] in ASSESSED
        ),
        waivers=tuple(
            Waiver(a["requirement"], a["ground"], a["assessed_on"])
            for a in assessments
            if a["outcome"] == "waived"
            and a["ground"] is not None
            and a["requirement"] in REQUIREMENT_KEYS
        ),
        stays_abroad=tuple(
            StayAbroad(s["left_on"], s["returned_on"], s["permitted_until"]) for s in stays
        ),
        nationality=nationality,
        title_applications=tuple(
            TitleApplication(a["applied_on"], a["paragraph"], a["refused_on"]) for a in applications
        ),
    )


def assessor_code(agency: str) -> str:
    """An agency id as the engine's assessor code (lower case, no spaces)."""
    code = re.sub(r"[^a-z0-9_.:-]", "-", agency.strip().lower())[:64]
    return code if code[:1].isalnum() else f"a{code}"[:64]


async def _nationality(conn: Fetch, row: Any) -> tuple[NationalityFact, ...]:
    """Single nationality, dated: from the day the last of the person's nationalities was given
    up or kept under § 12 StAG ("section_12_exception" if any was kept), or "stateless"."""
    held = set(row["nationalities"] or ())
    if not held:
        return ()  # not known (projected before version 4)
    if held <= STATELESS:
        return (NationalityFact("stateless", date.min),)
    records = await conn.fetch(
        "SELECT nationality, kind, on_date FROM projections.pathway_nationality"
        " WHERE person_id = $1 ORDER BY on_date, position",
        row["person_id"],
    )
    settled = {r["nationality"]: r for r in records}
    others = held - STATELESS
    if not others <= set(settled):
        return ()
    last = max(settled[n]["on_date"] for n in others)
    kept = any(settled[n]["kind"] == "section_12_exception" for n in others)
    return (NationalityFact("section_12_exception" if kept else "given_up", last),)
