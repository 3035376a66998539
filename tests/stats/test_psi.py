"""Population Stability Index, its asymptotic p-value and the bootstrap null."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from driftd.stats import bootstrap_pvalue, psi, psi_null_distribution, psi_pvalue

counts = st.lists(st.integers(0, 1000), min_size=1, max_size=12).filter(lambda c: sum(c) > 0)


@st.composite
def count_pairs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    ref = draw(counts)
    cur = draw(st.lists(st.integers(0, 1000), min_size=len(ref), max_size=len(ref)))
    if sum(cur) == 0:
        cur[0] = 1
    return ref, cur


def test_psi_by_hand() -> None:
    """Uniform reference vs a skewed window over four bins.

    Expected: sum (q - p) ln(q / p) with p = 0.25 and q = 0.1, 0.2, 0.3, 0.4.
    """
    q = np.array([0.1, 0.2, 0.3, 0.4])
    expected = float(np.sum((q - 0.25) * np.log(q / 0.25)))
    assert psi([250, 250, 250, 250], [10, 20, 30, 40]) == pytest.approx(expected, rel=1e-15)


def test_empty_bin_is_floored_at_epsilon_without_renormalising() -> None:
    """The window has no value in bin 3: its proportion becomes 1e-4, the others stay."""
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([0.6, 0.4, 1e-4])  # sums to 1.0001: no renormalisation
    expected = float(np.sum((q - p) * np.log(q / p)))
    assert psi([50, 30, 20], [60, 40, 0]) == pytest.approx(expected, rel=1e-15)
    q2 = np.array([0.6, 0.4, 1e-3])
    expected2 = float(np.sum((q2 - p) * np.log(q2 / p)))
    assert psi([50, 30, 20], [60, 40, 0], epsilon=1e-3) == pytest.approx(expected2, rel=1e-15)


def test_counts_and_proportions_give_the_same_psi() -> None:
    assert psi([2, 3, 5], [1, 1, 2]) == pytest.approx(psi([0.2, 0.3, 0.5], [0.25, 0.25, 0.5]))


@given(counts)
def test_psi_of_identical_distributions_is_zero(ref: list[int]) -> None:
    assert psi(ref, ref) == 0.0
    assert psi(ref, [3 * c for c in ref]) == pytest.approx(0.0, abs=1e-15)


@given(count_pairs())
def test_psi_is_non_negative_and_symmetric(pair: tuple[list[int], list[int]]) -> None:
    ref, cur = pair
    value = psi(ref, cur)
    assert value >= 0.0 and math.isfinite(value)
    assert psi(cur, ref) == pytest.approx(value, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ref_counts": [1, 2], "cur_counts": [1, 2, 3]}, "must have the same length"),
        ({"ref_counts": [1, -2], "cur_counts": [1, 2]}, "ref_counts must be finite"),
        ({"ref_counts": [1, 2], "cur_counts": [1, np.nan]}, "cur_counts must be finite"),
        ({"ref_counts": [0, 0], "cur_counts": [1, 2]}, "positive totals"),
        ({"ref_counts": [1, 2], "cur_counts": [1, 2], "epsilon": 0.0}, "epsilon must be in"),
        ({"ref_counts": [1, 2], "cur_counts": [1, 2], "epsilon": 1.0}, "epsilon must be in"),
    ],
)
def test_psi_rejects_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        psi(**kwargs)


@pytest.mark.parametrize("value", [0.0, 0.001, 0.0055, 0.02, 0.3])
def test_psi_pvalue_is_the_scaled_chi_square_tail(value: float) -> None:
    """p = chi2.sf(PSI / (1/n_ref + 1/n_cur), n_bins - 1)."""
    expected = stats.chi2.sf(value / (1 / 20000 + 1 / 2000), 9)
    assert psi_pvalue(value, n_bins=10, n_ref=20000, n_cur=2000) == pytest.approx(
        expected, rel=1e-12, abs=1e-300
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": -0.1, "n_bins": 10, "n_ref": 10, "n_cur": 10}, "value must be"),
        ({"value": 0.1, "n_bins": 1, "n_ref": 10, "n_cur": 10}, "n_bins must be"),
        ({"value": 0.1, "n_bins": 10, "n_ref": 0, "n_cur": 10}, "n_ref and n_cur"),
    ],
)
def test_psi_pvalue_rejects_invalid_arguments(kwargs: dict[str, float], message: str) -> None:
    value = kwargs.pop("value")
    with pytest.raises(ValueError, match=message):
        psi_pvalue(value, **kwargs)


def test_null_distribution_is_sorted_reproducible_and_seeded() -> None:
    """Same seed, same null; another seed, another null; all values >= 0."""
    ref = [1200, 900, 800, 1100, 1000]
    first = psi_null_distribution(ref, 500, resamples=300, seed=4)
    assert first.shape == (300,)
    assert np.all(np.diff(first) >= 0) and first[0] >= 0
    assert np.array_equal(first, psi_null_distribution(ref, 500, resamples=300, seed=4))
    assert not np.array_equal(first, psi_null_distribution(ref, 500, resamples=300, seed=5))


def test_null_distribution_mean_matches_the_chi_square_approximation() -> None:
    """Under the null E[PSI] ~ (B - 1) (1/n_ref + 1/n_cur) for well-filled bins."""
    ref = [2000] * 10
    null = psi_null_distribution(ref, 2000, resamples=4000, seed=1)
    assert null.mean() == pytest.approx(9 * (1 / 20000 + 1 / 2000), rel=0.05)


def test_larger_reference_narrows_the_null() -> None:
    """n_ref overrides sum(ref_counts): a larger reference leaves less noise."""
    ref = [200, 300, 500]
    small = psi_null_distribution(ref, 1000, resamples=2000, seed=0)
    large = psi_null_distribution(ref, 1000, n_ref=100_000, resamples=2000, seed=0)
    assert large.mean() < 0.7 * small.mean()


def test_null_distribution_rejects_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="ref_counts must have a positive total"):
        psi_null_distribution([0, 0], 10)
    with pytest.raises(ValueError, match="n_cur and n_ref"):
        psi_null_distribution([1, 2], 0)
    with pytest.raises(ValueError, match="resamples"):
        psi_null_distribution([1, 2], 10, resamples=0)


def test_bootstrap_pvalue_counts_ties_and_the_observation() -> None:
    null = np.array([0.1, 0.2, 0.2, 0.4])
    assert bootstrap_pvalue(0.2, null) == 4 / 5
    assert bootstrap_pvalue(0.5, null) == 1 / 5
    assert bootstrap_pvalue(0.0, null) == 1.0
    with pytest.raises(ValueError, match="null must be"):
        bootstrap_pvalue(0.1, [])
