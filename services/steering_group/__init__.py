"""Lenkungsgruppe: systemic gaps, escalations, the integration concept and its goals."""

from __future__ import annotations

from typing import Any

from services.runtime.service import ServiceSpec
from services.runtime.vault import PersonalDataVault


def _build(env: dict[str, str], vault: PersonalDataVault) -> Any:
    from services.steering_group.application import SteeringGroup

    # eventsourcing 9.5.6 ignores the tracking record on its database-function insert path
    # (POSTGRES_ENABLE_DB_FUNCTIONS): a process application must use the plain path, or a
    # redelivered event would be applied twice. tests/integration/test_steering_flow.py.
    return SteeringGroup({**env, "POSTGRES_ENABLE_DB_FUNCTIONS": "n"}, vault=vault)


def _routes(server: Any, app: Any) -> None:
    from services.steering_group.api import register_routes

    register_routes(server, app)


def _integration(app: Any) -> Any:
    from services.steering_group.integration import to_contract

    return to_contract


def _policies(app: Any, js: Any, execute: Any) -> Any:
    from services.steering_group.policies import policies

    return policies(app, js, execute)


SPEC = ServiceSpec(
    name="steering_group",
    build=_build,
    register_routes=_routes,
    integration=_integration,
    policies=_policies,
)
