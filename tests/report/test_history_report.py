"""`driftd backtest --html`: each statistic of each column over the windows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from driftd.cli import main
from driftd.config import ColumnConfig, CountWindowConfig, ModelConfig, PerformanceConfig
from driftd.report import history_report
from driftd.report.series import history_series
from report.chromium import Browser
from report.scenarios import WINDOWS, write_backtest

PLOTS = """[...document.querySelectorAll("svg.plot")].map(plot => {
  const box = plot.getBoundingClientRect();
  const line = plot.querySelector("line.threshold");
  return {column: plot.dataset.column, test: plot.dataset.test, window: plot.dataset.window,
          width: box.width, height: box.height,
          threshold: line ? Number(line.getAttribute("y1")) : null,
          points: [...plot.querySelectorAll("circle")].map(
            c => [c.getAttribute("class"), Number(c.getAttribute("cy"))])};
})"""

FLAGS = """[...document.querySelectorAll("tbody tr")].map(
  row => [...row.cells].map(cell => cell.textContent))"""


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario's backtest, run once with --html."""
    tmp_path = tmp_path_factory.mktemp("backtest")
    out = tmp_path / "history.html"
    assert main(["backtest", "--config", str(write_backtest(tmp_path)),
                 "--html", str(out)]) == 0
    return out


def test_each_statistic_is_plotted_over_the_windows_against_its_threshold(
        chromium: Browser, history: Path) -> None:
    """Steps: backtest 8 one-minute windows, x shifted in the last 3, c unchanged; open
    the --html report in headless Chromium. Expected: a plot of non-zero size per
    (column, enabled test), 8 points each; a threshold line in every plot of a test
    that decides; PSI and KS flag exactly the last 3 windows of x, drawn beyond the
    line (PSI above its threshold, the KS p-value below alpha) and the others on the
    other side; nothing flagged in c; no console error."""
    with chromium.open(history.as_uri()) as page:
        plots = page.evaluate(PLOTS)
        flags = page.evaluate(FLAGS)
        errors = chromium.console_errors(page.session)
    assert errors == []
    assert [(p["column"], p["test"]) for p in plots] == [
        ("x", "psi"), ("x", "ks"), ("x", "js"), ("x", "wasserstein"), ("x", "missing"),
        ("c", "psi"), ("c", "chi2"), ("c", "js"), ("c", "missing")]
    assert all(p["window"] == "1m" and p["width"] > 600 and p["height"] > 150 for p in plots)
    assert all(len(p["points"]) == WINDOWS for p in plots)
    assert [p["test"] for p in plots if p["threshold"] is None] == ["wasserstein"]
    by_test: dict[tuple[str, str], dict[str, Any]] = {(p["column"], p["test"]): p
                                                      for p in plots}
    for test, flagged_above in (("psi", True), ("ks", False)):
        plot = by_test[("x", test)]
        assert [c for c, _ in plot["points"]] == ["ok"] * 5 + ["drift"] * 3
        above = [cy < plot["threshold"] for _, cy in plot["points"]]  # SVG y grows down
        assert above == [not flagged_above] * 5 + [flagged_above] * 3
    assert not any(c == "drift" for p in plots if p["column"] == "c" for c, _ in p["points"])
    assert flags[0][:3] == ["x", "3 / 8", "3 / 8"]
    assert flags[1][:2] == ["c", "0 / 8"]


def test_count_windows_are_plotted_by_sequence_with_gaps_and_outcomes() -> None:
    """Steps: three count-window records (sequence 0-2; the second without a PSI) and
    a revision of the first. Expected: the PSI series has x = sequences, a gap where
    the statistic is missing, the outcomes ok / undecided / drift, and the configured
    threshold; the missing test plots |missing - reference missing|."""
    model = ModelConfig(name="m", reference=Path("m.json"),
                        columns=(ColumnConfig(name="x", kind="numeric"),),
                        windows=(CountWindowConfig(name="n", size=10, step=10),))

    def record(sequence: int, stats: dict[str, float], drift: dict[str, bool],
               revision: int = 0) -> dict[str, Any]:
        return {"model": "m", "window": "n", "sequence": sequence, "start": None,
                "end": None, "revision": revision,
                "columns": [{"column": "x", "statistics": stats, "drift": drift}]}

    records = [record(0, {"psi": 0.1, "missing_ratio": 0.5, "missing_ratio_reference": 0.25},
                      {"psi": False}),
               record(1, {"missing_ratio": 0.0, "missing_ratio_reference": 0.25}, {}),
               record(2, {"psi": 0.5, "missing_ratio": 0.25, "missing_ratio_reference": 0.25},
                      {"psi": True}),
               record(0, {"psi": 9.0}, {"psi": True}, revision=1)]
    series = {s.test: s for s in history_series(model, "n", records[:3])}
    assert sorted(series) == ["missing", "psi"]
    psi = series["psi"]
    assert psi.x == (0.0, 1.0, 2.0) and not psi.time
    assert psi.y[0] == 0.1 and math.isnan(psi.y[1]) and psi.y[2] == 0.5
    assert psi.outcomes == ("ok", "undecided", "drift")
    assert (psi.line, psi.line_label, psi.log) == (0.2, "threshold 0.2", False)
    assert series["missing"].statistic == "|missing - reference missing|"
    assert series["missing"].y == (0.25, 0.25, 0.0)


def test_a_history_report_that_cannot_be_written_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: backtest with --html into a directory that does not exist. Expected:
    exit 2 and one line naming the path and the reason, after the table."""
    target = tmp_path / "no-such-dir" / "history.html"
    assert main(["backtest", "--config", str(write_backtest(tmp_path)),
                 "--html", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == f"{WINDOWS} windows"
    assert captured.err.strip().splitlines() == [
        f"driftd backtest: {target}: cannot write the HTML report: No such file or directory"]


def test_performance_decay_is_plotted_from_each_window_s_latest_revision(
        chromium: Browser, tmp_path: Path) -> None:
    """Steps: a history of two time windows, each closed (revision 0, no labels yet) and
    revised once labels came (revision 1: accuracy decay 0.01, then 0.2 beyond the
    tolerance 0.05 with confidence); render it. Expected: one accuracy-decay plot with
    the tolerance line and two points, the second flagged and above the line."""
    model = ModelConfig(
        name="m", reference=Path("m.json"),
        columns=(ColumnConfig(name="score", kind="numeric", role="prediction"),
                 ColumnConfig(name="y", kind="categorical", role="label")),
        windows=(CountWindowConfig(name="w", size=10, step=10),),
        performance=PerformanceConfig(task="binary", prediction="score", label="y",
                                      baseline={"accuracy": 0.9},
                                      tolerance={"accuracy": 0.05}))

    def record(start: float, revision: int, decay: float | None,
               significant: bool = False) -> dict[str, Any]:
        performance = {"metrics": {}, "decay": {} if decay is None else {"accuracy": {
            "decay": decay, "interval": [decay - 0.02, decay + 0.02],
            "significant": significant}}}
        return {"model": "m", "window": "w", "start": start, "end": start + 60.0,
                "sequence": None, "revision": revision, "matured": revision > 0,
                "columns": [{"column": "score", "statistics": {"psi": 0.01},
                             "drift": {"psi": False}}] if revision == 0 else [],
                "performance": performance}

    records = [record(0.0, 0, None), record(60.0, 0, None), record(0.0, 1, 0.01),
               record(60.0, 1, 0.2, significant=True)]
    out = tmp_path / "history.html"
    out.write_text(history_report(records, {"m": model}), encoding="utf-8")
    with chromium.open(out.as_uri()) as page:
        plots = page.evaluate(PLOTS.replace('svg.plot', 'svg.plot[data-kind=performance]'))
        errors = chromium.console_errors(page.session)
    assert errors == []
    [plot] = plots
    assert (plot["column"], plot["test"]) == ("accuracy", "accuracy")
    assert [c for c, _ in plot["points"]] == ["ok", "drift"]
    assert [cy < plot["threshold"] for _, cy in plot["points"]] == [False, True]
