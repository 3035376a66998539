"""The HTML report of a backtest's window history: each statistic over time.

Per model and window: how many windows each test flagged, then per column one plot
per statistic (its threshold dashed, flagged windows marked). Thresholds and alphas
come from the models' config, the values and decisions from the records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftd.config import ModelConfig
from driftd.report.html import document, table
from driftd.report.series import (
    Series,
    history_series,
    latest_revisions,
    performance_series,
    series_plot,
    windows_by_name,
)
from driftd.report.svg import esc, utc


def history_report(records: Sequence[Mapping[str, Any]],
                   models: Mapping[str, ModelConfig]) -> str:
    """The history of every (model, window) in ``records`` as one HTML document."""
    grouped = windows_by_name(records)
    performance = latest_revisions(records)
    body = ["<h1>driftd backtest: window history</h1>"]
    if not grouped:
        body.append('<p class="meta">No window closed with drift statistics.</p>')
    for index, ((model_name, window), rows) in enumerate(grouped.items()):
        model = models.get(model_name)
        if model is None:
            body.append(f"<h2>Model <code>{esc(model_name)}</code></h2><p class=\"meta\">"
                        "Not in the config: its thresholds are unknown.</p>")
            continue
        body.append(_window_section(index, model, window, rows))
        body.append(_performance(model, window, performance.get((model_name, window), [])))
    return document("driftd backtest: window history", "".join(body))


def _window_section(index: int, model: ModelConfig, window: str,
                    rows: Sequence[Mapping[str, Any]]) -> str:
    series = history_series(model, window, rows)
    drifted = sum(any(any((c.get("drift") or {}).values()) for c in r["columns"]) for r in rows)
    parts = [f'<h2 id="window-{index}">Model <code>{esc(model.name)}</code>, window '
             f"<code>{esc(window)}</code></h2>",
             f'<p class="meta">{len(rows):,} windows{_span(rows)}; {drifted:,} with drift in '
             f"some column. Reference <code>{esc(rows[-1].get('reference', ''))}</code>. "
             "Red dots: windows the test flagged; hollow: undecided (for example a window "
             "too small for a threshold); a dashed line: the threshold or alpha.</p>",
             _flag_table(series)]
    by_column: dict[str, list[Series]] = {}
    for one in series:
        by_column.setdefault(one.column, []).append(one)
    for column, plots in by_column.items():
        parts.append(f'<section class="column"><h3><span class="name">{esc(column)}</span>'
                     "</h3>" + "".join(series_plot(s) for s in plots) + "</section>")
    return "".join(parts)


def _performance(model: ModelConfig, window: str, rows: Sequence[Mapping[str, Any]]) -> str:
    series = performance_series(model, window, rows)
    if not series:
        return ""
    matured = sum(1 for r in rows if r.get("matured"))
    return (f'<section class="performance"><h3>Performance</h3><p class="meta">The latest '
            f"revision of each window with labels ({matured:,} of {len(rows):,} matured). A "
            "window is flagged when its decay is beyond the tolerance with confidence (the "
            "lower end of its interval), so one just above the line may not be.</p>"
            + "".join(series_plot(s) for s in series) + "</section>")


def _span(rows: Sequence[Mapping[str, Any]]) -> str:
    start, end = rows[0].get("start"), rows[-1].get("end")
    if start is None or end is None:
        return ""
    span = end - start
    return f" from {utc(start, span + 86_401)} to {utc(end, span + 86_401)} UTC"


def _flag_table(series: Sequence[Series]) -> str:
    """Windows flagged per column (rows) and test (columns)."""
    tests = list(dict.fromkeys(s.test for s in series))
    cells: dict[str, dict[str, str]] = {}
    for one in series:
        flagged = one.outcomes.count("drift")
        text = "–" if one.line is None else f"{flagged:,} / {len(one.outcomes):,}"
        cells.setdefault(one.column, {})[one.test] = (
            f'<span class="outcome drift">{text}</span>' if flagged else text)
    rows = [(f'<span class="name">{esc(column)}</span>',
             *(by_test.get(test, "") for test in tests)) for column, by_test in cells.items()]
    return table(("windows flagged", *tests), rows, numeric=tuple(range(1, len(tests) + 1)))
