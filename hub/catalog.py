"""The services this hub runs (the composition root's list)."""

from __future__ import annotations

from services.case_management import SPEC as CASE_MANAGEMENT
from services.conflict_management import SPEC as CONFLICT_MANAGEMENT
from services.foreigners_authority import SPEC as FOREIGNERS_AUTHORITY
from services.runtime.service import ServiceSpec
from services.steering_group import SPEC as STEERING_GROUP

SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (FOREIGNERS_AUTHORITY, CASE_MANAGEMENT, CONFLICT_MANAGEMENT, STEERING_GROUP)
}


def service(name: str) -> ServiceSpec:
    try:
        return SERVICES[name]
    except KeyError:
        raise SystemExit(f"unknown service {name!r}; one of: {', '.join(SERVICES)}") from None
