"""A window's distribution of each column beside its reference's, for the report's plots.

The window's counts sit in its pane on the reference's own layout (see
``driftd.monitor.layout``): a numeric column's 2G+1 grid buckets and its missing slot, a
categorical column's categories, ``__other__`` and missing. Both sides are therefore on
the same buckets, and a plot re-bins them alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from driftd.monitor.layout import Layout, NumericSlots
from driftd.windows.panes import Pane

MISSING = "(missing)"

Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class NumericDistribution:
    """Reference and window counts on the reference grid's 2G+1 buckets; ``positions``
    holds a representative value of each bucket (the outer ones at the window's mean
    distance beyond the grid), so both can be drawn on one value axis."""

    column: str
    grid: Floats
    positions: Floats
    reference: Counts
    window: Counts
    reference_missing: int
    window_missing: int


@dataclass(frozen=True, eq=False)
class CategoricalDistribution:
    """Reference and window counts per category, then ``__other__``, then missing."""

    column: str
    labels: tuple[str, ...]
    reference: Counts
    window: Counts


Distribution = NumericDistribution | CategoricalDistribution


def column_distributions(layout: Layout, pane: Pane) -> dict[str, Distribution]:
    """Each monitored column's reference and window counts, by column name."""
    found: dict[str, Distribution] = {}
    for slots in layout.columns:
        name = slots.column.name
        if isinstance(slots, NumericSlots):
            profile = slots.profile
            below, above = pane.tails[slots.tail], pane.tails[slots.tail + 1]
            window = pane.counts[slots.buckets].astype(np.int64)
            found[name] = NumericDistribution(
                name, profile.grid,
                bucket_positions(profile.grid, _mean(below, window[0]),
                                 _mean(above, window[-1])),
                profile.bucket_counts.astype(np.int64), window, profile.missing,
                int(pane.counts[slots.missing]))
        else:
            profile_c = slots.profile
            reference = np.r_[profile_c.category_counts, profile_c.other, profile_c.missing]
            found[name] = CategoricalDistribution(
                name, (*profile_c.categories, "__other__", MISSING),
                reference.astype(np.int64),
                pane.counts[slots.offset:slots.offset + slots.size].astype(np.int64))
    return found


def _mean(total: float, count: int) -> float:
    return float(total) / count if count else 0.0


def bucket_positions(grid: Floats, below: float = 0.0, above: float = 0.0) -> Floats:
    """A value for each of the 2G+1 buckets: the grid value, the middle of a gap, and
    ``below``/``above`` the grid's ends for the two open buckets.

    >>> bucket_positions(np.array([1.0, 2.0, 4.0]), 0.5, 3.0).tolist()
    [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 7.0]
    """
    positions = np.empty(2 * grid.size + 1)
    positions[1::2] = grid
    positions[2:-1:2] = (grid[:-1] + grid[1:]) / 2
    positions[0], positions[-1] = grid[0] - below, grid[-1] + above
    return positions


def quantile(positions: Floats, counts: Counts, share: float) -> float:
    """The first bucket position where ``share`` of the counts is reached.

    >>> quantile(np.array([1.0, 2.0, 3.0]), np.array([1, 1, 2]), 0.5)
    2.0
    """
    total = counts.sum()
    if total == 0:
        return math.nan
    index = int(np.searchsorted(np.cumsum(counts) / total, share - 1e-12))
    return float(positions[min(index, positions.size - 1)])


@dataclass(frozen=True, eq=False)
class Histogram:
    """Shares of the present values of each side in the same bins (``edges``: bins + 1).
    Values beyond the edges are counted in the first or last bin."""

    edges: Floats
    reference: Floats
    window: Floats


def histogram(dist: NumericDistribution, bins: int = 40) -> Histogram:
    """Both sides on equal-width bins over where 99% of either lies; integer data on
    integer-aligned bins, so that no bin holds one more value than its neighbour.

    >>> d = NumericDistribution("x", np.array([0.0, 1.0, 2.0]),
    ...     bucket_positions(np.array([0.0, 1.0, 2.0])), np.array([0, 2, 0, 1, 0, 1, 0]),
    ...     np.array([0, 0, 0, 1, 0, 3, 0]), 0, 0)
    >>> h = histogram(d)
    >>> h.edges.tolist(), h.reference.tolist(), h.window.tolist()
    ([-0.5, 0.5, 1.5, 2.5], [0.5, 0.25, 0.25], [0.0, 0.25, 0.75])
    """
    low, high = value_range(dist)
    if np.all(dist.grid == np.round(dist.grid)) and high - low < 1e7:
        width = max(1.0, math.ceil((high - low + 1) / bins))
        count = int(math.ceil((high - low + 1) / width))
        edges: Floats = low - 0.5 + width * np.arange(count + 1, dtype=np.float64)
    else:
        if high <= low:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, bins + 1)
    index = np.clip(np.searchsorted(edges, dist.positions, side="right") - 1, 0, edges.size - 2)
    return Histogram(edges, _shares(index, dist.reference, edges.size - 1),
                     _shares(index, dist.window, edges.size - 1))


def _shares(index: npt.NDArray[np.intp], counts: Counts, bins: int) -> Floats:
    summed = np.bincount(index, weights=counts.astype(np.float64),
                         minlength=bins).astype(np.float64)
    total = summed.sum()
    shares: Floats = summed / total if total else summed
    return shares


def value_range(dist: NumericDistribution, tail: float = 0.005) -> tuple[float, float]:
    """From the lowest to the highest of both sides' ``tail`` and ``1 - tail`` quantiles."""
    ends = [quantile(dist.positions, counts, share)
            for counts in (dist.reference, dist.window) for share in (tail, 1 - tail)]
    finite = [v for v in ends if math.isfinite(v)]
    if not finite:
        return float(dist.grid[0]), float(dist.grid[-1])
    return min(finite), max(finite)


def ecdf(counts: Counts) -> Floats:
    """The cumulative share of ``counts`` at the end of each bucket (0 when empty).

    >>> ecdf(np.array([1, 0, 3])).tolist()
    [0.25, 0.25, 1.0]
    """
    total = counts.sum()
    cumulative = np.cumsum(counts).astype(np.float64)
    shares: Floats = cumulative / total if total else cumulative
    return shares
