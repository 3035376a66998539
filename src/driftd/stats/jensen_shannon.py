"""Jensen-Shannon distance between two count vectors (base 2)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import rel_entr

from driftd.stats.grid import count_pair

__all__ = ["js_distance"]


def js_distance(ref_counts: ArrayLike, cur_counts: ArrayLike) -> float:
    """Jensen-Shannon distance with base-2 logarithms, in [0, 1].

    Both vectors are normalised to proportions ``p`` and ``q``; with ``m = (p + q) / 2``,
    ``JS = sqrt((KL(p || m) + KL(q || m)) / (2 ln 2))``, where ``0 * log 0 = 0``. Equals
    ``scipy.spatial.distance.jensenshannon(ref, cur, base=2)``.

    Parameters
    ----------
    ref_counts, cur_counts : array_like, shape (K,)
        Non-negative counts per bin or category, with positive totals.

    Returns
    -------
    float
        0 for identical proportions, 1 for disjoint supports; symmetric.

    Examples
    --------
    >>> js_distance([1, 2, 3], [2, 4, 6])
    0.0
    >>> js_distance([1, 0], [0, 5])
    1.0
    >>> round(js_distance([50, 30, 20], [40, 30, 30]), 6)
    0.106199
    """
    ref, cur = count_pair(ref_counts, cur_counts)
    ref_total, cur_total = ref.sum(), cur.sum()
    if ref_total <= 0 or cur_total <= 0:
        raise ValueError("ref_counts and cur_counts must have positive totals")
    p, q = ref / ref_total, cur / cur_total
    m = (p + q) / 2.0
    # rel_entr is 0 where p == 0, so empty bins need no special case.
    divergence = float(np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m))) / math.log(2.0)
    # Rounding can leave a tiny negative divergence for identical inputs.
    return math.sqrt(max(divergence, 0.0) / 2.0)
