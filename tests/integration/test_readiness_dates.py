"""Readiness on a date no version of § 10 StAG covers is the caller's error, not an internal one."""

from __future__ import annotations

import pytest

from tests.integration.case_flow import call
from tests.integration.conftest import InProcessHub
from tests.integration.test_pathway import ABH, PATHWAY, refugee_path


@pytest.mark.parametrize("as_of", ["0001-01-01", "1999-01-01"])
async def test_readiness_before_any_law_version_is_invalid_input(
    hub: InProcessHub, as_of: str
) -> None:
    person, position = await refugee_path(hub)

    result = await call(
        hub,
        PATHWAY,
        {"id": person, "atLeast": position, "asOf": as_of},
        {"role": "abh_officer", "agency": ABH, "subject": "abh-1"},
    )

    [error] = result["errors"]
    assert error["extensions"] == {"code": "invalid_input", "field": "asOf"}
    assert error["message"] != "internal error"
