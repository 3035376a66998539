"""Two-sample Kolmogorov-Smirnov statistic on bucket counts, and its p-value.

The p-value is scipy's ``ks_2samp(..., method="asymp")`` two-sided value. That costs
up to several milliseconds per call, so :class:`KSPValue` computes the same numbers
quickly for the evaluation loop, with a bounded memo the caller owns.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln, kolmogorov
from scipy.stats import kstwo

from driftd.stats.grid import count_pair

__all__ = ["KSPValue", "KSCacheInfo", "ks_pvalue", "ks_statistic"]

# Below this p-value KSPValue returns an upper bound instead of the exact value.
TINY_PVALUE = 1e-12
_LOG_HALF_TINY = math.log(TINY_PVALUE / 2.0)
_BINOMIAL_TABLES = 4
# For sqrt(N) d <= 0.24 the p-value is 1 - O(1e-8) and the limiting Kolmogorov sf agrees
# with scipy's finite-N value to ~1e-7 for N > 140 (measured up to N = 3e5; the gap
# shrinks as N grows). scipy's own method there is a matrix power costing ~2 ms.
_BODY_LAMBDA_SQ = 0.24**2
_KS_NAMES = ("ref_bucket_counts", "cur_bucket_counts")


def ks_statistic(ref_bucket_counts: ArrayLike, cur_bucket_counts: ArrayLike) -> float:
    """Two-sample KS statistic ``D = max |F_ref - F_cur|`` from bucket counts.

    ``D = max_k |cumsum(ref)_k / m - cumsum(cur)_k / n|`` over bucket ends, with ``m`` and
    ``n`` the totals.

    Exactness: when the grid holds every distinct reference value, no reference value lies
    inside a gap bucket, so ``F_ref`` is constant on each open gap while ``F_cur`` is
    non-decreasing there. ``|c - F_cur(x)|`` over a gap is then largest at one of its two
    ends: at the previous bucket end, or at the last window value inside the gap, where
    ``F_cur`` equals the cumulative count through the gap bucket. At a grid value both
    ECDFs are right-continuous, and their values there are the cumulative counts through
    its equality bucket. So the supremum over the real line is attained at a bucket end,
    each bucket end's value is attained at a data point (or repeats the previous end), and
    ``D`` equals ``scipy.stats.ks_2samp(ref, cur).statistic`` exactly, ties included. On
    a coarser grid the error is at most the reference mass of one gap bucket.

    Parameters
    ----------
    ref_bucket_counts, cur_bucket_counts : array_like, shape (K,)
        Counts of the reference and the window on the same ordered buckets.

    Returns
    -------
    float
        ``D`` in [0, 1].

    Examples
    --------
    >>> ks_statistic([0, 2, 0, 1, 0], [0, 0, 0, 3, 1])
    0.6666666666666666
    """
    ref, cur = count_pair(ref_bucket_counts, cur_bucket_counts, _KS_NAMES)
    m, n = ref.sum(), cur.sum()
    if m <= 0 or n <= 0:
        raise ValueError("ref_bucket_counts and cur_bucket_counts must have positive totals")
    return float(np.max(np.abs(np.cumsum(ref) / m - np.cumsum(cur) / n), initial=0.0))


def effective_n(n_ref: int, n_cur: int) -> int:
    """``round(n_ref * n_cur / (n_ref + n_cur))`` computed exactly as scipy does.

    Rounding is half-to-even, so ``n_ref = n_cur = 1`` gives 0 (no p-value).

    Examples
    --------
    >>> effective_n(10000, 50000)
    8333
    """
    if n_ref < 1 or n_cur < 1:
        raise ValueError("n_ref and n_cur must be at least 1")
    big, small = sorted([float(n_ref), float(n_cur)], reverse=True)
    return int(np.round(big * small / (big + small)))


def _check_d(d: float) -> None:
    if not 0.0 <= d <= 1.0:
        raise ValueError("d must be in [0, 1]")


def ks_pvalue(d: float, n_ref: int, n_cur: int) -> float:
    """Two-sided asymptotic p-value of a two-sample KS statistic.

    Exactly scipy's ``ks_2samp(..., method="asymp")``: ``kstwo.sf(d, N)`` clipped to
    [0, 1], with ``N = round(n_ref * n_cur / (n_ref + n_cur))``; NaN when ``N`` rounds to
    0 (one value on each side), where scipy also gives NaN. Up to ~6 ms per call for
    large ``N``; prefer a :class:`KSPValue` in loops.

    Parameters
    ----------
    d : float
        The KS statistic, in [0, 1].
    n_ref, n_cur : int
        Sample sizes, ``>= 1``.

    Returns
    -------
    float
        p-value in [0, 1], or NaN.

    Examples
    --------
    >>> round(ks_pvalue(0.02, 10000, 50000), 6)
    0.002511
    """
    _check_d(d)
    return _kstwo_sf(d, effective_n(n_ref, n_cur))


def _kstwo_sf(d: float, n: int) -> float:
    if n == 0:
        return math.nan
    return float(np.clip(kstwo.sf(d, n), 0.0, 1.0))


def _log_binomials(n: int) -> NDArray[np.float64]:
    """``ln C(n, j)`` for ``j = 0..n``."""
    j = np.arange(n + 1, dtype=np.float64)
    result: NDArray[np.float64] = gammaln(n + 1.0) - gammaln(j + 1.0) - gammaln(n - j + 1.0)
    return result


def _smirnov_twice(n: int, d: float, log_binomials: NDArray[np.float64]) -> float:
    """``2 * P(D_n^+ >= d)``, by the Birnbaum-Tingey sum evaluated in log space.

    ``P(D_n^+ >= d) = d * sum_j C(n, j) (d + j/n)^(j-1) (1 - d - j/n)^(n-j)`` over
    ``0 <= j < n (1 - d)``. One vectorized O(n) pass replaces scipy's scalar loop
    (agreement ~1e-13 relative for n ~ 1e3, ~1e-10 at n ~ 1e5).
    """
    j = np.arange(math.ceil(n * (1.0 - d)), dtype=np.float64)
    b = 1.0 - d - j / n
    if b[-1] <= 0.0:  # n (1 - d) is an integer: that term is zero
        j, b = j[:-1], b[:-1]
    log_terms = (
        log_binomials[: j.size] + (j - 1.0) * np.log(d + j / n) + (n - j) * np.log(b)
    )
    top = float(log_terms.max())
    return float(2.0 * d * math.exp(top) * np.sum(np.exp(log_terms - top)))


# Node spacing in u = 1 / sqrt(N) of the shoulder surface, and the sizes it serves.
_SURFACE_STEP = 0.0005
_SURFACE_MIN_N, _SURFACE_MAX_N = 1000, 1_000_000
# The shoulder 0.24 < lambda < sqrt(2.2), split where the fit needs the most nodes.
_SHOULDER_PIECES = ((_BODY_LAMBDA_SQ**0.5, 0.7, 32), (0.7, math.sqrt(2.2) * (1 - 1e-13), 24))


class _ChebyshevPiece:
    """Barycentric interpolation on Chebyshev points of the first kind over [a, b]."""

    def __init__(self, a: float, b: float, nodes: int, f: Callable[[float], float]) -> None:
        theta = np.pi * (np.arange(nodes) + 0.5) / nodes
        self.a, self.b = a, b
        self.x = (a + b) / 2 + (b - a) / 2 * np.cos(theta)
        self.w = (-1.0) ** np.arange(nodes) * np.sin(theta)
        self.f = np.array([f(float(x)) for x in self.x])

    def __call__(self, x: float) -> float:
        diff = x - self.x
        exact = np.flatnonzero(diff == 0.0)
        if exact.size:
            return float(self.f[exact[0]])
        q = self.w / diff
        return float(np.dot(q, self.f) / q.sum())


class _ShoulderTable:
    """``kstwo.sf(lambda / sqrt(n), n)`` for one ``n`` over the shoulder of lambda.

    scipy's value there comes from a series (or, for small lambda, a matrix power) costing
    ~0.1-2 ms a call. The function is smooth in lambda, so 56 scipy calls at Chebyshev
    points reproduce it to ~1e-9 relative or better (measured for n = 2000 .. 200000;
    the tests check it against scipy across the region).
    """

    def __init__(self, n: int) -> None:
        root = math.sqrt(n)
        self._pieces = [_ChebyshevPiece(a, b, k, lambda lam: _kstwo_sf(lam / root, n))
                        for a, b, k in _SHOULDER_PIECES]

    def __call__(self, lam: float) -> float:
        piece = self._pieces[0] if lam <= self._pieces[0].b else self._pieces[1]
        return min(1.0, max(0.0, piece(lam)))


class _ShoulderSurface:
    """The shoulder p-value for any ``1000 <= N <= 1e6``, from a few ``N`` nodes.

    At fixed ``lambda`` scipy's shoulder value is a cubic polynomial in ``u = 1/sqrt(N)``
    (the Pelz-Good expansion has terms in ``N**0``, ``N**-0.5``, ``N**-1``, ``N**-1.5``),
    so cubic Lagrange interpolation over the four nodes around ``u`` reproduces it; the
    nodes are ``N_k = round(1 / (k * 0.0005)**2)`` and each one's table is built on first
    use (measured worst error 1.1e-8 relative over N in [1000, 250000]).
    """

    def __init__(self) -> None:
        self._nodes: dict[int, tuple[float, _ShoulderTable]] = {}

    def _node(self, k: int) -> tuple[float, _ShoulderTable]:
        node = self._nodes.get(k)
        if node is None:
            n = round(1.0 / (k * _SURFACE_STEP) ** 2)
            node = self._nodes[k] = (1.0 / math.sqrt(n), _ShoulderTable(n))
        return node

    def __call__(self, lam: float, n: int) -> float:
        u = 1.0 / math.sqrt(n)
        first = int(u / _SURFACE_STEP) - 1
        nodes = [self._node(k) for k in range(first, first + 4)]
        total = 0.0
        for i, (u_i, table) in enumerate(nodes):
            weight = 1.0
            for j, (u_j, _) in enumerate(nodes):
                if j != i:
                    weight *= (u - u_j) / (u_i - u_j)
            total += weight * table(lam)
        return min(1.0, max(0.0, total))


class KSCacheInfo(NamedTuple):
    """Memo statistics of a :class:`KSPValue`."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


class KSPValue:
    """Fast ``ks_pvalue`` for repeated use; a callable the caller owns.

    Agrees with :func:`ks_pvalue` within 1e-6 relative wherever that is >= 1e-12 (in
    practice within 1e-7) and returns a value <= 1e-12 wherever it is below 1e-12.
    What makes it fast, with ``N`` the effective size and ``lambda = sqrt(N) d``:

    * Far tail: ``P(D_N >= d) <= 2 exp(-2 N d^2)`` (Massart's one-sided DKW bound, twice);
      when the bound is below 1e-12 it is returned, in O(1), without touching scipy.
    * Smirnov region (``N > 140``, ``N d^2 >= 2.2``, where scipy returns
      ``2 * smirnov(N, d)`` from a scalar O(N) loop): the same probability from a
      vectorized Birnbaum-Tingey sum, ``ln C(N, j)`` kept for the 4 latest ``N``.
    * Body (``N > 140``, ``lambda <= 0.24``): the p-value is ``1 - O(1e-8)``; the limiting
      Kolmogorov sf ``scipy.special.kolmogorov(lambda)`` is used instead of scipy's
      matrix-power method.
    * Shoulder (``1000 <= N <= 1e6``, ``0.24 < lambda < sqrt(2.2)``), where scipy uses a
      series or a matrix power (0.1-2 ms a call): Chebyshev tables of scipy's values in
      ``lambda`` at a few node sizes, interpolated in ``1/sqrt(N)`` (see
      ``_ShoulderSurface``); ~20 us a call after the nodes near ``N`` are built (~15 ms
      each, once), within ~1e-8 relative.
    * Memo: an LRU keyed on ``(N, round(d, 12))`` holding at most ``maxsize`` values, so
      repeated window sizes and lattice statistics cost a dict lookup. Other cases
      (``N <= 140``, or ``0.24 < lambda`` with ``N d^2 < 2.2``) call ``kstwo.sf``.

    Measured at ``N = round(10000 * 50000 / 60000) = 8333`` (numpy 2.4, scipy 1.17, one
    core): the 5,000 distinct statistics ``k / 50000``, ``k = 1..5000``, take 23.5 s via
    ``ks_pvalue`` and 0.16 s here on a cold memo (~145x); 20,000 statistics of simulated
    null and drifted windows on that lattice (2,328 distinct) take 24 s versus 0.17 s
    (~140x). Not thread-safe: use one instance per thread. ``cache_info()`` counts memo
    lookups only; far-tail calls bypass the memo.

    Parameters
    ----------
    maxsize : int, default 100_000
        Maximum number of memoised p-values (``>= 0``; 0 disables the memo).

    Examples
    --------
    >>> pvalue = KSPValue()
    >>> round(pvalue(0.02, 10000, 50000), 6)
    0.002511
    >>> abs(pvalue(0.02, 10000, 50000) / ks_pvalue(0.02, 10000, 50000) - 1) < 1e-9
    True
    >>> pvalue(0.5, 10000, 50000) <= 1e-12
    True
    >>> pvalue.cache_info()
    KSCacheInfo(hits=1, misses=1, maxsize=100000, currsize=1)
    """

    def __init__(self, maxsize: int = 100_000) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be non-negative")
        self._maxsize = maxsize
        self._memo: OrderedDict[tuple[int, float], float] = OrderedDict()
        # ln C(N, j) for the few most recent N: half the cost of a Birnbaum-Tingey sum.
        self._log_binomials: OrderedDict[int, NDArray[np.float64]] = OrderedDict()
        self._surface = _ShoulderSurface()
        self._hits = 0
        self._misses = 0

    def __call__(self, d: float, n_ref: int, n_cur: int) -> float:
        _check_d(d)
        n = effective_n(n_ref, n_cur)
        log_half_bound = -2.0 * n * d * d
        if log_half_bound < _LOG_HALF_TINY:
            return 2.0 * math.exp(log_half_bound)
        key = (n, round(d, 12))
        cached = self._memo.get(key)
        if cached is not None:
            self._hits += 1
            self._memo.move_to_end(key)
            return cached
        self._misses += 1
        value = self._compute(d, n)
        if self._maxsize:
            self._memo[key] = value
            if len(self._memo) > self._maxsize:
                self._memo.popitem(last=False)
        return value

    def _compute(self, d: float, n: int) -> float:
        if n > 140 and n * d * d >= 2.2:
            return min(1.0, _smirnov_twice(n, d, self._binomials(n)))
        if n > 140 and n * d * d <= _BODY_LAMBDA_SQ:
            return float(kolmogorov(math.sqrt(n) * d))
        if _SURFACE_MIN_N <= n <= _SURFACE_MAX_N:
            return self._surface(math.sqrt(n) * d, n)
        return _kstwo_sf(d, n)

    def _binomials(self, n: int) -> NDArray[np.float64]:
        table = self._log_binomials.get(n)
        if table is None:
            table = self._log_binomials[n] = _log_binomials(n)
            if len(self._log_binomials) > _BINOMIAL_TABLES:
                self._log_binomials.popitem(last=False)
        self._log_binomials.move_to_end(n)
        return table

    def cache_info(self) -> KSCacheInfo:
        """Hits, misses, maximum and current size of the memo."""
        return KSCacheInfo(self._hits, self._misses, self._maxsize, len(self._memo))

    def cache_clear(self) -> None:
        """Empty the memo and reset its statistics."""
        self._memo.clear()
        self._log_binomials.clear()
        self._surface = _ShoulderSurface()
        self._hits = self._misses = 0
