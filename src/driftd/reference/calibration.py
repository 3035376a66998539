"""The score calibration a labelled reference carries, and how the estimate did on it.

At ``reference build`` on labelled data the model's scores are calibrated on the
reference (:mod:`driftd.stats.calibration`); the label-free estimate then reads
calibrated probabilities. To tell whether that estimate can be trusted, it is also
computed on the reference itself, honestly: the rows are split in two at random (seeded,
so the same data give the same profile), each half is estimated with the calibration
fitted on the other half (2-fold cross-fitting), and the summed estimate is compared with
the accuracy, precision, recall and F1 realized on the reference's labels. The estimate
from the raw scores is stored beside it, to show what the calibration changed.

The calibration is *applied* only when the reference shows that the scores are
miscalibrated: a Hosmer-Lemeshow test (:func:`driftd.stats.reliability.calibration_pvalue`)
rejects "the scores are calibrated" at ``CALIBRATION_ALPHA``. Otherwise the curve would be
fitted to noise, and would add the reference's sampling error to every estimate (for a
well-calibrated model on 5,000 reference rows it raised the mean error over shifted
windows from 0.0063 to 0.0078); the estimate then reads the scores as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from driftd.config import PerformanceConfig
from driftd.stats.calibration import (
    DEFAULT_MIN_BLOCK_SIZE,
    Calibration,
    expected_calibration_error,
    fit_calibration,
)
from driftd.stats.estimate import expected_accuracy_aggregates, expected_classification
from driftd.stats.performance import classification_metrics
from driftd.stats.reliability import calibration_pvalue

FloatArray = npt.NDArray[np.float64]
ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1")
# Calibrate when the test of "the scores are calibrated" has a p-value below this.
CALIBRATION_ALPHA = 0.01
# A miss is judged beyond what sampling explains: this many standard errors (1% two-sided).
NOISE_Z = 2.576
# The seed of the cross-fitting split: fixed, so a profile's version depends on its data.
_SPLIT_SEED = 20261202


@dataclass(frozen=True, slots=True)
class ReferenceCalibration:
    """A profile's calibration, its calibration error before and after, whether it is
    applied, and the label-free estimate on the reference against the realized metrics.

    ``ece_after`` and ``estimated`` are out of sample (cross-fitted); ``uncalibrated``
    is the estimate from the raw scores; both are measured at the profile's build
    threshold. ``pvalue`` is the test of the raw scores' calibration; ``applied`` whether
    it was below ``CALIBRATION_ALPHA`` (then the estimate uses ``calibration``).
    ``standard_error`` is how much the realized metrics scatter around the estimate in
    use by chance alone, on this many rows (given their scores): the part of a miss that
    says nothing about the estimate.
    """

    calibration: Calibration
    rows: int
    ece_before: float
    ece_after: float
    pvalue: float
    applied: bool
    realized: Mapping[str, float] = field(default_factory=dict)
    estimated: Mapping[str, float] = field(default_factory=dict)
    uncalibrated: Mapping[str, float] = field(default_factory=dict)
    standard_error: Mapping[str, float] = field(default_factory=dict)
    threshold: float | None = None  # binary: the build's threshold, where it was checked

    @property
    def active(self) -> Calibration | None:
        """The calibration the estimate uses: None when the raw scores passed the test."""
        return self.calibration if self.applied else None

    def errors(self, *, calibrated: bool | None = None) -> dict[str, float]:
        """``|estimate - realized|`` on the reference per metric (finite ones only): of
        the estimate in use by default, else of the calibrated or the raw-score one."""
        use = self.applied if calibrated is None else calibrated
        estimate = self.estimated if use else self.uncalibrated
        found = {name: abs(estimate[name] - value) for name, value in self.realized.items()
                 if name in estimate}
        return {name: error for name, error in found.items() if math.isfinite(error)}

    def unreliable(self, tolerance: float) -> bool:
        """Whether the estimate in use missed a realized metric on the reference by more
        than ``tolerance`` plus what sampling explains (``NOISE_Z`` standard errors)."""
        return any(error > tolerance + NOISE_Z * self.standard_error.get(name, 0.0)
                   for name, error in self.errors().items())

    def to_json(self) -> dict[str, Any]:
        extra = {} if self.threshold is None else {"threshold": self.threshold}
        return {**self.calibration.to_json(), **extra, "rows": self.rows,
                "ece_before": self.ece_before, "ece_after": self.ece_after,
                "pvalue": self.pvalue, "applied": self.applied,
                "reference_estimate": {"realized": dict(self.realized),
                                       "calibrated": dict(self.estimated),
                                       "uncalibrated": dict(self.uncalibrated),
                                       "standard_error": dict(self.standard_error)}}

    @classmethod
    def from_json(cls, data: Any) -> ReferenceCalibration:
        """Parse :meth:`to_json`'s form; ValueError/TypeError/KeyError on defects."""
        if not isinstance(data, dict):
            raise TypeError("calibration must be an object")
        check = data.get("reference_estimate") or {}
        parts = [check.get(key) or {}
                 for key in ("realized", "calibrated", "uncalibrated", "standard_error")]
        if not all(isinstance(part, dict) and all(isinstance(v, int | float)
                                                  for v in part.values()) for part in parts):
            raise TypeError("calibration reference_estimate must hold objects of numbers")
        realized, estimated, uncalibrated, noise = ({k: float(v) for k, v in p.items()}
                                                    for p in parts)
        if not isinstance(data["applied"], bool):
            raise TypeError("calibration applied must be true or false")
        threshold = None if data.get("threshold") is None else float(data["threshold"])
        return cls(Calibration.from_json(data), int(data["rows"]), float(data["ece_before"]),
                   float(data["ece_after"]), float(data["pvalue"]), data["applied"],
                   realized, estimated, uncalibrated, noise, threshold)


def calibrate_binary(
    scores: npt.ArrayLike, labels: npt.ArrayLike, threshold: float, *,
    min_block_size: int = DEFAULT_MIN_BLOCK_SIZE, said: npt.ArrayLike | None = None,
) -> ReferenceCalibration | None:
    """Calibrate a binary model's scores on labelled reference rows and measure the
    label-free estimate on them (see the module notes).

    Rows whose score is not finite in [0, 1] or whose label is missing (NaN) are left
    out, as the daemon leaves them out; ``None`` when fewer than 2 rows remain.

    Parameters
    ----------
    scores : array_like of float, shape (n,)
        The model's score of class 1.
    labels : array_like of float, shape (n,)
        1.0 for the positive label, 0.0 otherwise, NaN when missing.
    threshold : float
        The model's decision threshold: ``score >= threshold`` predicts class 1.
    min_block_size : int, default 20
        See :func:`driftd.stats.calibration.fit_isotonic`.
    said : array_like of float, shape (n,), optional
        The model's own decisions (1.0 positive, 0.0 negative, NaN: none, that row left
        out), used instead of the threshold (``performance.predicted_label``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(4000)
    >>> y = (rng.random(4000) < p).astype(float)
    >>> ref = calibrate_binary(p ** 2, y, 0.5)  # scores too low: p ** 2
    >>> round(ref.ece_before, 3), round(ref.ece_after, 3)
    (0.175, 0.017)
    >>> {k: round(v, 3) for k, v in ref.errors(calibrated=False).items()}
    {'accuracy': 0.109, 'precision': 0.114, 'recall': 0.158, 'f1': 0.068}
    >>> {k: round(v, 3) for k, v in ref.errors().items()}
    {'accuracy': 0.005, 'precision': 0.007, 'recall': 0.005, 'f1': 0.006}
    >>> ref.applied, {k: round(v, 3) for k, v in ref.standard_error.items()}
    (True, {'accuracy': 0.006, 'precision': 0.01, 'recall': 0.006, 'f1': 0.007})
    >>> ref.unreliable(0.02), ref.unreliable(0.0)  # the misses are within sampling noise
    (False, False)
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    decided = None if said is None else np.asarray(said, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(s) & (s >= 0) & (s <= 1) & np.isfinite(y)
        if decided is not None:
            usable &= np.isfinite(decided)
    s, positive = s[usable], y[usable] > 0.5
    if s.size < 2:
        return None
    said = s >= threshold if decided is None else decided[usable] > 0.5
    out_of_sample = cross_fitted(s, positive, min_block_size)
    pvalue = calibration_pvalue(s, positive)
    applied = pvalue < CALIBRATION_ALPHA
    return ReferenceCalibration(
        fit_calibration(s, positive, min_block_size=min_block_size), int(s.size),
        expected_calibration_error(s, positive),
        expected_calibration_error(out_of_sample, positive), pvalue, applied,
        _realized(said, positive), _estimate(out_of_sample, said), _estimate(s, said),
        _standard_errors(out_of_sample if applied else s, said),
        float(threshold) if decided is None else None)


def cross_fitted(scores: FloatArray, labels: npt.NDArray[Any],
                 min_block_size: int) -> FloatArray:
    """Each row's scores calibrated by the curve(s) fitted on the other half of the rows
    (binary: scores (n,), labels 0/1; multiclass: (n, K) and class indices)."""
    n = len(labels)
    first = np.zeros(n, dtype=np.bool_)
    first[np.random.default_rng(_SPLIT_SEED).permutation(n)[:n // 2]] = True
    out = np.empty_like(scores)
    for fit, apply in ((first, ~first), (~first, first)):
        curve = fit_calibration(scores[fit], labels[fit], min_block_size=min_block_size)
        out[apply] = curve.apply(scores[apply])
    return out


def _estimate(probabilities: FloatArray, said: npt.NDArray[np.bool_]) -> dict[str, float]:
    found = expected_classification(expected_accuracy_aggregates(probabilities,
                                                                 predicted=said))
    return {name: float(getattr(found, name)) for name in ESTIMATED_METRICS}


def _standard_errors(p: FloatArray, said: npt.NDArray[np.bool_]) -> dict[str, float]:
    """Standard errors of the realized accuracy, precision, recall and F1 of rows whose
    outcomes are Bernoulli(p), given the decisions (delta method for the ratios)."""
    variance = p * (1.0 - p)
    tp, fn = float(p[said].sum()), float(p[~said].sum())
    var_tp, var_fn = float(variance[said].sum()), float(variance[~said].sum())
    predicted, positives = float(said.sum()), tp + fn
    denominator = predicted + positives  # of F1 = 2 TP / (predicted + positives)
    found = {"accuracy": math.sqrt(float(variance.sum())) / p.size}
    found["precision"] = math.sqrt(var_tp) / predicted if predicted else 0.0
    found["recall"] = (math.sqrt(fn ** 2 * var_tp + tp ** 2 * var_fn) / positives ** 2
                       if positives else 0.0)
    found["f1"] = (2 * math.sqrt((predicted + fn) ** 2 * var_tp + tp ** 2 * var_fn)
                   / denominator ** 2 if denominator else 0.0)
    return found


def _realized(said: npt.NDArray[np.bool_], positive: npt.NDArray[np.bool_]) -> dict[str, float]:
    confusion = np.array([[np.sum(~positive & ~said), np.sum(~positive & said)],
                          [np.sum(positive & ~said), np.sum(positive & said)]])
    found = classification_metrics(confusion)
    return {name: float(getattr(found, name)) for name in ESTIMATED_METRICS}


class ScoredRows:
    """The (score, label) pairs of a labelled reference, gathered batch by batch."""

    def __init__(self) -> None:
        self._scores: list[FloatArray] = []
        self._labels: list[FloatArray] = []
        self._said: list[FloatArray] = []

    def add(self, scores: FloatArray, labels: FloatArray,
            said: FloatArray | None = None) -> None:
        """Add pairs; ``said``: the model's own decisions (see :func:`calibrate_binary`)."""
        self._scores.append(np.asarray(scores, dtype=np.float64))
        self._labels.append(np.asarray(labels, dtype=np.float64))
        if said is not None:
            self._said.append(np.asarray(said, dtype=np.float64))

    def calibrate(self, threshold: float) -> ReferenceCalibration | None:
        """:func:`calibrate_binary` of every pair added."""
        if not self._scores:
            return None
        said = np.concatenate(self._said) if self._said else None
        return calibrate_binary(np.concatenate(self._scores), np.concatenate(self._labels),
                                threshold, said=said)


@dataclass(frozen=True, slots=True)
class EstimateReliability:
    """How a model's label-free estimate did on its labelled reference, judged against
    ``performance.estimate_tolerance``: what the daemon exports and ``check`` prints."""

    model: str
    calibration: ReferenceCalibration
    tolerance: float
    threshold: float | None = None  # the model's, when it has one (binary)

    @property
    def errors(self) -> dict[str, float]:
        return self.calibration.errors()

    @property
    def unreliable(self) -> bool:
        return self.calibration.unreliable(self.tolerance)

    def describe(self) -> str:
        """One line: the calibration error before and after, and the worst miss."""
        cal = self.calibration
        worst = max(self.errors.items(), key=lambda item: item[1], default=("accuracy", 0.0))
        verdict = "UNRELIABLE, " if self.unreliable else ""
        how = (f"calibrated on {cal.rows:,} reference rows (calibration error "
               f"{cal.ece_before:.4f} -> {cal.ece_after:.4f})" if cal.applied else
               f"raw scores, which pass the calibration test on {cal.rows:,} reference "
               f"rows (p = {cal.pvalue:.3f}, calibration error {cal.ece_before:.4f})")
        stale = ("" if None in (self.threshold, cal.threshold)
                 or self.threshold == cal.threshold else
                 f" (checked at the build's threshold {cal.threshold:g}, not the model's "
                 f"{self.threshold:g}: rebuild the profile)")
        return (f"{verdict}{how}; largest miss there {worst[1]:.4f} ({worst[0]}), "
                f"tolerance {self.tolerance:g}{stale}")


def estimate_reliability(model: str, calibration: ReferenceCalibration | None,
                         performance: PerformanceConfig | None) -> EstimateReliability | None:
    """The reliability of a model's estimate, when its profile is calibrated and the model
    has performance configured (judged at its ``estimate_tolerance``)."""
    if calibration is None or performance is None:
        return None
    threshold = (performance.threshold if performance.task == "binary"
                 and performance.predicted_label is None else None)
    return EstimateReliability(model, calibration, performance.estimate_tolerance, threshold)
