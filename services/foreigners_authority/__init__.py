"""Foreigners authority (Ausländerbehörde) interface: residence files and their events."""

from __future__ import annotations

from typing import Any

from services.runtime.service import ServiceSpec
from services.runtime.vault import PersonalDataVault


def _build(env: dict[str, str], vault: PersonalDataVault) -> Any:
    from services.foreigners_authority.application import ForeignersAuthority

    return ForeignersAuthority(env, vault=vault)


def _routes(server: Any, app: Any) -> None:
    from services.foreigners_authority.api import register_routes

    register_routes(server, app)


def _integration(app: Any) -> Any:
    from services.foreigners_authority.integration import to_contract

    return to_contract


def _http(app: Any, server: Any, settings: Any) -> Any:
    from services.foreigners_authority.inbound.batch import BatchLimits
    from services.foreigners_authority.inbound.endpoint import create_inbound_app
    from services.runtime.tokens import token_verifier

    limits = BatchLimits(
        messages=settings.inbound_batch_max,
        bytes=settings.inbound_batch_max_bytes,
        at_once=settings.inbound_batches_at_once,
    )
    return create_inbound_app(app, server.execute, verify=token_verifier(settings), limits=limits)


SPEC = ServiceSpec(
    name="foreigners_authority",
    build=_build,
    register_routes=_routes,
    integration=_integration,
    http=_http,
)
