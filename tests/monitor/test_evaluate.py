"""A window's statistics, through the whole path, equal scipy on the raw values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from driftd.config import ColumnConfig, CountWindowConfig, ModelConfig, TestConfig, TestsConfig
from driftd.events import ModelBatch
from driftd.monitor.evaluate import Evaluator
from driftd.monitor.layout import Layout
from driftd.reference.build import build_profile
from driftd.reference.profile import NumericProfile
from driftd.stats.prepared import NumericReference
from driftd.stats.sample_size import bins_min_events
from driftd.windows.count import CountWindow

COLUMNS = (ColumnConfig(name="x", kind="numeric"), ColumnConfig(name="k", kind="numeric"),
           ColumnConfig(name="c", kind="categorical"))


def model(**tests: TestConfig) -> ModelConfig:
    return ModelConfig(name="m", reference=Path("m.json"), columns=COLUMNS,
                       windows=(CountWindowConfig(name="w", size=2000, step=500),),
                       tests=TestsConfig(**tests))


def sample(rng: np.random.Generator, rows: int, shift: float) -> ModelBatch:
    x = rng.normal(shift, 1.0, rows)
    x[rng.random(rows) < 0.02] = np.nan
    k = rng.integers(0, 30, rows).astype(float)  # heavy ties
    c = rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    c[0] = "never-seen"
    c[1] = None
    return ModelBatch("m", np.zeros(rows), [None] * rows, {"x": x, "k": k}, {"c": c})


def test_window_statistics_equal_scipy_on_the_raw_values() -> None:
    """Reference 20k rows, a shifted window of 2000 (with missing, ties, unseen category).

    Expected: KS statistic and p-value as ks_2samp(method='asymp'), PSI from
    numpy.histogram on the reference deciles, chi-square as chi2_contingency, JS as
    jensenshannon(base=2), missing ratio exact.
    """
    rng = np.random.default_rng(11)
    reference = sample(rng, 20_000, 0.0)
    config = model()
    profile = build_profile("m", COLUMNS, reference.numeric, reference.categorical,
                            rows=20_000, metadata={})
    layout = Layout(COLUMNS, profile)
    window = CountWindow(2000, 500, slots=layout.size, tails=layout.tail_size)
    current = sample(rng, 2000, 0.15)
    window.add(layout.encode(current))
    pane = window.latest()
    assert pane is not None
    result = Evaluator(config, layout).evaluate("w", pane)
    for name in ("x", "k"):
        stats = result.column(name).statistics
        ref, cur = reference.numeric[name], current.numeric[name]
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        ks = sps.ks_2samp(ref, cur, method="asymp")
        column = profile.columns[name]
        assert isinstance(column, NumericProfile)
        if column.exact:  # every distinct reference value is a grid point
            assert stats["ks_statistic"] == pytest.approx(ks.statistic, abs=1e-12)
            assert stats["ks_pvalue"] == pytest.approx(ks.pvalue, rel=1e-6)
        else:  # within the reference mass of one grid gap
            cell = column.bucket_counts[0::2].max() / column.count
            assert abs(stats["ks_statistic"] - ks.statistic) <= cell
        edges = np.r_[-np.inf, np.unique(np.quantile(ref, np.arange(1, 10) / 10)), np.inf]
        p = np.histogram(ref, edges)[0] / ref.size
        q = np.histogram(cur, edges)[0] / cur.size
        pf, qf = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
        assert stats["psi"] == pytest.approx(np.sum((qf - pf) * np.log(qf / pf)), rel=1e-12)
        assert stats["js_distance"] == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9)
    assert result.column("x").statistics["missing_ratio"] == pytest.approx(
        np.isnan(current.numeric["x"]).mean())
    # Categorical: categories, __other__ (the unseen one) and missing, as one table.
    ref_c, cur_c = reference.categorical["c"], current.categorical["c"]
    labels = ["a", "b", "c", "d"]

    def table(values: list[str | None]) -> list[int]:
        return ([values.count(v) for v in labels]
                + [sum(v not in labels and v is not None for v in values),
                   values.count(None)])

    counts = np.array([table(ref_c), table(cur_c)])
    expected = sps.chi2_contingency(counts[:, counts.sum(axis=0) > 0])
    stats = result.column("c").statistics
    assert stats["chi2_statistic"] == pytest.approx(expected.statistic, rel=1e-9)
    assert stats["chi2_pvalue"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert profile.columns["k"].exact and not profile.columns["x"].exact  # type: ignore[union-attr]
    assert result.column("x").drift["ks"] and not result.column("c").drift["chi2"]


@pytest.mark.slow
def test_null_streams_are_flagged_at_the_configured_alpha() -> None:
    """Tumbling windows of 1000 events of the reference's own distribution.

    Scenario: 8 references x 60 windows, 3 continuous columns, KS decided at alpha 0.05
    with Holm across the columns. Expected: the share of windows with any column
    flagged (the family-wise rate) lies in the binomial 99.9% interval around 0.05.
    """
    columns = tuple(ColumnConfig(name=f"x{i}", kind="numeric") for i in range(3))
    config = ModelConfig(
        name="m", reference=Path("m.json"), columns=columns, correction="holm",
        windows=(CountWindowConfig(name="w", size=1000, step=1000),),
        tests=TestsConfig(ks=TestConfig(decision="pvalue", alpha=0.05),
                          psi=TestConfig(decision="none"), js=TestConfig(decision="none"),
                          missing=TestConfig(decision="none")))
    rng = np.random.default_rng(2026)
    flagged = total = 0
    for _ in range(8):
        ref = {c.name: rng.normal(0, 1, 20_000) for c in columns}
        profile = build_profile("m", columns, ref, {}, rows=20_000, metadata={})
        layout = Layout(columns, profile)
        evaluator = Evaluator(config, layout)
        window = CountWindow(1000, 1000, slots=layout.size, tails=layout.tail_size)
        rows = 60_000
        batch = ModelBatch("m", np.zeros(rows), [None] * rows,
                           {c.name: rng.normal(0, 1, rows) for c in columns}, {})
        for pane in window.add(layout.encode(batch), emit=True):
            result = evaluator.evaluate("w", pane)
            flagged += any(c.drift["ks"] for c in result.columns)
            total += 1
    rate, alpha = flagged / total, 0.05
    half_width = 3.29 * np.sqrt(alpha * (1 - alpha) / total)
    assert total == 480
    assert abs(rate - alpha) <= half_width, rate


@pytest.mark.parametrize(("settings", "undecided"), [
    ({}, ("js",)),
    ({"min_window_events": 1000}, ("psi", "js", "missing")),
    ({"false_alarm_rate": None}, ()),
])
def test_a_window_too_small_for_a_threshold_leaves_it_undecided(
        settings: dict[str, object], undecided: tuple[str, ...]) -> None:
    """Given: a window of only 250 events, strongly shifted (PSI and JS far above their
    thresholds, KS p-value tiny); 3 columns with 3 threshold tests each.

    Expected: at the default false-alarm rate 0.01 (0.01 / 9 per test) PSI needs
    about 200 values of x (its null on 10 decile bins) and decides drift, JS needs about 500
    and is
    undecided, not "no drift"; with min_window_events 1000 all three threshold tests
    (psi, js, missing) are undecided; with
    false_alarm_rate null both decide at any size. KS (a p-value) decides throughout,
    and the statistics are computed either way.
    """
    rng = np.random.default_rng(5)
    reference = sample(rng, 20_000, 0.0)
    config = model(ks=TestConfig(decision="pvalue", alpha=0.01)).model_copy(update=settings)
    profile = build_profile("m", COLUMNS, reference.numeric, reference.categorical,
                            rows=20_000, metadata={})
    layout = Layout(COLUMNS, profile)
    window = CountWindow(250, 250, slots=layout.size, tails=layout.tail_size)
    window.add(layout.encode(sample(rng, 250, 2.0)))
    pane = window.latest()
    assert pane is not None

    x = Evaluator(config, layout).evaluate("w", pane).column("x")

    assert x.statistics["psi"] > 1.0 and x.statistics["js_distance"] > 0.3
    assert x.drift["ks"] and x.outcome("ks") == "drift"
    assert x.undecided == undecided
    for test in ("psi", "js"):
        assert x.outcome(test) == ("undecided" if test in undecided else "drift")
    if not settings:
        x_profile = profile.columns["x"]
        assert isinstance(x_profile, NumericProfile)
        bins = NumericReference(x_profile.grid, x_profile.bucket_counts,
                                x_profile.psi_edges).bin_counts
        values = int(pane.counts[layout.columns[0].buckets].sum())  # x's present values
        assert x.min_events["psi"] == bins_min_events("psi", 0.2, ref_counts=bins,
                                                      alpha=0.01 / 9) < values
        assert values < x.min_events["js"] == bins_min_events("js", 0.1, ref_counts=bins,
                                                              alpha=0.01 / 9)


def test_a_metric_left_out_of_the_tolerance_list_is_reported_not_judged() -> None:
    """Regression, baseline rmse 1 and mae 1, ``tolerance: {mae: 5}``; 2,000 pairs with
    errors of about 3. Expected: both decays reported; mae (tolerated up to 5) is not
    significant, rmse is not judged at all (it used to be, at tolerance 0); without any
    tolerance both are judged at 0, as before."""
    from driftd.config import PerformanceConfig
    from driftd.monitor.performance import PerformanceSlots

    rng = np.random.default_rng(9)
    predicted = rng.normal(10, 1, 2000)
    actual = predicted + rng.choice([-3.0, 3.0], 2000)
    results = {}
    for tolerance in ({"mae": 5.0}, {}):
        config = PerformanceConfig(task="regression", prediction="p", label="y",
                                   baseline={"rmse": 1.0, "mae": 1.0}, tolerance=tolerance)
        slots = PerformanceSlots(config, 0)
        sums = (slots.prediction_rows(predicted).sum(axis=0)
                + slots.outcome_rows(predicted, actual, np.zeros(2000)).sum(axis=0))
        results[bool(tolerance)] = slots.evaluate(sums)
    listed, unlisted = results[True], results[False]
    assert listed.decay["rmse"].decay == pytest.approx(2.0) and not listed.decay["rmse"].significant
    assert not listed.decay["mae"].significant
    assert unlisted.decay["rmse"].significant and unlisted.decay["mae"].significant
