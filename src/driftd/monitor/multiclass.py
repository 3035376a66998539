"""Multiclass performance sums in panes: the confusion matrix and its label-free
expectation, and the metrics read off them.

A multiclass model's run of the pane vector (see ``PerformanceSlots``) holds, after
predictions, labeled and delay sum, the K x K confusion counts (true class i, predicted
j, at ``i * K + j``), then the K x K expected confusion of the label-free estimate. A
prediction's class is the one with the highest score (the first on ties); it is what the
label join keeps, as a class index, until the outcome arrives. With ``predicted_label``
the model's own label is the prediction's class instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from driftd.config import PerformanceConfig
from driftd.events import ModelBatch
from driftd.stats.estimate import expected_confusion_rows, expected_multiclass
from driftd.stats.performance import classification_metrics

FloatArray = npt.NDArray[np.float64]
Calibrate = Callable[[FloatArray], FloatArray]


def score_matrix(config: PerformanceConfig, batch: ModelBatch) -> FloatArray:
    """The class scores of a batch, shape (n, K), columns in the order of ``classes``."""
    return np.column_stack([batch.numeric[name] for name in config.scores])


def probabilities(scores: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Scores divided by their row sum, and which rows are usable: every score finite
    and non-negative with a positive sum (the others are 0)."""
    with np.errstate(invalid="ignore"):
        usable = np.asarray(np.isfinite(scores).all(axis=1) & (scores >= 0).all(axis=1))
    safe = np.where(usable[:, None], scores, 0.0)
    total = safe.sum(axis=1)
    usable &= total > 0
    p = np.where(usable[:, None], safe / np.where(usable, total, 1.0)[:, None], 0.0)
    return p, usable


def predicted_classes(scores: FloatArray) -> FloatArray:
    """The index of each row's highest score (the first on ties); NaN when unusable."""
    p, usable = probabilities(scores)
    return np.where(usable, p.argmax(axis=1).astype(np.float64), math.nan)


def class_indices(config: PerformanceConfig, labels: list[str | None]) -> FloatArray:
    """Each label's index in ``classes``; NaN when missing or not a class."""
    index = {c: float(i) for i, c in enumerate(config.classes)}
    return np.array([index.get(v, math.nan) if v is not None else math.nan for v in labels],
                    dtype=np.float64)


class MulticlassSums:
    """The multiclass part of a model's performance run, from index ``start`` on."""

    def __init__(self, config: PerformanceConfig, start: int) -> None:
        self.classes = config.classes
        k = self.k = len(config.classes)
        self.confusion, self.expected = start, start + k * k
        self.end = self.expected + k * k

    def prediction_terms(self, rows: FloatArray, scores: FloatArray,
                         calibrate: Calibrate | None = None,
                         said: FloatArray | None = None) -> None:
        """Write each prediction's count and expected-confusion terms into ``rows``; the
        terms read the ``calibrate``d probabilities, the prediction stays the model's:
        the highest score, or ``said`` (the class index of its own label, NaN: none)."""
        p, usable = probabilities(scores)
        if said is not None:
            usable &= np.isfinite(said)
        rows[:, 0] = usable
        if not usable.any():
            return
        p = p[usable]
        decided = p.argmax(axis=1) if said is None else said[usable].astype(np.int64)
        if calibrate is not None:
            p = calibrate(p)
        rows[usable, self.expected:self.end] = expected_confusion_rows(p, decided)

    def outcome_terms(self, rows: FloatArray, usable: npt.NDArray[np.bool_],
                      predicted: FloatArray, actual: FloatArray) -> None:
        """Write each usable pair's confusion cell into ``rows``."""
        index = np.flatnonzero(usable)
        cells = actual[index].astype(np.int64) * self.k + predicted[index].astype(np.int64)
        rows[index, self.confusion + cells] = 1.0

    def matrix(self, sums: FloatArray) -> FloatArray:
        """The window's confusion counts, shape (K, K), rows true class."""
        counts: FloatArray = np.rint(sums[self.confusion:self.expected]).reshape(self.k, self.k)
        return counts

    def correct(self, sums: FloatArray) -> float:
        return float(np.trace(self.matrix(sums)))

    def metrics(self, sums: FloatArray) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """Headline metrics (macro over the classes present, as sklearn's ``average=
        "macro"``; weighted by true counts), and precision, recall and F1 per class."""
        counts = self.matrix(sums)
        result = classification_metrics(counts)
        support = counts.sum(axis=1)
        f1 = np.array([c.f1 for c in result.per_class])
        metrics = {"accuracy": result.accuracy, "macro_precision": result.precision,
                   "macro_recall": result.recall, "macro_f1": result.f1,
                   "weighted_f1": float((f1 * support).sum() / support.sum())}
        per_class = {name: {c: float(getattr(s, name))
                            for c, s in zip(self.classes, result.per_class, strict=True)}
                     for name in ("precision", "recall", "f1")}
        return metrics, per_class

    def confusion_table(self, sums: FloatArray) -> dict[str, dict[str, int]]:
        """The confusion counts by true class, then predicted class."""
        counts = self.matrix(sums)
        return {t: {p: int(counts[i, j]) for j, p in enumerate(self.classes)}
                for i, t in enumerate(self.classes)}

    def estimated(self, sums: FloatArray) -> dict[str, float]:
        expected = expected_multiclass(sums[self.expected:self.end].reshape(self.k, self.k))
        return {"accuracy": expected.accuracy, "macro_precision": expected.macro_precision,
                "macro_recall": expected.macro_recall, "macro_f1": expected.macro_f1,
                "weighted_f1": expected.weighted_f1}

