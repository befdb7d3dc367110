"""Glasl's model of conflict escalation: nine stages in three phases.

Stages 1-3 are win-win (the parties can still both gain), 4-6 win-lose (each wants to win
against the other), 7-9 lose-lose (each accepts its own loss to harm the other).
"""

from __future__ import annotations

FIRST_STAGE = 1
LAST_STAGE = 9
STAGES = range(FIRST_STAGE, LAST_STAGE + 1)

WIN_WIN = "win-win"
WIN_LOSE = "win-lose"
LOSE_LOSE = "lose-lose"
PHASES = (WIN_WIN, WIN_LOSE, LOSE_LOSE)


def is_stage(stage: int) -> bool:
    """Whether ``stage`` is one of Glasl's nine stages."""
    return stage in STAGES


def phase(stage: int) -> str:
    """The phase a stage belongs to: win-win (1-3), win-lose (4-6) or lose-lose (7-9)."""
    if not is_stage(stage):
        raise ValueError(f"a Glasl stage is between {FIRST_STAGE} and {LAST_STAGE}, not {stage}")
    return PHASES[(stage - FIRST_STAGE) // 3]
