"""Predictions on an event-time grid and their delayed outcomes, for ``windows.py``.

The predictions carry the standard workload's columns (rows drawn once and cycled
through), a score and its label; their count per 5-minute slide is Poisson around a
rate that follows a daily cycle. The outcomes come a log-normal delay after their
prediction, and ``deliver`` joins them exactly, as the label join would.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

import workload
from driftd.events import ModelBatch
from driftd.monitor.monitor import ModelMonitor

SLIDE, DAY = 300.0, 86_400.0
T0 = 1_699_920_000.0  # a day boundary near the workload's START_TS, so panes align
NOW = 0.0  # processing time: constant, so no input ever counts as idle
PREDICTIONS, OUTCOMES = "predictions[0]", "outcomes[0]"
POOL = 100_000
FloatArray = npt.NDArray[np.float64]


@dataclass
class Pool:
    """Rows drawn once and cycled through, so that drawing random data is not what the
    benchmark measures."""

    numeric: dict[str, FloatArray]
    categorical: dict[str, list[str | None]]
    labels: FloatArray  # the outcome of each row's prediction, 1.0 or 0.0

    @classmethod
    def draw(cls, drifted: bool, seed: int) -> Pool:
        rng = np.random.default_rng(seed)
        data = workload.draw(rng, POOL, drifted)
        numeric = {n: data[n] for n in workload.NUMERIC}
        numeric["score"] = rng.beta(2, 5, POOL).round(3)
        labels = (rng.random(POOL) < numeric["score"]).astype(float)
        return cls(numeric, {n: data[n].tolist() for n in workload.CATEGORICAL}, labels)

    def batch(self, start: int, timestamps: FloatArray) -> tuple[ModelBatch, FloatArray]:
        """Rows from ``start`` (wrapped around the pool) at ``timestamps``."""
        first = start % (POOL - len(timestamps) + 1)
        rows = slice(first, first + len(timestamps))
        batch = ModelBatch("bench", timestamps, [],
                           {n: a[rows] for n, a in self.numeric.items()},
                           {n: v[rows] for n, v in self.categorical.items()})
        return batch, self.labels[rows]


class Stream:
    """Predictions from T0 on: a Poisson number per slide around ``per_slide``,
    following a daily cycle of +-50% (so windows differ in size, as in production),
    evenly spaced within their slide; the second half drifted (as in the standard
    workload)."""

    def __init__(self, per_slide: int) -> None:
        self.per_slide = per_slide
        self._clean, self._drifted = Pool.draw(False, 7), Pool.draw(True, 8)

    def batches(self, slides: int, size: int) -> Iterator[tuple[ModelBatch, FloatArray]]:
        """The predictions of ``slides`` slides in batches of ``size``, and their labels."""
        starts = np.arange(slides) * SLIDE
        counts = np.random.default_rng(5).poisson(
            self.per_slide * (1 + 0.5 * np.sin(2 * np.pi * starts / DAY)))
        ends = np.cumsum(counts)
        total = int(ends[-1])
        for start in range(0, total, size):
            index = np.arange(start, min(total, start + size))
            slide = np.searchsorted(ends, index, side="right")
            within = index - (ends[slide] - counts[slide]) + 0.5
            timestamps = T0 + (slide + within / counts[slide]) * SLIDE
            pool = self._clean if start < total // 2 else self._drifted
            yield pool.batch(start, timestamps)


class Outcomes:
    """Outcomes of the predictions, held until their own event time comes up."""

    def __init__(self, span: float, seed: int = 11) -> None:
        self._span, self._rng = span, np.random.default_rng(seed)
        self._due: dict[int, list[FloatArray]] = defaultdict(list)

    def schedule(self, batch: ModelBatch, labels: FloatArray) -> None:
        """Each prediction's outcome comes a log-normal delay later (median 1 day), or
        (1 in 5) never."""
        n = len(batch)
        arrives = self._rng.random(n) >= 0.2
        delays = DAY * self._rng.lognormal(0.0, 1.0, n)
        rows = np.stack([batch.timestamps + delays, batch.timestamps,
                         batch.numeric["score"], labels], axis=1)[arrives]
        slots = np.floor((rows[:, 0] - T0) / self._span).astype(np.int64)
        for slot in np.unique(slots).tolist():
            self._due[slot].append(rows[slots == slot])

    def due(self, until: float) -> FloatArray:
        """Every outcome with an event time before ``until``, in event-time order."""
        slot = int(np.floor((until - T0) / self._span))
        parts = [part for key in [k for k in self._due if k <= slot]
                 for part in self._due.pop(key)]
        rows = np.concatenate(parts) if parts else np.zeros((0, 4))
        return rows[np.argsort(rows[:, 0], kind="stable")]


def deliver(monitor: ModelMonitor, rows: FloatArray, horizon: float) -> int:
    """The join, done exactly: the outcome stream moves the label clock; those on time
    and within the horizon are added to the panes of their predictions."""
    outcome_ts, prediction_ts, scores, labels = rows.T
    on_time = monitor.outcomes(OUTCOMES, np.ascontiguousarray(outcome_ts), NOW)
    delays = outcome_ts - prediction_ts
    joined = on_time & (delays <= horizon)
    monitor.add_outcomes(prediction_ts[joined], scores[joined], labels[joined], delays[joined])
    return int(joined.sum())
