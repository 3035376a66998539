"""The window sizes threshold tests need: at that size a same-population window exceeds
the threshold at most at the rate asked for; well below it, more often."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftd.stats.grid import bucket_counts
from driftd.stats.prepared import CategoricalReference, NumericReference
from driftd.stats.sample_size import (
    bins_min_events,
    chi2_min_events,
    js_min_events,
    ks_min_events,
    missing_min_events,
    psi_min_events,
    wasserstein_min_events,
    window_size,
)

ALPHA, TRIALS = 0.05, 2000
# The exceedance rate of TRIALS null windows stays below ALPHA + 3 standard errors.
LIMIT = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / TRIALS)


def numeric_reference(rng: np.random.Generator, m: int) -> NumericReference:
    values = rng.gamma(2.0, 1.0, m)
    grid = np.unique(np.quantile(values, np.linspace(0, 1, 257)))
    edges = np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9)))
    edges = grid[np.searchsorted(grid, edges)]
    return NumericReference(grid, bucket_counts(grid, values), edges)


def numeric_rates(n: int, statistic: str, threshold: float, seed: int) -> float:
    """Share of windows of ``n`` values from the reference's population (a fresh
    reference of 20,000 each time: both samples random) whose statistic exceeds."""
    rng = np.random.default_rng(seed)
    exceeded = 0
    for _ in range(TRIALS // 10):
        ref = numeric_reference(rng, 20_000)
        for _ in range(10):
            values = rng.gamma(2.0, 1.0, n)
            stats = ref.compare(bucket_counts(ref.grid, np.clip(values, ref.grid[0],
                                                                ref.grid[-1])))
            exceeded += getattr(stats, statistic) > threshold
    return exceeded / TRIALS


@pytest.mark.parametrize(("statistic", "threshold"), [("psi", 0.1), ("js_distance", 0.1),
                                                      ("ks_statistic", 0.08)])
def test_a_numeric_window_of_the_size_needed_exceeds_at_most_at_the_rate(
        statistic: str, threshold: float) -> None:
    """Steps: a gamma reference of 20,000 values on deciles; the size each test needs at
    alpha 0.05; 2,000 same-population windows of that size and of a fifth of it.

    Expected: at the size needed the threshold is exceeded at most at about 5%; at a
    fifth of it clearly more often (the rule is not vacuous)."""
    ref = numeric_reference(np.random.default_rng(0), 20_000)
    needed = {"psi": psi_min_events(threshold, dof=ref.dof, alpha=ALPHA, n_ref=20_000),
              "js_distance": js_min_events(threshold, dof=ref.dof, alpha=ALPHA,
                                           n_ref=20_000),
              "ks_statistic": ks_min_events(threshold, alpha=ALPHA, n_ref=20_000)}[statistic]
    assert numeric_rates(int(needed), statistic, threshold, seed=1) <= LIMIT
    assert numeric_rates(int(needed) // 5, statistic, threshold, seed=2) > 2 * ALPHA


def test_wasserstein_needs_its_spread_and_holds_the_rate() -> None:
    """The Borell-TIS bound is conservative: at the size it asks, W1 exceeds well below
    5%; at a tenth of it more often than 5%."""
    ref = numeric_reference(np.random.default_rng(0), 20_000)
    needed = wasserstein_min_events(0.15, spread=ref.spread, alpha=ALPHA, n_ref=20_000)
    assert numeric_rates(int(needed), "wasserstein", 0.15, seed=3) <= LIMIT
    assert numeric_rates(int(needed) // 10, "wasserstein", 0.15, seed=4) > ALPHA


@pytest.mark.parametrize(("statistic", "threshold"), [("js", 0.1), ("psi", 0.2)])
def test_a_sparse_categorical_window_of_the_size_needed_exceeds_at_most_at_the_rate(
        statistic: str, threshold: float) -> None:
    """30 Zipf categories (the rarest 1.1%), JS threshold 0.1 and PSI 0.2: the chi-square
    size alone lets JS exceed in 7% of windows (tails heavier in sparse bins); the size
    refined on the simulated null holds 5%."""
    rng = np.random.default_rng(5)
    shares = 1.0 / np.arange(1, 31)
    shares /= shares.sum()
    n = int(bins_min_events(statistic, threshold, ref_counts=shares * 20_000, alpha=ALPHA))
    exceeded = 0
    name = {"js": "js_distance", "psi": "psi"}[statistic]
    for _ in range(TRIALS):
        ref = CategoricalReference(rng.multinomial(20_000, shares))
        exceeded += getattr(ref.compare(rng.multinomial(n, shares)), name) > threshold
    assert exceeded / TRIALS <= LIMIT, (statistic, n, exceeded / TRIALS)


def test_the_missing_rate_needs_the_exact_binomial_size() -> None:
    """A 2% missing rate, threshold 0.05: at the size needed (exact binomial tails) the
    window's rate moves more than 0.05 at most at 5%, and at every larger size too."""
    n = int(missing_min_events(0.05, share=0.02, alpha=ALPHA, n_ref=10 ** 9))
    rng = np.random.default_rng(6)
    for size in (n, n + 1, 2 * n):
        rates = rng.binomial(size, 0.02, TRIALS) / size
        assert np.mean(np.abs(rates - 0.02) > 0.05) <= LIMIT
    assert np.mean(np.abs(rng.binomial(5, 0.02, TRIALS) / 5 - 0.02) > 0.05) > ALPHA


def test_edge_cases_are_named() -> None:
    """A reference smaller than the effective size needed can never decide; a chi-square
    threshold either always or never holds the rate; bad arguments name themselves."""
    assert window_size(500.0, 400) == math.inf
    assert psi_min_events(0.2, dof=9, alpha=0.01, n_ref=50) == math.inf
    assert chi2_min_events(100.0, dof=9, alpha=0.01) == 1
    assert missing_min_events(0.05, share=0.0, alpha=0.01, n_ref=1000) == 1
    with pytest.raises(ValueError, match="alpha"):
        js_min_events(0.1, dof=9, alpha=1.5, n_ref=100)
    with pytest.raises(ValueError, match="threshold"):
        ks_min_events(-1.0, alpha=0.01, n_ref=100)
