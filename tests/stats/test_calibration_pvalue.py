"""The calibration test (Hosmer-Lemeshow on fixed bins): its definition, its size under
calibrated probabilities, and its power against a distortion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftd.stats.reliability import calibration_pvalue


def draw(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Skewed probabilities (Beta(0.5, 3): most near 0) and labels drawn from them."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.5, 3.0, rows)
    return p, (rng.random(rows) < p).astype(np.int64)


def test_equals_the_statistic_written_out() -> None:
    """Steps: 2,000 rows, 10 bins; pool bins left to right until their outcome variance
    reaches 5 (the light tail into the last group). Expected: the chi-square p-value of
    sum (O - E) ** 2 / V over the groups, with one degree of freedom per group."""
    p, y = draw(2000, 1)
    index = np.minimum((p * 10).astype(int), 9)
    groups: list[list[float]] = []
    held = [0.0, 0.0, 0.0]
    for b in range(10):
        inside = index == b
        held = [held[0] + y[inside].sum(), held[1] + p[inside].sum(),
                held[2] + (p[inside] * (1 - p[inside])).sum()]
        if held[2] >= 5:
            groups.append(held)
            held = [0.0, 0.0, 0.0]
    if any(held):
        groups[-1] = [a + b for a, b in zip(groups[-1], held, strict=True)]
    statistic = sum((o - e) ** 2 / v for o, e, v in groups)
    expected = stats.chi2.sf(statistic, len(groups))
    assert calibration_pvalue(p, y) == pytest.approx(expected, rel=1e-12)
    assert 3 <= len(groups) < 10  # pooling happened: the upper bins are thin


@pytest.mark.parametrize("rows", [100, 1000, 10_000])
def test_rejects_calibrated_probabilities_at_about_its_level(rows: int) -> None:
    """Steps: 400 samples of calibrated probabilities at 100, 1,000 and 10,000 rows.
    Expected: p <= 0.01 in at most 3% of them and p <= 0.05 in 2% to 9% (nominal 1% and
    5%; the chi-square law is approximate on groups of variance 5)."""
    pvalues = np.array([calibration_pvalue(*draw(rows, seed)) for seed in range(400)])
    assert np.mean(pvalues <= 0.01) <= 0.03
    assert 0.02 <= np.mean(pvalues <= 0.05) <= 0.09


def test_detects_scores_that_are_too_low_or_a_certainty_that_is_wrong() -> None:
    """Steps: the same labels against p ** 1.5 (scores too low) on 1,000 rows, and a row
    scored exactly 0 whose label is 1. Expected: p-values below 1e-6 and exactly 0."""
    p, y = draw(1000, 2)
    assert calibration_pvalue(p ** 1.5, y) < 1e-6
    assert calibration_pvalue([0.0, 0.5, 0.5], [1, 0, 1]) == 0.0


def test_invalid_inputs_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="probs must be finite"):
        calibration_pvalue([1.5], [1])
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        calibration_pvalue([0.5], [2])
    with pytest.raises(ValueError, match="bins"):
        calibration_pvalue([0.5], [1], bins=0)
