"""The consumer loop's rules that need no I/O: the backoff and what counts as transient."""

from __future__ import annotations

import asyncpg
import eventsourcing.persistence
import pytest
from pydantic import ValidationError

from contracts.case_management import SystemicGapReported
from services.runtime.consumer import Backoff, PoisonMessage, TransientFailure, is_transient


def test_the_backoff_doubles_up_to_its_maximum() -> None:
    # Given a backoff from 2 s to at most 60 s
    backoff = Backoff(initial=2.0, maximum=60.0)

    # When failures follow each other
    delays = [backoff.delay(attempt) for attempt in range(1, 8)]

    # Then each delay doubles the one before until it reaches the maximum
    assert delays == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


@pytest.mark.parametrize(
    "error",
    [
        TransientFailure("the event store is restarting"),
        ConnectionRefusedError("database unreachable"),
        TimeoutError(),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
        eventsourcing.persistence.OperationalError("server closed the connection"),
        eventsourcing.persistence.InterfaceError("connection already closed"),
        # the server shutting down, crashing or terminating the session mid-transaction
        asyncpg.exceptions.AdminShutdownError("terminating connection (administrator)"),
        asyncpg.exceptions.CrashShutdownError("terminating connection (crash)"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        # asyncpg losing track of a session terminated between two steps of a query (it
        # once sent the event to the dead letters)
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
    ],
)
def test_lost_connections_timeouts_and_lock_conflicts_are_transient(error: Exception) -> None:
    assert is_transient(error)


def _invalid_payload() -> ValidationError:
    try:
        SystemicGapReported.model_validate({})
    except ValidationError as error:
        return error
    raise AssertionError("validated")


@pytest.mark.parametrize(
    "error",
    [
        PoisonMessage("position 2 can never be applied"),
        ValueError("badly formed hexadecimal UUID string"),
        AssertionError(),
        KeyError("gap_id"),
        eventsourcing.persistence.DataError("invalid input syntax"),
        eventsourcing.persistence.ProgrammingError("relation does not exist"),
        _invalid_payload(),
    ],
)
def test_rejections_and_invalid_payloads_are_poison(error: Exception) -> None:
    assert not is_transient(error)
