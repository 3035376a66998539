"""Evaluation degrades, never freezes: a part that cannot be computed is left out and
counted; the rest of the window, every other window and every other model publish."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from driftd.config import (
    ColumnConfig,
    CountWindowConfig,
    ModelConfig,
    PerformanceConfig,
    TimeWindowConfig,
)
from driftd.events import ModelBatch
from driftd.monitor.evaluate import Evaluator
from driftd.monitor.failures import Attempts, EvaluationError
from driftd.monitor.layout import Layout
from driftd.monitor.monitor import Monitor
from driftd.monitor.results import ResultBoard
from driftd.monitor.state import ModelState, WindowState
from driftd.reference.build import build_profile
from driftd.reference.profile import Profile
from driftd.telemetry import Telemetry
from driftd.windows.panes import Pane

COLUMNS = (ColumnConfig(name="x", kind="numeric"), ColumnConfig(name="c", kind="categorical"),
           ColumnConfig(name="score", kind="numeric", role="prediction"),
           ColumnConfig(name="label", kind="categorical", role="label"))
WINDOWS = (CountWindowConfig(name="last-1k", size=1000, step=250),
           TimeWindowConfig(name="10m", duration_seconds=600, slide_seconds=60))


def model(name: str) -> ModelConfig:
    return ModelConfig(name=name, reference=Path(f"{name}.json"), columns=COLUMNS,
                       windows=WINDOWS, min_window_events=0,
                       performance=PerformanceConfig(task="binary", prediction="score",
                                                     label="label"))


def profile(name: str) -> Profile:
    rng = np.random.default_rng(3)
    return build_profile(name, COLUMNS, {"x": rng.normal(size=5000), "score": rng.random(5000)},
                         {"c": rng.choice(["a", "b", "c"], 5000).tolist()}, rows=5000,
                         metadata={})


def batch(name: str, rng: np.random.Generator, rows: int, start: float) -> ModelBatch:
    return ModelBatch(name, start + np.arange(rows, dtype=float), [None] * rows,
                      {"x": rng.normal(size=rows), "score": rng.random(rows)},
                      {"c": rng.choice(["a", "b", "c"], rows).tolist(), "label": [None] * rows})


def corrupt_categories(state: ModelState, window: str, layout: Layout) -> ModelState:
    """The model's state with one category count of column ``c`` at -1 in every pane of
    ``window`` (what a wrong subtraction would leave)."""
    slot = next(s for s in layout.columns if s.column.name == "c").offset
    saved = state.windows[window]
    panes = {}
    for name, pane in saved.panes.items():
        counts = pane.counts.copy()
        counts[slot] = -1
        panes[name] = Pane(counts, pane.tails.copy(), pane.events)
    return ModelState(state.reference, {**state.windows,
                                        window: WindowState(saved.fingerprint, saved.meta, panes)})


def test_a_column_that_cannot_be_computed_leaves_the_rest_published_and_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two models, each a count and a time window, 3,000 events each (one a second).
    Model a restarts from a checkpoint whose time-window panes hold a negative count in
    column c.

    Expected when the windows close: every window of both models published; in a's
    time windows column c has no statistics and no decisions while x, score and
    performance are there; driftd_evaluation_errors_total{model=a, window=10m, part=c,
    reason=invalid_value} counts each of them, nothing else counted; the error is logged
    once, with its traceback.
    """
    names = ("a", "b")
    profiles = {n: profile(n) for n in names}
    rng = np.random.default_rng(11)
    first = Monitor([model(n) for n in names], profiles, Telemetry())
    for name in names:
        first.ingest("predictions", {name: batch(name, rng, 3000, 1000.0)}, "p0", now=1.0)
    states = first.state()
    states["a"] = corrupt_categories(states["a"], "10m", first.models["a"].layout)
    telemetry = Telemetry()
    monitor = Monitor([model(n) for n in names], profiles, telemetry)
    assert monitor.restore(states, now=2.0) == {}

    board = ResultBoard()
    with caplog.at_level(logging.ERROR, logger="driftd.monitor.failures"):
        for name in names:  # one more step of the count windows
            monitor.ingest("predictions", {name: batch(name, rng, 250, 4000.0)}, "p0", now=3.0)
        results = monitor.results(10.0) + monitor.results(20.0, finish=True)
        board.update(results, 20.0)
    published = board.latest()
    assert published is not None

    assert sorted((w.model, w.window) for w in published.windows) == [
        ("a", "10m"), ("a", "last-1k"), ("b", "10m"), ("b", "last-1k")]
    broken = [w for w in results if w.errors]
    assert len(broken) >= 50  # every window holding only corrupted panes, and more
    for window in broken:
        assert (window.model, window.window, window.revision) == ("a", "10m", 0)
        assert window.column("c").statistics == {} and window.column("c").drift == {}
        assert window.column("x").statistics["psi"] >= 0
        assert math.isfinite(window.column("score").statistics["ks_statistic"])
        assert window.performance is not None and window.performance.predictions > 0
        assert [(e.part, e.reason) for e in window.errors] == [("c", "invalid_value")]
        assert "cur_counts must be finite and non-negative" in window.errors[0].detail
    for window in results:
        if window not in broken and window.revision == 0:
            assert all(column.statistics for column in window.columns)
    snapshot = telemetry.snapshot()
    assert snapshot.evaluation_errors == {("a", "10m", "c", "invalid_value"): len(broken)}
    logged = [r for r in caplog.records if "not available" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "model a window 10m: column 'c' not available" in logged[0].getMessage()


def test_performance_that_cannot_be_computed_leaves_the_columns_and_is_named() -> None:
    """A window summed the old way (add every pane, subtract the slid-out ones): its
    expected-confusion sums end at about -1e-14 once only scores below the threshold
    remain, which the label-free estimate refuses.

    Expected: the columns' statistics are all there, the estimate is absent, and the
    result names one ("performance", "invalid_value") error.
    """
    config, ref = model("a"), profile("a")
    layout = Layout(config.columns, ref, config.performance)
    rng = np.random.default_rng(0)
    panes = []
    for i in range(50):  # both sides of the threshold first, then only below it
        scores = rng.uniform(0, 1, 100) if i < 30 else rng.uniform(0, 0.45, 100)
        block = batch("a", rng, 100, 0.0)
        block.numeric["score"] = scores
        pane = Pane.empty(layout.size, layout.tail_size)
        pane.add_rows(layout.encode(block), 0, 100)
        panes.append(pane)
    window = Pane.empty(layout.size, layout.tail_size)
    for i, pane in enumerate(panes):
        window.add(pane)
        if i >= 10:
            window.subtract(panes[i - 10])
    assert window.events == 1000 and (window.tails < 0).any()  # the residue is there

    attempts = Attempts()
    result = Evaluator(config, layout).evaluate("last-1k", window, attempts=attempts)

    assert all(column.statistics for column in result.columns)
    assert result.performance is not None and result.performance.estimated == {}
    assert [(e.part, e.reason) for e in result.errors] == [("performance", "invalid_value")]
    assert attempts.errors == result.errors
    assert isinstance(attempts.failed[0][1], ValueError)


def test_a_failed_part_of_a_strict_evaluation_still_raises() -> None:
    """Without ``attempts`` (the reference build's baseline), performance errors raise."""
    config, ref = model("a"), profile("a")
    layout = Layout(config.columns, ref, config.performance)
    perf = layout.performance
    assert perf is not None
    sums = np.zeros(perf.size)
    sums[0] = 10
    sums[5] = -1e-14  # a negative expected-confusion sum
    with pytest.raises(ValueError, match="must be finite and non-negative"):
        perf.evaluate(sums)
    recorded = Attempts()
    assert perf.evaluate(sums, recorded).estimated == {}
    assert recorded.errors[0] == EvaluationError(
        "performance", "invalid_value", "ValueError: aggregates must be finite and non-negative")
