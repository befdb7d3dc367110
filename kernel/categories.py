"""Special categories of personal data (Art. 9 GDPR) the hub records.

Data about health, religion or ethnic origin may be shared only with an explicit consent that
names them; every rule that releases case data checks a record's categories against this set.
"""

from __future__ import annotations

import re

HEALTH = "health"
RELIGION = "religion"
ETHNICITY = "ethnicity"

#: The data categories that need the explicit consent flag (Art. 9 (2) a GDPR).
SPECIAL_CATEGORIES: frozenset[str] = frozenset({HEALTH, RELIGION, ETHNICITY})


def is_special(category: str) -> bool:
    """Whether ``category`` is a special category of personal data."""
    return category in SPECIAL_CATEGORIES


def sql_array_literal(categories: frozenset[str] = SPECIAL_CATEGORIES) -> str:
    """The categories as a PostgreSQL ``text[]`` literal, e.g. ``{ethnicity,health,religion}``
    (sorted, so the generated SQL is stable)."""
    for category in categories:
        if not re.fullmatch(r"[a-z_]+", category):  # pasted into SQL: plain names only
            raise ValueError(f"not a plain category name: {category!r}")
    return "{" + ",".join(sorted(categories)) + "}"
