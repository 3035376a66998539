"""Bonferroni and Holm corrections across the columns of a model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftd.stats import adjusted_pvalues, reject

NAN = float("nan")
pvalue_lists = st.lists(
    st.one_of(st.floats(0.0, 1.0), st.just(NAN)), min_size=0, max_size=15
)


def test_holm_by_hand() -> None:
    """Five columns at alpha = 0.05.

    Sorted p: 0.001 <= 0.05/5, 0.011 <= 0.05/4, 0.02 > 0.05/3: stop. The first two are
    rejected; Bonferroni (0.05/5 = 0.01) rejects only the first.
    """
    p = [0.02, 0.001, 0.04, 0.011, 0.3]
    assert reject(p, 0.05, method="holm").tolist() == [False, True, False, True, False]
    assert reject(p, 0.05, method="bonferroni").tolist() == [False, True, False, False, False]
    assert reject(p, 0.05, method="none").tolist() == [True, True, True, True, False]
    expected = [0.06, 0.005, 0.08, 0.044, 0.3]  # max-accumulated (m - i + 1) p_(i)
    assert adjusted_pvalues(p, "holm") == pytest.approx(expected, rel=1e-12)
    assert adjusted_pvalues(p, "bonferroni") == pytest.approx([0.1, 0.005, 0.2, 0.055, 1.0])


def test_nan_pvalues_are_never_rejected_and_not_counted() -> None:
    """A column without a test (NaN) does not make the others pay for it."""
    p = [0.02, NAN, 0.001]
    assert reject(p, 0.05, method="bonferroni").tolist() == [True, False, True]
    assert adjusted_pvalues(p, "bonferroni")[[0, 2]].tolist() == pytest.approx([0.04, 0.002])
    assert np.isnan(adjusted_pvalues(p, "holm")[1])
    assert reject([NAN, NAN], 0.05, method="holm").tolist() == [False, False]
    assert reject([], 0.05, method="holm").tolist() == []


@given(pvalue_lists, st.sampled_from(["none", "bonferroni", "holm"]))
def test_reject_is_adjusted_pvalue_at_most_alpha(pvalues: list[float], method: str) -> None:
    adjusted = adjusted_pvalues(pvalues, method)
    p = np.array(pvalues, dtype=float)
    valid = ~np.isnan(p)
    assert np.array_equal(np.isnan(adjusted), ~valid)
    assert (adjusted[valid] >= p[valid]).all() and (adjusted[valid] <= 1.0).all()
    decided = reject(pvalues, 0.05, method=method)
    assert np.array_equal(decided, np.nan_to_num(adjusted, nan=2.0) <= 0.05)


@given(pvalue_lists)
def test_holm_sits_between_bonferroni_and_no_correction(pvalues: list[float]) -> None:
    """Holm rejects everything Bonferroni rejects, and nothing uncorrected tests keep."""
    holm = reject(pvalues, 0.05, method="holm")
    bonferroni = reject(pvalues, 0.05, method="bonferroni")
    none = reject(pvalues, 0.05, method="none")
    assert (holm >= bonferroni).all() and (holm <= none).all()
    adjusted = adjusted_pvalues(pvalues, "holm")
    order = np.argsort(np.nan_to_num(np.array(pvalues, dtype=float), nan=2.0), kind="stable")
    monotone = adjusted[order][~np.isnan(adjusted[order])]
    assert (np.diff(monotone) >= 0).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: reject([0.1], 0.0, method="holm"), "alpha must be in"),
        (lambda: reject([1.5], 0.05, method="holm"), "pvalues must be in"),
        (lambda: adjusted_pvalues([[0.1]], "holm"), "pvalues must be one-dimensional"),
        (lambda: adjusted_pvalues([0.1], "fdr"), "method must be"),
    ],
)
def test_invalid_arguments_are_rejected(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
