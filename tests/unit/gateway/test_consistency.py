"""Position tokens are opaque, round-trip, and reject anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.consistency import BadToken, Position

services = st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)


@given(service=services, position=st.integers(min_value=0, max_value=2**62))
def test_a_token_round_trips(service: str, position: int) -> None:
    token = Position(service, position).token()

    assert Position.parse(token) == Position(service, position)


@given(text=st.text(max_size=60))
def test_anything_else_is_refused_not_crashed(text: str) -> None:
    with contextlib.suppress(BadToken):
        Position.parse(text)


@pytest.mark.parametrize("token", ["", "p1.", "p1.!!!", "p1.Zm9v", "x1.Zm9vOjE"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadToken):
        Position.parse(token)
