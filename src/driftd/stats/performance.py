"""Model performance from mergeable aggregates.

A window is the sum of its panes, so every metric here is computed from a fixed-size
vector of sums that panes add up: a confusion matrix, per-class score histograms, error
sums, expected-confusion sums. Each ``*_counts``/``*_sums``/``*as_aggregates`` function
turns raw events into such a vector; the matching ``*_metrics`` function reads metrics
off the (merged) vector. Decay against a baseline is in :mod:`driftd.stats.decay`, the
label-free estimate in :mod:`driftd.stats.estimate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "N_ERROR_SUMS",
    "ClassScores",
    "ClassificationMetrics",
    "RegressionMetrics",
    "classification_metrics",
    "confusion_counts",
    "error_sums",
    "log_loss_sum",
    "regression_metrics",
    "roc_auc_from_histograms",
    "score_histogram",
]

N_ERROR_SUMS = 6  # length of the error_sums vector a regression pane holds


# --- validation -------------------------------------------------------------------------


def _labels(values: ArrayLike, name: str, n_classes: int) -> NDArray[np.int64]:
    """``values`` as int64 class indices in ``[0, n_classes)``, or ValueError naming it."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    # Labels decoded from JSON may arrive as 1.0: accept floats that are whole numbers.
    whole = arr.dtype.kind == "f" and bool((np.isfinite(arr) & (arr == np.round(arr))).all())
    if arr.size and not (whole or arr.dtype.kind in "biu"):
        raise ValueError(f"{name} must hold integer class labels")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} must hold class indices in [0, {n_classes})")
    return arr.astype(np.int64)


def as_probabilities(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not (np.isfinite(arr).all() and (arr >= 0).all() and (arr <= 1).all()):
        raise ValueError(f"{name} must be finite and in [0, 1]")
    return arr


def _same_length(a: NDArray[np.generic], b: NDArray[np.generic], names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same length")


def as_aggregates(
    values: ArrayLike, name: str, shape: tuple[int, ...], *, allow_inf: bool = False
) -> NDArray[np.float64]:
    """Non-negative sums of a fixed shape (finite unless ``allow_inf``), else ValueError."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    valid = ~np.isnan(arr) if allow_inf else np.isfinite(arr)
    if not (valid.all() and (arr >= 0).all()):
        raise ValueError(f"{name} must be {'' if allow_inf else 'finite and '}non-negative")
    return arr


def safe_ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """``num / den`` elementwise, 0.0 where ``den == 0`` (sklearn's ``zero_division=0``)."""
    safe = np.where(den > 0, den, 1.0)
    out: NDArray[np.float64] = np.where(den > 0, num / safe, 0.0)
    return out


# --- classification ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassScores:
    """Precision, recall and F1 of one class, and its support (true count)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class ClassificationMetrics:
    """Metrics of a confusion matrix; see :func:`classification_metrics`."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    per_class: tuple[ClassScores, ...]


def confusion_counts(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> NDArray[np.int64]:
    """Confusion matrix of class labels: rows true class, columns predicted class.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (n,)
        Class indices in ``[0, n_classes)`` (integral floats such as ``1.0`` are accepted).
    n_classes : int
        Number of classes ``K``, ``>= 2``; binary is ``K = 2`` with positive class 1.

    Returns
    -------
    numpy.ndarray of int64, shape (K, K)
        ``C[i, j]`` = number of events of true class ``i`` predicted as ``j``. Matrices of
        panes merge by addition.

    Raises
    ------
    ValueError
        On arrays of different lengths or not 1-D, non-integer labels, a label outside
        ``[0, n_classes)``, or ``n_classes < 2``.

    Examples
    --------
    >>> confusion_counts([0, 1, 1, 1, 0], [0, 1, 0, 1, 1], 2).tolist()
    [[1, 1], [1, 2]]
    """
    if n_classes < 2:
        raise ValueError("n_classes must be at least 2")
    true = _labels(y_true, "y_true", n_classes)
    pred = _labels(y_pred, "y_pred", n_classes)
    _same_length(true, pred, "y_true and y_pred")
    flat = np.bincount(true * n_classes + pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def classification_metrics(confusion: ArrayLike) -> ClassificationMetrics:
    """Accuracy, precision, recall and F1 of a (merged) confusion matrix.

    With ``tp_k = C[k, k]``, column sum ``pred_k`` and row sum ``true_k``:
    ``precision_k = tp_k / pred_k``, ``recall_k = tp_k / true_k`` and
    ``f1_k = 2 tp_k / (pred_k + true_k)``, each **0.0 when its denominator is 0**
    (sklearn's ``zero_division=0``). Accuracy is ``trace(C) / n``.

    For ``K = 2`` the headline precision, recall and F1 are those of the positive class 1
    (sklearn's ``average="binary"``). For ``K > 2`` they are macro averages over the
    classes present in the window, i.e. with a non-zero row or column: what sklearn's
    ``average="macro"`` gives with ``labels=None``. Absent classes would otherwise count
    as 0 and a window that merely lacks a rare class would look like decay.

    Parameters
    ----------
    confusion : array_like, shape (K, K)
        Non-negative whole counts, rows true class, columns predicted
        (:func:`confusion_counts`, summed over panes).

    Returns
    -------
    ClassificationMetrics
        ``per_class`` holds every class ``0..K-1`` (absent ones with scores 0.0, as
        sklearn with ``labels=range(K), average=None``). An empty matrix (``n == 0``)
        has no metrics: accuracy, precision, recall and F1 are NaN.

    Raises
    ------
    ValueError
        If ``confusion`` is not square with ``K >= 2`` or holds a negative, non-finite
        or fractional count.

    Examples
    --------
    >>> m = classification_metrics([[50, 10], [5, 35]])
    >>> m.n, m.accuracy, round(m.precision, 6), m.recall, round(m.f1, 6)
    (100, 0.85, 0.777778, 0.875, 0.823529)
    >>> [(round(c.precision, 4), round(c.f1, 4), c.support) for c in m.per_class]
    [(0.9091, 0.8696, 60), (0.7778, 0.8235, 40)]

    Three classes, class 2 absent: the macro F1 averages classes 0 and 1 only.

    >>> round(classification_metrics([[3, 1, 0], [0, 2, 0], [0, 0, 0]]).f1, 6)
    0.828571
    """
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2:
        raise ValueError("confusion must be a square (K, K) matrix with K >= 2")
    if not (np.isfinite(c).all() and (c >= 0).all() and (c == np.round(c)).all()):
        raise ValueError("confusion must hold non-negative whole counts")
    tp, pred, true = np.diag(c), c.sum(axis=0), c.sum(axis=1)
    precision, recall = safe_ratio(tp, pred), safe_ratio(tp, true)
    f1 = safe_ratio(2 * tp, pred + true)
    per_class = tuple(
        ClassScores(float(p), float(r), float(f), int(s))
        for p, r, f, s in zip(precision, recall, f1, true, strict=True)
    )
    n = int(c.sum())
    if n == 0:
        nan = math.nan
        return ClassificationMetrics(0, nan, nan, nan, nan, per_class)
    # Binary: the positive class. Multiclass: macro over classes present in the window.
    keep = np.array([False, True]) if c.shape[0] == 2 else (pred + true) > 0
    return ClassificationMetrics(
        n,
        float(tp.sum() / n),
        float(precision[keep].mean()),
        float(recall[keep].mean()),
        float(f1[keep].mean()),
        per_class,
    )


def score_histogram(scores: ArrayLike, y_true: ArrayLike, bins: int) -> NDArray[np.int64]:
    """Counts of binary-classifier scores in equal-width bins on [0, 1], per true class.

    Bin ``i`` is ``[i / bins, (i + 1) / bins)`` and the last bin also holds 1.0, exactly
    as ``numpy.histogram(scores, bins, range=(0, 1))``. Scores outside [0, 1] or NaN are
    rejected rather than clipped: they mean the model's output is not a probability,
    which should be counted as an invalid event upstream, not folded into an end bin.

    Parameters
    ----------
    scores : array_like of float, shape (n,)
        Scores (probability of class 1) in [0, 1].
    y_true : array_like of int, shape (n,)
        True labels, 0 or 1.
    bins : int
        Number of bins, ``>= 1``.

    Returns
    -------
    numpy.ndarray of int64, shape (2, bins)
        Row 0 counts negatives, row 1 positives; histograms merge by addition.

    Raises
    ------
    ValueError
        On different lengths, a score outside [0, 1] or NaN, a label other than 0 or 1,
        or ``bins < 1``.

    Examples
    --------
    >>> score_histogram([0.1, 0.4, 0.35, 0.8, 1.0], [0, 0, 1, 1, 1], 4).tolist()
    [[1, 1, 0, 0], [0, 1, 0, 2]]
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    s = as_probabilities(scores, "scores")
    y = _labels(y_true, "y_true", 2)
    _same_length(s, y, "scores and y_true")
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.minimum(np.searchsorted(edges, s, side="right") - 1, bins - 1)
    flat = np.bincount(y * bins + idx, minlength=2 * bins)
    return flat.reshape(2, bins).astype(np.int64)


def roc_auc_from_histograms(hist: ArrayLike) -> float:
    """ROC AUC of binned scores: Mann-Whitney with pairs in one bin counted as ties.

    ``AUC = sum_b pos_b (neg_below_b + neg_b / 2) / (P N)``: the share of
    (positive, negative) pairs where the positive scores higher, ties counting 1/2. When
    every distinct score has a bin of its own this is exactly the AUC of the raw scores
    (``sklearn.metrics.roc_auc_score``); otherwise pairs sharing a bin count 1/2 whatever
    their order, so the error is at most ``sum_b pos_b neg_b / (2 P N)``.

    Parameters
    ----------
    hist : array_like, shape (2, B)
        Non-negative counts per bin, row 0 negatives, row 1 positives
        (:func:`score_histogram`, summed over panes).

    Returns
    -------
    float
        AUC in [0, 1]; NaN when either class is empty (the AUC is undefined).

    Raises
    ------
    ValueError
        If ``hist`` does not have shape (2, B) or holds negative or non-finite counts.

    Examples
    --------
    Negatives 0.1 and 0.4, positives 0.35, 0.8 and 1.0 on 4 bins: 0.35 and 0.4 share a
    bin, so that pair counts 1/2 where the raw scores give 0 (raw AUC 5/6).

    >>> roc_auc_from_histograms([[1, 1, 0, 0], [0, 1, 0, 2]])
    0.9166666666666666
    >>> roc_auc_from_histograms([[3, 1], [0, 0]])
    nan
    """
    h = np.asarray(hist, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] != 2 or h.shape[1] < 1:
        raise ValueError("hist must have shape (2, B) with B >= 1")
    if not (np.isfinite(h).all() and (h >= 0).all()):
        raise ValueError("hist must be finite and non-negative")
    neg, pos = h[0], h[1]
    n_neg, n_pos = neg.sum(), pos.sum()
    if n_neg == 0 or n_pos == 0:
        return math.nan
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (n_neg * n_pos))


def log_loss_sum(y_true: ArrayLike, p_pos: ArrayLike, eps: float = 1e-15) -> float:
    """Summed binary cross-entropy; a window's log-loss is ``sum / n``.

    ``-sum(y ln p + (1 - y) ln(1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]``, so a
    confidently wrong 0 or 1 costs ``-ln(eps)`` (34.5 nats) instead of infinity. That is
    the clipping of sklearn's ``log_loss`` with its long-time default ``eps=1e-15``;
    recent sklearn releases clip at the float64 machine epsilon instead, which changes
    only the cost of such 0/1 probabilities.

    Parameters
    ----------
    y_true : array_like of int, shape (n,)
        True labels, 0 or 1.
    p_pos : array_like of float, shape (n,)
        Predicted probability of class 1, in [0, 1].
    eps : float, default 1e-15
        Clipping bound, in (0, 0.5).

    Returns
    -------
    float
        The sum in nats, ``>= 0``; 0.0 for no events. Sums of panes merge by addition.

    Raises
    ------
    ValueError
        On different lengths, labels other than 0/1, probabilities outside [0, 1], or an
        ``eps`` outside (0, 0.5).

    Examples
    --------
    >>> round(log_loss_sum([1, 0], [0.8, 0.3]), 6)
    0.579818
    >>> round(log_loss_sum([1], [0.0]), 3)
    34.539
    """
    if not 0.0 < eps < 0.5:
        raise ValueError("eps must be in (0, 0.5)")
    y = _labels(y_true, "y_true", 2)
    p = as_probabilities(p_pos, "p_pos")
    _same_length(y, p, "y_true and p_pos")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.sum(np.where(y == 1, np.log(p), np.log1p(-p))))


# --- regression -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegressionMetrics:
    """Error metrics of a regression window; see :func:`regression_metrics`."""

    n: int
    mae: float
    mse: float
    rmse: float
    mape: float


def error_sums(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.float64]:
    """Additive error sums of a regression batch, with ``e = y_pred - y_true``.

    Parameters
    ----------
    y_true, y_pred : array_like of float, shape (n,)
        Finite true and predicted values.

    Returns
    -------
    numpy.ndarray of float64, shape (6,)
        ``[n, sum |e|, sum e^2, sum |e|/|y| over y != 0, count of y != 0, sum e^4]``.
        The last entry is what the interval of the MSE (and so the RMSE) needs: the
        variance of the per-event losses ``e^2`` (see :func:`rmse_decay`). Sums of panes
        merge by addition. A sum overflows to ``+inf`` only for absurd events (``|e|``
        above about 1e77, or ``|y|`` so close to 0 that ``|e| / |y|`` exceeds 1.8e308);
        the metrics read from it are then ``+inf`` rather than an error.

    Raises
    ------
    ValueError
        On arrays of different lengths, not 1-D, or with a non-finite value.

    Examples
    --------
    >>> error_sums([1.0, 2.0, 0.0, 4.0], [1.5, 2.0, 1.0, 2.0]).tolist()
    [4.0, 3.5, 5.25, 1.0, 3.0, 17.0625]
    """
    y = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    for arr, name in ((y, "y_true"), (pred, "y_pred")):
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise ValueError(f"{name} must be a one-dimensional array of finite values")
    _same_length(y, pred, "y_true and y_pred")
    nonzero = y != 0
    with np.errstate(over="ignore"):  # documented: overflow gives +inf, not a failure
        abs_err = np.abs(pred - y)
        sq_err = abs_err * abs_err
        relative = np.sum(abs_err[nonzero] / np.abs(y[nonzero]))
        fourth = np.sum(sq_err * sq_err)
        sums = [y.size, abs_err.sum(), sq_err.sum(), relative, nonzero.sum(), fourth]
    return np.array(sums, dtype=np.float64)


def as_error_sums(sums: ArrayLike) -> NDArray[np.float64]:
    s = as_aggregates(sums, "sums", (N_ERROR_SUMS,), allow_inf=True)
    n, nonzero = s[0], s[4]
    if not (math.isfinite(n) and n == round(n) and nonzero == round(nonzero) and nonzero <= n):
        raise ValueError("sums must hold whole counts n >= count of y != 0 at [0] and [4]")
    return s


def regression_metrics(sums: ArrayLike) -> RegressionMetrics:
    """MAE, MSE, RMSE and MAPE from (merged) :func:`error_sums`.

    ``mae = sum|e| / n``, ``mse = sum e^2 / n``, ``rmse = sqrt(mse)`` as sklearn.
    MAPE is a fraction (0.1 is 10%), averaged **over the events with y != 0 only**:
    ``sum(|e| / |y|) / #(y != 0)``, NaN when there is none. sklearn's
    ``mean_absolute_percentage_error`` instead divides every error by
    ``max(|y|, machine epsilon)``, so one ``y == 0`` with an error of 0.01 adds about
    ``4.5e13 / n`` to its MAPE; driftd skips those events (their number is
    ``n - sums[4]``) so that MAPE stays readable on data with exact zeros.

    Parameters
    ----------
    sums : array_like, shape (6,)
        Output of :func:`error_sums`, summed over panes.

    Returns
    -------
    RegressionMetrics
        All metrics NaN when ``n == 0``.

    Raises
    ------
    ValueError
        If ``sums`` has the wrong shape, a negative or NaN entry, or counts that are not
        whole or inconsistent.

    Examples
    --------
    >>> m = regression_metrics([4.0, 3.5, 5.25, 1.0, 3.0, 17.0625])
    >>> m.n, m.mae, m.mse, round(m.rmse, 6), round(m.mape, 6)
    (4, 0.875, 1.3125, 1.145644, 0.333333)
    """
    s = as_error_sums(sums)
    n, nonzero = int(s[0]), s[4]
    mape = s[3] / nonzero if nonzero > 0 else math.nan
    if n == 0:
        return RegressionMetrics(0, math.nan, math.nan, math.nan, mape)
    mse = s[2] / n
    return RegressionMetrics(n, float(s[1] / n), float(mse), math.sqrt(mse), float(mape))
