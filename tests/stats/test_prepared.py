"""Prepared references give exactly the numbers of the plain stats functions."""

from __future__ import annotations

import numpy as np
import pytest

from driftd.stats import (
    bin_counts,
    bucket_bins,
    bucket_counts,
    chi2_homogeneity,
    js_distance,
    ks_statistic,
    psi,
    psi_pvalue,
    wasserstein_grid,
)
from driftd.stats.prepared import CategoricalReference, NumericReference


@pytest.mark.parametrize("seed", range(5))
def test_numeric_reference_matches_the_plain_functions(seed: int) -> None:
    """Reference and a shifted window with values beyond both grid ends."""
    rng = np.random.default_rng(seed)
    ref_values = rng.normal(0, 1, 5000).round(2)
    cur_values = rng.normal(0.3 * seed, 1.2, 2000).round(2)
    edges = np.unique(np.quantile(ref_values, np.arange(1, 10) / 10))
    grid = np.unique(np.r_[np.quantile(ref_values, np.linspace(0, 1, 200)), edges])
    ref, cur = bucket_counts(grid, ref_values), bucket_counts(grid, cur_values)
    tails = (float(np.sum(np.maximum(grid[0] - cur_values, 0))),
             float(np.sum(np.maximum(cur_values - grid[-1], 0))))
    stats = NumericReference(grid, ref, edges).compare(cur, tails)
    bins = bucket_bins(grid, edges)
    ref_bins, cur_bins = (bin_counts(c, bins, int(bins.max()) + 1) for c in (ref, cur))
    expected_psi = psi(ref_bins, cur_bins)
    assert stats.n == 2000
    assert stats.psi == pytest.approx(expected_psi, rel=1e-12, abs=1e-15)
    assert stats.psi_pvalue == pytest.approx(
        psi_pvalue(expected_psi, n_bins=ref_bins.size, n_ref=5000, n_cur=2000), rel=1e-9)
    assert stats.js_distance == pytest.approx(js_distance(ref_bins, cur_bins), rel=1e-12)
    assert stats.ks_statistic == pytest.approx(ks_statistic(ref, cur), rel=1e-12)
    assert stats.wasserstein == pytest.approx(
        wasserstein_grid(grid, ref, cur, cur_tails=tails), rel=1e-12)


def test_categorical_reference_matches_the_plain_functions() -> None:
    ref, cur = np.array([500, 300, 150, 0, 50]), np.array([380, 310, 200, 7, 3])
    stats = CategoricalReference(ref).compare(cur)
    chi2 = chi2_homogeneity(ref, cur)
    assert stats.psi == pytest.approx(psi(ref, cur), rel=1e-12)
    assert stats.js_distance == pytest.approx(js_distance(ref, cur), rel=1e-12)
    assert (stats.chi2_statistic, stats.chi2_pvalue) == (chi2.statistic, chi2.pvalue)


def test_prepared_references_validate_their_inputs() -> None:
    with pytest.raises(ValueError, match="2 \\* len\\(grid\\) \\+ 1"):
        NumericReference([1.0, 2.0], [1, 2, 3], [])
    ref = NumericReference([1.0, 2.0], [0, 1, 0, 1, 0], [2.0])
    with pytest.raises(ValueError, match="positive total"):
        ref.compare([0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="as many entries"):
        CategoricalReference([1, 2]).compare([1, 2, 3])
