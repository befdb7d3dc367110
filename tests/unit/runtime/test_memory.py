"""A started process keeps its long-lived objects out of the collector's scans
(services/runtime/memory.py). Run in a process of its own: freezing is for the whole
interpreter."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
import gateway.schema  # the largest set of long-lived objects: the GraphQL schema and models
from services.runtime.memory import freeze_startup_objects

tracked = len(gc.get_objects())
frozen = freeze_startup_objects("probe")
print(tracked, frozen, len(gc.get_objects()))
"""


def test_after_the_start_a_collection_no_longer_scans_the_startup_objects() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    tracked, frozen, scanned = (int(n) for n in out)
    assert frozen > 50_000  # the schema's modules, types and models
    assert frozen >= tracked * 0.9
    assert scanned < 1_000  # what a collection still looks at: only what was made since


SCOPED = """
import gc
from services.runtime.memory import freeze_startup_objects, objects_frozen_while

with objects_frozen_while():
    inside = gc.get_freeze_count()
alone = gc.get_freeze_count()  # a task's freeze is lifted afterwards
frozen = freeze_startup_objects("probe")
with objects_frozen_while():
    pass
print(inside, alone, frozen, gc.get_freeze_count())
"""


def test_a_task_freeze_is_lifted_after_it_but_never_lifts_the_startup_freeze() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCOPED], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    inside, alone, frozen, after = (int(n) for n in out)
    assert inside > 0
    assert alone == 0
    assert frozen > 0
    assert after >= frozen  # the startup objects stay out of the collector's scans
