"""The services' event store pool checks a connection before use with a round trip only when
the server has said something since its last use (``check_idle_connection``): a live session
is handed out as it is, one the server ended is replaced, as the pool's own ping did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from services.foreigners_authority.application import ForeignersAuthority
from services.runtime.database import check_idle_connection
from services.runtime.settings import HubSettings
from tests.helpers import arrival, close_app, foreigners_authority

POOL_SIZE = 2


@pytest.fixture
def app(settings: HubSettings) -> Iterator[ForeignersAuthority]:
    application = foreigners_authority(settings, pool_size=POOL_SIZE)
    yield application
    close_app(application)


def _pool(app: ForeignersAuthority) -> Any:
    return app.recorder.datastore.pool  # type: ignore[attr-defined]


def _backends(pool: Any) -> set[int]:
    """The server processes of every pooled connection (each taken at once, so all differ)."""
    taken = [pool.getconn() for _ in range(pool.get_stats()["pool_size"])]
    try:
        return {conn.info.backend_pid for conn in taken}
    finally:
        for conn in taken:
            pool.putconn(conn)


def _terminate(admin_url: str, pids: set[int]) -> None:
    """End the sessions as an administrator would, and wait until they are gone."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),)
            ).fetchone()
            if alive is not None and alive[0] == 0:
                return
            time.sleep(0.02)
    raise AssertionError(f"sessions {pids} still there")


def test_the_event_store_pool_uses_the_check(app: ForeignersAuthority) -> None:
    # psycopg_pool keeps its check in _check: if that changes, the install does nothing
    assert _pool(app)._check is check_idle_connection


def test_a_live_idle_connection_is_handed_out_without_a_round_trip(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        sent: list[object] = []
        monkeypatch.setattr(conn, "execute", lambda *args, **kwargs: sent.append(args))
        check_idle_connection(conn)
        assert sent == []  # the pool's own check would have sent an empty query


def test_a_connection_the_server_has_spoken_to_is_pinged(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        psycopg.connect(database_url, autocommit=True) as listener,
        psycopg.connect(database_url, autocommit=True) as other,
    ):
        listener.execute("LISTEN hub_check")
        other.execute("NOTIFY hub_check")
        time.sleep(0.1)  # the notification reaches the idle listener's socket
        pinged: list[object] = []
        real = listener.execute

        def execute(*args: Any, **kwargs: Any) -> Any:
            pinged.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(listener, "execute", execute)
        check_idle_connection(listener)  # a live session: the ping succeeds
        assert pinged == [("",)]


def test_a_closed_connection_fails_the_check(database_url: str) -> None:
    conn = psycopg.connect(database_url, autocommit=True)
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        check_idle_connection(conn)


def test_a_pooled_connection_whose_session_the_server_ended_is_replaced(
    app: ForeignersAuthority, database_url: str
) -> None:
    app.register_arrival(arrival())
    pool = _pool(app)
    before = _backends(pool)
    _terminate(database_url, before)

    result = app.register_arrival(arrival())  # no error: the dead connections were replaced

    assert result.person_id is not None
    assert app.repository.get(result.person_id).version >= 1
    assert _backends(pool).isdisjoint(before)


def test_without_a_check_the_pool_would_hand_out_the_dead_connection(
    app: ForeignersAuthority, database_url: str
) -> None:
    """The control of the test above: the sessions' end is what the check finds."""
    pool = _pool(app)
    pool._check = None
    before = _backends(pool)
    _terminate(database_url, before)
    conn = pool.getconn()
    try:
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        pool.putconn(conn)
