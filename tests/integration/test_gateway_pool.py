"""The gateway's and the projector's pools skip asyncpg's reset query on release
(``keep_session``): a connection given back inside an unfinished transaction is still rolled
back, so nothing of it is committed or leaks into the next read."""

from __future__ import annotations

import asyncpg

from services.runtime.database import keep_session


async def test_a_connection_released_in_a_transaction_is_rolled_back(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, reset=keep_session)
    try:
        await pool.execute("CREATE TABLE IF NOT EXISTS pool_probe (n int)")
        conn = await pool.acquire()
        backend = conn.get_server_pid()
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO pool_probe VALUES (1)")
        await pool.release(conn)  # e.g. a request cancelled in the middle

        async with pool.acquire() as again:
            assert again.get_server_pid() == backend  # the same connection, kept
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT count(*) FROM pool_probe") == 0
    finally:
        await pool.close()
