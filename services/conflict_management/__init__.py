"""Kommunales Konfliktmanagement: conflicts, escalations, interventions, the board log."""

from __future__ import annotations

from typing import Any

from services.runtime.service import ServiceSpec
from services.runtime.vault import PersonalDataVault


def _build(env: dict[str, str], vault: PersonalDataVault) -> Any:
    from services.conflict_management.application import ConflictManagement

    return ConflictManagement(env, vault=vault)


def _routes(server: Any, app: Any) -> None:
    from services.conflict_management.api import register_routes

    register_routes(server, app)


def _integration(app: Any) -> Any:
    from services.conflict_management.integration import ConflictMapper

    return ConflictMapper(app.repository.get)


SPEC = ServiceSpec(
    name="conflict_management", build=_build, register_routes=_routes, integration=_integration
)
