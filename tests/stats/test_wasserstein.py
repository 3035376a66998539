"""Wasserstein-1 on the bucket layout against scipy.stats.wasserstein_distance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from driftd.stats import bucket_counts, wasserstein_grid


def tails(grid: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """(sum of g[0] - x below the grid, sum of x - g[-1] above it): what a pane keeps."""
    below = values[values < grid[0]]
    above = values[values > grid[-1]]
    return float(np.sum(grid[0] - below)), float(np.sum(above - grid[-1]))


def on_grid(grid: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> float:
    return wasserstein_grid(
        grid,
        bucket_counts(grid, ref),
        bucket_counts(grid, cur),
        ref_tails=tails(grid, ref),
        cur_tails=tails(grid, cur),
    )


def test_exact_when_the_grid_holds_every_value() -> None:
    """Rounded data; grid = all distinct values of both samples. Expected: scipy's value."""
    rng = np.random.default_rng(5)
    ref = np.round(rng.normal(size=3000), 2)
    cur = np.round(rng.normal(0.3, 1.5, size=800), 2)
    grid = np.union1d(ref, cur)
    assert on_grid(grid, ref, cur) == pytest.approx(
        stats.wasserstein_distance(ref, cur), rel=1e-12
    )


def test_exact_when_only_the_window_leaves_the_reference_range() -> None:
    """Grid = distinct reference values; the window reaches beyond both ends.

    Expected: exact, because the tails carry each outside value's distance to the grid.
    """
    rng = np.random.default_rng(6)
    ref = rng.integers(0, 50, size=2000).astype(float)
    cur = rng.integers(-30, 90, size=700).astype(float)
    grid = np.unique(ref)
    assert on_grid(grid, ref, cur) == pytest.approx(
        stats.wasserstein_distance(ref, cur), rel=1e-12
    )
    assert on_grid(grid, cur, ref) == pytest.approx(on_grid(grid, ref, cur), rel=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5, 3.0])
def test_within_the_widest_gap_on_a_coarse_quantile_grid(shift: float) -> None:
    """Continuous data on 65 reference quantiles (min and max included).

    Expected: |ours - scipy| <= the widest gap of the grid.
    """
    rng = np.random.default_rng(7)
    ref = rng.normal(size=5000)
    cur = rng.normal(shift, 1.3, size=1500)
    grid = np.quantile(ref, np.linspace(0, 1, 65))
    error = abs(on_grid(grid, ref, cur) - stats.wasserstein_distance(ref, cur))
    assert error <= np.diff(grid).max()


def test_both_sides_beyond_the_grid_are_placed_at_their_means() -> None:
    """Documented approximation: each side's mass below g[0] sits at its mean position."""
    grid = np.array([0.0, 1.0])
    ref = np.array([-4.0, -2.0, 0.0, 1.0])  # below: mean -3
    cur = np.array([-1.0, 0.0, 1.0, 1.0])  # below: mean -1
    placed_ref = np.array([-3.0, -3.0, 0.0, 1.0])
    expected = stats.wasserstein_distance(placed_ref, cur)
    assert on_grid(grid, ref, cur) == pytest.approx(expected, rel=1e-12)


@given(
    st.lists(st.integers(-10, 10), min_size=1, max_size=30),
    st.lists(st.integers(-15, 15), min_size=1, max_size=30),
)
def test_exact_on_integer_samples_with_the_reference_grid(ref: list[int], cur: list[int]) -> None:
    """Grid = distinct reference values plus the window's values inside their range."""
    r, c = np.array(ref, dtype=float), np.array(cur, dtype=float)
    grid = np.union1d(r, c[(c >= r.min()) & (c <= r.max())])
    value = on_grid(grid, r, c)
    assert value >= 0.0
    assert value == pytest.approx(stats.wasserstein_distance(r, c), rel=1e-12, abs=1e-12)


def test_identical_samples_are_at_distance_zero() -> None:
    grid = np.array([1.0, 2.0, 3.0])
    counts = [1, 2, 0, 3, 4, 0, 1]
    assert wasserstein_grid(grid, counts, counts, ref_tails=(2.0, 1.0), cur_tails=(2.0, 1.0)) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ref_bucket_counts": [1, 1, 1]}, "same length"),
        ({"ref_bucket_counts": [1, 1, 1], "cur_bucket_counts": [1, 1, 1]}, r"2 \* len\(grid\)"),
        ({"ref_bucket_counts": [0, 0, 0, 0, 0]}, "positive totals"),
        ({"ref_tails": (1.0, 0.0)}, "ref_tails must be 0 where the outer bucket is empty"),
        ({"cur_tails": (0.0, -1.0)}, "cur_tails must be finite and non-negative"),
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "ref_bucket_counts": [0, 1, 0, 1, 0],
        "cur_bucket_counts": [0, 1, 1, 0, 1],
        "cur_tails": (0.0, 2.0),
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        wasserstein_grid([1.0, 2.0], **arguments)
