"""The retention run on a real hub: what the rules make due is listed by a dry run, erased by
a run (in the rule's services only, naming the rule), never twice; the gateway's daily run
does the same; and ``hub retention run`` reports it and refuses a bad rules file clearly."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from gateway import retention
from gateway.erasure import ErasureCoordinator
from hub.cli import main
from projections import schema as read_models
from services.runtime.commands import CommandClient
from services.runtime.messaging import close, connect
from services.runtime.settings import HubSettings
from tests.integration.case_flow import ok, open_case
from tests.integration.conftest import InProcessHub
from tests.integration.test_pathway import send

PATHWAY = """query($id: ID!) { person(id: $id) { pathway { stage } } }"""
ADMIN = {"role": "admin", "agency": "hub-ops", "subject": "ops-fritz"}
RULES = retention.load_rules()
TODAY = date(2026, 11, 30)


async def _departed(hub: InProcessHub, on: str) -> str:
    receipt = await send(
        hub,
        "registration_notice",
        {
            "kind": "new_person",
            "givenNames": "Omar",
            "familyName": "Nasser",
            "birthDate": "1980-05-05",
            "azrNumber": "123451234512",
            "nationalities": ["IRQ"],
            "entryDate": "2012-03-01",
            "entryMode": "asylum",
            "municipalityKey": "05315000",
            "registeredOn": "2012-03-10",
        },
    )
    person = str(receipt["personId"])
    await send(hub, "residence_decision", {"kind": "departure", "departedOn": on}, person)
    return person


async def _until_projected(hub: InProcessHub, sql: str, *args: Any) -> None:
    for _ in range(100):
        if await hub.pool.fetchval(sql, *args):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not projected: {sql}")


async def _coordinator(hub: InProcessHub) -> tuple[ErasureCoordinator, Any]:
    nc = await connect(hub.settings, "test-retention", user="gateway")
    return ErasureCoordinator(hub.pool, CommandClient(nc, timeout=5)), nc


async def test_a_run_erases_what_is_due_in_the_rules_services_and_a_dry_run_only_lists_it(
    hub: InProcessHub,
) -> None:
    # given a person who left in 2014, one who left in 2020 and a case closed today
    long_gone = await _departed(hub, "2014-01-01")
    recently = await _departed(hub, "2020-01-01")
    case = await open_case(hub)
    await ok(
        hub,
        """mutation($i: CloseCaseInput!) { closeCase(input: $i) { position } }""",
        {"i": {"caseId": case["caseId"], "reason": "goals_reached"}},
    )
    for person in (long_gone, recently):
        await _until_projected(
            hub,
            "SELECT departed_on IS NOT NULL FROM projections.pathway_persons WHERE person_id = $1",
            UUID(person),
        )
    await _until_projected(
        hub,
        "SELECT status = 'closed' FROM projections.cv_cases WHERE case_id = $1",
        UUID(case["caseId"]),
    )

    # when the rules are run dry today
    dry = await retention.run(hub.pool, RULES, coordinator=None, today=TODAY)

    # then only the person who left more than ten years ago is due, and nothing is erased
    due = {o.rule.name: [str(d.person_id) for d in o.due] for o in dry}
    assert due == {
        "residence_file_after_departure": [long_gone],
        "residence_file_after_naturalisation": [],
        "case_management_after_closure": [],
    }
    assert (await ok(hub, PATHWAY, {"id": long_gone}, ADMIN))["person"]["pathway"] is not None
    text = retention.report(dry, dry_run=True, today=TODAY)
    assert "dry run: nothing erased" in text
    assert f"{long_gone} since 2014-01-01" in text

    # when the rules are run for real
    coordinator, nc = await _coordinator(hub)
    try:
        done = await retention.run(hub.pool, RULES, coordinator=coordinator, today=TODAY)
        again = await retention.run(hub.pool, RULES, coordinator=coordinator, today=TODAY)
        later = await retention.run(hub.pool, RULES, coordinator=None, today=date(2030, 1, 1))
    finally:
        await close(nc)

    # then the person is erased by the authority only, the erasure naming the rule
    assert [o.erased for o in done] == [1, 0, 0]
    row = await hub.pool.fetchrow(
        "SELECT services, pending, ground, rule FROM gateway.erasures WHERE person_id = $1",
        UUID(long_gone),
    )
    assert dict(row) == {
        "services": ["foreigners_authority"],
        "pending": [],
        "ground": "retention_elapsed",
        "rule": "residence_file_after_departure",
    }
    await _until_projected(
        hub,
        "SELECT erased FROM projections.pathway_persons WHERE person_id = $1",
        UUID(long_gone),
    )
    assert (await ok(hub, PATHWAY, {"id": long_gone}, ADMIN))["person"]["pathway"] is None
    fa_app = hub.services["foreigners_authority"][0]  # type: ignore[index]
    assert fa_app.vault.is_erased(UUID(long_gone))
    cm_app = hub.services["case_management"][0]  # type: ignore[index]
    assert not cm_app.vault.is_erased(UUID(long_gone))
    # and a second run finds nothing more to do
    assert [len(o.due) for o in again] == [0, 0, 0]
    # while in 2030 the later departure and the closed case are due
    assert {o.rule.name: len(o.due) for o in later} == {
        "residence_file_after_departure": 1,
        "residence_file_after_naturalisation": 0,
        "case_management_after_closure": 1,
    }


async def test_the_gateways_daily_run_erases_what_is_due(hub: InProcessHub) -> None:
    person = await _departed(hub, "2013-06-01")
    await _until_projected(
        hub,
        "SELECT departed_on IS NOT NULL FROM projections.pathway_persons WHERE person_id = $1",
        UUID(person),
    )
    coordinator, nc = await _coordinator(hub)
    stop = asyncio.Event()
    daily = asyncio.create_task(
        retention.run_daily(
            hub.pool, coordinator, RULES, stop, every_seconds=3600, first_after_seconds=0.05
        )
    )
    try:
        await _until_projected(
            hub,
            "SELECT completed_at IS NOT NULL FROM gateway.erasures WHERE person_id = $1",
            UUID(person),
        )
    finally:
        stop.set()
        await daily
        await close(nc)


def test_the_command_reports_what_is_due_and_refuses_a_bad_rules_file(
    settings: HubSettings,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def tables() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await read_models.ensure(conn)
        finally:
            await conn.close()

    asyncio.run(tables())
    monkeypatch.setenv("HUB_POSTGRES_URL", str(settings.postgres_url))
    monkeypatch.setenv("HUB_DATABASE", settings.database)
    monkeypatch.setenv("HUB_HOME", str(settings.home))

    assert main(["retention", "run", "--dry-run", "--today", "2026-11-30"]) == 0
    printed = capsys.readouterr().out
    assert "retention run (dry run: nothing erased) on 2026-11-30" in printed
    assert "residence_file_after_departure: 0 due" in printed

    bad = tmp_path / "rules.toml"
    bad.write_text('[[rule]]\nname = "x"\nrecord = "case"\n', encoding="utf-8")
    assert main(["retention", "run", "--dry-run", "--rules", str(bad)]) == 2
    assert "rule x: trigger, period, action, services missing" in capsys.readouterr().err
    assert main(["retention", "run", "--dry-run", "--today", "30.11.2026"]) == 2
    assert "--today '30.11.2026' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
