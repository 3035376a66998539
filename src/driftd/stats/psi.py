"""Population Stability Index, its asymptotic p-value and a parametric bootstrap null."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc

from driftd.stats.grid import as_counts, count_pair

__all__ = ["bootstrap_pvalue", "psi", "psi_null_distribution", "psi_pvalue", "psi_rows"]

DEFAULT_EPSILON = 1e-4


def _check_epsilon(epsilon: float) -> None:
    if not 0.0 < epsilon < 1.0:
        raise ValueError("epsilon must be in (0, 1)")


def psi_rows(
    ref: NDArray[np.float64], cur: NDArray[np.float64], epsilon: float
) -> NDArray[np.float64]:
    """PSI along the last axis of count arrays whose totals are positive."""
    p = np.maximum(ref / ref.sum(axis=-1, keepdims=True), epsilon)
    q = np.maximum(cur / cur.sum(axis=-1, keepdims=True), epsilon)
    result: NDArray[np.float64] = np.sum((q - p) * np.log(q / p), axis=-1)
    return result


def psi(ref_counts: ArrayLike, cur_counts: ArrayLike, *, epsilon: float = DEFAULT_EPSILON) -> float:
    """Population Stability Index of a window against the reference.

    ``PSI = sum_i (q_i - p_i) * ln(q_i / p_i)`` with ``p = ref / sum(ref)`` and
    ``q = cur / sum(cur)``, each proportion floored at ``epsilon`` (no renormalisation)
    so that an empty bin gives a large but finite term. Natural logarithm.

    Parameters
    ----------
    ref_counts, cur_counts : array_like, shape (B,)
        Non-negative counts per bin of the reference and the window.
    epsilon : float, default 1e-4
        Floor of each proportion, in (0, 1).

    Returns
    -------
    float
        PSI, ``>= 0``; symmetric in its two arguments.

    Raises
    ------
    ValueError
        On different lengths, negative or non-finite counts, a zero total, or an epsilon
        outside (0, 1).

    Examples
    --------
    >>> psi([10, 20, 30, 40], [10, 20, 30, 40])
    0.0
    >>> round(psi([25, 25, 25, 25], [10, 20, 30, 40]), 6)
    0.228217
    >>> round(psi([50, 50, 0], [50, 40, 10]), 6)
    0.712399
    """
    _check_epsilon(epsilon)
    ref, cur = count_pair(ref_counts, cur_counts)
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("ref_counts and cur_counts must have positive totals")
    return float(psi_rows(ref, cur, epsilon))


def psi_pvalue(value: float, *, n_bins: int, n_ref: float, n_cur: float) -> float:
    """Asymptotic p-value of a PSI value under the null of no drift.

    To second order ``(q - p) ln(q / p) ~ (q - p)^2 / p``, so under the null
    ``PSI / (1/n_ref + 1/n_cur)`` is asymptotically chi-square with ``n_bins - 1`` degrees
    of freedom, and ``p = chi2.sf(PSI / (1/n_ref + 1/n_cur), n_bins - 1)``. It needs
    reasonably filled bins (deciles of a large reference are the intended case).

    Parameters
    ----------
    value : float
        Observed PSI, ``>= 0``.
    n_bins : int
        Number of bins, ``>= 2``.
    n_ref, n_cur : float
        Total counts of the reference and the window, ``> 0``.

    Returns
    -------
    float
        p-value in [0, 1].

    Examples
    --------
    >>> round(psi_pvalue(0.0, n_bins=10, n_ref=20000, n_cur=2000), 6)
    1.0
    >>> round(psi_pvalue(0.01, n_bins=10, n_ref=20000, n_cur=2000), 6)
    0.033122
    """
    if not (np.isfinite(value) and value >= 0):
        raise ValueError("value must be finite and non-negative")
    if n_bins < 2:
        raise ValueError("n_bins must be at least 2")
    if not (n_ref > 0 and n_cur > 0):
        raise ValueError("n_ref and n_cur must be positive")
    scale = 1.0 / n_ref + 1.0 / n_cur
    return float(chdtrc(n_bins - 1, value / scale))


def psi_null_distribution(
    ref_counts: ArrayLike,
    n_cur: int,
    *,
    n_ref: int | None = None,
    resamples: int = 1000,
    seed: int = 0,
    epsilon: float = DEFAULT_EPSILON,
) -> NDArray[np.float64]:
    """Sorted PSI values under the null, by parametric bootstrap from the reference.

    Each resample draws reference counts ``~ Multinomial(n_ref, p_ref)`` and window counts
    ``~ Multinomial(n_cur, p_ref)``, with ``p_ref = ref_counts / sum(ref_counts)``, and
    computes their PSI; both draws are needed because the observed PSI carries the noise
    of the reference as well as that of the window.

    Parameters
    ----------
    ref_counts : array_like, shape (B,)
        Reference counts per bin (positive total).
    n_cur : int
        Window size, ``>= 1``.
    n_ref : int, optional
        Reference size; defaults to ``sum(ref_counts)``.
    resamples : int, default 1000
        Number of bootstrap resamples, ``>= 1``.
    seed : int, default 0
        Seed of the ``numpy.random.Generator``.
    epsilon : float, default 1e-4
        Proportion floor, as in :func:`psi`.

    Returns
    -------
    numpy.ndarray, shape (resamples,)
        Sorted null PSI values.

    Examples
    --------
    >>> null = psi_null_distribution([100, 200, 300, 400], n_cur=500, resamples=200)
    >>> null.shape, bool((null >= 0).all()), bool((null[1:] >= null[:-1]).all())
    ((200,), True, True)
    """
    _check_epsilon(epsilon)
    ref = as_counts(ref_counts, "ref_counts")
    total = float(ref.sum())
    if total <= 0:
        raise ValueError("ref_counts must have a positive total")
    size_ref = int(round(total)) if n_ref is None else n_ref
    if n_cur < 1 or size_ref < 1:
        raise ValueError("n_cur and n_ref must be at least 1")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    rng = np.random.default_rng(seed)
    p_ref = ref / total
    ref_draws = rng.multinomial(size_ref, p_ref, size=resamples).astype(np.float64)
    cur_draws = rng.multinomial(n_cur, p_ref, size=resamples).astype(np.float64)
    return np.sort(psi_rows(ref_draws, cur_draws, epsilon))


def bootstrap_pvalue(value: float, null: ArrayLike) -> float:
    """Bootstrap p-value ``(1 + #(null >= value)) / (1 + len(null))``.

    The added one counts the observation itself, so the p-value is never zero and the
    test is exact-level under the null.

    Examples
    --------
    >>> bootstrap_pvalue(0.5, [0.1, 0.2, 0.6])
    0.5
    >>> bootstrap_pvalue(1.0, [0.1, 0.2, 0.6])
    0.25
    """
    values = np.asarray(null, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("null must be a non-empty one-dimensional array")
    if not np.isfinite(value):
        raise ValueError("value must be finite")
    exceed = int(np.count_nonzero(values >= value))
    return (1 + exceed) / (1 + values.size)
