"""SVG building blocks for the report's plots: escaping, scales, ticks and axes.

Everything returns markup as a string; every piece of text that reaches the markup goes
through ``esc``, so a column named ``<script>`` is shown, never run.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

# Colours: the reference in grey, the window in blue, drift in red.
REFERENCE = "#9aa0a6"
WINDOW = "#1a73e8"
DRIFT = "#d93025"
INK = "#3c4043"
GRID = "#e8eaed"


def esc(text: object) -> str:
    """``text`` safe inside an element or a quoted attribute.

    >>> esc('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape(str(text), quote=True)


def number(value: float) -> str:
    """A short, readable number: four significant digits, exponents when tiny or huge.

    >>> [number(v) for v in (0.0, 0.123456, 1234567.0, 0.00001234, float("nan"))]
    ['0', '0.1235', '1.23e+06', '1.23e-05', '–']
    """
    if not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.4g}"


def percent(share: float) -> str:
    """A share as a percentage.

    >>> percent(0.1234), percent(0.0)
    ('12.3%', '0.0%')
    """
    return f"{100 * share:.1f}%"


@dataclass(frozen=True, slots=True)
class Scale:
    """Maps a domain ``[low, high]`` onto pixels ``[start, stop]``; ``log`` in log10."""

    low: float
    high: float
    start: float
    stop: float
    log: bool = False

    def __call__(self, value: float) -> float:
        low, high, v = self.low, self.high, value
        if self.log:
            low, high, v = math.log10(low), math.log10(high), math.log10(max(value, self.low))
        span = high - low
        share = 0.5 if span == 0 else (v - low) / span
        return self.start + share * (self.stop - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        if self.log:
            return decades(self.low, self.high, count)
        return nice_ticks(self.low, self.high, count)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (steps of 1, 2 or 5 times a power of ten) in range.

    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> nice_ticks(3.0, 3.0)
    [3.0]
    """
    if not high > low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def decades(low: float, high: float, count: int = 5) -> list[float]:
    """Powers of ten in ``[low, high]``, every k-th so that about ``count`` remain.

    >>> decades(1e-12, 1.0)
    [1e-12, 1e-09, 1e-06, 0.001, 1.0]
    """
    first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
    every = max(1, math.ceil((last - first) / max(count - 1, 1)))
    return [10.0 ** e for e in range(last, first - 1, -every)][::-1]


_TIME_STEPS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600,
               86_400, 2 * 86_400, 7 * 86_400, 30 * 86_400)


def time_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round instants (Unix seconds) in range: whole minutes, hours or days.

    >>> time_ticks(0.0, 3600.0)
    [0.0, 900.0, 1800.0, 2700.0, 3600.0]
    """
    if not high > low:
        return [low]
    step = next((s for s in _TIME_STEPS if (high - low) / s <= count), _TIME_STEPS[-1])
    first = math.ceil(low / step)
    return [float(i * step) for i in range(first, math.floor(high / step) + 1)]


def utc(seconds: float, span: float) -> str:
    """An instant labelled to the precision a ``span`` of seconds needs.

    >>> utc(1_760_000_000.0, 3600.0), utc(1_760_000_000.0, 10 * 86_400.0)
    ('08:53:20', '10-09 08:53')
    """
    when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return when.strftime("%H:%M:%S" if span <= 86_400 else "%m-%d %H:%M")


def axes(x: Scale, y: Scale, *, x_ticks: Sequence[float], y_ticks: Sequence[float],
         x_label: Callable[[float], str] = number,
         y_label: Callable[[float], str] = number) -> str:
    """Grid lines, both axes and their tick labels for a plot area."""
    top, bottom = min(y.start, y.stop), max(y.start, y.stop)
    left, right = min(x.start, x.stop), max(x.start, x.stop)
    parts = [f'<g class="axes" font-size="10" fill="{INK}">']
    for tick in y_ticks:
        py = y(tick)
        parts.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{py:.1f}" y2="{py:.1f}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 4:.1f}" y="{py + 3:.1f}" text-anchor="end">'
                     f'{esc(y_label(tick))}</text>')
    for tick in x_ticks:
        px = x(tick)
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{bottom:.1f}" '
                     f'y2="{bottom + 4:.1f}" stroke="{INK}"/>')
        parts.append(f'<text x="{px:.1f}" y="{bottom + 15:.1f}" text-anchor="middle">'
                     f'{esc(x_label(tick))}</text>')
    parts.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}" '
                 f'stroke="{INK}"/>')
    parts.append(f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" '
                 f'stroke="{INK}"/>')
    parts.append("</g>")
    return "".join(parts)


def svg(width: float, height: float, body: str, *, title: str,
        data: Mapping[str, str]) -> str:
    """A plot: ``<svg class="plot">`` with ``data-*`` attributes saying what it shows
    (``data-column`` at least), titled for screen readers and tooltips."""
    marks = "".join(f' data-{key}="{esc(value)}"' for key, value in data.items())
    return (f'<svg class="plot"{marks} role="img" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
            f"<title>{esc(title)}</title>{body}</svg>")


def legend(x: float, y: float, entries: Sequence[tuple[str, str, str]]) -> str:
    """A row of (colour, label, dash) swatches starting at (x, y)."""
    parts = ['<g class="legend" font-size="11">']
    for colour, label, dash in entries:
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{x:.1f}" x2="{x + 18:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{colour}" stroke-width="3"{dashes}/>')
        parts.append(f'<text x="{x + 22:.1f}" y="{y + 4:.1f}" fill="{INK}">{esc(label)}</text>')
        x += 30 + 6.5 * len(label)
    parts.append("</g>")
    return "".join(parts)
