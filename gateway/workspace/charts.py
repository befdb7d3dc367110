"""SVG charts drawn on the server: no script, no style attribute (the pages' CSP), every text
escaped, each chart labelled for assistive technology; the pages show its data table beside
it as the accessible alternative."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from gateway.workspace.labels import date_de, number_de


@dataclass(frozen=True)
class Bar:
    label: str
    value: float


def _svg(width: int, height: int, title: str, body: list[str], ident: str) -> Markup:
    head = (
        f'<svg class="chart" role="img" aria-labelledby="{ident}-titel" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{ident}-titel">{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text escaped above


def bar_chart(title: str, bars: Sequence[Bar], ident: str, unit: str = "") -> Markup:
    """Horizontal bars, one per row, with the value at the bar's end."""
    row, left, width = 28, 240, 720
    height = max(1, len(bars)) * row + 30
    top = max((b.value for b in bars), default=0.0) or 1.0
    span = width - left - 70
    body = [f'<line class="axis" x1="{left}" y1="10" x2="{left}" y2="{height - 20}"/>']
    for i, bar in enumerate(bars):
        y = 10 + i * row
        length = max(1.0, span * bar.value / top)
        text = number_de(bar.value, 0 if float(bar.value).is_integer() else 1)
        body.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(bar.label[:38])}</text>'
            f'<rect class="bar" x="{left}" y="{y + 4}" width="{length:.1f}" height="{row - 10}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + 17}">{escape(text)}{escape(unit)}</text>'
        )
    if not bars:
        body.append(
            f'<text x="{left + 10}" y="30">Keine Werte (Gruppen unter 5 ausgelassen)</text>'
        )
    return _svg(width, height, title, body, ident)


def indicator_chart(
    title: str,
    baseline: float,
    target: float,
    values: Sequence[tuple[str, float]],
    ident: str,
) -> Markup:
    """Recorded values as a line over their periods, the baseline as the first point and the
    target as a dashed line."""
    width, height, left, right, top, bottom = 720, 260, 60, 20, 20, 50
    points = [("Ausgangswert", baseline), *values]
    low = min([target, *[v for _, v in points]])
    high = max([target, *[v for _, v in points]])
    pad = (high - low) * 0.15 or 1.0
    low, high = low - pad, high + pad

    def y(value: float) -> float:
        return top + (height - top - bottom) * (high - value) / (high - low)

    step = (width - left - right) / max(1, len(points) - 1)
    body = [
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}"/>',
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - right}" '
        f'y2="{height - bottom}"/>',
        f'<line class="target" x1="{left}" y1="{y(target):.1f}" x2="{width - right}" '
        f'y2="{y(target):.1f}"/>',
        f'<text x="{width - right}" y="{y(target) - 6:.1f}" text-anchor="end">Ziel '
        f"{escape(number_de(target, 1))}</text>",
    ]
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{left + i * step:.1f},{y(v):.1f}"
        for i, (_, v) in enumerate(points)
    )
    body.append(f'<path class="line" d="{path}"/>')
    for i, (period, value) in enumerate(points):
        x = left + i * step
        body.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y(value):.1f}" r="4"/>'
            f'<text x="{x:.1f}" y="{y(value) - 8:.1f}" text-anchor="middle">'
            f"{escape(number_de(value, 1))}</text>"
            f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle">'
            f"{escape(period)}</text>"
        )
    return _svg(width, height, title, body, ident)


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.date
    end: dt.date | None


def pathway_chart(
    title: str, periods: Sequence[Period], today: dt.date, marks: Sequence[dt.date], ident: str
) -> Markup:
    """Status periods as a timeline, one lane per period, with the chosen dates marked."""
    width, left, right, lane = 900, 230, 20, 30
    height = max(1, len(periods)) * lane + 60
    starts = [p.start for p in periods] + list(marks)
    first = min(starts, default=today)
    last = max([today, *[p.end for p in periods if p.end], *marks])
    days = max(1, (last - first).days)
    span = width - left - right

    def x(day: dt.date) -> float:
        return left + span * (day - first).days / days

    body = [
        f'<line class="axis" x1="{left}" y1="{height - 40}" x2="{width - right}" '
        f'y2="{height - 40}"/>'
    ]
    for year in range(first.year, last.year + 1):
        tick = dt.date(year, 1, 1)
        if first <= tick <= last:
            body.append(
                f'<line class="grid" x1="{x(tick):.1f}" y1="10" x2="{x(tick):.1f}" '
                f'y2="{height - 40}"/><text x="{x(tick):.1f}" y="{height - 24}" '
                f'text-anchor="middle">{year}</text>'
            )
    for i, period in enumerate(periods):
        top = 10 + i * lane
        end = period.end or today
        start_x, end_x = x(period.start), max(x(end), x(period.start) + 3)
        until = date_de(period.end) if period.end else "heute"
        body.append(
            f'<text x="{left - 8}" y="{top + 18}" text-anchor="end">'
            f"{escape(period.label[:34])}</text>"
            f'<rect class="period-{i % 6}" x="{start_x:.1f}" y="{top + 4}" '
            f'width="{end_x - start_x:.1f}" height="{lane - 8}">'
            f"<title>{escape(period.label)}: {escape(date_de(period.start))} bis "
            f"{escape(until)}</title></rect>"
        )
    for mark in marks:
        body.append(
            f'<line class="marker" x1="{x(mark):.1f}" y1="4" x2="{x(mark):.1f}" '
            f'y2="{height - 40}"/><text x="{x(mark):.1f}" y="{height - 8}" '
            f'text-anchor="middle">{escape(date_de(mark))}</text>'
        )
    return _svg(width, height, title, body, ident)
