"""The pathway projector keeps a batch's persons, stage history and milestones in memory and
writes them in ``flush``: a batch with several events of one person gives the same rows as
one event per batch.

Real PostgreSQL: the same events (for fresh person ids each run) are applied in batches of
different sizes, and every pathway table is compared."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from contracts import CloudEvent, Payload
from contracts import foreigners_authority as fa
from contracts.privacy import ErasureGround, PersonalDataErased
from projections.pathway.projector import ERASED_TABLES, PathwayProjection
from projections.schema import ensure

TABLES = (
    "pathway_persons",
    "pathway_stage_history",
    "pathway_milestones",
    *ERASED_TABLES,
)
ABH = "abh-05315"
_positions = iter(range(1, 10**9))


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await ensure(pool)
    yield pool
    await pool.close()


def envelope(payload: Payload, position: int) -> CloudEvent:
    person = str(payload.model_dump()["person_id"])
    subject = f"hub.foreigners_authority.{type(payload).__name__.lower()}.v1"
    at = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/hub/foreigners_authority",
        type=subject,
        subject=person,
        time=at,
        dataschema=f"urn:hub:schema:{subject}",
        data=payload.model_dump(mode="json"),
        personid=person,
        correlationid=str(uuid.uuid4()),
        legalbasis="§ 86 AufenthG",
        purpose="residence_administration",
        sourceagency=ABH,
        actingrole="abh_officer",
        recordedtime=at,
        sourceposition=position,
    )


def story(a: str, b: str, c: str) -> list[Payload]:
    """Three persons' events, interleaved: an asylum path to naturalisation (``a``), a visa
    entry with a late registration, a refusal and a departure (``b``), and a person erased
    in the middle of their path (``c``)."""

    def registered(person: str, nationalities: tuple[str, ...]) -> fa.PersonRegistered:
        return fa.PersonRegistered(
            person_id=person,
            names_enc="hubenc:v1:names",
            birth_date_enc="hubenc:v1:birth",
            azr_number_enc="hubenc:v1:azr",
            nationalities=nationalities,
            abh_id=ABH,
        )

    title_a = fa.ResidenceTitleGranted(
        person_id=a,
        title="residence_permit",
        paragraph="§ 25 (2) AufenthG",
        valid_from=date(2017, 3, 1),
        valid_until=date(2020, 2, 28),
    )
    return [
        registered(a, ("SYR",)),
        # an entry before the registration: no person row yet, the milestone is kept
        fa.EntryRecorded(person_id=b, entry_date=date(2018, 9, 1), entry_mode=fa.EntryMode.VISA),
        fa.EntryRecorded(person_id=a, entry_date=date(2015, 8, 3), entry_mode=fa.EntryMode.ASYLUM),
        registered(c, ("AFG",)),
        fa.AsylumApplicationFiled(person_id=a, filed_on=date(2015, 9, 1)),
        registered(b, ("IND",)),
        fa.EntryRecorded(person_id=b, entry_date=date(2018, 9, 2), entry_mode=fa.EntryMode.VISA),
        fa.ResidenceRegistered(
            person_id=a, municipality_key="05315000", registered_on=date(2015, 9, 10)
        ),
        fa.AsylumApplicationFiled(person_id=c, filed_on=date(2019, 1, 5)),
        fa.AsylumDecisionReceived(person_id=a, outcome="refugee", decided_on=date(2017, 2, 1)),
        fa.AsylumDecisionReceived(person_id=a, outcome="refugee", decided_on=date(2017, 2, 9)),
        fa.AsylumDecisionFinal(person_id=a, final_on=date(2017, 2, 20)),
        fa.AsylumDecisionReceived(person_id=c, outcome="rejected", decided_on=date(2019, 6, 1)),
        fa.AsylumDecisionFinal(person_id=c, final_on=date(2019, 7, 1)),
        fa.DuldungIssued(
            person_id=c,
            ground="§ 60a (2) AufenthG",
            valid_from=date(2019, 7, 2),
            valid_until=date(2020, 1, 1),
        ),
        title_a,
        title_a,  # redelivered under a new position: a second period, the same milestones
        fa.ResidenceTitleApplied(
            person_id=b, paragraph="§ 18b AufenthG", applied_on=date(2019, 8, 1)
        ),
        fa.ResidenceTitleRefused(
            person_id=b, paragraph="§ 18b AufenthG", refused_on=date(2019, 10, 1)
        ),
        fa.LanguageCertificateRecorded(person_id=a, cefr_level="A2", issued_on=date(2018, 1, 5)),
        fa.IntegrationCourseCompleted(
            person_id=a, level="B1", completed_on=date(2018, 6, 1), final_test_passed=True
        ),
        fa.LanguageCertificateRecorded(person_id=a, cefr_level="A1", issued_on=date(2018, 7, 5)),
        fa.StayAbroadBegan(person_id=b, left_on=date(2019, 12, 1)),
        fa.TemporaryProtectionGranted(
            person_id=b, valid_from=date(2019, 12, 2), valid_until=date(2020, 6, 1)
        ),
        fa.FiktionsbescheinigungIssued(
            person_id=a, kind="81_4", issued_on=date(2020, 2, 1), valid_until=date(2020, 8, 1)
        ),
        fa.TemporaryProtectionExtended(person_id=b, valid_until=date(2021, 6, 1)),
        PersonalDataErased(
            person_id=c, ground=ErasureGround.REQUEST, requested_by="dpo", key_destroyed=True
        ),
        fa.LanguageCertificateRecorded(person_id=c, cefr_level="B2", issued_on=date(2020, 1, 5)),
        fa.DuldungIssued(
            person_id=c,
            ground="§ 60a (2) AufenthG",
            valid_from=date(2020, 1, 2),
            valid_until=date(2020, 7, 1),
        ),
        fa.ReturnedFromAbroad(person_id=b, returned_on=date(2020, 1, 10)),
        fa.NaturalisationRequirementAssessed(
            person_id=a,
            requirement="livelihood",
            outcome="met",
            law_version="StAG 2024-06-27",
            assessed_on=date(2022, 5, 1),
        ),
        fa.NaturalisationTestPassed(person_id=a, passed_on=date(2022, 4, 1), points=30),
        fa.NaturalisationApplied(person_id=a, channel="online", applied_on=date(2022, 6, 1)),
        fa.ResidenceTitleGranted(
            person_id=a,
            title="residence_permit",
            paragraph="§ 25 (2) AufenthG",
            valid_from=date(2020, 2, 29),
            valid_until=date(2023, 2, 28),
        ),
        fa.DepartureRecorded(person_id=b, departed_on=date(2020, 3, 1)),
        fa.ResidenceTitleApplied(
            person_id=b, paragraph="§ 18b AufenthG", applied_on=date(2020, 4, 1)
        ),
        fa.NaturalisationCompleted(person_id=a, certificate_date=date(2023, 1, 10)),
    ]


async def project(
    pool: asyncpg.Pool, batch_size: int, *, prepare: bool = False, keep: int = 0
) -> dict[str, list[tuple[Any, ...]]]:
    """Apply the story for fresh persons in batches of ``batch_size`` events (one transaction
    each, as the projector's loop does) and read back every pathway table, the persons
    numbered by their order in the story. ``prepare``: each batch's persons are read at once
    first (``PathwayProjection.prepare``, as the projector's loop calls it). ``keep``: the
    rows of up to that many persons are kept across batches, as a replay keeps them (and the
    persons are new, as a replay into empty tables meets them)."""
    persons = [str(uuid.uuid4()) for _ in range(3)]
    events = [(envelope(p, next(_positions)), p) for p in story(*persons)]
    projection = PathwayProjection(keep=keep, fresh=keep > 0)
    async with pool.acquire() as conn:
        for start in range(0, len(events), batch_size):
            async with conn.transaction():
                await projection.begin(conn)
                if prepare:
                    await projection.prepare(conn, events[start : start + batch_size])
                for event, payload in events[start : start + batch_size]:
                    await projection.apply(conn, event, payload)
                await projection.flush(conn)
        ids = [uuid.UUID(p) for p in persons]
        number = {pid: i for i, pid in enumerate(ids)}
        first = min(event.sourceposition for event, _ in events)
        tables = {}
        for table in TABLES:
            rows = await conn.fetch(
                f"SELECT * FROM projections.{table} WHERE person_id = ANY($1)", ids
            )
            tables[table] = sorted(
                tuple(
                    number[value]
                    if key == "person_id"
                    else value - first
                    if key == "position"
                    else value
                    for key, value in row.items()
                )
                for row in rows
            )
    return tables


async def test_a_batch_with_several_events_of_a_person_gives_the_rows_of_one_event_per_batch(
    pool: asyncpg.Pool,
) -> None:
    # given the rows of the story applied one event per batch
    one_by_one = await project(pool, 1)
    assert len(one_by_one["pathway_persons"]) == 3
    assert all(one_by_one[table] for table in TABLES if table != "pathway_nationality")

    # when the same events are applied in larger batches (every event in one, too), with the
    # batch's persons read lazily or all at once first
    for size in (2, 5, 1000):
        for prepare in (False, True):
            batched = await project(pool, size, prepare=prepare)

            # then every table holds the same rows
            for table in TABLES:
                assert batched[table] == one_by_one[table], (size, prepare, table)


async def test_a_replay_keeping_the_persons_rows_across_batches_gives_the_same_rows(
    pool: asyncpg.Pool,
) -> None:
    # given the rows of the story applied one event per batch, reading every row back
    one_by_one = await project(pool, 1)

    # when a replay keeps what it wrote across its batches instead of reading it back: all
    # three persons, or fewer than the story has (the one met longest ago is read back)
    for size in (1, 2, 5, 1000):
        for keep in (1, 2, 3):
            kept = await project(pool, size, prepare=True, keep=keep)

            # then every table holds the same rows
            for table in TABLES:
                assert kept[table] == one_by_one[table], (size, keep, table)
