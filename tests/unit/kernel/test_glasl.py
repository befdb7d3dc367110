"""Glasl's nine stages in three phases."""

from __future__ import annotations

import pytest

from kernel.glasl import LOSE_LOSE, PHASES, STAGES, WIN_LOSE, WIN_WIN, is_stage, phase


@pytest.mark.parametrize(
    ("stage", "expected"),
    [(1, WIN_WIN), (3, WIN_WIN), (4, WIN_LOSE), (6, WIN_LOSE), (7, LOSE_LOSE), (9, LOSE_LOSE)],
)
def test_each_stage_belongs_to_its_phase(stage: int, expected: str) -> None:
    assert phase(stage) == expected


def test_the_phases_are_three_stages_each_in_order() -> None:
    assert list(STAGES) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [phase(stage) for stage in STAGES] == [p for p in PHASES for _ in range(3)]
    assert PHASES == ("win-win", "win-lose", "lose-lose")


@pytest.mark.parametrize("stage", [-1, 0, 10])
def test_a_number_outside_one_to_nine_is_no_stage(stage: int) -> None:
    assert not is_stage(stage)
    with pytest.raises(ValueError, match="between 1 and 9"):
        phase(stage)
