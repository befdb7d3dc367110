"""The contracts package stays free of project and third-party dependencies."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import contracts

ALLOWED = set(sys.stdlib_module_names) | {"contracts", "pydantic", "__future__"}


def test_contracts_import_only_stdlib_pydantic_and_themselves() -> None:
    package = Path(contracts.__file__).parent
    offenders: list[str] = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in ALLOWED]
    assert offenders == []
