"""How many events a threshold decision needs before it means something.

A threshold test flags drift when a distance (PSI, Jensen-Shannon, KS, Wasserstein, the
change of the missing rate) exceeds a fixed value. Under the null of no drift these
distances shrink with the sample: a window of a few hundred events drawn from the
reference's own population has a Jensen-Shannon distance near 0.1, the common
threshold. Each function here returns the smallest window size ``n`` at which the null's
upper ``alpha`` quantile of the statistic is at most the threshold, so that a window of at
least ``n`` events exceeds the threshold by chance with probability at most ``alpha``.
Smaller windows leave the test undecided.

Both samples are random: the window (``n`` events) and the reference (``n_ref``). The
null distributions depend on them through the effective size
``n_eff = 1 / (1/n + 1/n_ref)``; :func:`window_size` turns a required ``n_eff`` into a
window size (infinite when even an infinite window cannot reach it because the
reference is too small).

Null distributions used (``B`` = bins filled in the reference, ``dof = B - 1``):

- PSI: ``n_eff * PSI ~ chi2(dof)`` (its second-order expansion is Pearson's statistic).
- Jensen-Shannon distance ``d`` in bits: ``8 ln(2) n_eff d^2 ~ chi2(dof)``.
  Both tails are heavier than the chi-square's in sparse bins (rare categories, small
  windows: 7% instead of 5% for JS on 30 Zipf categories), so :func:`bins_min_events`
  refines these sizes on the simulated null of the statistic at the size found.
- KS: ``sqrt(n_eff) D ~ Kolmogorov``.
- Wasserstein-1: ``sqrt(n_eff) W1 ~ integral |B(F(x))| dx`` for a Brownian bridge ``B``,
  bounded above through Borell-TIS by ``S (sqrt(2/pi) + sqrt(2 ln(1/alpha)))`` with
  ``S = integral sqrt(F (1 - F)) dx``.
- Missing rate change: exact binomial with ``n_eff`` trials at the reference's share.
- Chi-square statistic: ``chi2(dof)`` whatever the size, so its threshold either always
  or never holds the rate.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc, chdtri, kolmogi, rel_entr
from scipy.stats import binom

from driftd.stats.grid import as_counts
from driftd.stats.psi import DEFAULT_EPSILON, psi_rows

__all__ = ["bins_min_events", "chi2_min_events", "js_min_events", "ks_min_events",
           "missing_min_events", "psi_min_events", "wasserstein_min_events", "window_size"]

_EXACT_MISSING_UP_TO = 2_000  # effective sizes scanned with the exact binomial


def _check(threshold: float, alpha: float) -> None:
    if not (math.isfinite(threshold) and threshold >= 0):
        raise ValueError("threshold must be finite and non-negative")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")


def window_size(n_eff: float, n_ref: float) -> float:
    """The window size ``n`` with ``1 / (1/n + 1/n_ref) = n_eff``, rounded up.

    Examples
    --------
    >>> window_size(500.0, 1_000_000), window_size(500.0, 1000), window_size(500.0, 400)
    (501, 1000, inf)
    """
    if not n_ref > 0:
        raise ValueError("n_ref must be positive")
    if n_eff <= 0:
        return 1
    if n_eff >= n_ref or not math.isfinite(n_eff):
        return math.inf
    # The tiny relative slack keeps an exact integer answer from rounding up past itself.
    return max(1, math.ceil(1.0 / (1.0 / n_eff - 1.0 / n_ref) * (1 - 1e-12)))


def psi_min_events(threshold: float, *, dof: int, alpha: float, n_ref: float) -> float:
    """Smallest window for which ``P(PSI > threshold)`` under the null is at most ``alpha``.

    Examples
    --------
    >>> psi_min_events(0.2, dof=9, alpha=0.01, n_ref=100_000)
    109
    """
    _check(threshold, alpha)
    if dof < 1:
        return 1
    if threshold == 0:
        return math.inf
    return window_size(float(chdtri(dof, alpha)) / threshold, n_ref)


def js_min_events(threshold: float, *, dof: int, alpha: float, n_ref: float) -> float:
    """Smallest window for which the Jensen-Shannon distance (base 2) exceeds
    ``threshold`` under the null with probability at most ``alpha``.

    Examples
    --------
    >>> js_min_events(0.1, dof=9, alpha=0.01, n_ref=100_000)
    393
    """
    _check(threshold, alpha)
    if dof < 1:
        return 1
    if threshold == 0:
        return math.inf
    return window_size(float(chdtri(dof, alpha)) / (8.0 * math.log(2.0) * threshold ** 2),
                       n_ref)


def ks_min_events(threshold: float, *, alpha: float, n_ref: float) -> float:
    """Smallest window for which the KS statistic exceeds ``threshold`` under the null
    with probability at most ``alpha`` (asymptotic Kolmogorov distribution).

    Examples
    --------
    >>> ks_min_events(0.1, alpha=0.01, n_ref=100_000)
    266
    """
    _check(threshold, alpha)
    if threshold >= 1:
        return 1
    if threshold == 0:
        return math.inf
    return window_size((float(kolmogi(alpha)) / threshold) ** 2, n_ref)


def wasserstein_min_events(threshold: float, *, spread: float, alpha: float,
                           n_ref: float) -> float:
    """Smallest window for which Wasserstein-1 exceeds ``threshold`` under the null with
    probability at most ``alpha``; ``spread`` is ``integral sqrt(F (1 - F)) dx`` of the
    reference CDF (in the column's units).

    Examples
    --------
    A standard normal has a spread of about 0.9 (in its own units):

    >>> wasserstein_min_events(0.1, spread=0.9, alpha=0.01, n_ref=100_000)
    1205
    """
    _check(threshold, alpha)
    if not (math.isfinite(spread) and spread >= 0):
        raise ValueError("spread must be finite and non-negative")
    if spread == 0:
        return 1
    if threshold == 0:
        return math.inf
    quantile = spread * (math.sqrt(2.0 / math.pi) + math.sqrt(2.0 * math.log(1.0 / alpha)))
    return window_size((quantile / threshold) ** 2, n_ref)


def chi2_min_events(threshold: float, *, dof: int, alpha: float) -> float:
    """1 when a chi-square statistic above ``threshold`` has null probability at most
    ``alpha`` at any size, else infinity (the statistic's null does not shrink).

    Examples
    --------
    >>> chi2_min_events(30.0, dof=9, alpha=0.01), chi2_min_events(10.0, dof=9, alpha=0.01)
    (1, inf)
    """
    _check(threshold, alpha)
    if dof < 1:
        return 1
    return 1 if float(chdtrc(dof, threshold)) <= alpha else math.inf


def missing_min_events(threshold: float, *, share: float, alpha: float,
                       n_ref: float) -> float:
    """Smallest window for which the missing rate moves more than ``threshold`` away from
    the reference's ``share`` with null probability at most ``alpha``, at this size and
    every larger one.

    Exact binomial tails up to an effective size of 2,000, the normal approximation
    beyond (where it is accurate for the rates that matter).

    Examples
    --------
    >>> missing_min_events(0.05, share=0.0, alpha=0.01, n_ref=100_000)
    1
    >>> missing_min_events(0.05, share=0.02, alpha=0.01, n_ref=100_000)
    73
    """
    _check(threshold, alpha)
    if not 0.0 <= share <= 1.0:
        raise ValueError("share must be in [0, 1]")
    if share in (0.0, 1.0):
        return 1  # under the null every window has the same rate
    if threshold == 0:
        return math.inf
    sizes = np.arange(1, _EXACT_MISSING_UP_TO + 1, dtype=np.float64)
    upper = binom.sf(np.floor(sizes * (share + threshold)), sizes, share)
    lower = binom.cdf(np.ceil(sizes * (share - threshold)) - 1.0, sizes, share)
    too_likely = np.flatnonzero(upper + lower > alpha)
    if too_likely.size == 0:
        return window_size(1.0, n_ref)
    if too_likely[-1] + 1 < sizes.size:
        return window_size(float(sizes[too_likely[-1] + 1]), n_ref)
    z_squared = float(chdtri(1, alpha))  # the two-sided normal quantile, squared
    n_eff = z_squared * share * (1.0 - share) / threshold ** 2
    return window_size(max(n_eff, float(_EXACT_MISSING_UP_TO)), n_ref)


def _js_rows(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> NDArray[np.float64]:
    """Jensen-Shannon distance (base 2) along the last axis of count arrays."""
    p = ref / ref.sum(axis=-1, keepdims=True)
    q = cur / cur.sum(axis=-1, keepdims=True)
    m = (p + q) / 2.0
    divergence = (rel_entr(p, m).sum(axis=-1) + rel_entr(q, m).sum(axis=-1)) / math.log(2.0)
    result: NDArray[np.float64] = np.sqrt(np.maximum(divergence, 0.0) / 2.0)
    return result


def _three_moment_quantile(values: NDArray[np.float64], alpha: float) -> float | None:
    """Upper ``alpha`` quantile of ``a + c chi2(k)`` matched to the sample's mean,
    variance and skewness (Pearson's three-moment approximation; two moments when the
    sample is not right-skewed). None for a degenerate sample."""
    mean, variance = float(values.mean()), float(values.var())
    if not (mean > 0 and variance > 0):
        return None
    skew = float(np.mean((values - mean) ** 3)) / variance ** 1.5
    if skew <= 0:
        factor, k = variance / (2.0 * mean), 2.0 * mean * mean / variance
        return factor * float(chdtri(k, alpha))
    k = 8.0 / skew ** 2
    factor = math.sqrt(variance / (2.0 * k))
    return float(mean - factor * k + factor * float(chdtri(k, alpha)))


def bins_min_events(
    statistic: Literal["psi", "js"], threshold: float, *, ref_counts: ArrayLike,
    alpha: float, resamples: int = 2000, seed: int = 0, epsilon: float = DEFAULT_EPSILON,
) -> float:
    """The size PSI or JS needs on these bins, on the statistic's simulated null.

    Starts from :func:`psi_min_events` / :func:`js_min_events` and refines: at the size
    ``n`` found, ``resamples`` pairs of reference and window counts are drawn from the
    reference's shares (both multinomial, at the reference's and at ``n`` events), the
    scaled statistic (``n_eff PSI``, ``8 ln(2) n_eff d^2``) is matched to ``a + c chi2(k)``
    by its mean, variance and skewness, and the size is solved again with that
    distribution's upper
    ``alpha`` quantile, until it moves by less than 2% (at most 6 rounds; the largest
    size met in the last two is returned, the conservative side). Deterministic for a
    ``seed``.

    Examples
    --------
    Four equal bins barely move it; thirty Zipf-distributed categories add 7%:

    >>> js_min_events(0.1, dof=3, alpha=0.001, n_ref=20_000)
    298
    >>> bins_min_events("js", 0.1, ref_counts=[5000] * 4, alpha=0.001)
    302
    >>> zipf = (20_000 / np.arange(1, 31)).round()
    >>> js_min_events(0.1, dof=29, alpha=0.001, n_ref=zipf.sum())
    1066
    >>> bins_min_events("js", 0.1, ref_counts=zipf, alpha=0.001)
    1145
    """
    _check(threshold, alpha)
    ref = as_counts(ref_counts, "ref_counts")
    n_ref = float(ref.sum())
    if n_ref <= 0:
        raise ValueError("ref_counts must have a positive total")
    dof = int(np.count_nonzero(ref)) - 1
    if statistic == "psi":
        size, scale = psi_min_events(threshold, dof=dof, alpha=alpha, n_ref=n_ref), threshold
    elif statistic == "js":
        size = js_min_events(threshold, dof=dof, alpha=alpha, n_ref=n_ref)
        scale = 8.0 * math.log(2.0) * threshold ** 2
    else:
        raise ValueError("statistic must be 'psi' or 'js'")
    if dof < 1 or not math.isfinite(size):
        return size
    rng = np.random.default_rng(seed)
    shares = ref / n_ref
    references = rng.multinomial(int(round(n_ref)), shares, size=resamples).astype(np.float64)
    previous = size
    for _ in range(6):
        windows = rng.multinomial(int(size), shares, size=resamples).astype(np.float64)
        values = (psi_rows(references, windows, epsilon) if statistic == "psi"
                  else _js_rows(references, windows) ** 2)
        n_eff = 1.0 / (1.0 / size + 1.0 / n_ref)
        scaled = n_eff * values * (1.0 if statistic == "psi" else scale / threshold ** 2)
        quantile = _three_moment_quantile(scaled, alpha)
        if quantile is None:
            return size
        refined = window_size(quantile / scale, n_ref)
        if not math.isfinite(refined) or abs(refined - size) <= 0.02 * size:
            return max(size, refined)
        previous, size = size, refined
    return max(previous, size)
