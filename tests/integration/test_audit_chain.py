"""The audit log is append-only and hash-chained: ``hub audit verify`` finds a changed, an
inserted and a deleted entry (in the middle and at the end), and an intact log passes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway import audit
from gateway.auth import Principal
from hub.cli import main

READER = Principal(subject="cm-anna", agency="kim-05315", role="case_manager", exp=None)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    await audit.create_tables(pool)
    yield pool
    await pool.close()


async def reads(pool: asyncpg.Pool, count: int) -> None:
    """``count`` audited reads, written concurrently as a busy gateway would."""
    await asyncio.gather(
        *(
            audit.record_read(
                pool, READER, action="timeline", person_id=uuid.uuid4(), purpose="counselling"
            )
            for _ in range(count)
        )
    )


def verify(settings: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> tuple[int, str]:
    monkeypatch.setenv("HUB_POSTGRES_URL", settings.postgres_url)
    monkeypatch.setenv("HUB_DATABASE", settings.database)
    code = main(["audit", "verify"])
    return code, capsys.readouterr().out


async def test_an_intact_log_passes(
    pool: asyncpg.Pool, settings: Any, capsys: Any, monkeypatch: Any
) -> None:
    await reads(pool, 40)

    code, out = await asyncio.to_thread(verify, settings, capsys, monkeypatch)

    assert code == 0, out
    assert "audit log intact: 40 entries" in out
    numbers = await pool.fetch("SELECT seq FROM gateway.audit_log ORDER BY seq")
    assert [r["seq"] for r in numbers] == list(range(1, 41))  # one order for all writers


@pytest.mark.parametrize(
    ("tampering", "found"),
    [
        (
            "UPDATE gateway.audit_log SET purpose = 'housing_support' WHERE seq = 7",
            "7: its content",
        ),
        ("DELETE FROM gateway.audit_log WHERE seq = 7", "8: follows 6"),
        ("DELETE FROM gateway.audit_log WHERE seq = 20", "20: the last entry"),
        (
            "INSERT INTO gateway.audit_log (subject, agency, role, action, purpose, seq,"
            " prev_hash, hash) SELECT 'x', 'x', 'admin', 'timeline', 'x', 21, hash, hash"
            " FROM gateway.audit_log WHERE seq = 20",
            "21: its content",
        ),
    ],
    ids=["changed", "deleted", "deleted at the end", "inserted"],
)
async def test_tampering_is_found(
    pool: asyncpg.Pool,
    settings: Any,
    capsys: Any,
    monkeypatch: Any,
    tampering: str,
    found: str,
) -> None:
    await reads(pool, 20)
    async with pool.acquire() as conn:  # as an administrator would, around the trigger
        await conn.execute("ALTER TABLE gateway.audit_log DISABLE TRIGGER audit_chain")
        await conn.execute(tampering)
        await conn.execute("ALTER TABLE gateway.audit_log ENABLE TRIGGER audit_chain")

    code, out = await asyncio.to_thread(verify, settings, capsys, monkeypatch)

    assert code == 1
    assert "audit log BROKEN" in out
    assert found in out
