"""Indicators of the integration concept: is a goal on track?"""

from __future__ import annotations

from datetime import date


def on_track(
    *,
    baseline: float,
    target: float,
    defined_on: date,
    due: date,
    latest_value: float | None,
    today: date,
) -> bool | None:
    """Is the latest value at least where a straight line from baseline to target would be
    today? None without a value. A value at or past the target is always on track."""
    if latest_value is None:
        return None
    span = max((due - defined_on).days, 1)
    elapsed = min(max((today - defined_on).days, 0), span)
    expected = baseline + (target - baseline) * elapsed / span
    if target > baseline:
        return latest_value >= min(expected, target)  # min: no rounding past the target
    return latest_value <= max(expected, target)
