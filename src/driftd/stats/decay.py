"""Performance decay against a baseline, with confidence intervals.

Decay is oriented so that positive is always worse: baseline minus current for
accuracy-like metrics, current minus baseline for errors. A decision is significant only
when the whole interval lies beyond the acceptable decay (``tolerance``), so a small
window cannot page anyone by chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from driftd.stats.performance import as_error_sums

__all__ = ["DecayResult", "accuracy_decay", "mean_decay", "rmse_decay", "wilson_interval"]


def _z(confidence: float) -> float:
    """Two-sided standard normal quantile of ``confidence``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    return float(ndtri(0.5 + confidence / 2.0))


def _check_tolerance(tolerance: float) -> None:
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError("tolerance must be finite and non-negative")


@dataclass(frozen=True, slots=True)
class DecayResult:
    """How much worse a window is than the baseline, positive meaning worse.

    ``interval`` is the confidence interval of ``decay``; ``significant`` is true when
    its lower bound exceeds the tolerated decay, i.e. the window is worse than
    ``baseline`` by more than ``tolerance`` beyond reasonable doubt.
    """

    decay: float
    interval: tuple[float, float]
    significant: bool


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    With ``p = successes / n`` and ``z`` the two-sided normal quantile, the bounds are
    ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``: the proportions the
    score test does not reject. Unlike the Wald interval ``p -+ z sqrt(p(1-p)/n)`` it
    stays inside [0, 1], is not empty at ``p = 0`` or 1, and covers close to
    ``confidence`` even for small ``n``.

    Parameters
    ----------
    successes : float
        Number of successes, in ``[0, n]``.
    n : float
        Number of trials, ``>= 0``.
    confidence : float, default 0.95
        Confidence level, in (0, 1).

    Returns
    -------
    tuple of float
        ``(low, high)`` within [0, 1]; ``(0.0, 1.0)`` when ``n == 0``.

    Raises
    ------
    ValueError
        If ``n`` is negative or non-finite, ``successes`` is outside ``[0, n]``, or
        ``confidence`` is outside (0, 1).

    Examples
    --------
    >>> tuple(round(b, 4) for b in wilson_interval(14, 20))
    (0.481, 0.8545)
    >>> tuple(round(b, 4) for b in wilson_interval(0, 20))
    (0.0, 0.1611)
    >>> wilson_interval(0, 0)
    (0.0, 1.0)
    """
    z = _z(confidence)
    if not (math.isfinite(n) and n >= 0):
        raise ValueError("n must be finite and non-negative")
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    if n == 0:
        return (0.0, 1.0)
    p, z2 = successes / n, z * z
    scale = 1.0 + z2 / n
    center = (p + z2 / (2 * n)) / scale
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / scale
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return (low, high)


def accuracy_decay(
    baseline: float,
    correct: float,
    n: float,
    *,
    confidence: float = 0.95,
    tolerance: float = 0.0,
) -> DecayResult:
    """Decay of a proportion metric (accuracy) with a Wilson interval.

    ``decay = baseline - correct / n`` (positive: the window is worse) and its interval
    ``(baseline - high, baseline - low)`` from :func:`wilson_interval`. The baseline is
    taken as exact: it comes from a labelled reference much larger than a window; with
    a small reference the interval is too narrow by the reference's own noise.

    Parameters
    ----------
    baseline : float
        Reference accuracy, in [0, 1].
    correct, n : float
        Correct predictions and events in the window (``confusion`` trace and total).
    confidence : float, default 0.95
        Confidence level of the interval, in (0, 1).
    tolerance : float, default 0.0
        Acceptable decay, ``>= 0``: ``significant`` when the interval's lower bound
        exceeds it.

    Returns
    -------
    DecayResult
        For ``n == 0`` the decay is NaN, the interval ``(baseline - 1, baseline)`` and
        ``significant`` False.

    Raises
    ------
    ValueError
        On a baseline outside [0, 1], invalid counts, confidence or tolerance.

    Examples
    --------
    Accuracy 0.7 against a baseline of 0.9, tolerating 0.05: 20 labelled events cannot
    tell, 5000 can.

    >>> accuracy_decay(0.9, 14, 20, tolerance=0.05).significant
    False
    >>> result = accuracy_decay(0.9, 3500, 5000, tolerance=0.05)
    >>> round(result.decay, 6), [round(b, 4) for b in result.interval], result.significant
    (0.2, [0.1875, 0.2129], True)
    """
    if not 0.0 <= baseline <= 1.0:
        raise ValueError("baseline must be in [0, 1]")
    _check_tolerance(tolerance)
    if not (math.isfinite(n) and n >= 0):
        raise ValueError("n must be finite and non-negative")
    if not 0 <= correct <= n:
        raise ValueError("correct must be between 0 and n")
    low, high = wilson_interval(correct, n, confidence)
    decay = baseline - correct / n if n > 0 else math.nan
    lower = baseline - high
    return DecayResult(decay, (lower, baseline - low), n > 0 and lower > tolerance)


def _mean_interval(
    sum_: float, sum_sq: float, n: float, confidence: float
) -> tuple[float, float, float]:
    """Mean of per-event losses and its normal interval; infinite below two events."""
    z = _z(confidence)
    if not (math.isfinite(n) and n >= 0):
        raise ValueError("n must be finite and non-negative")
    if not (math.isfinite(sum_) and math.isfinite(sum_sq) and sum_sq >= 0):
        raise ValueError("sum_ and sum_sq must be finite, sum_sq non-negative")
    if n == 0:
        return (math.nan, -math.inf, math.inf)
    mean = sum_ / n
    if n < 2:
        return (mean, -math.inf, math.inf)
    variance = max(0.0, (sum_sq - sum_ * mean) / (n - 1))  # rounding may go below 0
    half = z * math.sqrt(variance / n)
    return (mean, mean - half, mean + half)


def mean_decay(
    baseline: float,
    sum_: float,
    sum_sq: float,
    n: float,
    *,
    confidence: float = 0.95,
    tolerance: float = 0.0,
    higher_is_worse: bool = True,
) -> DecayResult:
    """Decay of a mean of per-event losses (MAE, MSE, log-loss...) with a normal interval.

    The window mean is ``m = sum_ / n`` with standard error ``s / sqrt(n)``, ``s^2`` the
    sample variance ``(sum_sq - sum_^2 / n) / (n - 1)`` of the per-event losses, and the
    interval ``m -+ z s / sqrt(n)`` (central limit theorem: fine for hundreds of events,
    optimistic for a few dozen of heavy-tailed losses). Decay is signed so that positive
    is always worse: ``m - baseline`` when ``higher_is_worse`` (errors), else
    ``baseline - m`` (scores). For MAE pass ``sum |e|`` and ``sum e^2``; for MSE
    ``sum e^2`` and ``sum e^4``. RMSE is not a mean: :func:`rmse_decay` takes the square
    root of the MSE interval's bounds. The variance from two sums cancels when the
    losses are nearly equal: the half-width is then off by up to about
    ``mean * sqrt(2.2e-16 / n)``, far below any useful tolerance.

    Parameters
    ----------
    baseline : float
        Reference value of the mean, finite.
    sum_, sum_sq : float
        Sum of the per-event losses and of their squares over the window.
    n : float
        Number of events.
    confidence : float, default 0.95
        Confidence level, in (0, 1).
    tolerance : float, default 0.0
        Acceptable decay in the metric's units, ``>= 0``.
    higher_is_worse : bool, default True
        Direction of the metric.

    Returns
    -------
    DecayResult
        With ``n < 2`` there is no variance estimate: the interval is ``(-inf, inf)``
        and ``significant`` False (the decay is NaN when ``n == 0``).

    Raises
    ------
    ValueError
        On non-finite arguments, a negative ``n`` or ``sum_sq``, or invalid confidence
        or tolerance.

    Examples
    --------
    Absolute errors of mean 1.2 and standard deviation 1 over 400 events, against a
    reference MAE of 1.0:

    >>> result = mean_decay(1.0, 480.0, 400 * 1.2**2 + 399, 400)
    >>> round(result.decay, 6), [round(b, 4) for b in result.interval], result.significant
    (0.2, [0.102, 0.298], True)
    >>> mean_decay(1.0, 2.0, 4.0, 1).interval
    (-inf, inf)
    """
    if not math.isfinite(baseline):
        raise ValueError("baseline must be finite")
    _check_tolerance(tolerance)
    mean, low, high = _mean_interval(sum_, sum_sq, n, confidence)
    sign = 1.0 if higher_is_worse else -1.0
    decay = sign * (mean - baseline)
    bounds = sorted((sign * (low - baseline), sign * (high - baseline)))
    return DecayResult(decay, (bounds[0], bounds[1]), bounds[0] > tolerance)


def rmse_decay(
    baseline: float, sums: ArrayLike, *, confidence: float = 0.95, tolerance: float = 0.0
) -> DecayResult:
    """Decay of the RMSE, ``rmse - baseline``, from (merged) :func:`error_sums`.

    The MSE is the mean of the per-event losses ``e^2``, so it gets the normal interval
    of :func:`mean_decay` (from ``sum e^2`` and ``sum e^4``); RMSE is increasing in MSE,
    so the RMSE interval is the square root of the MSE interval's bounds (the lower one
    floored at 0), minus the baseline.

    Parameters
    ----------
    baseline : float
        Reference RMSE, ``>= 0``.
    sums : array_like, shape (6,)
        Output of :func:`error_sums`, summed over panes.
    confidence : float, default 0.95
        Confidence level, in (0, 1).
    tolerance : float, default 0.0
        Acceptable RMSE increase in the target's units, ``>= 0``.

    Returns
    -------
    DecayResult
        As :func:`mean_decay`: an infinite interval and not significant when ``n < 2``.

    Raises
    ------
    ValueError
        On a negative or non-finite baseline, invalid sums, confidence or tolerance.

    Examples
    --------
    >>> from driftd.stats.performance import error_sums
    >>> sums = error_sums([0.0] * 4, [1.0, -1.0, 2.0, -2.0])
    >>> result = rmse_decay(1.0, sums)
    >>> round(result.decay, 6), [round(b, 4) for b in result.interval], result.significant
    (0.581139, [-0.1041, 1.0488], False)
    """
    if not (math.isfinite(baseline) and baseline >= 0):
        raise ValueError("baseline must be finite and non-negative")
    _check_tolerance(tolerance)
    s = as_error_sums(sums)
    if not np.isfinite(s[[2, 5]]).all():  # an absurd error overflowed: no usable interval
        return DecayResult(math.sqrt(s[2] / s[0]) - baseline, (-math.inf, math.inf), False)
    mse, low, high = _mean_interval(float(s[2]), float(s[5]), float(s[0]), confidence)
    decay = math.sqrt(mse) - baseline if s[0] > 0 else math.nan
    lower = math.sqrt(max(low, 0.0)) - baseline if math.isfinite(low) else -math.inf
    return DecayResult(decay, (lower, math.sqrt(high) - baseline), lower > tolerance)
