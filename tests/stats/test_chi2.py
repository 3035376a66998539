"""Chi-square homogeneity test against scipy.stats.chi2_contingency."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from driftd.stats import Chi2Result, chi2_homogeneity


def scipy_chi2(ref: list[int], cur: list[int], correction: bool) -> tuple[float, float, int]:
    table = np.array([ref, cur], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    statistic, pvalue, dof, _ = stats.chi2_contingency(table, correction=correction)
    return float(statistic), float(pvalue), int(dof)


@pytest.mark.parametrize("correction", [True, False])
@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        ([500, 300, 150, 50], [90, 70, 30, 10]),  # dof 3
        ([500, 300, 0, 200], [90, 60, 0, 50]),  # an empty category is dropped
        ([120, 80], [40, 60]),  # dof 1: Yates applies when correction=True
        ([3, 1], [1, 4]),  # dof 1, small counts: |E - O| may be below 0.5
        ([1000, 1], [1000, 1]),  # identical rows
        ([5000, 2, 1, 0, 300], [800, 0, 1, 1, 60]),  # rare categories, __other__-style
    ],
)
def test_matches_chi2_contingency(ref: list[int], cur: list[int], correction: bool) -> None:
    """Expected: statistic and p-value equal scipy's to 1e-9 relative, same dof."""
    result = chi2_homogeneity(ref, cur, correction=correction)
    statistic, pvalue, dof = scipy_chi2(ref, cur, correction)
    assert result.dof == dof
    assert result.statistic == pytest.approx(statistic, rel=1e-9, abs=1e-12)
    assert result.pvalue == pytest.approx(pvalue, rel=1e-9)


def test_yates_correction_lowers_the_dof_1_statistic() -> None:
    corrected = chi2_homogeneity([120, 80], [40, 60])
    plain = chi2_homogeneity([120, 80], [40, 60], correction=False)
    assert corrected.dof == plain.dof == 1
    assert corrected.statistic < plain.statistic and corrected.pvalue > plain.pvalue


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([10, 0, 0], [4, 0, 0]), ([0, 0], [3, 4]), ([5, 6], [0, 0]), ([], []), ([0, 0], [0, 0])],
)
def test_degenerate_tables_give_no_evidence(ref: list[int], cur: list[int]) -> None:
    """One category left, or an empty row: statistic 0, p-value 1, dof 0."""
    assert chi2_homogeneity(ref, cur) == Chi2Result(0.0, 1.0, 0)


@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=10),
    st.booleans(),
)
def test_pvalue_is_a_probability_and_agrees_with_scipy(
    cells: list[tuple[int, int]], correction: bool
) -> None:
    ref, cur = [a for a, _ in cells], [b for _, b in cells]
    result = chi2_homogeneity(ref, cur, correction=correction)
    assert 0.0 <= result.pvalue <= 1.0 and result.statistic >= 0.0
    if result.dof > 0:
        statistic, pvalue, _ = scipy_chi2(ref, cur, correction)
        assert result.statistic == pytest.approx(statistic, rel=1e-9, abs=1e-12)
        assert result.pvalue == pytest.approx(pvalue, rel=1e-9, abs=1e-300)


def test_result_is_frozen() -> None:
    result = chi2_homogeneity([1, 2], [2, 1])
    with pytest.raises(AttributeError):
        result.pvalue = 0.0  # type: ignore[misc]


def test_invalid_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="ref_counts and cur_counts must have the same length"):
        chi2_homogeneity([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="cur_counts must be finite and non-negative"):
        chi2_homogeneity([1, 2], [1, -2])
