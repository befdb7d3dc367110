"""The access matrix of docs/security.md, read as data: who may call which operation.

The tables under "## Access matrix" whose header names the roles are the matrix; every row is
an operation (``Query.case``, ``Person.timeline``, ``Mutation.openCase`` for a row that
names only ``openCase`` under "### Mutations", ``Subscription.caseEvents``) with one cell per
role. The "### Object types and their data" table lists the object types by the data they
carry. Both the documentation test and the live test read them from here, so the document
and the tests cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from contracts.roles import Role

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "security.md"
ROLES = tuple(str(role) for role in Role)
#: what a cell may say (docs/security.md explains each)
CELLS = frozenset({"yes", "no", "own", "consent", "authority"})
_NAME = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Entry:
    """One cell: ``operation`` for ``role`` is ``rule`` (a value of CELLS)."""

    operation: str
    role: str
    rule: str

    @property
    def allowed(self) -> bool:
        return self.rule != "no"

    def __str__(self) -> str:
        return f"{self.operation}[{self.role}={self.rule}]"


@dataclass(frozen=True)
class Matrix:
    rows: dict[str, dict[str, str]]  # operation -> role -> cell
    object_types: frozenset[str]

    def entries(self) -> list[Entry]:
        return [
            Entry(operation, role, cells[role])
            for operation, cells in self.rows.items()
            for role in ROLES
        ]

    def of_kind(self, prefix: str) -> dict[str, dict[str, str]]:
        """The rows of operations on ``prefix`` (``Query``, ``Mutation``, ``Subscription``)."""
        return {op: cells for op, cells in self.rows.items() if op.split(".")[0] == prefix}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _section(text: str) -> str:
    start = text.index("\n## Access matrix")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def read(path: Path = DOCUMENT) -> Matrix:
    """The matrix as docs/security.md states it."""
    rows: dict[str, dict[str, str]] = {}
    object_types: set[str] = set()
    heading = ""
    header: list[str] = []
    for line in _section(path.read_text(encoding="utf-8")).splitlines():
        if line.startswith("### "):
            heading, header = line[4:].strip(), []
            continue
        if not line.startswith("|"):
            header = []
            continue
        cells = _cells(line)
        if not header:
            header = cells
            continue
        if set(cells) <= {"---", ""} or cells[0].startswith("-"):
            continue
        if heading == "Object types and their data":
            object_types.update(_NAME.findall(cells[0]))
            continue
        if not set(ROLES) <= set(header):
            continue
        (name,) = _NAME.findall(cells[0])
        operation = f"Mutation.{name}" if heading == "Mutations" else name
        by_role = {role: cells[header.index(role)] for role in ROLES}
        unknown = {cell for cell in by_role.values() if cell not in CELLS}
        if unknown:
            raise ValueError(f"{operation}: cells {sorted(unknown)} are not among {sorted(CELLS)}")
        if operation in rows:
            raise ValueError(f"{operation} has two rows")
        rows[operation] = by_role
    return Matrix(rows, frozenset(object_types))
