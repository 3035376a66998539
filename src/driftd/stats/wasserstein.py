"""Wasserstein-1 distance between two distributions summarised on the bucket layout."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from driftd.stats.grid import as_grid, count_pair

__all__ = ["wasserstein_grid"]

_NAMES = ("ref_bucket_counts", "cur_bucket_counts")


def outside_integral(w_ref: float, t_ref: float, w_cur: float, t_cur: float) -> float:
    """``integral |F_ref - F_cur|`` beyond a grid end, each side's outside mass at its mean.

    ``w`` is a side's share of mass outside the grid and ``t`` its total distance to the
    grid end divided by the side's size, so the mass sits at distance ``t / w``.
    """
    if w_ref == 0.0 or w_cur == 0.0:
        return t_ref + t_cur  # exact: only one side has mass out there
    d_ref, d_cur = t_ref / w_ref, t_cur / w_cur
    w_far = w_ref if d_ref >= d_cur else w_cur
    return w_far * abs(d_ref - d_cur) + abs(w_ref - w_cur) * min(d_ref, d_cur)


def _check_tails(tails: tuple[float, float], counts: tuple[float, float], name: str) -> None:
    for tail, count in zip(tails, counts, strict=True):
        if not (math.isfinite(tail) and tail >= 0):
            raise ValueError(f"{name} must be finite and non-negative")
        if count == 0 and tail != 0:
            raise ValueError(f"{name} must be 0 where the outer bucket is empty")


def wasserstein_grid(
    grid: ArrayLike,
    ref_bucket_counts: ArrayLike,
    cur_bucket_counts: ArrayLike,
    *,
    ref_tails: tuple[float, float] = (0.0, 0.0),
    cur_tails: tuple[float, float] = (0.0, 0.0),
) -> float:
    """Wasserstein-1 distance ``integral |F_ref - F_cur| dx`` on the bucket layout.

    Inside the grid each equality bucket sits at its grid value and each gap bucket at
    the gap's midpoint; the integral is exact for those placed masses. Outside the grid a
    side's mass below ``g[0]`` sits at its mean ``g[0] - tail / count`` (likewise above
    ``g[G-1]``), which is exact when only one side has mass there: the usual drift case,
    since the grid spans the reference's range. The error is at most the widest gap (half
    of it per side), plus, when both sides have mass beyond the same end, the spread of
    that mass around its mean.

    Parameters
    ----------
    grid : array_like, shape (G,)
        Finite, strictly increasing grid values.
    ref_bucket_counts, cur_bucket_counts : array_like, shape (2G + 1,)
        Counts on the bucket layout (see :mod:`driftd.stats.grid`).
    ref_tails, cur_tails : tuple of float, default (0.0, 0.0)
        ``(sum over x < g[0] of (g[0] - x), sum over x > g[G-1] of (x - g[G-1]))`` for
        each side: totals, not means. Zero places outside mass on the grid end.

    Returns
    -------
    float
        The distance, in the units of the column.

    Examples
    --------
    Reference ``[1, 2, 3]`` against window ``[2, 3, 5]`` on the grid ``[1, 2, 3]``: the
    window's 5 lies 2 above the grid.

    >>> grid = [1.0, 2.0, 3.0]
    >>> ref = [0, 1, 0, 1, 0, 1, 0]
    >>> cur = [0, 0, 0, 1, 0, 1, 1]
    >>> wasserstein_grid(grid, ref, cur, cur_tails=(0.0, 2.0))
    1.3333333333333333
    """
    g = as_grid(grid)
    ref, cur = count_pair(ref_bucket_counts, cur_bucket_counts, _NAMES)
    if ref.size != 2 * g.size + 1:
        raise ValueError("ref_bucket_counts must have 2 * len(grid) + 1 entries")
    m, n = float(ref.sum()), float(cur.sum())
    if m <= 0 or n <= 0:
        raise ValueError("ref_bucket_counts and cur_bucket_counts must have positive totals")
    _check_tails(ref_tails, (ref[0], ref[-1]), "ref_tails")
    _check_tails(cur_tails, (cur[0], cur[-1]), "cur_tails")
    positions = np.empty(2 * g.size - 1)
    positions[0::2] = g
    positions[1::2] = (g[:-1] + g[1:]) / 2.0
    cdf_gap = np.cumsum(ref)[1:-2] / m - np.cumsum(cur)[1:-2] / n
    inside = float(np.sum(np.abs(cdf_gap) * np.diff(positions)))
    below = outside_integral(ref[0] / m, ref_tails[0] / m, cur[0] / n, cur_tails[0] / n)
    above = outside_integral(ref[-1] / m, ref_tails[1] / m, cur[-1] / n, cur_tails[1] / n)
    return inside + below + above

