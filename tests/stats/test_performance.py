"""Performance metrics from mergeable aggregates, decay intervals and the label-free estimate.

Reference values are computed directly in the tests from the raw events (sklearn's
definitions written out with numpy, ranks from scipy), never through the aggregates.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from driftd.stats.decay import accuracy_decay, mean_decay, rmse_decay, wilson_interval
from driftd.stats.estimate import (
    N_EXPECTED_AGGREGATES,
    expected_accuracy_aggregates,
    expected_classification,
)
from driftd.stats.performance import (
    N_ERROR_SUMS,
    classification_metrics,
    confusion_counts,
    error_sums,
    log_loss_sum,
    regression_metrics,
    roc_auc_from_histograms,
    score_histogram,
)

probabilities = st.floats(0.0, 1.0, allow_nan=False)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def labelled(draw: st.DrawFn, max_classes: int = 5) -> tuple[int, list[int], list[int]]:
    """``(K, y_true, y_pred)`` with labels in [0, K)."""
    k = draw(st.integers(2, max_classes))
    n = draw(st.integers(0, 60))
    labels = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    return k, draw(labels), draw(labels)


@st.composite
def scored(
    draw: st.DrawFn, scores: st.SearchStrategy[float] = probabilities
) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, y_true)`` with at least one event of each class."""
    n = draw(st.integers(2, 60))
    s = draw(st.lists(scores, min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    y[0], y[1] = 0, 1
    return np.array(s), np.array(y)


def sklearn_style_metrics(y_true: list[int], y_pred: list[int], k: int) -> tuple[float, ...]:
    """Accuracy, precision, recall, F1 as sklearn defines them, from the raw labels.

    Binary (k == 2): positive class 1. Multiclass: macro over ``unique_labels(y_true,
    y_pred)``. Every 0/0 is 0 (``zero_division=0``).
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)

    def scores(c: int) -> tuple[float, float, float]:
        tp = float(np.sum((t == c) & (p == c)))
        n_pred, n_true = float(np.sum(p == c)), float(np.sum(t == c))
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_true if n_true else 0.0
        f1 = 2 * tp / (n_pred + n_true) if n_pred + n_true else 0.0
        return prec, rec, f1

    labels = [1] if k == 2 else np.union1d(t, p).tolist()
    per = np.array([scores(c) for c in labels])
    return (float(np.mean(t == p)), *(float(v) for v in per.mean(axis=0)))


def mann_whitney_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Exact AUC from average ranks: ``(R_pos - P (P + 1) / 2) / (P N)``."""
    ranks = stats.rankdata(scores)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --- classification ---------------------------------------------------------------------


def test_confusion_counts_by_hand() -> None:
    """Three classes, six events: rows are true classes, columns predictions."""
    confusion = confusion_counts([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    assert confusion.dtype == np.int64
    assert confusion.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_confusion_counts_accepts_integral_floats_and_bools() -> None:
    """Labels decoded from JSON as 1.0, or booleans, count like integers."""
    expected = [[1, 0], [1, 1]]
    assert confusion_counts([0.0, 1.0, 1.0], [0.0, 0.0, 1.0], 2).tolist() == expected
    assert confusion_counts([False, True, True], [False, False, True], 2).tolist() == expected
    assert confusion_counts([], [], 2).tolist() == [[0, 0], [0, 0]]


@given(labelled(), labelled())
def test_confusion_counts_merge_by_addition(
    a: tuple[int, list[int], list[int]], b: tuple[int, list[int], list[int]]
) -> None:
    """Panes add up: counts(a) + counts(b) == counts(a ++ b)."""
    k = max(a[0], b[0])
    merged = confusion_counts(a[1] + b[1], a[2] + b[2], k)
    assert (confusion_counts(a[1], a[2], k) + confusion_counts(b[1], b[2], k) == merged).all()


def test_binary_metrics_by_hand() -> None:
    """TN 50, FP 10, FN 5, TP 35: precision 35/45, recall 35/40, F1 70/85."""
    m = classification_metrics([[50, 10], [5, 35]])
    assert (m.n, m.accuracy) == (100, 0.85)
    assert m.precision == pytest.approx(35 / 45, rel=1e-15)
    assert m.recall == pytest.approx(35 / 40, rel=1e-15)
    assert m.f1 == pytest.approx(70 / 85, rel=1e-15)
    assert [c.support for c in m.per_class] == [60, 40]
    assert m.per_class[0].precision == pytest.approx(50 / 55, rel=1e-15)


@given(labelled())
def test_metrics_match_sklearn_definitions(case: tuple[int, list[int], list[int]]) -> None:
    """Binary: positive class; multiclass: macro over present labels; 0/0 -> 0."""
    k, y_true, y_pred = case
    m = classification_metrics(confusion_counts(y_true, y_pred, k))
    if not y_true:
        assert m.n == 0 and all(math.isnan(v) for v in (m.accuracy, m.precision, m.f1))
        return
    expected = sklearn_style_metrics(y_true, y_pred, k)
    assert (m.accuracy, m.precision, m.recall, m.f1) == pytest.approx(expected, rel=1e-12)


def test_zero_division_gives_zero() -> None:
    """No predicted positives and no true positives: precision, recall and F1 are 0.0."""
    m = classification_metrics([[7, 0], [0, 0]])
    assert (m.accuracy, m.precision, m.recall, m.f1) == (1.0, 0.0, 0.0, 0.0)


def test_macro_average_skips_absent_classes() -> None:
    """Class 2 never occurs: the macro F1 is the mean of classes 0 and 1 (6/7 and 4/5)."""
    m = classification_metrics([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    assert m.f1 == pytest.approx((6 / 7 + 4 / 5) / 2, rel=1e-15)
    assert m.per_class[2].f1 == 0.0 and m.per_class[2].support == 0


# --- ROC AUC from score histograms ------------------------------------------------------


def test_score_histogram_by_hand() -> None:
    """Bins of width 1/4; 1.0 falls in the last bin, 0.25 in the second (half-open)."""
    hist = score_histogram([0.0, 0.25, 0.3, 0.99, 1.0], [0, 0, 1, 1, 1], 4)
    assert hist.dtype == np.int64
    assert hist.tolist() == [[1, 1, 0, 0], [0, 1, 0, 2]]


@given(scored(), st.integers(1, 40))
def test_score_histogram_bins_like_numpy_histogram(
    case: tuple[np.ndarray, np.ndarray], bins: int
) -> None:
    scores, y = case
    hist = score_histogram(scores, y, bins)
    for label in (0, 1):
        expected, _ = np.histogram(scores[y == label], bins=bins, range=(0.0, 1.0))
        assert hist[label].tolist() == expected.tolist()


@given(scored(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])))
def test_auc_is_exact_when_every_distinct_score_has_its_own_bin(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    """On 20 bins these seven scores (0 and 1 included) fall in seven different bins."""
    scores, y = case
    auc = roc_auc_from_histograms(score_histogram(scores, y, 20))
    assert auc == pytest.approx(mann_whitney_auc(scores, y), rel=1e-12)


@given(scored(), st.integers(1, 30))
def test_auc_is_within_the_mass_of_shared_bins(
    case: tuple[np.ndarray, np.ndarray], bins: int
) -> None:
    """Only pairs sharing a bin can differ, by 1/2 each: |error| <= sum pos_b neg_b / 2PN."""
    scores, y = case
    hist = score_histogram(scores, y, bins)
    auc = roc_auc_from_histograms(hist)
    bound = 0.5 * float(np.sum(hist[0] * hist[1])) / (hist[0].sum() * hist[1].sum())
    assert 0.0 <= auc <= 1.0
    assert abs(auc - mann_whitney_auc(scores, y)) <= bound + 1e-12


@given(scored(), st.integers(1, 30))
def test_auc_of_swapped_classes_is_one_minus_auc(
    case: tuple[np.ndarray, np.ndarray], bins: int
) -> None:
    scores, y = case
    auc = roc_auc_from_histograms(score_histogram(scores, y, bins))
    swapped = roc_auc_from_histograms(score_histogram(scores, 1 - y, bins))
    assert swapped == pytest.approx(1.0 - auc, abs=1e-12)


def test_auc_merges_panes_and_is_nan_without_both_classes() -> None:
    """Two panes that each hold one class only: each has no AUC, their sum has 1.0."""
    negatives = score_histogram([0.1, 0.2], [0, 0], 10)
    positives = score_histogram([0.8, 0.9], [1, 1], 10)
    assert math.isnan(roc_auc_from_histograms(negatives))
    assert math.isnan(roc_auc_from_histograms(positives))
    assert roc_auc_from_histograms(negatives + positives) == 1.0


# --- log-loss ---------------------------------------------------------------------------


def test_log_loss_sum_by_hand_and_clipping() -> None:
    """-ln 0.8 - ln 0.7; a confident mistake costs -ln(1e-15), not infinity."""
    assert log_loss_sum([1, 0], [0.8, 0.3]) == pytest.approx(-math.log(0.8) - math.log(0.7))
    clipped = -math.log(1e-15) - math.log1p(-(1 - 1e-15))  # 1 - 1e-15 rounds in float64
    assert log_loss_sum([1, 0], [0.0, 1.0]) == pytest.approx(clipped, rel=1e-12)
    assert log_loss_sum([], []) == 0.0


@given(scored(), st.integers(0, 60))
def test_log_loss_sum_is_additive_and_matches_the_mean_formula(
    case: tuple[np.ndarray, np.ndarray], cut: int
) -> None:
    scores, y = case
    p = np.clip(scores, 1e-15, 1 - 1e-15)
    expected_mean = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    total = log_loss_sum(y, scores)
    assert total / y.size == pytest.approx(expected_mean, rel=1e-9, abs=1e-12)
    parts = log_loss_sum(y[:cut], scores[:cut]) + log_loss_sum(y[cut:], scores[cut:])
    assert parts == pytest.approx(total, rel=1e-12, abs=1e-12)


# --- regression -------------------------------------------------------------------------


def test_regression_metrics_by_hand() -> None:
    """Errors 0.5, 0, 1, -2 with y = 1, 2, 0, 4: MAPE over the three non-zero y only."""
    sums = error_sums([1.0, 2.0, 0.0, 4.0], [1.5, 2.0, 1.0, 2.0])
    assert sums.shape == (N_ERROR_SUMS,)
    m = regression_metrics(sums)
    assert (m.n, m.mae, m.mse) == (4, 3.5 / 4, 5.25 / 4)
    assert m.rmse == pytest.approx(math.sqrt(5.25 / 4), rel=1e-15)
    assert m.mape == pytest.approx((0.5 / 1 + 0 / 2 + 2 / 4) / 3, rel=1e-15)


def test_mape_is_nan_when_every_target_is_zero() -> None:
    m = regression_metrics(error_sums([0.0, 0.0], [1.0, -1.0]))
    assert (m.n, m.mae) == (2, 1.0) and math.isnan(m.mape)
    empty = regression_metrics(error_sums([], []))
    assert empty.n == 0 and math.isnan(empty.mae) and math.isnan(empty.rmse)


def test_absurd_errors_give_infinite_metrics_not_errors() -> None:
    """A target of 5e-324 makes |e| / |y| overflow; an error of 1e100 overflows e^4.

    Expected: the affected sums and metrics are +inf; the window still evaluates.
    """
    tiny = regression_metrics(error_sums([5e-324, 1.0], [1.0, 1.0]))
    assert tiny.mape == math.inf and tiny.mae == 0.5
    sums = error_sums([0.0, 0.0, 0.0], [1e100, 0.0, 0.0])
    assert sums[5] == math.inf and regression_metrics(sums).rmse == pytest.approx(1e100 / 3**0.5)
    result = rmse_decay(1.0, sums)
    assert result.interval == (-math.inf, math.inf) and not result.significant


@given(st.lists(st.tuples(finite, finite), max_size=40), st.integers(0, 40))
def test_error_sums_are_additive(rows: list[tuple[float, float]], cut: int) -> None:
    y = np.array([r[0] for r in rows], dtype=np.float64)
    pred = np.array([r[1] for r in rows], dtype=np.float64)
    whole = error_sums(y, pred)
    parts = error_sums(y[:cut], pred[:cut]) + error_sums(y[cut:], pred[cut:])
    assert parts == pytest.approx(whole, rel=1e-9, abs=1e-9)
    if rows:
        m = regression_metrics(whole)
        assert m.mae == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-9, abs=1e-12)
        assert m.rmse == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)), rel=1e-9, abs=1e-12)


# --- Wilson interval and decay ----------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (score interval).
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
        # Upper bound at 0 successes is z^2 / (n + z^2).
        (0, 10, (0.0, 0.2775)),
    ],
)
def test_wilson_interval_published_values(
    successes: int, n: int, expected: tuple[float, float]
) -> None:
    assert wilson_interval(successes, n) == pytest.approx(expected, abs=5e-5)


@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_bounds_solve_the_score_equation(case: tuple[int, int]) -> None:
    """Bounds are the roots of (p_hat - p)^2 = z^2 p (1 - p) / n, the textbook definition."""
    successes, n = case
    z = stats.norm.ppf(0.975)
    p_hat = successes / n
    roots = np.sort(np.roots([1 + z**2 / n, -(2 * p_hat + z**2 / n), p_hat**2]).real)
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= p_hat <= high <= 1.0
    assert (low, high) == pytest.approx(tuple(roots), abs=1e-9)
    mirrored = wilson_interval(n - successes, n)
    assert (1 - mirrored[1], 1 - mirrored[0]) == pytest.approx((low, high), abs=1e-12)


def test_wilson_interval_of_nothing_is_everything() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(20, 20)[1] == 1.0


@pytest.mark.slow
def test_wilson_coverage_by_simulation() -> None:
    """4000 seeded windows of 200 events at accuracy 0.9: ~95% of intervals hold 0.9."""
    draws = np.random.default_rng(20240917).binomial(200, 0.9, size=4000)
    covered = [low <= 0.9 <= high for low, high in map(lambda k: wilson_interval(k, 200), draws)]
    assert 0.93 <= np.mean(covered) <= 0.97


def test_small_window_cannot_page_a_large_one_does() -> None:
    """Accuracy 0.7 vs baseline 0.9, tolerating 0.05 of decay.

    Steps: 14 of 20 correct, then 3500 of 5000 correct.
    Expected: the same point decay of 0.2 in both; only the large window is significant.
    """
    small = accuracy_decay(0.9, 14, 20, tolerance=0.05)
    large = accuracy_decay(0.9, 3500, 5000, tolerance=0.05)
    assert small.decay == pytest.approx(0.2) and large.decay == pytest.approx(0.2)
    assert small.significant is False and large.significant is True
    low, high = wilson_interval(14, 20)
    assert small.interval == pytest.approx((0.9 - high, 0.9 - low), rel=1e-15)
    assert small.interval[0] < 0.05 < large.interval[0]


def test_accuracy_decay_of_an_empty_window() -> None:
    result = accuracy_decay(0.9, 0, 0)
    assert math.isnan(result.decay)
    assert result.interval == pytest.approx((-0.1, 0.9)) and result.significant is False


@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=50),
    st.floats(0, 100, allow_nan=False),
    st.booleans(),
)
def test_mean_decay_matches_a_normal_interval(
    losses: list[float], baseline: float, higher_is_worse: bool
) -> None:
    """Mean +- z * sd(ddof=1) / sqrt(n) of the raw losses, signed so positive is worse."""
    x = np.array(losses)
    mean, sem = float(x.mean()), float(x.std(ddof=1)) / math.sqrt(x.size)
    low, high = mean - 1.959963984540054 * sem, mean + 1.959963984540054 * sem
    sign = 1.0 if higher_is_worse else -1.0
    expected = sorted([sign * (low - baseline), sign * (high - baseline)])
    result = mean_decay(
        baseline, float(x.sum()), float(np.sum(x * x)), x.size, higher_is_worse=higher_is_worse
    )
    assert result.decay == pytest.approx(sign * (mean - baseline), rel=1e-9, abs=1e-9)
    # The variance from (sum, sum of squares) cancels: half-widths are off by up to about
    # mean * sqrt(machine epsilon / n) when the losses are (nearly) equal.
    slack = 1e-7 * (1.0 + float(x.max()))
    assert result.interval == pytest.approx(tuple(expected), rel=1e-6, abs=slack)
    assert result.significant == (result.interval[0] > 0.0)


def test_mean_decay_needs_two_events() -> None:
    one = mean_decay(1.0, 3.0, 9.0, 1)
    assert one.decay == 2.0 and one.interval == (-math.inf, math.inf) and not one.significant
    none = mean_decay(1.0, 0.0, 0.0, 0)
    assert math.isnan(none.decay) and not none.significant


def test_rmse_decay_is_the_square_root_of_the_mse_interval() -> None:
    """2000 errors ~ N(0, 1.5^2) against a baseline RMSE of 1.0.

    Expected: decay ~ 0.5; the interval is sqrt of the MSE interval computed from the
    squared errors, minus 1; it excludes a tolerance of 0.3.
    """
    rng = np.random.default_rng(11)
    y = rng.normal(size=2000)
    pred = y + rng.normal(scale=1.5, size=2000)
    sq = (pred - y) ** 2
    half = stats.norm.ppf(0.975) * sq.std(ddof=1) / math.sqrt(sq.size)
    expected = (math.sqrt(sq.mean() - half) - 1.0, math.sqrt(sq.mean() + half) - 1.0)
    result = rmse_decay(1.0, error_sums(y, pred), tolerance=0.3)
    assert result.decay == pytest.approx(math.sqrt(sq.mean()) - 1.0, rel=1e-12)
    assert result.interval == pytest.approx(expected, rel=1e-9)
    assert result.significant and 0.4 < result.decay < 0.6


# --- label-free estimate ----------------------------------------------------------------


def realized_accuracy(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p >= 0.5).astype(int) == y))


def test_expected_aggregates_by_hand() -> None:
    """0.9, 0.6 and 0.5 predict 1 (>= 0.5), 0.2 predicts 0."""
    agg = expected_accuracy_aggregates([0.9, 0.6, 0.2, 0.5])
    assert agg.shape == (N_EXPECTED_AGGREGATES,)
    assert agg == pytest.approx([4, 0.9 + 0.6 + 0.8 + 0.5, 2.0, 1.0, 0.2, 0.8], rel=1e-15)
    m = expected_classification(agg)
    assert m.n == 4 and m.accuracy == pytest.approx(0.7)
    assert (m.precision, m.recall) == pytest.approx((2.0 / 3.0, 2.0 / 2.2))
    assert m.f1 == pytest.approx(4.0 / (4.0 + 1.0 + 0.2))


@given(st.lists(probabilities, max_size=40), st.integers(0, 40), probabilities)
def test_expected_aggregates_are_additive(p: list[float], cut: int, threshold: float) -> None:
    whole = expected_accuracy_aggregates(p, threshold)
    parts = expected_accuracy_aggregates(p[:cut], threshold) + expected_accuracy_aggregates(
        p[cut:], threshold
    )
    assert parts == pytest.approx(whole, rel=1e-12, abs=1e-12)
    assert whole[1] == pytest.approx(whole[2] + whole[5], rel=1e-12, abs=1e-12)


def test_expected_accuracy_tracks_realized_accuracy_on_calibrated_scores() -> None:
    """200k events with labels ~ Bernoulli(score): the estimate is within 0.005."""
    rng = np.random.default_rng(42)
    p = rng.beta(4, 2, size=200_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    m = expected_classification(expected_accuracy_aggregates(p))
    assert abs(m.accuracy - realized_accuracy(p, y)) < 0.005
    realized = classification_metrics(confusion_counts(y, (p >= 0.5).astype(int), 2))
    assert abs(m.f1 - realized.f1) < 0.005


def test_expected_accuracy_is_blind_to_miscalibration() -> None:
    """The limitation: labels ~ Bernoulli(score^3) on the same scores.

    Expected: the estimate is unchanged (it only sees scores) while the realized
    accuracy falls by far more than 0.05.
    """
    rng = np.random.default_rng(43)
    p = rng.beta(4, 2, size=200_000)
    y = (rng.uniform(size=p.size) < p**3).astype(int)
    m = expected_classification(expected_accuracy_aggregates(p))
    assert m.accuracy - realized_accuracy(p, y) > 0.05


def test_empty_expected_metrics_are_nan() -> None:
    m = expected_classification(expected_accuracy_aggregates([]))
    assert m.n == 0 and math.isnan(m.accuracy) and math.isnan(m.f1)


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: confusion_counts([0, 2], [0, 1], 2), r"y_true must hold class indices in \[0, 2"),
        (lambda: confusion_counts([0, 1], [0, -1], 2), "y_pred must hold class indices"),
        (lambda: confusion_counts([0, 0.5], [0, 1], 2), "y_true must hold integer class labels"),
        (lambda: confusion_counts([0, 1], [0], 2), "y_true and y_pred must have the same length"),
        (lambda: confusion_counts([[0]], [[0]], 2), "y_true must be one-dimensional"),
        (lambda: confusion_counts([0], [0], 1), "n_classes must be at least 2"),
        (lambda: classification_metrics([[1, 2, 3]]), "confusion must be a square"),
        (lambda: classification_metrics([[1, -1], [0, 1]]), "confusion must hold non-negative"),
        (lambda: classification_metrics([[1.5, 0], [0, 1]]), "confusion must hold non-negative"),
        (lambda: score_histogram([0.5, 1.1], [0, 1], 4), r"scores must be finite and in \[0, 1\]"),
        (lambda: score_histogram([np.nan], [0], 4), "scores must be finite"),
        (lambda: score_histogram([0.5], [2], 4), "y_true must hold class indices"),
        (lambda: score_histogram([0.5], [1], 0), "bins must be at least 1"),
        (lambda: roc_auc_from_histograms([1, 2, 3]), r"hist must have shape \(2, B\)"),
        (lambda: roc_auc_from_histograms([[1, -1], [0, 1]]), "hist must be finite"),
        (lambda: log_loss_sum([1], [1.5]), "p_pos must be finite and in"),
        (lambda: log_loss_sum([1], [0.5], eps=0.0), "eps must be in"),
        (lambda: error_sums([1.0, np.inf], [1.0, 1.0]), "y_true must be a one-dimensional"),
        (lambda: error_sums([1.0], [1.0, 2.0]), "y_true and y_pred must have the same length"),
        (lambda: regression_metrics([1, 2, 3]), r"sums must have shape \(6,\)"),
        (lambda: regression_metrics([1, 1, 1, 1, 2, 1]), "sums must hold whole counts"),
        (lambda: wilson_interval(5, 4), "successes must be between 0 and n"),
        (lambda: wilson_interval(1, -1), "n must be finite and non-negative"),
        (lambda: wilson_interval(1, 2, 1.0), r"confidence must be in \(0, 1\)"),
        (lambda: accuracy_decay(1.2, 1, 2), r"baseline must be in \[0, 1\]"),
        (lambda: accuracy_decay(0.9, 3, 2), "correct must be between 0 and n"),
        (lambda: accuracy_decay(0.9, 1, 2, tolerance=-0.1), "tolerance must be finite"),
        (lambda: mean_decay(math.nan, 1, 1, 2), "baseline must be finite"),
        (lambda: mean_decay(1.0, 1, -1, 2), "sum_ and sum_sq must be finite"),
        (lambda: mean_decay(1.0, 1, 1, -2), "n must be finite and non-negative"),
        (lambda: rmse_decay(-1.0, [0] * 6), "baseline must be finite and non-negative"),
        (lambda: expected_accuracy_aggregates([0.5], threshold=2), "threshold must be in"),
        (lambda: expected_classification([1, 2, 3]), r"aggregates must have shape \(6,\)"),
        (lambda: expected_classification([1.5, 1, 1, 0, 0, 0]), "aggregates must hold a whole"),
    ],
)
def test_invalid_arguments_raise_naming_the_parameter(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()
