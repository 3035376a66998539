"""Label-free performance estimates for probabilistic classifiers (binary, multiclass)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftd.stats.performance import as_aggregates, as_probabilities, safe_ratio

__all__ = ["N_EXPECTED_AGGREGATES", "ExpectedMetrics", "ExpectedMulticlass",
           "expected_accuracy_aggregates", "expected_classification", "expected_confusion_rows",
           "expected_multiclass"]

N_EXPECTED_AGGREGATES = 6  # length of the expected_accuracy_aggregates vector


@dataclass(frozen=True, slots=True)
class ExpectedMetrics:
    """Metrics a calibrated binary classifier expects; see :func:`expected_classification`."""

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float


def expected_accuracy_aggregates(p_pos: ArrayLike, threshold: float = 0.5, *,
                                 predicted: ArrayLike | None = None) -> NDArray[np.float64]:
    """Additive sums for estimating a binary classifier's performance without labels.

    If the scores are calibrated, ``P(y = 1 | score) = p``, an event predicted positive
    (``p >= threshold``) is a true positive with probability ``p`` and a false positive
    with probability ``1 - p``; one predicted negative is a false negative with
    probability ``p``. Summing these gives the expected confusion counts.

    When the model's scores are not calibrated, ``p_pos`` is the calibrated probability
    (:meth:`driftd.stats.calibration.Calibration.apply` of the score) and ``predicted``
    the model's own decision (``raw score >= threshold``), which calibration must not
    change: it is what the model said.

    Parameters
    ----------
    p_pos : array_like of float, shape (n,)
        Predicted probability of class 1, in [0, 1].
    threshold : float, default 0.5
        Decision threshold in [0, 1]; ``p >= threshold`` predicts class 1.
    predicted : array_like of bool, shape (n,), optional
        Which events the model predicted positive; when given, ``threshold`` is not used.

    Returns
    -------
    numpy.ndarray of float64, shape (6,)
        ``[n, sum of the predicted class's probability, expected TP, expected FP,
        expected FN, expected TN]``, i.e. ``[n, sum(where(p >= t, p, 1 - p)),
        sum(p; p >= t), sum(1 - p; p >= t), sum(p; p < t), sum(1 - p; p < t)]``.
        Sums of panes merge by addition.

    Raises
    ------
    ValueError
        If ``p_pos`` is not 1-D in [0, 1], ``threshold`` is outside [0, 1], or
        ``predicted`` is not a boolean array of the same length.

    Examples
    --------
    >>> expected_accuracy_aggregates([0.9, 0.6, 0.2, 0.5]).tolist()
    [4.0, 2.8, 2.0, 1.0, 0.2, 0.8]
    >>> said = [True, False, False, False]
    >>> expected_accuracy_aggregates([0.9, 0.6, 0.2, 0.5], predicted=said).round(12).tolist()
    [4.0, 2.6, 0.9, 0.1, 1.3, 1.7]
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be in [0, 1]")
    p = as_probabilities(p_pos, "p_pos")
    if predicted is None:
        positive = p >= threshold
    else:
        positive = np.asarray(predicted)
        if positive.dtype != np.bool_ or positive.shape != p.shape:
            raise ValueError("predicted must be a boolean array of the length of p_pos")
    tp, fp = p[positive].sum(), (1.0 - p[positive]).sum()
    fn, tn = p[~positive].sum(), (1.0 - p[~positive]).sum()
    return np.array([p.size, tp + tn, tp, fp, fn, tn], dtype=np.float64)


def expected_classification(aggregates: ArrayLike) -> ExpectedMetrics:
    """Expected accuracy, precision, recall and F1 of a calibrated binary classifier.

    From (merged) :func:`expected_accuracy_aggregates`: ``accuracy = sum of the
    predicted class's probability / n`` and precision, recall and F1 as in
    :func:`classification_metrics` on the expected confusion counts (ratios of
    expectations, which the window's realized metrics approach as it grows; 0.0 on a
    zero denominator). This is the confidence-based estimate (as NannyML's CBPE): it
    needs no labels, so it reports long before outcomes arrive.

    It is only as good as its assumption ``P(y = 1 | score) = score``:

    - *Miscalibration* (true or arising after a retrain) biases it directly: the
      estimate follows the scores, not the outcomes.
    - *Concept drift*, where ``P(y | x)`` changes while the inputs and hence the scores
      do not, is invisible: the estimate stays at the baseline while the real accuracy
      falls. Only labelled metrics (:func:`accuracy_decay`) can see it.
    - *Prior shift* (more or fewer positives, ``P(x | y)`` unchanged) is partly visible:
      the score distribution moves and the estimate follows, but the scores are no
      longer calibrated for the new prior, so the estimate is biased.

    Parameters
    ----------
    aggregates : array_like, shape (6,)
        Output of :func:`expected_accuracy_aggregates`, summed over panes.

    Returns
    -------
    ExpectedMetrics
        All metrics NaN when ``n == 0``.

    Raises
    ------
    ValueError
        If ``aggregates`` has the wrong shape, a negative or non-finite entry, or a
        fractional ``n``.

    Examples
    --------
    >>> m = expected_classification(expected_accuracy_aggregates([0.9, 0.6, 0.2, 0.5]))
    >>> m.n, m.accuracy, round(m.precision, 6), round(m.recall, 6), round(m.f1, 6)
    (4, 0.7, 0.666667, 0.909091, 0.769231)
    """
    a = as_aggregates(aggregates, "aggregates", (N_EXPECTED_AGGREGATES,))
    if a[0] != round(a[0]):
        raise ValueError("aggregates must hold a whole count n at [0]")
    n = int(a[0])
    if n == 0:
        return ExpectedMetrics(0, math.nan, math.nan, math.nan, math.nan)
    tp, fp, fn = a[2:3], a[3:4], a[4:5]
    precision, recall = safe_ratio(tp, tp + fp), safe_ratio(tp, tp + fn)
    f1 = safe_ratio(2 * tp, 2 * tp + fp + fn)
    return ExpectedMetrics(n, float(a[1] / n), float(precision[0]), float(recall[0]), float(f1[0]))


@dataclass(frozen=True, slots=True)
class ExpectedMulticlass:
    """Metrics a calibrated multiclass classifier expects; see :func:`expected_multiclass`."""

    n: float
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_f1: float


def expected_confusion_rows(probabilities: ArrayLike,
                            predicted: ArrayLike | None = None) -> NDArray[np.float64]:
    """Per-event terms of the expected confusion matrix of a multiclass classifier.

    If the class probabilities are calibrated, ``P(y = i | scores) = p_i``, an event
    predicted as class ``j`` (by default the highest ``p``, the first on ties) lands in
    cell ``(i, j)`` of the confusion matrix with probability ``p_i``. Its row holds
    ``p_i`` at ``i * K + j`` for every ``i`` and 0 elsewhere; summed over events, that
    is the expected confusion matrix (rows true class, columns predicted, flattened
    row-major). When the model's scores are not calibrated, ``probabilities`` are the
    calibrated ones and ``predicted`` the model's own decision (the argmax of its raw
    scores), which calibration must not change.

    Parameters
    ----------
    probabilities : array_like of float, shape (n, K)
        Class probabilities, ``K >= 2``: finite, non-negative, each row summing to 1
        (within 1e-9).
    predicted : array_like of int, shape (n,), optional
        The predicted class of each event, in ``[0, K)``.

    Returns
    -------
    numpy.ndarray of float64, shape (n, K * K)
        The terms; rows of panes merge by addition. The diagonal of an event's terms sums
        to its highest probability, so ``trace / n`` is the expected accuracy.

    Raises
    ------
    ValueError
        If ``probabilities`` is not 2-D with ``K >= 2``, a row is not a probability
        vector, or ``predicted`` is not ``n`` class indices.

    Examples
    --------
    >>> expected_confusion_rows([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]]).reshape(2, 3, 3).sum(0)
    array([[0.7, 0. , 0.3],
           [0.2, 0. , 0.3],
           [0.1, 0. , 0.4]])
    >>> expected_confusion_rows([[0.7, 0.2, 0.1]], predicted=[1]).reshape(3, 3)[:, 1]
    array([0.7, 0.2, 0.1])
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError("probabilities must have shape (n, K) with K >= 2")
    if not (np.isfinite(p).all() and (p >= 0).all()
            and np.allclose(p.sum(axis=1), 1.0, rtol=0.0, atol=1e-9)):
        raise ValueError("probabilities must be finite, non-negative, rows summing to 1")
    n, k = p.shape
    said = p.argmax(axis=1) if predicted is None else np.asarray(predicted)
    if said.shape != (n,) or said.dtype.kind not in "iu" or (n and (
            said.min() < 0 or said.max() >= k)):
        raise ValueError(f"predicted must hold one class index in [0, {k}) per row")
    rows = np.zeros((n, k, k))
    rows[np.arange(n), :, said] = p
    return rows.reshape(n, k * k)


def expected_multiclass(expected: ArrayLike) -> ExpectedMulticlass:
    """Expected accuracy, macro and weighted scores from an expected confusion matrix.

    The same definitions as the realized metrics (:func:`classification_metrics`, sklearn
    with ``zero_division=0``), applied to expected counts: with ``tp_k = E[k, k]``,
    column sum ``pred_k`` and row sum ``true_k``, ``precision_k = tp_k / pred_k``,
    ``recall_k = tp_k / true_k``, ``f1_k = 2 tp_k / (pred_k + true_k)`` (0.0 on a zero
    denominator); macro averages over the classes with expected mass (a non-zero row or
    column), weighted F1 weighs ``f1_k`` by ``true_k / n``, accuracy is ``trace / n``.
    Ratios of expectations, which the realized metrics approach as the window grows. The
    caveats of :func:`expected_classification` apply: miscalibration biases it, concept
    drift is invisible to it.

    Parameters
    ----------
    expected : array_like, shape (K, K)
        Summed :func:`expected_confusion_rows`, reshaped to ``(K, K)``, ``K >= 2``.

    Returns
    -------
    ExpectedMulticlass
        ``n`` is the matrix's total (the number of events); all metrics NaN when it is 0.

    Raises
    ------
    ValueError
        If ``expected`` is not square with ``K >= 2``, or holds a negative or non-finite
        value.

    Examples
    --------
    >>> rows = expected_confusion_rows([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])
    >>> m = expected_multiclass(rows.sum(axis=0).reshape(3, 3))
    >>> round(m.accuracy, 6), round(m.macro_f1, 6), round(m.weighted_f1, 6)
    (0.55, 0.411111, 0.483333)
    """
    e = np.asarray(expected, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] != e.shape[1] or e.shape[0] < 2:
        raise ValueError("expected must be a square (K, K) matrix with K >= 2")
    as_aggregates(e, "expected", e.shape)
    n = float(e.sum())
    if n == 0:
        return ExpectedMulticlass(0.0, math.nan, math.nan, math.nan, math.nan, math.nan)
    tp, pred, true = np.diag(e), e.sum(axis=0), e.sum(axis=1)
    precision, recall = safe_ratio(tp, pred), safe_ratio(tp, true)
    f1 = safe_ratio(2 * tp, pred + true)
    present = (pred + true) > 0
    return ExpectedMulticlass(
        n, float(tp.sum() / n), float(precision[present].mean()),
        float(recall[present].mean()), float(f1[present].mean()), float((f1 * true).sum() / n))
