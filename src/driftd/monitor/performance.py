"""Performance sums in panes: laid out, filled per event, and read into metrics.

A model with ``performance`` configured owns a run of the pane's float vector (after
the numeric columns' tail sums). Each prediction adds its count and its label-free
expected-confusion terms; each outcome joined to its prediction adds the realized terms
(confusion cell, log-loss, score histogram, or regression error sums) to the pane of
the prediction's event time. Sums add up across panes, so a window's performance is
read off its merged vector like every other statistic. Multiclass sums are in
``monitor.multiclass``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from driftd.config import PerformanceConfig
from driftd.events import ModelBatch
from driftd.monitor.failures import Attempts
from driftd.monitor.multiclass import (
    MulticlassSums,
    class_indices,
    predicted_classes,
    score_matrix,
)
from driftd.stats.calibration import Calibration
from driftd.stats.decay import DecayResult, accuracy_decay, mean_decay, rmse_decay
from driftd.stats.estimate import N_EXPECTED_AGGREGATES, expected_classification
from driftd.stats.performance import (
    N_ERROR_SUMS,
    classification_metrics,
    regression_metrics,
    roc_auc_from_histograms,
)

FloatArray = npt.NDArray[np.float64]

# Metrics for which higher is better (decay = baseline - current).
_HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "auc", "macro_precision",
                     "macro_recall", "macro_f1", "weighted_f1"}
# The ``part`` of evaluation errors in performance (a label of the errors counter).
PART = "performance"

T = TypeVar("T")


class _Run(Protocol):
    def __call__(self, part: str, compute: Callable[[], T], fallback: T) -> T: ...


def _strict(part: str, compute: Callable[[], T], fallback: T) -> T:
    """``Attempts.run`` without the safety net: errors propagate."""
    return compute()


@dataclass(frozen=True, slots=True)
class PerformanceResult:
    """A window's realized and estimated performance, and decay against the baseline.

    Multiclass also has ``per_class`` (metric -> class -> value: precision, recall and
    F1 of every configured class) and ``confusion`` (true class -> predicted class ->
    joined outcomes)."""

    predictions: int
    labeled: int
    metrics: Mapping[str, float]
    estimated: Mapping[str, float]
    baseline: Mapping[str, float]
    decay: Mapping[str, DecayResult]
    per_class: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    confusion: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.labeled / self.predictions if self.predictions else math.nan


def prediction_values(config: PerformanceConfig, batch: ModelBatch) -> FloatArray:
    """What the label join keeps of each prediction: its score (binary), its value
    (regression), the index of its predicted class (multiclass; NaN when unusable).

    With ``predicted_label``, multiclass keeps the index of the model's label; binary
    keeps the score and the model's decision in one float, losslessly (the join stores
    one): the score when predicted negative, minus the score when predicted positive
    (-inf for a score of 0, as SQLite drops the sign of -0.0), NaN without a label."""
    if config.task == "multiclass":
        if config.predicted_label is not None:
            return class_indices(config, batch.categorical[config.predicted_label])
        return predicted_classes(score_matrix(config, batch))
    scores = batch.numeric[config.prediction or ""]
    said = predicted_positive(config, batch)
    if said is None:
        return scores
    with np.errstate(invalid="ignore"):
        negated = np.where(scores > 0, -scores, -np.inf)
    return np.where(np.isnan(said), math.nan, np.where(said > 0.5, negated, scores))


def predicted_positive(config: PerformanceConfig, batch: ModelBatch) -> FloatArray | None:
    """Binary with ``predicted_label``: 1.0 where the model's label is the positive one,
    0.0 where it is another, NaN where it is missing; None without ``predicted_label``."""
    if config.task != "binary" or config.predicted_label is None:
        return None
    return np.array([math.nan if v is None else float(v == config.positive_label)
                     for v in batch.categorical[config.predicted_label]], dtype=np.float64)


def _decode_said(value: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The score and the decision (1.0, 0.0, NaN) of ``prediction_values``' floats."""
    said = np.where(np.isnan(value), math.nan, (value < 0).astype(np.float64))
    score = np.where(np.isneginf(value), 0.0, np.abs(value))
    return score, said


def outcome_values(config: PerformanceConfig, batch: ModelBatch) -> FloatArray:
    """The outcomes of a batch as numbers: 1.0/0.0 for binary labels (NaN when missing),
    the value itself for regression, the class index for multiclass (NaN when missing
    or not one of ``classes``)."""
    if config.task == "multiclass":
        return class_indices(config, batch.categorical[config.label])
    if config.task == "binary":
        labels = batch.categorical[config.label]
        return np.array([math.nan if v is None else float(v == config.positive_label)
                         for v in labels], dtype=np.float64)
    return batch.numeric[config.label]


def unknown_classes(config: PerformanceConfig, batch: ModelBatch) -> npt.NDArray[np.bool_]:
    """Which events carry a label that is none of a multiclass model's classes."""
    if config.task != "multiclass":
        return np.zeros(len(batch), dtype=np.bool_)
    classes = set(config.classes)
    return np.array([v is not None and v not in classes
                     for v in batch.categorical[config.label]], dtype=np.bool_)


class PerformanceSlots:
    """Where a model's performance sums sit in the pane's float vector. The baseline is
    the config's, else the one measured on the reference data (``fallback_baseline``)."""

    def __init__(self, config: PerformanceConfig, offset: int,
                 fallback_baseline: Mapping[str, float] | None = None, *,
                 calibration: Calibration | None = None) -> None:
        self.config, self.offset = config, offset
        # The reference's score calibration, for the label-free estimate (binary: one
        # curve; multiclass: one per class); None estimates from the raw scores.
        self.calibration = calibration
        self.baseline = dict(config.baseline or fallback_baseline or {})
        self.binary = config.task == "binary"
        self.multiclass = (MulticlassSums(config, 3) if config.task == "multiclass"
                           else None)
        bins = config.score_bins
        # Layout after the offset: predictions, labeled, delay sum, then per task.
        if self.multiclass is not None:
            self.size = self.multiclass.end
        elif self.binary:
            self._expected = 3
            self._confusion = self._expected + N_EXPECTED_AGGREGATES  # tp, fp, fn, tn
            self._log_loss = self._confusion + 4
            self._histogram = self._log_loss + 1  # negatives then positives
            self.size = self._histogram + 2 * bins
        else:
            self._errors = 3
            self.size = self._errors + N_ERROR_SUMS

    def batch_rows(self, batch: ModelBatch) -> FloatArray:
        """Per-prediction contributions of a batch (see :meth:`prediction_rows`)."""
        if self.multiclass is None:
            return self.prediction_rows(batch.numeric[self.config.prediction or ""],
                                        predicted_positive(self.config, batch))
        rows = np.zeros((len(batch), self.size))
        calibration = self.calibration
        calibrate = (calibration.apply if calibration is not None and calibration.multiclass
                     else None)
        said = (prediction_values(self.config, batch)
                if self.config.predicted_label is not None else None)
        self.multiclass.prediction_terms(rows, score_matrix(self.config, batch), calibrate,
                                         said)
        return rows

    def prediction_rows(self, scores: FloatArray, said: FloatArray | None = None) -> FloatArray:
        """Per-prediction contributions: the count and (binary) expected-confusion terms.
        ``said``: the model's own decisions (see ``predicted_positive``), else the
        threshold's."""
        rows = np.zeros((scores.shape[0], self.size))
        present = np.isfinite(scores)
        if self.binary:
            present &= (scores >= 0) & (scores <= 1)
            if said is not None:
                present &= np.isfinite(said)
        rows[:, 0] = present
        if self.binary:
            p = np.where(present, scores, 0.0)
            # The model decided on its raw score (or said so); the estimate reads the
            # calibrated one.
            decided = p >= self.config.threshold if said is None else said > 0.5
            positive = decided & present
            negative = ~positive & present
            if self.calibration is not None and not self.calibration.multiclass:
                p = self.calibration.apply(p)
            e = self._expected
            rows[:, e + 2] = np.where(positive, p, 0.0)  # expected tp
            rows[:, e + 3] = np.where(positive, 1.0 - p, 0.0)  # expected fp
            rows[:, e + 4] = np.where(negative, p, 0.0)  # expected fn
            rows[:, e + 5] = np.where(negative, 1.0 - p, 0.0)  # expected tn
            rows[:, e] = present
            rows[:, e + 1] = rows[:, e + 2] + rows[:, e + 5]
        return rows

    def outcome_rows(self, predicted: FloatArray, actual: FloatArray,
                     delays: FloatArray) -> FloatArray:
        """Per-joined-pair contributions; pairs with an unusable value add nothing.
        ``predicted`` holds what ``prediction_values`` gives."""
        rows = np.zeros((predicted.shape[0], self.size))
        said: FloatArray | None = None
        if self.binary and self.config.predicted_label is not None:
            predicted, said = _decode_said(predicted)
        usable = np.isfinite(predicted) & np.isfinite(actual)
        if said is not None:
            usable &= np.isfinite(said)
        if self.binary:
            usable &= (predicted >= 0) & (predicted <= 1)
        rows[:, 1] = usable
        rows[:, 2] = np.where(usable, delays, 0.0)
        p = np.where(usable, predicted, 0.0)
        y = np.where(usable, actual, 0.0)
        if self.multiclass is not None:
            self.multiclass.outcome_terms(rows, usable, p, y)
        elif self.binary:
            self._binary_outcomes(rows, usable, p, y > 0.5,
                                  None if said is None else said > 0.5)
        else:
            self._regression_outcomes(rows, usable, p, y)
        return rows

    def _binary_outcomes(self, rows: FloatArray, usable: npt.NDArray[np.bool_], p: FloatArray,
                         positive: npt.NDArray[np.bool_],
                         said: npt.NDArray[np.bool_] | None = None) -> None:
        said = p >= self.config.threshold if said is None else said
        c = self._confusion
        for column, cell in enumerate((said & positive, said & ~positive,
                                       ~said & positive, ~said & ~positive)):
            rows[:, c + column] = usable & cell
        eps = 1e-15
        clipped = np.clip(p, eps, 1.0 - eps)
        loss = -np.where(positive, np.log(clipped), np.log(1.0 - clipped))
        rows[:, self._log_loss] = np.where(usable, loss, 0.0)
        bins = self.config.score_bins
        index = np.minimum((p * bins).astype(np.int64), bins - 1)
        columns = self._histogram + np.where(positive, bins, 0) + index
        rows[np.flatnonzero(usable), columns[usable]] = 1.0

    def _regression_outcomes(self, rows: FloatArray, usable: npt.NDArray[np.bool_],
                             p: FloatArray, y: FloatArray) -> None:
        e = self._errors
        error = p - y
        nonzero = usable & (y != 0)
        rows[:, e] = usable
        rows[:, e + 1] = np.abs(error)
        rows[:, e + 2] = error ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            rows[:, e + 3] = np.where(nonzero, np.abs(error) / np.abs(y), 0.0)
        rows[:, e + 4] = nonzero
        rows[:, e + 5] = error ** 4
        rows[:, e + 1:e + 6] *= usable[:, None]

    def evaluate(self, sums: FloatArray, attempts: Attempts | None = None) -> PerformanceResult:
        """Metrics of a window's summed vector (``sums`` is this model's run only).

        With ``attempts``, a metric that cannot be computed is left out and recorded
        there (part "performance"); without, its error is raised.
        """
        run: _Run = attempts.run if attempts is not None else _strict
        predictions, labeled = int(sums[0]), int(sums[1])
        metrics: dict[str, float] = {}
        estimated: dict[str, float] = {}
        per_class: dict[str, dict[str, float]] = {}
        confusion: dict[str, dict[str, int]] = {}
        multiclass = self.multiclass
        if multiclass is not None:
            if predictions:
                estimated = run(PART, lambda: multiclass.estimated(sums), {})
            if labeled:
                nothing: tuple[dict[str, float], dict[str, dict[str, float]]] = ({}, {})
                metrics, per_class = run(PART, lambda: multiclass.metrics(sums), nothing)
                confusion = multiclass.confusion_table(sums)
        elif self.binary:
            if predictions:
                estimated = run(PART, lambda: self._estimated(sums), {})
            if labeled:
                metrics = self._binary_metrics(sums, run)
        elif labeled:
            metrics = run(PART, lambda: self._regression_metrics(sums), {})
        baseline = dict(self.baseline)
        decay: dict[str, DecayResult] = {}
        for name, base in baseline.items():
            if name in metrics:
                compute = partial(self._decay, name, sums, base, metrics[name])
                found: DecayResult | None = run(PART, compute, None)
                if found is not None:
                    decay[name] = found
        return PerformanceResult(predictions, labeled, metrics, estimated, baseline, decay,
                                 per_class, confusion)

    def _estimated(self, sums: FloatArray) -> dict[str, float]:
        expected = expected_classification(sums[self._expected:self._confusion])
        return {"accuracy": expected.accuracy, "precision": expected.precision,
                "recall": expected.recall, "f1": expected.f1}

    def _regression_metrics(self, sums: FloatArray) -> dict[str, float]:
        result = regression_metrics(sums[self._errors:self._errors + N_ERROR_SUMS])
        return {"mae": result.mae, "rmse": result.rmse, "mape": result.mape}

    def _binary_metrics(self, sums: FloatArray, run: _Run) -> dict[str, float]:
        """Realized metrics from the joined outcomes; each group computed on its own, so
        one that fails leaves the others."""
        none: dict[str, float] = {}
        metrics = run(PART, lambda: self._confusion_metrics(sums), none)
        bins = self.config.score_bins
        histogram = sums[self._histogram:self._histogram + 2 * bins].reshape(2, bins)
        auc: float | None = run(PART, lambda: roc_auc_from_histograms(np.rint(histogram)), None)
        if auc is not None:
            metrics["auc"] = auc
        metrics["log_loss"] = float(sums[self._log_loss] / sums[1])
        return metrics

    def _confusion_metrics(self, sums: FloatArray) -> dict[str, float]:
        tp, fp, fn, tn = sums[self._confusion:self._confusion + 4]
        # classification_metrics wants rows = true class (0, 1), columns = predicted.
        result = classification_metrics(np.rint(np.array([[tn, fp], [fn, tp]])))
        return {"accuracy": result.accuracy, "precision": result.precision,
                "recall": result.recall, "f1": result.f1}

    def judged(self, name: str) -> bool:
        """Whether decay of metric ``name`` can be significant: it has a tolerance, or
        no tolerance is configured at all (then every metric with a baseline is judged
        at tolerance 0). A metric left out of a ``tolerance`` list is only reported."""
        return not self.config.tolerance or name in self.config.tolerance

    def _decay(self, name: str, sums: FloatArray, baseline: float,
               current: float) -> DecayResult:
        found = self._decay_interval(name, sums, baseline, current)
        return found if self.judged(name) else replace(found, significant=False)

    def _decay_interval(self, name: str, sums: FloatArray, baseline: float,
                        current: float) -> DecayResult:
        config = self.config
        tolerance = config.tolerance.get(name, 0.0)
        labeled = float(sums[1])
        if name == "accuracy":
            correct = self._correct(sums)
            return accuracy_decay(baseline, correct, labeled,
                                  confidence=config.confidence, tolerance=tolerance)
        if not self.binary and name in ("mae", "rmse"):
            errors = sums[self._errors:self._errors + N_ERROR_SUMS]
            if name == "rmse":
                return rmse_decay(baseline, errors, confidence=config.confidence,
                                  tolerance=tolerance)
            return mean_decay(baseline, float(errors[1]), float(errors[2]), float(errors[0]),
                              confidence=config.confidence, tolerance=tolerance)
        # Metrics without an interval here (precision, recall, f1, auc, log-loss, mape;
        # macro and weighted scores): the point decay, never significant on its own.
        point = baseline - current if name in _HIGHER_IS_BETTER else current - baseline
        return DecayResult(point, (-math.inf, math.inf), False)

    def _correct(self, sums: FloatArray) -> float:
        """Joined outcomes whose class was predicted right (classification)."""
        if self.multiclass is not None:
            return self.multiclass.correct(sums)
        tp, _, _, tn = sums[self._confusion:self._confusion + 4]
        return float(tp + tn)

    def labelled_totals(self, batch: ModelBatch) -> FloatArray:
        """The summed vector of a labelled batch, each record its own joined pair."""
        sums: FloatArray = self.batch_rows(batch).sum(axis=0)
        sums += self.outcome_rows(prediction_values(self.config, batch),
                                  outcome_values(self.config, batch),
                                  np.zeros(len(batch))).sum(axis=0)
        return sums

    def totals(self, predicted: FloatArray, actual: FloatArray) -> FloatArray:
        """The summed vector of a set of already-joined pairs (a labelled file)."""
        said: FloatArray | None = None
        scores = predicted
        if self.binary and self.config.predicted_label is not None:
            scores, said = _decode_said(predicted)
        sums: FloatArray = self.prediction_rows(scores, said).sum(axis=0)
        sums += self.outcome_rows(predicted, actual, np.zeros(predicted.shape[0])).sum(axis=0)
        return sums
