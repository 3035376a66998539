"""Multiple-testing corrections across the columns of a model."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Method", "adjusted_pvalues", "reject"]

Method = Literal["none", "bonferroni", "holm"]


def _as_pvalues(pvalues: ArrayLike) -> NDArray[np.float64]:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("pvalues must be one-dimensional")
    valid = p[~np.isnan(p)]
    if not ((valid >= 0) & (valid <= 1)).all():
        raise ValueError("pvalues must be in [0, 1] or NaN")
    return p


def adjusted_pvalues(pvalues: ArrayLike, method: Method) -> NDArray[np.float64]:
    """Adjusted p-values; NaN entries stay NaN and are not counted in ``m``.

    ``bonferroni``: ``min(1, m p)``. ``holm``: with the ``m`` valid p-values sorted
    ascending, ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` (1-based), the step-down
    adjustment made monotone. ``none``: unchanged.

    Examples
    --------
    >>> adjusted_pvalues([0.01, 0.04, 0.03, float("nan")], "holm").round(4).tolist()
    [0.03, 0.06, 0.06, nan]
    >>> adjusted_pvalues([0.01, 0.5], "bonferroni").tolist()
    [0.02, 1.0]
    """
    p = _as_pvalues(pvalues)
    if method not in ("none", "bonferroni", "holm"):
        raise ValueError("method must be 'none', 'bonferroni' or 'holm'")
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    out = p.copy()
    if method == "bonferroni":
        out[valid] = np.minimum(1.0, m * p[valid])
    elif method == "holm":
        order = valid[np.argsort(p[valid], kind="stable")]
        stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
        out[order] = np.maximum.accumulate(stepped)
    return out


def reject(pvalues: ArrayLike, alpha: float, *, method: Method) -> NDArray[np.bool_]:
    """Which hypotheses to reject at family-wise level ``alpha``.

    ``none`` rejects ``p <= alpha``; ``bonferroni`` rejects ``p <= alpha / m``; ``holm``
    (step-down) walks the sorted p-values and rejects ``p_(i) <= alpha / (m - i + 1)``
    until the first failure. Equivalently, rejects where :func:`adjusted_pvalues` is
    ``<= alpha``. NaN p-values are never rejected and do not count in ``m``.

    Parameters
    ----------
    pvalues : array_like, shape (k,)
        p-values in [0, 1], or NaN for tests that could not be run.
    alpha : float
        Family-wise error rate, in (0, 1).
    method : {"none", "bonferroni", "holm"}

    Returns
    -------
    numpy.ndarray of bool, shape (k,)

    Examples
    --------
    >>> reject([0.01, 0.04, 0.03, float("nan")], 0.05, method="holm").tolist()
    [True, False, False, False]
    >>> reject([0.01, 0.04, 0.03, float("nan")], 0.05, method="none").tolist()
    [True, True, True, False]
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    # NaN compares False, so untested hypotheses are never rejected.
    return np.asarray(adjusted_pvalues(pvalues, method) <= alpha, dtype=np.bool_)
