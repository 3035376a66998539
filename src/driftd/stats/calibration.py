"""Score calibration by isotonic regression, and the expected calibration error.

A classifier's scores are *calibrated* when ``P(y = 1 | score = s) = s``. The label-free
estimate (:mod:`driftd.stats.estimate`) relies on it; a model whose scores are
systematically too low or too high biases that estimate by as much. :func:`fit_calibration`
learns the map from score to observed frequency on labelled reference data, as the
monotone step function closest to the labels in least squares (isotonic regression by
pool-adjacent-violators); :meth:`Calibration.apply` maps new scores through it.

Choices (the tests pin them):

- **Prediction between blocks** is linear interpolation between the fitted points, as
  scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``: each block of pooled scores
  contributes its lowest and highest distinct score at the block's value. Scores outside
  the fitted range take the value of the nearest end. NaN stays NaN.
- **Minimum block size.** Plain isotonic regression overfits a small reference: a
  handful of extreme scores that happen to be all positive become a block at exactly
  1.0 (and the lowest block is biased low for the same reason). After pooling, blocks
  lighter than ``min_block_size`` rows are merged with their successors (the last one
  with its predecessor), which keeps the curve monotone because a merged block's value
  lies between its parts'. The default, 20 rows, bounds a block's binomial standard error
  by 0.11; on references of thousands of rows the pooling itself makes blocks far larger,
  so the constraint binds only where the data are thin. ``min_block_size=1`` is plain
  isotonic regression.
- **Multiclass** is one-vs-rest: one curve per class fitted on that class's score column
  against ``label == k``; calibrated rows are renormalized to sum to 1 (a row whose
  curves all give 0 becomes uniform).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

# The calibration error and test live with the reliability statistics; re-exported here.
from driftd.stats.reliability import expected_calibration_error

__all__ = [
    "DEFAULT_MIN_BLOCK_SIZE",
    "Calibration",
    "IsotonicCurve",
    "expected_calibration_error",
    "fit_calibration",
    "fit_isotonic",
]

DEFAULT_MIN_BLOCK_SIZE = 20
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class IsotonicCurve:
    """A non-decreasing piecewise-linear map given by its points.

    ``x`` is strictly increasing, ``y`` non-decreasing in [0, 1], of equal length >= 1.
    Between points the map interpolates linearly; outside ``[x[0], x[-1]]`` it is constant.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x, dtype=np.float64), np.asarray(self.y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or x.size == 0:
            raise ValueError("x and y must be non-empty sequences of the same length")
        if not (np.isfinite(x).all() and (np.diff(x) > 0).all()):
            raise ValueError("x must be finite and strictly increasing")
        if not (np.isfinite(y).all() and (np.diff(y) >= 0).all()
                and y[0] >= 0.0 and y[-1] <= 1.0):
            raise ValueError("y must be non-decreasing and in [0, 1]")

    def __call__(self, scores: ArrayLike) -> FloatArray:
        """The curve's value at each score (any shape); NaN stays NaN."""
        s = np.asarray(scores, dtype=np.float64)
        out: FloatArray = np.interp(s, self.x, self.y)
        return np.where(np.isnan(s), np.nan, out)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Fitted calibration: one curve (binary) or one per class (multiclass).

    Build it with :func:`fit_calibration`; store it with :meth:`to_json`.
    """

    curves: tuple[IsotonicCurve, ...]
    min_block_size: int = DEFAULT_MIN_BLOCK_SIZE

    def __post_init__(self) -> None:
        if len(self.curves) < 1:
            raise ValueError("curves must hold one curve (binary) or one per class")
        if self.min_block_size < 1:
            raise ValueError("min_block_size must be at least 1")

    @property
    def multiclass(self) -> bool:
        """Whether this calibrates (n, K) class scores rather than (n,) scores of class 1."""
        return len(self.curves) > 1

    def apply(self, scores: ArrayLike) -> FloatArray:
        """Calibrated probabilities: (n,) -> (n,) for binary, (n, K) -> (n, K) rows
        summing to 1 for multiclass.

        Raises
        ------
        ValueError
            If ``scores`` has the wrong shape for this calibration.

        Examples
        --------
        >>> cal = fit_calibration([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1], min_block_size=1)
        >>> cal.apply([0.0, 0.25, 0.35, 0.9]).tolist()
        [0.0, 0.5, 1.0, 1.0]
        """
        s = np.asarray(scores, dtype=np.float64)
        if not self.multiclass:
            if s.ndim != 1:
                raise ValueError("scores must be one-dimensional for a binary calibration")
            return self.curves[0](s)
        k = len(self.curves)
        if s.ndim != 2 or s.shape[1] != k:
            raise ValueError(f"scores must have shape (n, {k}) for this calibration")
        out = np.column_stack([curve(s[:, j]) for j, curve in enumerate(self.curves)])
        total = out.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            normalized: FloatArray = np.where(total > 0, out / total, 1.0 / k)
        return np.where(np.isnan(total), np.nan, normalized)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_json` gives back an equal object (floats exact).

        Examples
        --------
        >>> cal = fit_calibration([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1], min_block_size=1)
        >>> cal.to_json()
        {'method': 'isotonic', 'min_block_size': 1, 'curves': [{'x': [0.1, 0.2, 0.3, 0.4], \
'y': [0.0, 0.5, 0.5, 1.0]}]}
        >>> Calibration.from_json(cal.to_json()) == cal
        True
        """
        return {"method": "isotonic", "min_block_size": self.min_block_size,
                "curves": [{"x": list(c.x), "y": list(c.y)} for c in self.curves]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        """Read :meth:`to_json`'s form back; ValueError on anything else."""
        if data.get("method") != "isotonic":
            raise ValueError("calibration method must be 'isotonic'")
        curves = data.get("curves")
        if not isinstance(curves, Sequence) or isinstance(curves, str):
            raise ValueError("calibration curves must be a list")
        return cls(tuple(IsotonicCurve(tuple(map(float, c["x"])), tuple(map(float, c["y"])))
                         for c in curves), int(data.get("min_block_size", 1)))


def _pool(values: FloatArray, weights: FloatArray) -> tuple[FloatArray, FloatArray, list[int]]:
    """Pool-adjacent-violators: weighted sums, weights and end indices of the blocks of
    the non-decreasing least-squares fit to ``values`` (in order)."""
    sums: list[float] = []
    mass: list[float] = []
    ends: list[int] = []
    for i, (v, w) in enumerate(zip(values.tolist(), weights.tolist(), strict=True)):
        s = v * w
        # Pool while the previous block's mean is not below this one's (equal means pool
        # too, so adjacent blocks end strictly increasing).
        while sums and sums[-1] * w >= s * mass[-1]:
            s, w = s + sums.pop(), w + mass.pop()
            ends.pop()
        sums.append(s)
        mass.append(w)
        ends.append(i + 1)
    return np.array(sums), np.array(mass), ends


def _merge_light(sums: FloatArray, mass: FloatArray, ends: list[int],
                 min_weight: float) -> tuple[FloatArray, FloatArray, list[int]]:
    """Merge blocks lighter than ``min_weight`` into their successors (the last group
    into its predecessor); the values stay strictly increasing."""
    out_sums: list[float] = []
    out_mass: list[float] = []
    out_ends: list[int] = []
    s = w = 0.0
    for block_sum, block_mass, end in zip(sums.tolist(), mass.tolist(), ends, strict=True):
        s, w = s + block_sum, w + block_mass
        if w >= min_weight:
            out_sums.append(s)
            out_mass.append(w)
            out_ends.append(end)
            s = w = 0.0
    if w > 0:  # a light tail: into the previous group, or alone when there is none
        if out_sums:
            out_sums[-1] += s
            out_mass[-1] += w
            out_ends[-1] = ends[-1]
        else:
            out_sums, out_mass, out_ends = [s], [w], [ends[-1]]
    return np.array(out_sums), np.array(out_mass), out_ends


def fit_isotonic(scores: ArrayLike, targets: ArrayLike, *,
                 min_block_size: int = DEFAULT_MIN_BLOCK_SIZE) -> IsotonicCurve:
    """Non-decreasing least-squares fit of ``targets`` (in [0, 1]) on ``scores``.

    Rows with equal scores are averaged first (as scikit-learn does); then
    pool-adjacent-violators, then blocks of fewer than ``min_block_size`` rows are
    merged with their neighbours (see the module notes).

    Parameters
    ----------
    scores : array_like of float, shape (n,)
        Finite scores, in any order.
    targets : array_like of float, shape (n,)
        Observed outcomes in [0, 1] (0/1 labels for a calibration curve).
    min_block_size : int, default 20
        Fewest rows a block of the fitted step function may hold; 1 for plain isotonic
        regression.

    Returns
    -------
    IsotonicCurve
        Each block as its lowest and highest distinct score at the block's mean target.

    Raises
    ------
    ValueError
        On empty or mismatched inputs, non-finite scores, targets outside [0, 1], or
        ``min_block_size < 1``.

    Examples
    --------
    >>> curve = fit_isotonic([1, 2, 3, 4, 5], [0, 1, 0, 1, 1], min_block_size=1)
    >>> curve.x, curve.y
    ((1.0, 2.0, 3.0, 4.0, 5.0), (0.0, 0.5, 0.5, 1.0, 1.0))
    >>> curve([2.5, 4.5, 9.0]).tolist()
    [0.5, 1.0, 1.0]
    >>> merged = fit_isotonic([1, 2, 3, 4, 5], [0, 1, 0, 1, 1], min_block_size=3)
    >>> merged.x, merged.y
    ((1.0, 5.0), (0.6, 0.6))
    """
    x = np.asarray(scores, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    if x.ndim != 1 or x.shape != t.shape or x.size == 0:
        raise ValueError("scores and targets must be non-empty, one-dimensional, of one length")
    if not np.isfinite(x).all():
        raise ValueError("scores must be finite")
    if not (np.isfinite(t).all() and (t >= 0).all() and (t <= 1).all()):
        raise ValueError("targets must be in [0, 1]")
    if min_block_size < 1:
        raise ValueError("min_block_size must be at least 1")
    unique, inverse = np.unique(x, return_inverse=True)
    counts = np.bincount(inverse).astype(np.float64)
    means = np.bincount(inverse, weights=t) / counts
    sums, mass, ends = _merge_light(*_pool(means, counts), float(min_block_size))
    values = np.clip(sums / mass, 0.0, 1.0)
    starts = [0, *ends[:-1]]
    xs: list[float] = []
    ys: list[float] = []
    for start, end, value in zip(starts, ends, values.tolist(), strict=True):
        for point in dict.fromkeys((float(unique[start]), float(unique[end - 1]))):
            xs.append(point)
            ys.append(value)
    return IsotonicCurve(tuple(xs), tuple(ys))


def fit_calibration(scores: ArrayLike, labels: ArrayLike, *,
                    min_block_size: int = DEFAULT_MIN_BLOCK_SIZE) -> Calibration:
    """Calibration of a classifier's scores on labelled data.

    Parameters
    ----------
    scores : array_like of float, shape (n,) or (n, K)
        Binary: the score of class 1 per row. Multiclass: one score column per class
        (K >= 2), e.g. predicted probabilities.
    labels : array_like, shape (n,)
        Binary: 0/1 (or bool). Multiclass: class indices in ``[0, K)``.
    min_block_size : int, default 20
        See :func:`fit_isotonic`.

    Returns
    -------
    Calibration

    Raises
    ------
    ValueError
        On mismatched shapes, labels outside the classes, or invalid scores.

    Examples
    --------
    >>> cal = fit_calibration([0.2, 0.4, 0.6, 0.8], [0, 0, 1, 1], min_block_size=2)
    >>> cal.apply([0.1, 0.5, 0.7]).tolist()
    [0.0, 0.5, 1.0]
    >>> scores = [[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]
    >>> mc = fit_calibration(scores, [0, 1, 1, 2], min_block_size=1)
    >>> mc.apply([[0.6, 0.3, 0.1], [0.55, 0.35, 0.1]]).round(12).tolist()
    [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if y.ndim != 1 or s.shape[:1] != y.shape:
        raise ValueError("labels must be one-dimensional with one entry per row of scores")
    if s.ndim == 1:
        if y.size and not np.isin(y, (0, 1)).all():
            raise ValueError("labels must be 0 or 1 for binary scores")
        curve = fit_isotonic(s, y.astype(np.float64), min_block_size=min_block_size)
        return Calibration((curve,), min_block_size)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError("scores must have shape (n,) or (n, K) with K >= 2")
    k = s.shape[1]
    if y.size and not np.isin(y, np.arange(k)).all():
        raise ValueError(f"labels must be class indices in [0, {k})")
    curves = tuple(fit_isotonic(s[:, j], (y == j).astype(np.float64),
                                min_block_size=min_block_size) for j in range(k))
    return Calibration(curves, min_block_size)
