"""A base for read-model handlers that need none of the consumer loop's hooks."""

from __future__ import annotations

import asyncpg

from contracts import CloudEvent


class NoHooks:
    """``begin``, ``flush`` and ``committed`` that do nothing (see ``consumer.Handler``)."""

    async def begin(self, conn: asyncpg.Connection) -> None:
        return None

    async def flush(self, conn: asyncpg.Connection) -> None:
        return None

    async def committed(self, events: list[CloudEvent]) -> None:
        return None
