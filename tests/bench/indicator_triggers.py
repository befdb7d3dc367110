"""What the steering indicators' aggregates (projections/indicators/schema.sql) cost the pathway
projector's flush: ``Batch.write`` of 5,000 persons in batches of 100, with the triggers on and
off (``DISABLE TRIGGER USER``), on a throwaway embedded PostgreSQL.

    .venv/bin/python -m tests.bench.indicator_triggers --rounds 6

Phases per round: ``register`` (a new person row, an arrival history row and an entry
milestone each), ``stage`` (each person to a new stage: the row, a history row and a
milestone), ``other`` (a column no indicator counts). Prints persons per second per phase and
round, and the median over the rounds, triggers on and off alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

from projections.pathway.projector import PERSON_COLUMNS, Batch
from services.runtime.embedded import EmbeddedPostgres

PERSONS, BATCH = 5000, 100
PHASES = ("register", "stage", "other")


async def one_round(url: str, triggers: bool) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS projections CASCADE; CREATE SCHEMA projections")
        for package in ("pathway", "case_views", "indicators"):
            sql = resources.files(f"projections.{package}").joinpath("schema.sql").read_text()
            await conn.execute(sql)
        if not triggers:
            for table in ("pathway_persons", "pathway_stage_history", "pathway_milestones"):
                await conn.execute(f"ALTER TABLE projections.{table} DISABLE TRIGGER USER")
        ids = [uuid.uuid4() for _ in range(PERSONS)]
        rows: dict[uuid.UUID, dict[str, Any]] = {}
        rates = {}
        for number, phase in enumerate(PHASES, start=1):
            began = time.perf_counter()
            for start in range(0, PERSONS, BATCH):
                batch = Batch()
                async with conn.transaction():
                    for i, pid in enumerate(ids[start : start + BATCH]):
                        position = (start + i) * 10 + number
                        since = dt.date(2025, 1 + i % 12, 1)
                        if phase == "register":
                            row = dict.fromkeys(PERSON_COLUMNS)
                            row.update(
                                person_id=pid,
                                abh_id="abh",
                                municipality_key=f"0531500{i % 7}",
                                stage="arrival",
                                stage_since=since,
                                eu_or_swiss=False,
                                erased=False,
                                nationalities=["SYR"],
                            )
                            rows[pid] = row
                            batch.history[(pid, position)] = (since, "arrival")
                            batch.milestones[(pid, "entry")] = since
                        elif phase == "stage":
                            titled = dt.date(2026, 2, 1)
                            rows[pid] = {**rows[pid], "stage": "titled", "stage_since": titled}
                            batch.history[(pid, position)] = (titled, "titled")
                            batch.milestones[(pid, "first_title")] = titled
                        else:
                            rows[pid] = {**rows[pid], "language_level": "B1"}
                        batch.persons[pid] = rows[pid]
                        batch.dirty.add(pid)
                    await batch.write(conn)
            rates[phase] = PERSONS / (time.perf_counter() - began)
        return rates
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hub-indicator-triggers-"))
    postgres = EmbeddedPostgres(root / "data", settings={"fsync": "off"})
    postgres.start()
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    try:
        for n in range(args.rounds):
            for triggers in (False, True) if n % 2 else (True, False):
                rates = asyncio.run(one_round(postgres.url(), triggers))
                runs[triggers].append(rates)
                cells = ", ".join(f"{phase} {rate:,.0f}" for phase, rate in rates.items())
                print(f"round {n + 1}, triggers {'on ' if triggers else 'off'}: {cells} persons/s")
    finally:
        postgres.stop()
    for triggers, found in runs.items():
        cells = ", ".join(
            f"{phase} {statistics.median(r[phase] for r in found):,.0f}" for phase in PHASES
        )
        print(f"median, triggers {'on ' if triggers else 'off'}: {cells} persons/s")


if __name__ == "__main__":
    main()
