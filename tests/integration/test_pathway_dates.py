"""The pathway projection dates a registration by the day in Germany, not the UTC day."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import pytest

from contracts import CloudEvent
from contracts.foreigners_authority import PersonRegistered
from projections.pathway.projector import PathwayProjection
from projections.schema import ensure

SUBJECT = "hub.foreigners_authority.person_registered.v1"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await ensure(pool)
    yield pool
    await pool.close()


def registered(person: str, at: datetime) -> tuple[CloudEvent, PersonRegistered]:
    payload = PersonRegistered(
        person_id=person,
        names_enc="hubenc:v1:names",
        birth_date_enc="hubenc:v1:birth",
        azr_number_enc="hubenc:v1:azr",
        nationalities=("SYR",),
        abh_id="abh-05315",
    )
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/hub/foreigners_authority",
        type=SUBJECT,
        subject=person,
        time=at,
        dataschema=f"urn:hub:schema:{SUBJECT}",
        data=payload.model_dump(mode="json"),
        personid=person,
        correlationid=str(uuid.uuid4()),
        legalbasis="§ 86 AufenthG",
        purpose="residence_administration",
        sourceagency="abh-05315",
        actingrole="abh_officer",
        recordedtime=at,
        sourceposition=1,
    )
    return event, payload


async def test_a_person_registered_late_in_the_evening_is_at_arrival_since_that_day_in_germany(
    pool: asyncpg.Pool,
) -> None:
    # given a registration at 00:30 in Germany on 15 January, which is still 14 January in UTC
    person = str(uuid.uuid4())
    event, payload = registered(person, datetime(2026, 1, 14, 23, 30, tzinfo=UTC))

    # when the projection applies it
    async with pool.acquire() as conn:
        projection = PathwayProjection()
        await projection.begin(conn)
        await projection.apply(conn, event, payload)
        await projection.flush(conn)
        since = await conn.fetchval(
            "SELECT stage_since FROM projections.pathway_persons WHERE person_id = $1",
            uuid.UUID(person),
        )

    # then the person is at the arrival stage since the German day
    assert since == date(2026, 1, 15)
