"""The timeline projector writes its side tables once per batch: within one transaction the
last word on who holds a file counts, an owner remembered earlier in the batch is found by a
later event of the same batch, and nothing is written when the batch rolls back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from contracts import REGISTRY, CloudEvent, Payload
from contracts import case_management as cm
from contracts import foreigners_authority as fa
from projections.schema import ensure
from projections.timeline.projector import TimelineProjection

AT = datetime(2024, 5, 1, tzinfo=UTC)


def event(payload: Payload, position: int, agency: str) -> tuple[CloudEvent, Payload]:
    spec = REGISTRY.for_payload(type(payload))
    person = getattr(payload, "person_id", None)
    return (
        CloudEvent(
            id=str(uuid.uuid4()),
            source=f"/hub/{spec.service}",
            type=spec.type,
            time=AT,
            dataschema=spec.dataschema,
            data=payload.model_dump(mode="json"),
            personid=person,
            correlationid=str(uuid.uuid4()),
            legalbasis="§ 86 AufenthG",
            purpose="residence_administration",
            sourceagency=agency,
            actingrole="abh_officer",
            recordedtime=AT,
            sourceposition=position,
        ),
        payload,
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await ensure(pool)
    yield pool
    await pool.close()


async def apply_batch(
    pool: asyncpg.Pool, events: list[tuple[CloudEvent, Payload]], *, fail: bool = False
) -> None:
    projection = TimelineProjection()
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await projection.begin(conn)
                for e, p in events:
                    await projection.apply(conn, e, p)
                await projection.flush(conn)
                if fail:
                    raise RuntimeError("the batch fails before its commit")
        except RuntimeError:
            if not fail:
                raise


def registered(person: str, abh: str) -> fa.PersonRegistered:
    return fa.PersonRegistered(
        person_id=person,
        names_enc="enc:v1:x",
        birth_date_enc="enc:v1:x",
        azr_number_enc="enc:v1:x",
        nationalities=("SYR",),
        abh_id=abh,
    )


async def test_the_last_hand_over_in_a_batch_decides_who_holds_the_file(
    pool: asyncpg.Pool,
) -> None:
    person = str(uuid.uuid4())
    moved = fa.CaseFileTransferred(person_id=person, to_abh="abh-05316", transferred_on=AT.date())

    await apply_batch(
        pool, [event(registered(person, "abh-05315"), 1, "abh-05315"), event(moved, 2, "abh-05315")]
    )

    holder = await pool.fetchval(
        "SELECT authority FROM projections.timeline_events_holders WHERE person_id = $1",
        uuid.UUID(person),
    )
    assert holder == "abh-05316"


async def test_an_owner_remembered_earlier_in_the_batch_is_found_later_in_it(
    pool: asyncpg.Pool,
) -> None:
    person, case = str(uuid.uuid4()), str(uuid.uuid4())
    consent = str(uuid.uuid4())
    opened = cm.CaseOpened(
        case_id=case,
        person_id=person,
        target_group="refugees",
        legal_spheres=("sgb_ii",),
        intake_source="walk_in",
        interpreter_needed=False,
        case_manager="cm-1",
        agency="kim-05315",
        opened_on=AT.date(),
    )
    granted = cm.ConsentGranted(
        consent_id=consent,
        person_id=person,
        case_id=case,
        recipients=("awo-05315",),
        categories=("basic",),
        purposes=("counselling",),
        special_categories_explicit=False,
        valid_from=AT.date(),
        valid_until=date(2027, 1, 1),
        language="de",
    )

    await apply_batch(pool, [event(opened, 1, "kim-05315"), event(granted, 2, "kim-05315")])

    owners = {
        str(r["ref_id"]): r["owner_agency"]
        for r in await pool.fetch(
            "SELECT ref_id, owner_agency FROM projections.timeline_events_refs"
        )
    }
    assert owners[case] == "kim-05315"
    assert owners[consent] == "kim-05315"  # the consent's owner came from the buffered case
    stored = await pool.fetchval(
        "SELECT owner_agency FROM projections.timeline_events_consents WHERE consent_id = $1",
        uuid.UUID(consent),
    )
    assert stored == "kim-05315"


async def test_a_rolled_back_batch_leaves_no_side_table_row(pool: asyncpg.Pool) -> None:
    person = str(uuid.uuid4())

    await apply_batch(pool, [event(registered(person, "abh-05315"), 1, "abh-05315")], fail=True)

    count: Any = await pool.fetchval(
        "SELECT count(*) FROM projections.timeline_events_holders WHERE person_id = $1",
        uuid.UUID(person),
    )
    assert count == 0
