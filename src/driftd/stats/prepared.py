"""Prepared references: the per-window statistics of one column at minimal cost.

The functions of :mod:`driftd.stats` validate their arguments and recompute the
reference side on every call. A window evaluation compares many windows with the same
reference, so these classes validate and precompute the reference side once (CDF, bin
map, floored proportions, bucket positions) and then compute PSI, Jensen-Shannon, KS
and Wasserstein-1 (numeric) or PSI, Jensen-Shannon and chi-square (categorical) from a
window's counts in a few vector operations. The results equal those of the plain
functions (the tests check it); only the cost differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc, rel_entr

from driftd.stats.chi2 import chi2_homogeneity
from driftd.stats.grid import as_counts, as_grid, bucket_bins
from driftd.stats.psi import DEFAULT_EPSILON
from driftd.stats.wasserstein import outside_integral

__all__ = ["CategoricalReference", "CategoricalStats", "NumericReference", "NumericStats"]

_LN2 = math.log(2.0)


@dataclass(frozen=True, slots=True)
class NumericStats:
    """Statistics of a numeric window against its reference."""

    n: int
    psi: float
    psi_pvalue: float
    js_distance: float
    ks_statistic: float
    wasserstein: float


@dataclass(frozen=True, slots=True)
class CategoricalStats:
    """Statistics of a categorical window against its reference."""

    n: int
    psi: float
    psi_pvalue: float
    js_distance: float
    chi2_statistic: float
    chi2_pvalue: float


def _window(
    counts: ArrayLike, shape: tuple[int, ...], shape_error: str
) -> tuple[NDArray[np.float64], float]:
    """A window's counts as floats and their total; ValueError on a bad shape or no data."""
    cur = np.asarray(counts, dtype=np.float64)
    if cur.shape != shape:
        raise ValueError(shape_error)
    n = float(cur.sum())
    if n <= 0:
        raise ValueError("the window's counts must have a positive total")
    return cur, n


class _Bins:
    """PSI / Jensen-Shannon on fixed bins against reference bin counts."""

    def __init__(self, ref_bins: NDArray[np.float64], epsilon: float) -> None:
        total = ref_bins.sum()
        if total <= 0:
            raise ValueError("ref_bucket_counts must have a positive total")
        self.counts = ref_bins
        self.n_ref = float(total)
        self.share = ref_bins / total
        self.floored = np.maximum(self.share, epsilon)
        self.epsilon = epsilon
        self._filled = ref_bins > 0
        self.dof = int(np.count_nonzero(self._filled)) - 1  # of the null, bins filled

    def psi(self, cur_bins: NDArray[np.float64], n: float) -> tuple[float, float]:
        q = np.maximum(cur_bins / n, self.epsilon)
        value = float(np.sum((q - self.floored) * np.log(q / self.floored)))
        scale = 1.0 / self.n_ref + 1.0 / n
        # Degrees of freedom of the bins either side filled, as the chi-square test's: a
        # bin empty in both (a category's __other__ or missing slot, say) adds nothing to
        # PSI, and counting it made the p-value far too conservative.
        dof = int(np.count_nonzero(self._filled | (cur_bins > 0))) - 1
        pvalue = float(chdtrc(dof, value / scale)) if dof > 0 else 1.0
        return value, pvalue

    def js(self, cur_bins: NDArray[np.float64], n: float) -> float:
        q = cur_bins / n
        m = (self.share + q) / 2.0
        divergence = float(np.sum(rel_entr(self.share, m)) + np.sum(rel_entr(q, m))) / _LN2
        return math.sqrt(max(divergence, 0.0) / 2.0)


class NumericReference:
    """A numeric column's reference on its grid, ready to compare windows with.

    Parameters
    ----------
    grid : array_like, shape (G,)
        Strictly increasing grid values.
    bucket_counts : array_like, shape (2G + 1,)
        Reference counts on the bucket layout (see :mod:`driftd.stats.grid`).
    psi_edges : array_like
        PSI bin edges, all grid members (deduplicated deciles).
    epsilon : float, default 1e-4
        Floor of PSI proportions.

    Examples
    --------
    >>> ref = NumericReference([1.0, 2.0, 3.0], [0, 1, 0, 1, 0, 1, 0], [2.0])
    >>> s = ref.compare([0, 0, 0, 1, 0, 1, 1], cur_tails=(0.0, 2.0))
    >>> s.n, round(s.ks_statistic, 6), round(s.wasserstein, 6)
    (3, 0.333333, 1.333333)
    """

    def __init__(self, grid: ArrayLike, bucket_counts: ArrayLike, psi_edges: ArrayLike, *,
                 epsilon: float = DEFAULT_EPSILON) -> None:
        self.grid = as_grid(grid)
        counts = as_counts(bucket_counts, "bucket_counts")
        if counts.size != 2 * self.grid.size + 1:
            raise ValueError("bucket_counts must have 2 * len(grid) + 1 entries")
        bins = bucket_bins(self.grid, psi_edges)
        # Bins are runs of consecutive buckets: reduceat over their first buckets sums them.
        self._starts = np.flatnonzero(np.r_[True, np.diff(bins) != 0])
        self._bins = _Bins(np.add.reduceat(counts, self._starts), epsilon)
        self.n = float(counts.sum())
        self._cdf = np.cumsum(counts) / self.n
        self._outer = (counts[0] / self.n, counts[-1] / self.n)
        positions = np.empty(2 * self.grid.size - 1)
        positions[0::2] = self.grid
        positions[1::2] = (self.grid[:-1] + self.grid[1:]) / 2.0
        self._widths = np.diff(positions)

    @property
    def bin_counts(self) -> NDArray[np.float64]:
        """Reference counts per PSI bin."""
        return self._bins.counts

    @property
    def dof(self) -> int:
        """Degrees of freedom of PSI's and JS's null: the reference's filled bins - 1."""
        return self._bins.dof

    @property
    def spread(self) -> float:
        """``integral sqrt(F (1 - F)) dx`` of the reference CDF over the grid, the scale
        of Wasserstein-1's null (see :func:`driftd.stats.sample_size.wasserstein_min_events`)."""
        inside = self._cdf[1:-2]
        return float(np.dot(np.sqrt(inside * (1.0 - inside)), self._widths))

    def compare(self, cur_bucket_counts: ArrayLike,
                cur_tails: tuple[float, float] = (0.0, 0.0)) -> NumericStats:
        """Statistics of a window's bucket counts (and tail sums) against the reference."""
        cur, n = _window(cur_bucket_counts, self._cdf.shape,
                         "cur_bucket_counts must have 2 * len(grid) + 1 entries")
        diff = np.abs(self._cdf - np.cumsum(cur) / n)
        inside = float(np.dot(diff[1:-2], self._widths))
        below = outside_integral(self._outer[0], 0.0, cur[0] / n, cur_tails[0] / n)
        above = outside_integral(self._outer[1], 0.0, cur[-1] / n, cur_tails[1] / n)
        cur_bins = np.add.reduceat(cur, self._starts)
        psi, psi_pvalue = self._bins.psi(cur_bins, n)
        return NumericStats(int(n), psi, psi_pvalue, self._bins.js(cur_bins, n),
                            float(diff.max()), inside + below + above)


class CategoricalReference:
    """A categorical column's reference counts (categories, other, missing).

    Examples
    --------
    >>> ref = CategoricalReference([50, 30, 20])
    >>> s = ref.compare([40, 30, 30])
    >>> round(s.psi, 6), round(s.js_distance, 6), round(s.chi2_pvalue, 4)
    (0.062861, 0.106199, 0.2111)
    """

    def __init__(self, counts: ArrayLike, *, epsilon: float = DEFAULT_EPSILON) -> None:
        self.counts = as_counts(counts, "counts")
        self._bins = _Bins(self.counts, epsilon)

    @property
    def bin_counts(self) -> NDArray[np.float64]:
        """Reference counts per bin (the categories, other and missing)."""
        return self.counts

    @property
    def dof(self) -> int:
        """Degrees of freedom of PSI's, JS's and chi-square's null: filled bins - 1."""
        return self._bins.dof

    def compare(self, cur_counts: ArrayLike) -> CategoricalStats:
        cur, n = _window(cur_counts, self.counts.shape,
                         "cur_counts must have as many entries as the reference")
        psi, psi_pvalue = self._bins.psi(cur, n)
        chi2 = chi2_homogeneity(self.counts, cur)
        return CategoricalStats(int(n), psi, psi_pvalue, self._bins.js(cur, n),
                                chi2.statistic, chi2.pvalue)
