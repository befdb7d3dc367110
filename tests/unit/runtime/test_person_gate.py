"""An erasure runs alone among a service's concurrent commands (group commit)."""

from __future__ import annotations

import threading
import time

from services.runtime.commands import PersonGate


def test_an_erasure_waits_for_the_commands_in_flight_and_new_ones_wait_for_it() -> None:
    gate = PersonGate()
    order: list[str] = []
    in_flight = threading.Event()
    release = threading.Event()

    def command(name: str, hold: threading.Event | None = None) -> None:
        with gate.shared():
            order.append(f"{name} start")
            if hold is not None:
                in_flight.set()
                hold.wait(5)
            order.append(f"{name} end")

    def erasure() -> None:
        with gate.exclusive():
            order.append("erasure")

    first = threading.Thread(target=command, args=("first", release))
    first.start()
    assert in_flight.wait(5)
    eraser = threading.Thread(target=erasure)
    eraser.start()
    time.sleep(0.05)  # the erasure is queued behind the command in flight
    later = threading.Thread(target=command, args=("later",))
    later.start()
    time.sleep(0.05)  # the later command waits behind the queued erasure
    assert order == ["first start"]
    release.set()
    for thread in (first, eraser, later):
        thread.join(5)
    assert order == ["first start", "first end", "erasure", "later start", "later end"]


def test_commands_share_the_gate_with_each_other() -> None:
    gate = PersonGate()
    both = threading.Barrier(2, timeout=5)

    def command() -> None:
        with gate.shared():
            both.wait()  # both inside at once, or the barrier breaks

    threads = [threading.Thread(target=command) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not both.broken
