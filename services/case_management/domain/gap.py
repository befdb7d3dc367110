"""Systemic gaps (strukturelle Lücken) case managers report for the steering group."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event

from kernel.person_free import find_personal_data
from services.case_management.domain.errors import InvalidValue
from services.case_management.domain.vocabulary import GapCategory, LegalSphere


def check_person_free(text: str, field: str) -> None:
    found = find_personal_data(text)
    if found is not None:
        raise InvalidValue(
            f"the description seems to contain {found}; describe the gap without personal data",
            field,
        )


class SystemicGap(Aggregate):
    """A systemic gap: no person, only the pattern case managers see."""

    class Reported(Aggregate.Created):
        category: str
        legal_sphere: str | None
        description: str
        affected_count: int | None
        agency: str

    @event(Reported)
    def __init__(
        self,
        *,
        category: str,
        legal_sphere: str | None,
        description: str,
        affected_count: int | None,
        agency: str,
    ) -> None:
        self.category = category
        self.legal_sphere = legal_sphere
        self.description = description
        self.affected_count = affected_count
        self.agency = agency

    @classmethod
    def report(
        cls,
        *,
        category: str,
        legal_sphere: str | None,
        description: str,
        affected_count: int | None,
        agency: str,
    ) -> SystemicGap:
        if category not in {c.value for c in GapCategory}:
            raise InvalidValue(f"unknown gap category {category!r}", "category")
        if legal_sphere is not None and legal_sphere not in {s.value for s in LegalSphere}:
            raise InvalidValue(f"unknown legal sphere {legal_sphere!r}", "legalSphere")
        text = description.strip()
        if not 20 <= len(text) <= 2000:
            raise InvalidValue("describe the gap in 20 to 2000 characters", "description")
        check_person_free(text, "description")
        if affected_count is not None and not 1 <= affected_count <= 100_000:
            raise InvalidValue("the count of affected persons is 1 or more", "affectedCount")
        return cls(
            category=category,
            legal_sphere=legal_sphere,
            description=text,
            affected_count=affected_count,
            agency=agency,
        )
