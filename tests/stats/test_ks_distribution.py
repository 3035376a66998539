"""The KS null distribution (driftd.stats.kstwo, .smirnov) against scipy, region by region.

scipy.stats.kstwo.sf(d, n) is what ks_2samp(method="asymp") reports; the contract is
that driftd gives the same number within 1e-6 relative for every d in [0, 1], the far
tail included: the same subnormal where scipy's value is subnormal, 0 where it is 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from driftd.stats.kstwo import kstwo_sf, kstwo_sf_one
from driftd.stats.smirnov import smirnov_sf

REL = 1e-6


def assert_same_pvalue(ours: float, expected: float, where: object) -> None:
    """Within 1e-6 relative: the same double below ~5e-318, where the subnormals are
    more than 1e-6 apart, and 0 exactly where scipy gives 0."""
    assert ours == pytest.approx(expected, rel=REL, abs=0.0), where


def sweep(n: int) -> np.ndarray:
    """d over every region scipy distinguishes at size n: lambda = sqrt(n) d from 0 to
    past scipy's last non-zero value, lattice points k/n and their midpoints, and d up to 1."""
    lam = np.linspace(0.0, 20.0, 81)
    lattice = np.array([0.5, 0.75, 1.0, 1.5, 2.0, 3.0]) / n
    ends = np.array([0.3, 0.5, 0.5 + 1e-9, 0.7, 0.9, 1.0 - 1.0 / n, 1.0 - 0.5 / n, 1.0])
    d = np.concatenate([lam / math.sqrt(n), lattice, ends, [0.0, 1.0]])
    return np.unique(d[(d >= 0.0) & (d <= 1.0)])


def test_every_small_n_matches_scipy_on_a_grid_of_d() -> None:
    """Scenario: n = 1..50 (closed forms, Durbin's matrix, Pomeranz's region, the
    one-sided tail), d on 36 points of (0, 1] plus lattice points k/n and midpoints.

    Expected: kstwo.sf within 1e-6 relative, 0 where scipy is 0.
    """
    for n in range(1, 51):
        k = np.arange(1, n + 1)
        d = np.unique(np.concatenate([np.linspace(0.0, 1.0, 37)[1:], k / n, (k - 0.5) / n]))
        for di, ours in zip(d, kstwo_sf(d, n), strict=True):
            assert_same_pvalue(float(ours), float(stats.kstwo.sf(di, n)), (n, di))


@pytest.mark.parametrize("n", [51, 140, 141, 500, 1000, 1001, 2000, 8333, 20000])
def test_large_n_matches_scipy_over_every_region(n: int) -> None:
    """Scenario: a sweep of lambda = sqrt(n) d from 0 to 20 (body, shoulder, the
    Pelz-Good and Durbin boundaries at n = 140/141 and 1000/1001, the one-sided tail
    down to scipy's last subnormal, scipy's 0 beyond nd^2 = 370) and d up to 1.

    Expected: within 1e-6 relative of kstwo.sf everywhere; p-values below 1e-12 are real
    values, not bounds.
    """
    for d, ours in zip(sweep(n), kstwo_sf(sweep(n), n), strict=True):
        assert_same_pvalue(float(ours), float(stats.kstwo.sf(d, n)), (n, d))


@pytest.mark.parametrize(("n", "lams"), [
    (100_000, [0.1, 0.5, 1.0, 1.4, 1.6, 3.0, 8.0, 15.0]),
    (100_001, [0.2, 0.9]),
    (1_000_000, [0.3, 1.2, 7.0]),
    (1_000_001, [0.5, 2.0, 12.0]),
    (2_000_000, [1.0, 5.0]),
])
def test_reference_sized_n_matches_scipy(n: int, lams: list[float]) -> None:
    """Scenario: effective sizes of references of a million rows and more (scipy's
    one-sided sum costs ~1.5 s a call at n = 10**6, so a few points only).

    Expected: within 1e-6 relative of kstwo.sf.
    """
    for lam in lams:
        d = lam / math.sqrt(n)
        assert_same_pvalue(kstwo_sf_one(d, n), float(stats.kstwo.sf(d, n)), (n, lam))


@pytest.mark.parametrize("n", [25, 60, 141, 372, 999, 1001, 8333, 100_000])
def test_subnormal_tail_is_scipys_subnormal(n: int) -> None:
    """Scenario: d where scipy's p-value falls from ~1e-290 through the subnormals to 0
    (scipy rounds each term of its sum to the subnormal grid). For n <= 140 that is near
    d = 1, where p = 2 (1 - d)^n; above, up to d^2 n = 372.6, where scipy returns 0.

    Expected: within 1e-6 relative, which below ~5e-318 means the same double, and 0
    exactly where scipy gives 0.
    """
    if n <= 372:
        d_grid = 1.0 - np.geomspace(10.0 ** (-285 / n), max(10.0 ** (-330 / n), 1e-15), 40)
    else:
        d_zero = min(1.0, math.sqrt(372.6 / n))
        # scipy's sum costs ~0.15 s a call at n = 10**5: there, only the subnormals
        low, points = (0.88, 40) if n < 10**4 else (0.97, 12)
        d_grid = np.linspace(d_zero * low, min(1.0, d_zero * 1.02), points)
    subnormal = 0
    for d in d_grid:
        expected = float(stats.kstwo.sf(d, n))
        subnormal += 0.0 < expected < np.finfo(float).tiny
        assert_same_pvalue(kstwo_sf_one(float(d), n), expected, (n, d))
    assert subnormal >= 3


@pytest.mark.parametrize(("n", "x"), [(1001, 0.05), (8333, 0.02), (8333, 0.2), (50_000, 0.03),
                                      (1_000_000, 0.005)])
def test_one_sided_tail_matches_every_term_summed(n: int, x: float) -> None:
    """Scenario: the trapezoidal shortcut for n > 1000 against all ~n terms of the
    Birnbaum-Tingey sum, summed in log space with numpy (an independent reference, and
    cheap where scipy's loop is not).

    Expected: within 1e-8 relative.
    """
    j = np.arange(n - math.floor(n * x), dtype=float)
    log_terms = (special.gammaln(n + 1.0) - special.gammaln(j + 1.0)
                 - special.gammaln(n - j + 1.0) + (j - 1.0) * np.log(x + j / n)
                 + (n - j) * np.log((n - j - n * x) / n))
    top = log_terms.max()
    log_exact = math.log(x) + top + math.log(np.exp(log_terms - top).sum())
    assert math.log(smirnov_sf(n, x)) == pytest.approx(log_exact, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5000), st.floats(0.0, 1.0))
def test_any_n_and_d_matches_scipy(n: int, d: float) -> None:
    assert_same_pvalue(kstwo_sf_one(d, n), float(stats.kstwo.sf(d, n)), (n, d))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3_000_000), st.floats(0.0, 1.0))
def test_pvalue_is_a_probability(n: int, d: float) -> None:
    assert 0.0 <= kstwo_sf_one(d, n) <= 1.0


def test_result_is_a_pure_function_of_its_arguments() -> None:
    """Scenario: the same (d, n) before and after calls in every other region and at
    other sizes, alone and inside arrays, in either order.

    Expected: identical bits every time.
    """
    cases = [(0.02, 8333), (0.006, 8333), (0.0025, 8333), (0.05, 8333), (0.2087, 8333),
             (0.3, 120), (0.1, 120), (0.01, 1_000_000), (0.004, 2_000_000), (0.9, 7)]
    first = [kstwo_sf_one(d, n) for d, n in cases]
    rng = np.random.default_rng(7)
    noise_n = rng.integers(1, 300_000, 200)
    kstwo_sf(rng.uniform(0.0, 1.0, 200) ** 3, noise_n)
    again = [kstwo_sf_one(d, n) for d, n in reversed(cases)][::-1]
    d_arr, n_arr = np.array([c[0] for c in cases]), np.array([c[1] for c in cases])
    in_array = kstwo_sf(np.concatenate([d_arr, rng.uniform(size=5)]),
                        np.concatenate([n_arr, [5, 50, 500, 5000, 50000]]))[: len(cases)]
    assert [v.hex() for v in again] == [v.hex() for v in first]
    assert [float(v).hex() for v in in_array] == [v.hex() for v in first]


def test_arrays_broadcast() -> None:
    values = kstwo_sf([[0.01], [0.02]], [1000, 8333, 50000])
    assert values.shape == (2, 3)
    assert values[1, 1] == kstwo_sf_one(0.02, 8333)


@pytest.mark.parametrize("n", [1001, 4545])
def test_statistics_a_hair_off_a_multiple_of_one_over_n(n: int) -> None:
    """Scenario: D = k/n and its neighbouring doubles, as a window of the demo gave (n
    D a hair below a whole number made the tail's last term log(0): a ValueError, the
    column's statistics lost).

    Expected: every p-value equals scipy's within 1e-6 relative (0 where scipy's is 0).
    """
    for k in range(2, 400, 9):
        for d in (np.nextafter(k / n, 0.0), k / n, np.nextafter(k / n, 1.0)):
            expected = float(stats.kstwo.sf(d, n))
            got = kstwo_sf_one(float(d), n)
            assert got == pytest.approx(expected, rel=1e-6, abs=0.0), (k, d)
