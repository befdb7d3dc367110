"""The purposes a consent may name and a read may be made for (Zweckbindung).

One list for the whole hub: case management's consents name purposes from it (its domain
vocabulary takes :class:`Purpose` from here), and the gateway checks the purpose a request
names (the ``Hub-Purpose`` header or the token's ``purpose`` claim) against it.
"""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """Purposes a consent may name (Zweckbindung), and a read may be made for."""

    REFERRAL = "referral"  # Vermittlung an eine Fachstelle
    CASE_CONFERENCE = "case_conference"  # Fallkonferenz
    COUNSELLING = "counselling"
    EMPLOYMENT_SUPPORT = "employment_support"
    BENEFIT_PROCESSING = "benefit_processing"
    EDUCATION_SUPPORT = "education_support"
    HOUSING_SUPPORT = "housing_support"
    HEALTH_SUPPORT = "health_support"


#: every purpose's code, for checks against plain strings
PURPOSES: frozenset[str] = frozenset(p.value for p in Purpose)


def is_purpose(value: str) -> bool:
    """Whether ``value`` is one of the purposes."""
    return value in PURPOSES
