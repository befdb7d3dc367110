"""Builders shared by integration and e2e tests."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from services.foreigners_authority import SPEC
from services.foreigners_authority.application import ForeignersAuthority, RegisterArrival
from services.foreigners_authority.domain import EntryMode
from services.runtime.service import build_application
from services.runtime.settings import HubSettings

_counter = itertools.count(1)


def foreigners_authority(settings: HubSettings, pool_size: int = 3) -> ForeignersAuthority:
    app = build_application(SPEC, settings, pool_size=pool_size)
    assert isinstance(app, ForeignersAuthority)
    return app


def close_app(app: Any) -> None:
    app.close()
    app.vault.close()


def arrival(**changes: Any) -> RegisterArrival:
    n = next(_counter)
    values: dict[str, Any] = {
        "given_names": "Amir",
        "family_name": f"Haddad-{n}",
        "birth_date": date(1995, 11, 2),
        "azr_number": f"{100000000000 + n:012d}",
        "nationalities": ["SYR"],
        "entry_date": date(2015, 10, 14),
        "entry_mode": EntryMode.ASYLUM,
        "municipality_key": "05111000",
        "registered_on": date(2015, 10, 20),
        "abh_id": "abh-05111",
    }
    values.update(changes)
    return RegisterArrival(**values)


def arrival_input(**changes: Any) -> dict[str, Any]:
    """GraphQL input for registerArrival."""
    n = next(_counter)
    values: dict[str, Any] = {
        "givenNames": "Olena",
        "familyName": f"Demchenko-{n}",
        "birthDate": "1987-04-12",
        "azrNumber": f"{200000000000 + n:012d}",
        "nationalities": ["UKR"],
        "entryDate": "2022-03-09",
        "entryMode": "TEMPORARY_PROTECTION",
        "municipalityKey": "05315000",
        "abhId": "abh-05315",
    }
    values.update(changes)
    return values


def in_prod(settings: HubSettings, **changes: Any) -> HubSettings:
    """``settings`` as a production gateway gets them: ``env=prod`` and the secrets it must
    be given there (the indicator key, the services' public sealing keys, its NATS password
    and the bus's CA), taken from the dev ones the test's processes use."""
    from pydantic import SecretStr

    from contracts import REGISTRY
    from services.runtime.sealing import public_of

    public = {s: public_of(settings.resolved_sealing_key(s)) for s in REGISTRY.services()}
    prod = settings.model_copy(
        update={
            "env": "prod",
            "indicator_key": SecretStr(settings.resolved_indicator_key()),
            "sealing_public_keys": public,
            "nats_password": SecretStr(settings.nats_password_for("gateway") or ""),
            "nats_ca_file": settings.nats_secrets_dir / "ca.pem",
            **changes,
        }
    )
    assert isinstance(prod, HubSettings)
    return prod
