"""The bucket layout on a reference grid, and validation of count vectors.

A numeric column is summarised on a sorted grid ``g`` of ``G`` distinct values by
``2G + 1`` bucket counts: bucket ``2k + 1`` counts values equal to ``g[k]`` and bucket
``2k`` counts values in the open gap below it, ``(g[k-1], g[k])``. Bucket ``0`` is
``(-inf, g[0])`` and bucket ``2G`` is ``(g[G-1], +inf)``. Counts on this layout merge by
addition, and PSI bins, KS and Wasserstein are all computed from them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_counts",
    "as_grid",
    "bin_counts",
    "bucket_bins",
    "bucket_counts",
    "count_pair",
    "grid_buckets",
]


def as_grid(grid: ArrayLike) -> NDArray[np.float64]:
    """Return ``grid`` as a float array, or raise ValueError unless strictly increasing.

    Examples
    --------
    >>> as_grid([1, 2, 2])
    Traceback (most recent call last):
    ...
    ValueError: grid must be finite and strictly increasing
    """
    g = np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ValueError("grid must be a non-empty one-dimensional array")
    if not np.isfinite(g).all() or (g.size > 1 and not (g[1:] > g[:-1]).all()):
        raise ValueError("grid must be finite and strictly increasing")
    return g


def grid_buckets(grid: ArrayLike, values: ArrayLike) -> NDArray[np.int64]:
    """Bucket index of each value on the ``2G + 1`` bucket layout of ``grid``.

    Parameters
    ----------
    grid : array_like, shape (G,)
        Finite, strictly increasing grid values.
    values : array_like, shape (n,)
        Finite values (missing and non-finite values are counted elsewhere).

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        ``2 * i + (grid[i] == x)`` with ``i = searchsorted(grid, x, "left")``: odd for a
        value on the grid, even for a value in a gap.

    Raises
    ------
    ValueError
        If ``grid`` is not strictly increasing or ``values`` holds a non-finite value.

    Examples
    --------
    >>> grid_buckets([1.0, 2.0, 4.0], [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 9.0]).tolist()
    [0, 1, 2, 3, 4, 5, 6]
    """
    g = as_grid(grid)
    x = np.asarray(values, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError("values must be finite")
    i = np.searchsorted(g, x, side="left")
    # For i == G the clipped grid value is below x, so the equality test is False there.
    on_grid = g[np.minimum(i, g.size - 1)] == x
    idx: NDArray[np.int64] = (2 * i + on_grid).astype(np.int64, copy=False)
    return idx


def bucket_counts(grid: ArrayLike, values: ArrayLike) -> NDArray[np.int64]:
    """Counts of ``values`` in the ``2G + 1`` buckets of ``grid``.

    Parameters
    ----------
    grid : array_like, shape (G,)
        Finite, strictly increasing grid values.
    values : array_like, shape (n,)
        Finite values.

    Returns
    -------
    numpy.ndarray of int64, shape (2G + 1,)
        The bucket counts; they sum to ``n``.

    Examples
    --------
    >>> bucket_counts([1.0, 2.0], [0.0, 1.0, 1.0, 1.5, 7.0]).tolist()
    [1, 2, 1, 0, 1]
    """
    idx = grid_buckets(grid, values)
    n_buckets = 2 * np.asarray(grid).size + 1
    counts: NDArray[np.int64] = np.bincount(idx, minlength=n_buckets).astype(np.int64)
    return counts


def bucket_bins(grid: ArrayLike, edges: ArrayLike) -> NDArray[np.int64]:
    """Map each bucket of the grid layout to its PSI bin.

    Bins are half-open ``[e_i, e_{i+1})`` as in ``numpy.histogram`` (a value equal to an
    edge goes to the bin above) and the outer bins are open-ended, so ``B - 1`` edges make
    ``B`` bins. The bucket of ``x == g[k]`` goes to bin ``#(edges <= g[k])`` and the gap
    bucket below ``g[k]`` to bin ``#(edges < g[k])``.

    Parameters
    ----------
    grid : array_like, shape (G,)
        Finite, strictly increasing grid values.
    edges : array_like, shape (B - 1,)
        Strictly increasing inner bin edges, each of which must be a grid value.

    Returns
    -------
    numpy.ndarray of int64, shape (2G + 1,)
        Bin index in ``[0, B - 1]`` of every bucket (non-decreasing).

    Raises
    ------
    ValueError
        If ``edges`` is not strictly increasing or holds a value that is not on the grid.

    Examples
    --------
    >>> bucket_bins([1.0, 2.0, 3.0], [2.0]).tolist()
    [0, 0, 0, 1, 1, 1, 1]
    """
    g = as_grid(grid)
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or (e.size > 1 and not (e[1:] > e[:-1]).all()):
        raise ValueError("edges must be a strictly increasing one-dimensional array")
    pos = np.minimum(np.searchsorted(g, e), g.size - 1)
    if e.size and not (g[pos] == e).all():
        raise ValueError("edges must all be members of grid")
    bins = np.empty(2 * g.size + 1, dtype=np.int64)
    bins[1::2] = np.searchsorted(e, g, side="right")
    bins[0:-1:2] = np.searchsorted(e, g, side="left")
    bins[-1] = e.size
    return bins


def bin_counts(
    bucket_counts: ArrayLike, bucket_bins: ArrayLike, n_bins: int
) -> NDArray[np.float64] | NDArray[np.int64]:
    """Sum bucket counts into bins.

    Parameters
    ----------
    bucket_counts : array_like, shape (2G + 1,)
        Non-negative counts (integer or float, e.g. merged or weighted panes).
    bucket_bins : array_like of int, shape (2G + 1,)
        Bin index of each bucket, as returned by :func:`bucket_bins`.
    n_bins : int
        Number of bins ``B``.

    Returns
    -------
    numpy.ndarray, shape (n_bins,)
        Counts per bin; int64 for integer input, float64 otherwise.

    Examples
    --------
    >>> bin_counts([1, 2, 0, 3, 4], [0, 0, 1, 1, 2], 3).tolist()
    [3, 3, 4]
    """
    counts = as_counts(bucket_counts, "bucket_counts")
    idx = np.asarray(bucket_bins)
    if idx.shape != counts.shape or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError("bucket_bins must be integers of the same length as bucket_counts")
    if n_bins < 1 or (idx.size and (idx.min() < 0 or idx.max() >= n_bins)):
        raise ValueError("n_bins must be positive and exceed every index in bucket_bins")
    summed = np.bincount(idx, weights=counts, minlength=n_bins)
    if np.issubdtype(np.asarray(bucket_counts).dtype, np.integer):
        return summed.astype(np.int64)
    return summed


def as_counts(counts: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``counts`` as a 1-D float array, or raise ValueError naming ``name``.

    Examples
    --------
    >>> as_counts([3, 0, 1], "ref_counts").tolist()
    [3.0, 0.0, 1.0]
    """
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not (np.isfinite(arr).all() and (arr >= 0).all()):
        raise ValueError(f"{name} must be finite and non-negative")
    return arr


def count_pair(
    ref: ArrayLike, cur: ArrayLike, names: tuple[str, str] = ("ref_counts", "cur_counts")
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate two count vectors of the same length; ``names`` are used in errors.

    Examples
    --------
    >>> count_pair([1, 2], [3])
    Traceback (most recent call last):
    ...
    ValueError: ref_counts and cur_counts must have the same length
    """
    r, c = as_counts(ref, names[0]), as_counts(cur, names[1])
    if r.size != c.size:
        raise ValueError(f"{names[0]} and {names[1]} must have the same length")
    return r, c
