"""Missing-value ratio and the two-proportion z-test of its change."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from driftd.stats import missing_ratio, two_proportion_pvalue


def test_missing_ratio() -> None:
    assert missing_ratio(5, 200) == 0.025
    assert missing_ratio(0, 0) == 0.0
    assert missing_ratio(7, 7) == 1.0


def test_pvalue_by_hand() -> None:
    """1% missing in the reference, 2.5% in the window, 1000 each.

    Expected: pooled p = 0.0175, z = -0.015 / sqrt(p (1 - p) 2 / 1000), two-sided normal.
    """
    pooled = 35 / 2000
    z = (0.01 - 0.025) / np.sqrt(pooled * (1 - pooled) * 2 / 1000)
    expected = 2 * stats.norm.sf(abs(z))
    assert two_proportion_pvalue(10, 1000, 25, 1000) == pytest.approx(expected, rel=1e-12)


@given(
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_equals_the_uncorrected_chi_square_on_the_2x2_table(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    """The pooled z-test is the 2x2 chi-square test without Yates (z^2 = chi^2)."""
    (x1, n1), (x2, n2) = first, second
    pvalue = two_proportion_pvalue(x1, n1, x2, n2)
    assert 0.0 <= pvalue <= 1.0
    if 0 < x1 + x2 < n1 + n2:
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        expected = stats.chi2_contingency(table, correction=False)[1]
        assert pvalue == pytest.approx(expected, rel=1e-9, abs=1e-300)
    else:
        assert pvalue == 1.0


@pytest.mark.parametrize(
    "args", [(0, 100, 0, 50), (100, 100, 50, 50), (0, 0, 3, 10), (5, 10, 5, 10)]
)
def test_undefined_or_equal_proportions_give_one(args: tuple[int, int, int, int]) -> None:
    """No missing values anywhere, all missing, an empty window, or equal shares."""
    assert two_proportion_pvalue(*args) == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: missing_ratio(3, 2), "missing must be between 0 and total"),
        (lambda: missing_ratio(-1, 2), "missing must be between 0 and total"),
        (lambda: missing_ratio(0, -2), "total must be finite and non-negative"),
        (lambda: two_proportion_pvalue(1, 10, 11, 10), "x2 must be between 0 and n2"),
        (lambda: two_proportion_pvalue(1, float("nan"), 1, 10), "n1 must be finite"),
    ],
)
def test_invalid_counts_are_rejected(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
