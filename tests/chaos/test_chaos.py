"""Reliability under faults (issue 13): steady load through the gateway while each process
kind is killed (kill -9) and restarted by the supervisor, the NATS server is killed and
PostgreSQL crashes; then every accepted command's events are in the event store, on the
stream exactly once and in the read models exactly once, every refusal was clear and left
nothing half written, the consumers resumed, and poison went to the dead letters.

The short run (in ``make test``) hits every fault once with short phases. ``make chaos``
(``HUB_CHAOS=long``) runs longer phases at a higher rate, several rounds; ``HUB_CHAOS_SEED``
repeats a run's random moments;
``HUB_CHAOS_KEEP=1`` keeps the run's servers' data (its PostgreSQL's admin password is
``tests.chaos.hub.ADMIN_PASSWORD``).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator

import pytest

from tests.chaos import scenario
from tests.chaos.hub import ChaosHub

pytestmark = pytest.mark.e2e

LONG = os.environ.get("HUB_CHAOS") == "long"


@pytest.fixture(scope="module")
def chaos_hub() -> Iterator[ChaosHub]:
    hub = ChaosHub()
    try:
        hub.start_servers()
        hub.start_hub()
        yield hub
    finally:
        hub.stop()
        if not os.environ.get("HUB_CHAOS_KEEP"):  # keep a run's data to inspect it
            shutil.rmtree(hub.root, ignore_errors=True)


@pytest.mark.timeout(1800 if LONG else 240)
def test_nothing_is_lost_or_duplicated_while_processes_and_servers_die(
    chaos_hub: ChaosHub,
) -> None:
    # given a hub under steady load
    seed = int(os.environ.get("HUB_CHAOS_SEED") or random.randrange(1_000_000))
    rounds, phase_seconds, rate = (2, 15.0, 20.0) if LONG else (1, 3.0, 10.0)

    # when each process kind is killed, each server restarted, and poison published
    client, recovery = scenario.run(
        chaos_hub,
        scenario.all_faults(),
        phase_seconds=phase_seconds,
        rate=rate,
        seed=seed,
        rounds=rounds,
    )

    # then every accepted command is everywhere exactly once, refusals were clear and
    # complete-or-nothing, the consumers caught up and the poison was dead-lettered
    evidence = scenario.settle(chaos_hub, client)
    report = scenario.judge(client, evidence, recovery, seed)
    print("\n" + report.table())
    failures = report.failures()
    assert failures == [], "\n".join(failures) + "\n" + chaos_hub.tail(20)
    assert sum(p.accepted for p in report.phases.values()) > 0
    assert report.poison["published"] == 2 * rounds
    for fault in recovery:
        assert report.phases[fault].accepted > 0, fault  # the hub served again
