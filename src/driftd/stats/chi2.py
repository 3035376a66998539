"""Chi-square test of homogeneity between the reference and a window (categoricals)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import chdtrc

from driftd.stats.grid import count_pair

__all__ = ["Chi2Result", "chi2_homogeneity"]


@dataclass(frozen=True, slots=True)
class Chi2Result:
    """Statistic, p-value and degrees of freedom of a chi-square test."""

    statistic: float
    pvalue: float
    dof: int


def chi2_homogeneity(
    ref_counts: ArrayLike, cur_counts: ArrayLike, *, correction: bool = True
) -> Chi2Result:
    """Chi-square test of homogeneity on the 2 x K table ``[ref; cur]``.

    Categories that are zero in both rows are dropped first. With ``K`` categories left
    the statistic is ``sum (O - E)^2 / E`` with ``E = row_total * col_total / total``,
    ``K - 1`` degrees of freedom, and Yates' continuity correction when ``dof == 1`` and
    ``correction`` is true (each ``O`` moved towards ``E`` by ``min(0.5, |E - O|)``), as
    ``scipy.stats.chi2_contingency``. Fewer than 2 categories left, or an empty row, give
    statistic 0, p-value 1 and dof 0.

    Parameters
    ----------
    ref_counts, cur_counts : array_like, shape (K,)
        Counts per category (including ``__other__`` and missing bins if used).
    correction : bool, default True
        Apply Yates' correction when ``dof == 1``.

    Returns
    -------
    Chi2Result

    Examples
    --------
    >>> result = chi2_homogeneity([50, 30, 20, 0], [40, 30, 30, 0])
    >>> round(result.statistic, 6), round(result.pvalue, 6), result.dof
    (3.111111, 0.211072, 2)
    >>> chi2_homogeneity([10, 0], [5, 0])
    Chi2Result(statistic=0.0, pvalue=1.0, dof=0)
    """
    ref, cur = count_pair(ref_counts, cur_counts)
    keep = (ref + cur) > 0
    observed = np.vstack([ref[keep], cur[keep]])
    rows = observed.sum(axis=1)
    if observed.shape[1] < 2 or rows.min() <= 0:
        return Chi2Result(0.0, 1.0, 0)
    dof = observed.shape[1] - 1
    expected = np.outer(rows, observed.sum(axis=0)) / rows.sum()
    if correction and dof == 1:
        diff = expected - observed
        observed = observed + np.sign(diff) * np.minimum(0.5, np.abs(diff))
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return Chi2Result(statistic, float(chdtrc(dof, statistic)), dof)
