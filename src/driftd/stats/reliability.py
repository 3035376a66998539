"""How well probabilities match outcomes: the expected calibration error, and a test.

Both read the reliability diagram on ``bins`` equal-width bins of [0, 1]: bin b holds the
rows whose probability is in ``[b/B, (b+1)/B)`` (the last bin closed at 1). The error
measures the gap between the mean probability and the observed frequency; the test
(:func:`calibration_pvalue`) asks whether the gaps are larger than chance would make
them if the probabilities were right.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc

__all__ = ["MIN_GROUP_VARIANCE", "calibration_pvalue", "expected_calibration_error"]

# Bins are pooled with their successors until their outcome variance reaches this, so
# that each group's standardized gap is close enough to normal for the chi-square law.
MIN_GROUP_VARIANCE = 5.0


def _bin_index(p: NDArray[np.float64], bins: int) -> NDArray[np.int64]:
    index: NDArray[np.int64] = np.minimum((p * bins).astype(np.int64), bins - 1)
    return index


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, bins: int = 10) -> float:
    """Expected calibration error on ``bins`` equal-width bins of [0, 1].

    ``ECE = sum over bins b of (n_b / n) * |mean outcome in b - mean probability in b|``,
    bins ``[0, 1/B), [1/B, 2/B), ..., [(B-1)/B, 1]`` (the last closed). For binary
    ``probs`` of shape (n,) the probability is P(y = 1) and the outcome the label (the
    reliability diagram of class 1); for (n, K) it is the top-label ECE (Guo et al. 2017):
    the probability is the row's largest, the outcome whether its class is the label.

    Parameters
    ----------
    probs : array_like of float, shape (n,) or (n, K)
        Probabilities in [0, 1].
    labels : array_like, shape (n,)
        0/1 for binary, class indices in ``[0, K)`` for (n, K).
    bins : int, default 10
        Number of equal-width bins.

    Returns
    -------
    float
        In [0, 1]; NaN when there are no rows.

    Raises
    ------
    ValueError
        On mismatched shapes, probabilities outside [0, 1], or ``bins < 1``.

    Examples
    --------
    >>> round(expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 1, 0, 0]), 12)
    0.1
    >>> round(expected_calibration_error([[0.7, 0.3], [0.2, 0.8]], [0, 0]), 12)
    0.55
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    if y.ndim != 1 or p.shape[:1] != y.shape or p.ndim not in (1, 2):
        raise ValueError("probs must be (n,) or (n, K) with one label per row")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("probs must be finite and in [0, 1]")
    if y.size == 0:
        return math.nan
    if p.ndim == 1:
        confidence, outcome = p, y.astype(np.float64)
    else:
        confidence = p.max(axis=1)
        outcome = (p.argmax(axis=1) == y).astype(np.float64)
    index = _bin_index(confidence, bins)
    gap = np.bincount(index, weights=outcome - confidence, minlength=bins)
    return float(np.abs(gap).sum() / y.size)


def calibration_pvalue(probs: ArrayLike, labels: ArrayLike, bins: int = 10) -> float:
    """P-value of the hypothesis that binary probabilities are calibrated.

    A Hosmer-Lemeshow test on fixed bins: if ``P(y = 1) = p`` for every row, the
    observed positives ``O_g`` of a group of rows differ from the expected ``E_g =
    sum(p)`` with variance ``V_g = sum(p (1 - p))``, and ``sum (O_g - E_g) ** 2 / V_g``
    over ``G`` groups is approximately chi-square with ``G`` degrees of freedom (nothing
    was fitted to these rows). Groups are the ``bins`` equal-width bins, each pooled with
    its successors until ``V_g >= 5`` (the last with its predecessor). A positive scored
    exactly 0, or a negative scored exactly 1, is impossible under the hypothesis:
    p-value 0.

    Parameters
    ----------
    probs : array_like of float, shape (n,)
        Probabilities of class 1, in [0, 1].
    labels : array_like, shape (n,)
        0/1 outcomes.
    bins : int, default 10

    Returns
    -------
    float
        In [0, 1]; NaN when there are no rows.

    Raises
    ------
    ValueError
        On mismatched shapes, probabilities outside [0, 1], labels other than 0/1, or
        ``bins < 1``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(2000)
    >>> y = rng.random(2000) < p
    >>> round(calibration_pvalue(p, y), 3), calibration_pvalue(p ** 3, y) < 1e-12
    (0.246, True)
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels)
    if p.ndim != 1 or p.shape != y.shape:
        raise ValueError("probs and labels must be one-dimensional, of one length")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise ValueError("probs must be finite and in [0, 1]")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    if y.size == 0:
        return math.nan
    index = _bin_index(p, bins)
    per_bin = np.stack([np.bincount(index, weights=w, minlength=bins).astype(np.float64)
                        for w in (y.astype(np.float64), p, p * (1.0 - p))], axis=1)
    positive = y == 1
    if bool(((p == 0) & positive).any() or ((p == 1) & ~positive).any()):
        return 0.0
    terms = [(o - e) ** 2 / v if v > 0 else 0.0 for o, e, v in _pooled(per_bin)]
    return float(chdtrc(len(terms), sum(terms)))


def _pooled(per_bin: NDArray[np.float64]) -> list[tuple[float, float, float]]:
    """(observed, expected, variance) of groups of consecutive bins, each pooled until its
    variance reaches MIN_GROUP_VARIANCE; a light tail joins the previous group."""
    groups: list[tuple[float, float, float]] = []
    held = np.zeros(3)
    for row in per_bin:
        held = held + row
        if held[2] >= MIN_GROUP_VARIANCE:
            groups.append((float(held[0]), float(held[1]), float(held[2])))
            held = np.zeros(3)
    if held.any() or not groups:
        if groups:
            held = held + np.array(groups.pop())
        groups.append((float(held[0]), float(held[1]), float(held[2])))
    return groups
