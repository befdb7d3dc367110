"""KIM case management (KIM-Case-Management): cases, consent, referrals, mediation, gaps."""

from __future__ import annotations

from typing import Any

from services.runtime.service import ServiceSpec
from services.runtime.vault import PersonalDataVault


def _build(env: dict[str, str], vault: PersonalDataVault) -> Any:
    from services.case_management.application import CaseManagement

    return CaseManagement(env, vault=vault)


def _routes(server: Any, app: Any) -> None:
    from services.case_management.api import register_routes

    register_routes(server, app)


def _integration(app: Any) -> Any:
    from services.case_management.integration import CaseManagementMapper, PersonIndex

    return CaseManagementMapper(PersonIndex(app.repository.get))


SPEC = ServiceSpec(
    name="case_management", build=_build, register_routes=_routes, integration=_integration
)
