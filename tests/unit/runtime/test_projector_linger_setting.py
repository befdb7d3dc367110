"""The projector's linger (HUB_PROJECTOR_LINGER_MS): a number of milliseconds, clearly refused
otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.runtime.settings import HubSettings


def test_the_projector_applies_at_once_by_default_and_lingers_when_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUB_PROJECTOR_LINGER_MS", raising=False)
    assert HubSettings().projector_linger_ms == 0
    monkeypatch.setenv("HUB_PROJECTOR_LINGER_MS", "2.5")
    assert HubSettings().projector_linger_ms == 2.5


@pytest.mark.parametrize("value", ["abc", "-1", "5000"])
def test_a_linger_that_is_no_sensible_number_of_milliseconds_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HUB_PROJECTOR_LINGER_MS", value)
    with pytest.raises(ValidationError, match="projector_linger_ms"):
        HubSettings()
