"""Two-sample KS on bucket counts against scipy.stats.ks_2samp, and its p-value."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from driftd.stats import KSPValue, bucket_counts, ks_pvalue, ks_statistic

SIZE_PAIRS = [(10000, 50000), (1000, 50000), (37, 5000), (200, 300)]


def ks_on_grid(ref: np.ndarray, cur: np.ndarray, grid: np.ndarray | None = None) -> float:
    """KS from bucket counts on a grid holding every distinct reference value."""
    g = np.unique(ref) if grid is None else grid
    return ks_statistic(bucket_counts(g, ref), bucket_counts(g, cur))


def scipy_ks(ref: np.ndarray, cur: np.ndarray) -> float:
    """scipy's statistic (asymp: no exact-method fallback warning; N = 0 divides by 0)."""
    with np.errstate(divide="ignore"):
        return float(stats.ks_2samp(ref, cur, method="asymp").statistic)


def scenarios() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20261126)
    return [
        ("continuous", rng.normal(size=800), rng.normal(0.1, 1.2, size=1300)),
        ("continuous, window wider", rng.normal(size=500), rng.normal(size=700) * 3),
        ("integer ties", rng.poisson(4.0, 2000).astype(float), rng.poisson(4.4, 600) * 1.0),
        ("rounded", np.round(rng.gamma(2.0, size=3000), 1), np.round(rng.gamma(2.1, size=900), 1)),
        ("small vs large", rng.uniform(size=37), rng.uniform(0.05, 1.0, size=5000)),
        ("identical", np.arange(50.0), np.arange(50.0)),
        ("disjoint", np.arange(10.0), np.arange(20.0, 25.0)),
    ]


@pytest.mark.parametrize(("name", "ref", "cur"), scenarios(), ids=[s[0] for s in scenarios()])
def test_statistic_equals_ks_2samp_when_grid_holds_every_reference_value(
    name: str, ref: np.ndarray, cur: np.ndarray
) -> None:
    """Scenario: grid = distinct reference values; the window may leave the grid range.

    Expected: the bucket statistic equals scipy's ks_2samp statistic to 1e-12, ties
    included.
    """
    expected = scipy_ks(ref, cur)
    assert ks_on_grid(ref, cur) == pytest.approx(expected, abs=1e-12)


@given(
    st.lists(st.integers(-6, 6), min_size=1, max_size=40),
    st.lists(st.integers(-8, 8), min_size=1, max_size=40),
)
def test_statistic_equals_ks_2samp_on_any_tied_integer_samples(
    ref: list[int], cur: list[int]
) -> None:
    r, c = np.array(ref, dtype=float), np.array(cur, dtype=float)
    value = ks_on_grid(r, c)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(scipy_ks(r, c), abs=1e-12)


def test_coarse_grid_is_within_the_reference_mass_of_one_gap() -> None:
    """On 33 quantile points of a 5000-point reference, the error is at most one cell's mass."""
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=5000), rng.normal(0.2, size=2000)
    grid = np.quantile(ref, np.linspace(0, 1, 33))
    counts = bucket_counts(grid, ref)
    widest_gap_mass = counts[0::2].max() / ref.size
    error = abs(ks_on_grid(ref, cur, grid) - scipy_ks(ref, cur))
    assert error <= widest_gap_mass


def test_statistic_rejects_empty_samples() -> None:
    with pytest.raises(ValueError, match="ref_bucket_counts and cur_bucket_counts must have"):
        ks_statistic([0, 0, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="same length"):
        ks_statistic([1, 0, 0], [1, 0])


@pytest.mark.parametrize(("n_ref", "n_cur"), SIZE_PAIRS)
@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 3.0])
def test_pvalues_match_ks_2samp_asymp_on_data(n_ref: int, n_cur: int, shift: float) -> None:
    """Scenario: a reference and a shifted window of the listed sizes.

    Expected: ks_pvalue and KSPValue give scipy's ks_2samp(method="asymp") p-value within
    1e-6 relative, far below 1e-12 too (no bound in its place), and 0 where scipy's is 0.
    """
    rng = np.random.default_rng(int(shift * 1000) + n_ref)
    ref, cur = rng.normal(size=n_ref), rng.normal(shift, size=n_cur)
    expected = float(stats.ks_2samp(ref, cur, method="asymp").pvalue)
    d = ks_on_grid(ref, cur)
    for ours in (ks_pvalue(d, n_ref, n_cur), KSPValue()(d, n_ref, n_cur)):
        assert ours == pytest.approx(expected, rel=1e-6, abs=0.0)


@pytest.mark.parametrize(("n_ref", "n_cur"), SIZE_PAIRS)
def test_pvalue_sweep_of_d_matches_scipy_and_the_memo_repeats_it(n_ref: int, n_cur: int) -> None:
    """Sweep d from 0 through every regime scipy distinguishes, past 1e-300, up to 1.

    Expected: within 1e-6 relative of kstwo.sf(d, N); the second pass over the same
    values is served from the memo with identical bits.
    """
    n = round(n_ref * n_cur / (n_ref + n_cur))
    ds = np.unique(np.concatenate([np.linspace(0.0, min(1.0, 19.3 / np.sqrt(n)), 100),
                                   [0.5, 0.9, 1.0]]))
    fast = KSPValue()
    first = [fast(d, n_ref, n_cur) for d in ds]
    for d, ours in zip(ds, first, strict=True):
        assert ours == pytest.approx(float(stats.kstwo.sf(d, n)), rel=1e-6, abs=0.0)
    assert [fast(d, n_ref, n_cur) for d in ds] == first
    assert fast.cache_info().hits == len(ds)


def test_ks_pvalue_is_scipys_formula() -> None:
    """ks_pvalue = clip(kstwo.sf(d, round(nm / (n + m))), 0, 1), to 1e-6 relative."""
    for d in [0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0]:
        expected = float(np.clip(stats.kstwo.sf(d, 8333), 0, 1))
        assert ks_pvalue(d, 10000, 50000) == pytest.approx(expected, rel=1e-6, abs=0.0)


def test_pvalue_is_a_pure_function_of_its_arguments() -> None:
    """Scenario: a KSPValue that has served other statistics, among them one within
    1e-13 of d (the old memo keyed on d rounded to 12 digits and returned that one's
    value), and a fresh one, asked for the same (d, n_ref, n_cur).

    Expected: identical bits from both and from ks_pvalue.
    """
    d = 0.0123456789012344
    fresh = KSPValue()(d, 10000, 50000)
    used = KSPValue()
    for other in [d + 3e-15, 0.3, 0.011, 0.0012, 0.05]:
        used(other, 10000, 50000)
        used(other, 1500, 3000)
    assert used(d, 10000, 50000).hex() == fresh.hex() == ks_pvalue(d, 10000, 50000).hex()


def test_one_value_on_each_side_has_no_pvalue() -> None:
    """N = round(1/2) = 0, where scipy's ks_2samp also returns NaN."""
    assert np.isnan(ks_pvalue(1.0, 1, 1))
    assert np.isnan(KSPValue()(1.0, 1, 1))


def test_memo_is_a_bounded_lru() -> None:
    """maxsize=2: the least recently used value is evicted; far-tail values are memoised."""
    fast = KSPValue(maxsize=2)
    fast(0.01, 10000, 50000)
    fast(0.02, 10000, 50000)
    fast(0.01, 10000, 50000)  # hit: 0.01 becomes most recent
    fast(0.015, 10000, 50000)  # evicts 0.02
    fast(0.02, 10000, 50000)  # miss again
    info = fast.cache_info()
    assert (info.hits, info.misses, info.maxsize, info.currsize) == (1, 4, 2, 2)
    fast(0.3, 10000, 50000)
    fast(0.3, 10000, 50000)
    assert fast.cache_info().hits == 2
    fast.cache_clear()
    assert fast.cache_info() == (0, 0, 2, 0)


def test_memo_can_be_disabled() -> None:
    fast = KSPValue(maxsize=0)
    assert fast(0.01, 100, 100) == fast(0.01, 100, 100)
    assert fast.cache_info().currsize == 0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ks_pvalue(-0.1, 10, 10), "d must be in"),
        (lambda: ks_pvalue(1.5, 10, 10), "d must be in"),
        (lambda: ks_pvalue(0.1, 0, 10), "n_ref and n_cur must be at least 1"),
        (lambda: KSPValue()(0.1, 10, 0), "n_ref and n_cur must be at least 1"),
        (lambda: KSPValue(maxsize=-1), "maxsize must be non-negative"),
    ],
)
def test_pvalue_arguments_are_validated(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
