"""No personal data in free text: what the steering group and the board may read.

Descriptions of systemic gaps and of conflicts are read by people who must not learn who is
concerned, so the free text may name organisations, groups, districts, counts, years and
paragraphs, but nothing that points at a person: an e-mail address, a phone number, a date
(a birthday or an appointment singles someone out), a file number (such as the 12-digit AZR
number) or a salutation with a name ("Frau Schmidt").

The check is a guard against mistakes, not an anonymiser: it errs on the side of refusing.
"""

from __future__ import annotations

import re
from enum import StrEnum

_MONTHS = (
    "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
    "|January|February|March|May|June|July|October|December"
)


class PersonalData(StrEnum):
    """A kind of personal data found in free text; the value reads "... contains <value>"."""

    EMAIL = "an e-mail address"
    PHONE = "a phone number"
    DATE = "a date"
    FILE_NUMBER = "a file number"
    SALUTATION = "a salutation with a name"


PATTERNS: dict[PersonalData, re.Pattern[str]] = {
    PersonalData.EMAIL: re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    PersonalData.PHONE: re.compile(r"(?:\+|\b0)\d[\d /()-]{6,}\d"),
    PersonalData.DATE: re.compile(
        r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"  # 3.7.1994, 03.07.94, 15/01/2024
        r"|\b\d{4}-\d{2}-\d{2}\b"  # 2026-02-14
        rf"|\b\d{{1,2}}\.? ?({_MONTHS})\b",  # 15. Januar, 3 May
        re.IGNORECASE,
    ),
    PersonalData.FILE_NUMBER: re.compile(r"\b\d{9,}\b"),
    PersonalData.SALUTATION: re.compile(
        r"\b(Herr|Frau|Hr\.|Fr\.|Mr\.?|Mrs\.?|Ms\.?)\s+\w+", re.IGNORECASE
    ),
}


def find_personal_data(text: str) -> PersonalData | None:
    """The first kind of personal data found in ``text`` (in the order of
    :class:`PersonalData`), or ``None`` when the text is person-free."""
    for kind, pattern in PATTERNS.items():
        if pattern.search(text):
            return kind
    return None


def is_person_free(text: str) -> bool:
    """Whether ``text`` contains nothing that points at a person."""
    return find_personal_data(text) is None
