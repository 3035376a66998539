"""The 2G+1 bucket layout, PSI bin mapping and bin sums."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftd.stats import bin_counts, bucket_bins, bucket_counts, grid_buckets, psi

DECILES = np.arange(1, 10) / 10


def histogram_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """numpy.histogram with open-ended outer bins: edges [-inf, e_1, ..., e_{B-1}, inf]."""
    counts, _ = np.histogram(values, bins=np.concatenate([[-np.inf], edges, [np.inf]]))
    return counts


def test_each_value_lands_in_its_equality_or_gap_bucket() -> None:
    """Grid [1, 2, 4]: values below, on, between and above the grid points.

    Expected: gap buckets are even (0 below 1, 2 between 1 and 2, ...), equality
    buckets odd (1 for 1.0, 3 for 2.0, 5 for 4.0), 6 above the last point.
    """
    grid = np.array([1.0, 2.0, 4.0])
    values = np.array([-5.0, 1.0, 1.0000001, 1.999, 2.0, 3.0, 4.0, 4.5])
    assert grid_buckets(grid, values).tolist() == [0, 1, 2, 2, 3, 4, 5, 6]
    assert grid_buckets(grid, values).dtype == np.int64


def test_bucket_counts_has_2g_plus_1_entries_summing_to_n() -> None:
    """Ties on grid points are counted in their equality bucket."""
    grid = np.array([0.0, 10.0])
    counts = bucket_counts(grid, np.array([0.0, 0.0, 0.0, 5.0, 10.0, 11.0, 12.0]))
    assert counts.tolist() == [0, 3, 1, 1, 2]
    assert counts.dtype == np.int64


def test_single_point_grid() -> None:
    """G = 1 gives three buckets: below, equal, above."""
    assert bucket_counts([3.0], [1.0, 3.0, 3.0, 7.0]).tolist() == [1, 2, 1]


@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=15, unique=True),
    st.lists(st.integers(-25, 25).map(lambda v: v / 2), max_size=60),
    st.randoms(use_true_random=False),
)
def test_bucket_counts_ignore_value_order(
    grid: list[int], values: list[float], rnd: random.Random
) -> None:
    """Permuting the values permutes grid_buckets the same way; counts are unchanged."""
    g = np.sort(np.array(grid, dtype=float))
    x = np.array(values, dtype=float)
    perm = np.array(rnd.sample(range(x.size), x.size), dtype=np.intp)
    assert np.array_equal(grid_buckets(g, x[perm]), grid_buckets(g, x)[perm])
    counts = bucket_counts(g, x[perm])
    assert np.array_equal(counts, bucket_counts(g, x))
    assert counts.sum() == x.size and counts.size == 2 * g.size + 1


@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=15, unique=True),
    st.lists(st.integers(-25, 25).map(lambda v: v / 2), max_size=60),
)
def test_buckets_follow_the_definition(grid: list[int], values: list[float]) -> None:
    """Bucket 2k+1 holds x == g[k]; bucket 2k holds g[k-1] < x < g[k]."""
    g = np.sort(np.array(grid, dtype=float))
    padded = np.concatenate([[-np.inf], g, [np.inf]])
    for x, b in zip(values, grid_buckets(g, np.array(values)), strict=True):
        if b % 2:
            assert x == g[b // 2]
        else:
            assert padded[b // 2] < x < padded[b // 2 + 1]


def test_bucket_bins_matches_numpy_histogram_half_open_bins() -> None:
    """Edges 2 and 4 on grid [1..5]: a value equal to an edge goes to the bin above."""
    grid = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    edges = np.array([2.0, 4.0])
    bins = bucket_bins(grid, edges)
    #        (<1) 1  (1,2) 2  (2,3) 3  (3,4) 4  (4,5) 5  (>5)
    assert bins.tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    values = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.9, 4.0, 4.5, 5.0, 6.0, 2.0])
    summed = bin_counts(bucket_counts(grid, values), bins, 3)
    assert summed.tolist() == histogram_counts(values, edges).tolist()


def test_bucket_bins_without_edges_is_one_bin() -> None:
    assert bucket_bins([1.0, 2.0], []).tolist() == [0] * 5


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (np.random.default_rng(1).normal(size=5000), "continuous"),
        (np.round(np.random.default_rng(2).lognormal(size=5000), 1), "rounded"),
        (np.random.default_rng(3).poisson(3.0, size=5000).astype(float), "integer"),
    ],
)
def test_psi_from_grid_equals_psi_from_numpy_histogram_on_deciles(
    data: np.ndarray, label: str
) -> None:
    """Scenario: a reference profile with a quantile grid and decile PSI edges.

    Steps: grid = union(distinct reference quantiles at 257 points, deciles); bucket the
    reference and a shifted window on it; map buckets to decile bins.
    Expected: bin counts equal numpy.histogram on [-inf, deciles, inf] exactly, and so
    does PSI, for continuous, rounded (ties) and integer data.
    """
    rng = np.random.default_rng(11)
    window = rng.choice(data, size=2000) + (0.3 if label == "continuous" else 1.0)
    deciles = np.unique(np.quantile(data, DECILES))  # heavy ties repeat deciles
    grid = np.union1d(np.quantile(data, np.linspace(0, 1, 257)), deciles)
    bins = bucket_bins(grid, deciles)
    n_bins = deciles.size + 1
    ref_bins = bin_counts(bucket_counts(grid, data), bins, n_bins)
    cur_bins = bin_counts(bucket_counts(grid, window), bins, n_bins)
    assert ref_bins.tolist() == histogram_counts(data, deciles).tolist()
    assert cur_bins.tolist() == histogram_counts(window, deciles).tolist()
    p = np.maximum(histogram_counts(data, deciles) / data.size, 1e-4)
    q = np.maximum(histogram_counts(window, deciles) / window.size, 1e-4)
    assert psi(ref_bins, cur_bins) == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-12)


def test_bin_counts_keeps_integer_counts_integer_and_floats_float() -> None:
    assert bin_counts(np.array([1, 2, 3]), np.array([0, 1, 1]), 2).dtype == np.int64
    summed = bin_counts(np.array([0.5, 2.0, 3.25]), np.array([0, 1, 1]), 2)
    assert summed.dtype == np.float64 and summed.tolist() == [0.5, 5.25]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: grid_buckets([2.0, 1.0], [1.0]), "grid must be finite and strictly increasing"),
        (lambda: grid_buckets([1.0, 1.0], [1.0]), "grid must be finite and strictly increasing"),
        (lambda: grid_buckets([], [1.0]), "grid must be a non-empty"),
        (lambda: grid_buckets([1.0], [np.nan]), "values must be finite"),
        (lambda: bucket_bins([1.0, 2.0], [1.5]), "edges must all be members of grid"),
        (lambda: bucket_bins([1.0, 2.0], [2.0, 1.0]), "edges must be a strictly increasing"),
        (lambda: bin_counts([1, 2], [0], 1), "bucket_bins must be integers"),
        (lambda: bin_counts([1, 2], [0, 2], 2), "n_bins must be positive"),
        (lambda: bin_counts([1, -2], [0, 0], 1), "bucket_counts must be finite and non-negative"),
    ],
)
def test_invalid_arguments_name_the_parameter(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
