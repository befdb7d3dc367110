"""The positive control of tests/e2e/test_no_personal_data_in_logs.py: a deliberate leak.

Put on ``PYTHONPATH`` with ``HUB_E2E_LEAK_CANARY`` set, every process of ``hub up`` imports
this module at start-up (Python's ``sitecustomize`` hook). A service then prints every command
body it has opened (its sealed personal fields in clear) that holds the canary value to stdout,
which ``hub up`` writes to its log like any other line. The test expects to find the canary
there, in the owning service's lines: proof that the log search would catch such a print.
Without the variable this module does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType
from typing import Any

CANARY = os.environ.get("HUB_E2E_LEAK_CANARY", "")
TARGET = "services.runtime.sealing"


def _patch(module: ModuleType) -> None:
    opener = module.Opener
    original = opener.open_body

    def open_body(self: Any, command: Any, data: bytes) -> bytes:
        opened: bytes = original(self, command, data)
        if CANARY.encode() in opened:
            print(f"opened command body: {opened.decode()}", flush=True)  # the deliberate leak
        return opened

    opener.open_body = open_body


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds ``services.runtime.sealing`` as usual and patches it once it has run."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if CANARY:
    sys.meta_path.insert(0, _PatchOnImport())
