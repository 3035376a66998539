"""The calibration of a multiclass model's class probabilities on its labelled reference.

As for binary scores (:mod:`driftd.reference.calibration`): one isotonic curve per class
(one-vs-rest, rows renormalized to sum to 1), fitted on the reference's class
probabilities (each row of scores divided by its sum, as the daemon reads them); the
label-free estimate on the reference is measured by 2-fold cross-fitting against the
realized accuracy and macro and weighted scores. The calibration is applied only when
the reference rejects "the probabilities are calibrated": the Hosmer-Lemeshow test of
each class's probability against its one-vs-rest outcome, Bonferroni-corrected over the
K classes, below ``CALIBRATION_ALPHA``. The predicted class stays the model's own (the
highest raw probability); calibration changes only what the estimate expects of it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from driftd.reference.calibration import CALIBRATION_ALPHA, ReferenceCalibration, cross_fitted
from driftd.stats.calibration import (
    DEFAULT_MIN_BLOCK_SIZE,
    expected_calibration_error,
    fit_calibration,
)
from driftd.stats.estimate import expected_confusion_rows, expected_multiclass
from driftd.stats.performance import confusion_counts
from driftd.stats.reliability import calibration_pvalue

FloatArray = npt.NDArray[np.float64]
ESTIMATED_METRICS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1")


def calibrate_multiclass(
    probabilities: npt.ArrayLike, classes: npt.ArrayLike, *,
    min_block_size: int = DEFAULT_MIN_BLOCK_SIZE,
) -> ReferenceCalibration | None:
    """Calibrate a multiclass model's probabilities on labelled reference rows and
    measure the label-free estimate on them (see the module notes).

    Parameters
    ----------
    probabilities : array_like of float, shape (n, K)
        Each row the model's class scores divided by their sum; NaN rows are left out.
    classes : array_like of float, shape (n,)
        The index of each row's label in the classes, NaN when missing or no class
        (left out).
    min_block_size : int, default 20
        See :func:`driftd.stats.calibration.fit_isotonic`.

    Returns
    -------
    ReferenceCalibration or None
        None when fewer than 2 rows remain.

    Examples
    --------
    Probabilities too confident (squared, renormalized) are calibrated back:

    >>> rng = np.random.default_rng(0)
    >>> p = rng.dirichlet([1.0, 1.0, 1.0], 6000)
    >>> y = np.array([rng.choice(3, p=row) for row in p], dtype=float)
    >>> sharp = p ** 2 / (p ** 2).sum(axis=1, keepdims=True)
    >>> ref = calibrate_multiclass(sharp, y)
    >>> ref.applied, round(ref.ece_before, 3), round(ref.ece_after, 3)
    (True, 0.133, 0.017)
    >>> round(ref.errors(calibrated=False)["accuracy"], 3), round(ref.errors()["accuracy"], 3)
    (0.133, 0.011)

    Calibrated probabilities pass the test, and the estimate reads them as they are:

    >>> calibrate_multiclass(p, y).applied
    False
    """
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(classes, dtype=np.float64)
    usable = np.isfinite(p).all(axis=1) & np.isfinite(y)
    p, truth = p[usable], y[usable].astype(np.int64)
    if truth.size < 2:
        return None
    k = p.shape[1]
    said = p.argmax(axis=1)
    out_of_sample = cross_fitted(p, truth, min_block_size)
    pvalue = min(1.0, k * min(calibration_pvalue(p[:, j], truth == j) for j in range(k)))
    realized = expected_multiclass(confusion_counts(truth, said, k))
    return ReferenceCalibration(
        fit_calibration(p, truth, min_block_size=min_block_size), int(truth.size),
        expected_calibration_error(p, truth), expected_calibration_error(out_of_sample, truth),
        pvalue, pvalue < CALIBRATION_ALPHA,
        {name: float(getattr(realized, name)) for name in ESTIMATED_METRICS},
        _estimate(out_of_sample, said), _estimate(p, said))


def _estimate(p: FloatArray, said: npt.NDArray[np.int64]) -> dict[str, float]:
    k = p.shape[1]
    found = expected_multiclass(expected_confusion_rows(p, said).sum(axis=0).reshape(k, k))
    return {name: float(getattr(found, name)) for name in ESTIMATED_METRICS}


class ScoredClasses:
    """The (probabilities, class) rows of a labelled multiclass reference, by batch."""

    def __init__(self) -> None:
        self._probabilities: list[FloatArray] = []
        self._classes: list[FloatArray] = []

    def add(self, probabilities: FloatArray, classes: FloatArray) -> None:
        self._probabilities.append(probabilities)
        self._classes.append(classes)

    def calibrate(self) -> ReferenceCalibration | None:
        """:func:`calibrate_multiclass` of every row added."""
        if not self._classes:
            return None
        return calibrate_multiclass(np.concatenate(self._probabilities),
                                    np.concatenate(self._classes))
