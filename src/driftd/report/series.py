"""A backtest's window history as series: each statistic of each column over time.

The records are the results history's (``window_record``), in the order windows
closed; only revision 0 of a window carries its drift statistics (later revisions
revise its performance). A statistic is plotted the way its test decides: the value
against its threshold, or the p-value (log scale) against alpha, with every window the
test flagged marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftd.check import TEST_STATISTICS
from driftd.config import ModelConfig
from driftd.report.svg import (
    DRIFT,
    INK,
    REFERENCE,
    WINDOW,
    Scale,
    axes,
    esc,
    legend,
    number,
    svg,
    time_ticks,
    utc,
)

WIDTH, HEIGHT = 760, 200
P_FLOOR = 1e-16  # p-values below this are drawn at it (a log axis has no zero)


@dataclass(frozen=True, slots=True)
class Series:
    """One statistic of one column over a window's history; ``x`` is each window's end
    (Unix seconds) or, for count windows, its sequence number; ``outcomes`` holds
    "drift", "ok", "undecided" (the test decides but did not) or "none" (no decision)."""

    model: str
    window: str
    column: str
    test: str
    statistic: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    outcomes: tuple[str, ...]
    line: float | None
    line_label: str
    log: bool
    time: bool
    kind: str = "history"  # or "performance": ``column`` and ``test`` name the metric


def windows_by_name(records: Sequence[Mapping[str, Any]]
                    ) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """Revision 0 of every window, by (model, window), in closing order."""
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("revision", 0) == 0 and record.get("columns"):
            grouped.setdefault((record["model"], record["window"]), []).append(record)
    return grouped


def latest_revisions(records: Sequence[Mapping[str, Any]]
                     ) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """The latest revision of every window with performance, by (model, window), in
    closing order (a revision replaces its window where it stood)."""
    latest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for record in records:
        if record.get("performance"):
            latest[(record["model"], record["window"], record.get("start"),
                    record.get("end"), record.get("sequence"))] = record
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in latest.values():
        grouped.setdefault((record["model"], record["window"]), []).append(record)
    return grouped


def performance_series(model: ModelConfig, window: str,
                       records: Sequence[Mapping[str, Any]]) -> list[Series]:
    """Per metric with a baseline, its decay (baseline minus window, positive meaning
    worse) against the tolerance; windows whose decay is beyond it with confidence
    are flagged. A window without labels leaves a gap."""
    if model.performance is None:
        return []
    time, x = _x(records)
    decays = [r["performance"].get("decay") or {} for r in records]
    found = []
    for metric in dict.fromkeys(name for decay in decays for name in decay):
        tolerance = model.performance.tolerance.get(metric)
        cells = [decay.get(metric) or {} for decay in decays]
        y = tuple(math.nan if c.get("decay") is None else float(c["decay"]) for c in cells)
        outcomes = tuple("none" if tolerance is None else "undecided" if math.isnan(v)
                         else "drift" if c.get("significant") else "ok"
                         for c, v in zip(cells, y, strict=True))
        found.append(Series(
            model.name, window, metric, metric, f"{metric} decay (baseline - window)", x, y,
            outcomes, tolerance,
            f"tolerance {tolerance}" if tolerance is not None else "no tolerance: not judged",
            False, time, kind="performance"))
    return found


def _x(records: Sequence[Mapping[str, Any]]) -> tuple[bool, tuple[float, ...]]:
    """Whether the windows are time windows, and each one's place on the x axis."""
    time = all(r.get("sequence") is None and r.get("end") is not None for r in records)
    return time, tuple(float(r["end"] if time else r["sequence"] or 0) for r in records)


def history_series(model: ModelConfig, window: str,
                   records: Sequence[Mapping[str, Any]]) -> list[Series]:
    """A series per (monitored column, enabled test with a statistic in the records)."""
    time, x = _x(records)
    found = []
    for column in model.monitored_columns:
        cells = [_column(r, column.name) for r in records]
        for test in TEST_STATISTICS:
            config = model.test_for(column, test)
            statistic, pvalue = TEST_STATISTICS[test]
            key = pvalue if config.decision == "pvalue" and pvalue else statistic
            if not config.enabled or not any(key in c["statistics"] for c in cells):
                continue
            line, label = {"threshold": (config.threshold, f"threshold {config.threshold}"),
                           "pvalue": (config.alpha, _alpha_label(config.alpha, model))
                           }.get(config.decision, (None, "no decision"))
            if test == "missing" and config.decision == "threshold":
                key = "|missing - reference missing|"
            found.append(Series(
                model.name, window, column.name, test, key, x,
                tuple(_value(c["statistics"], key) for c in cells),
                tuple(_outcome(c, test, config.decision) for c in cells),
                line, label, config.decision == "pvalue", time))
    return found


def _column(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for column in record["columns"]:
        if column["column"] == name:
            return {"statistics": column.get("statistics") or {},
                    "drift": column.get("drift") or {},
                    "undecided": column.get("undecided") or []}
    return {"statistics": {}, "drift": {}, "undecided": []}


def _alpha_label(alpha: float | None, model: ModelConfig) -> str:
    after = "" if model.correction == "none" else f" (decided after {model.correction} correction)"
    return f"alpha {alpha}{after}"


def _value(stats: Mapping[str, float | None], key: str) -> float:
    if key == "|missing - reference missing|":
        ratio, reference = stats.get("missing_ratio"), stats.get("missing_ratio_reference")
        return math.nan if ratio is None or reference is None else abs(ratio - reference)
    value = stats.get(key)
    return math.nan if value is None else float(value)


def _outcome(column: Mapping[str, Any], test: str, decision: str) -> str:
    """A test decides drift or ok; one listed undecided (a window too small for its
    threshold), or without a decision in the record, is undecided."""
    if decision == "none":
        return "none"
    flag = column["drift"].get(test)
    if flag is None or test in column["undecided"]:
        return "undecided"
    return "drift" if flag else "ok"


def series_plot(series: Series) -> str:
    """The statistic per window as a line, its threshold dashed, flagged windows red."""
    left, right, top, bottom = 64.0, WIDTH - 16.0, 30.0, HEIGHT - 42.0
    x = Scale(min(series.x, default=0.0), max(series.x, default=1.0), left, right)
    y = _y_scale(series, top, bottom)
    span = x.high - x.low
    ticks = time_ticks(x.low, x.high) if series.time else [
        t for t in x.ticks(6) if float(t).is_integer()]
    parts = [axes(x, y, x_ticks=ticks, y_ticks=y.ticks(4),
                  x_label=(lambda t: utc(t, span)) if series.time else number,
                  y_label=(lambda t: f"{t:.0e}" if t < 0.1 else number(t)) if series.log
                  else number)]
    parts.append(_line(series, x, y))
    if series.line is not None:
        py = y(series.line)
        parts.append(f'<line class="threshold" x1="{left:.1f}" x2="{right:.1f}" '
                     f'y1="{py:.1f}" y2="{py:.1f}" stroke="{DRIFT}" stroke-dasharray="6 3"/>')
    parts.append(_markers(series, x, y))
    flagged = series.outcomes.count("drift")
    keys = [(WINDOW, series.statistic, "")]
    keys += [(DRIFT, series.line_label, "6 3")] if series.line is not None else []
    parts.append(legend(left, 14, keys))
    parts.append(f'<text x="{right:.1f}" y="18" font-size="11" text-anchor="end" '
                 f'fill="{DRIFT if flagged else INK}">{flagged} of {len(series.x)} windows '
                 f"flagged</text>")
    title = f"{series.column}: {series.statistic} per window ({series.test})"
    return svg(WIDTH, HEIGHT, "".join(parts), title=title,
               data={"column": series.column, "kind": series.kind, "test": series.test,
                     "window": series.window})


def _y_scale(series: Series, top: float, bottom: float) -> Scale:
    finite = [v for v in series.y if math.isfinite(v)]
    if series.log:
        lowest = min([v for v in finite if v > 0] + [series.line or 1.0], default=1.0)
        low = 10.0 ** math.floor(math.log10(max(min(lowest, (series.line or 1.0) / 10),
                                                P_FLOOR)))
        return Scale(low, 1.0, bottom, top, log=True)
    high = max([*finite, series.line or 0.0, 1e-9]) * 1.1
    return Scale(min([*finite, 0.0]), high, bottom, top)


def _line(series: Series, x: Scale, y: Scale) -> str:
    """The values as a path; a window without the statistic breaks it."""
    path, pen_down = [], False
    for vx, vy in zip(series.x, series.y, strict=True):
        if not math.isfinite(vy):
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x(vx):.1f},{y(vy):.1f}")
        pen_down = True
    return (f'<path class="series" d="{"".join(path)}" fill="none" stroke="{WINDOW}" '
            f'stroke-width="1.5"/>')


def _markers(series: Series, x: Scale, y: Scale) -> str:
    dots = len(series.x) <= 400  # beyond that, only flagged windows are marked
    parts = []
    for vx, vy, outcome in zip(series.x, series.y, series.outcomes, strict=True):
        if not math.isfinite(vy):
            continue
        where = f'cx="{x(vx):.1f}" cy="{y(vy):.1f}"'
        tip = f"<title>{esc(number(vy))}: {esc(outcome)}</title>"
        if outcome == "drift":
            parts.append(f'<circle class="drift" {where} r="3.5" fill="{DRIFT}">{tip}</circle>')
        elif outcome == "undecided":
            parts.append(f'<circle class="undecided" {where} r="3" fill="white" '
                         f'stroke="{REFERENCE}">{tip}</circle>')
        elif dots:
            parts.append(f'<circle class="{esc(outcome)}" {where} r="1.8" '
                         f'fill="{WINDOW}">{tip}</circle>')
    return "".join(parts)
