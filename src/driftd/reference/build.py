"""Building a reference profile from decoded reference data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from driftd.config import ColumnConfig
from driftd.reference.profile import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    ProfileError,
    make_profile,
)
from driftd.stats.grid import bucket_counts

DEFAULT_GRID_SIZE = 4096
DEFAULT_TOP_CATEGORIES = 100
PSI_QUANTILES = np.arange(1, 10) / 10


def numeric_profile(
    name: str, role: str, values: npt.NDArray[np.float64], *, grid_size: int = DEFAULT_GRID_SIZE
) -> NumericProfile:
    """Summarise a numeric column on a grid of quantiles (every value when few).

    The PSI decile edges are always grid points, so PSI bins are unions of buckets.

    >>> p = numeric_profile("x", "input", np.r_[np.arange(11.0), np.nan])
    >>> p.grid.tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    >>> p.psi_edges.tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    >>> p.bucket_counts[:6].tolist(), int(p.bucket_counts.sum()), p.missing, p.exact
    ([0, 1, 0, 1, 0, 1], 11, 1, True)
    """
    if grid_size < 16:
        raise ValueError("grid_size must be at least 16")
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ProfileError(f"column {name!r} has no finite values in the reference data")
    edges = np.unique(np.quantile(finite, PSI_QUANTILES))
    distinct = np.unique(finite)
    exact = distinct.size <= grid_size
    points = distinct if exact else np.quantile(finite, np.linspace(0.0, 1.0, grid_size))
    grid = np.unique(np.concatenate([points, edges]))
    return NumericProfile(
        name, role, int(finite.size), int(values.size - finite.size), grid,
        bucket_counts(grid, finite), edges, exact,
    )


def categorical_profile(
    name: str, role: str, values: Iterable[str | None] | Mapping[str | None, int], *,
    top: int = DEFAULT_TOP_CATEGORIES,
) -> CategoricalProfile:
    """Count categories (``values``: the column, or its counts so far, e.g. a Counter);
    the ``top`` most frequent are kept, the rest pooled as other.

    >>> p = categorical_profile("c", "input", ["a", "b", "a", None, "c"], top=2)
    >>> p.categories, p.category_counts.tolist(), p.other, p.missing
    (('a', 'b'), [2, 1], 1, 1)
    >>> q = categorical_profile("c", "input", Counter(["a", "b", "a", None, "c"]), top=2)
    >>> q.categories, q.category_counts.tolist(), q.other, q.missing
    (('a', 'b'), [2, 1], 1, 1)
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    counts = Counter(values)
    missing = counts.pop(None, 0)
    if not counts:
        raise ProfileError(f"column {name!r} has no values in the reference data")
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = ranked[:top]
    other = sum(count for _, count in ranked[top:])
    return CategoricalProfile(
        name, role, sum(counts.values()), missing, tuple(str(c) for c, _ in kept),
        np.array([count for _, count in kept], dtype=np.int64), other,
    )


def build_profile(
    model: str,
    columns: Sequence[ColumnConfig],
    numeric: Mapping[str, npt.NDArray[np.float64]],
    categorical: Mapping[str, Sequence[str | None] | Mapping[str | None, int]],
    *,
    rows: int,
    metadata: Mapping[str, Any],
    grid_size: int = DEFAULT_GRID_SIZE,
    top_categories: int = DEFAULT_TOP_CATEGORIES,
    performance: Mapping[str, float] | None = None,
) -> Profile:
    """Profile every monitored column (label columns are not drift-monitored);
    ``performance`` is the baseline measured on labelled reference data, if any.
    ``numeric`` is read one column at a time, in the order of ``columns`` (a mapping that
    joins each column when asked keeps one joined column in memory at a time)."""
    profiles: dict[str, NumericProfile | CategoricalProfile] = {}
    for column in columns:
        if column.role == "label":
            continue
        if column.kind == "numeric":
            profiles[column.name] = numeric_profile(
                column.name, column.role, numeric[column.name], grid_size=grid_size)
        else:
            profiles[column.name] = categorical_profile(
                column.name, column.role, categorical[column.name], top=top_categories)
    meta = {**metadata, "grid_size": grid_size, "top_categories": top_categories}
    return make_profile(model, rows, profiles, meta, performance)
