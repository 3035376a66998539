"""Panes: mergeable aggregates of encoded events.

A pane is one flat vector of counts (every column's buckets, categories and missing
slot laid end to end by ``driftd.monitor.layout``), a small vector of tail sums, and the
number of events. Panes add and subtract, so a window is the sum of its panes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class Encoded:
    """A batch of events mapped onto a layout: one slot index per (column, event)."""

    slots: npt.NDArray[np.int64]  # shape (columns, events)
    tails: npt.NDArray[np.float64]  # shape (events, tail sums)
    timestamps: npt.NDArray[np.float64]  # shape (events,)

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def take(self, rows: npt.NDArray[np.intp]) -> Encoded:
        return Encoded(self.slots[:, rows], self.tails[rows], self.timestamps[rows])


@dataclass(slots=True, eq=False)
class Pane:
    """Counts per slot, tail sums and the number of events.

    ``version`` grows with every change, so a checkpoint rewrites only changed panes.
    """

    counts: npt.NDArray[np.int64]
    tails: npt.NDArray[np.float64]
    events: int = 0
    version: int = 0

    @classmethod
    def empty(cls, slots: int, tails: int) -> Pane:
        return cls(np.zeros(slots, dtype=np.int64), np.zeros(tails), 0)

    def add_rows(self, encoded: Encoded, start: int, stop: int) -> None:
        """Add events ``start:stop`` of ``encoded`` (O(columns) per event)."""
        if stop <= start:
            return
        slots = encoded.slots[:, start:stop].ravel()
        self.counts += np.bincount(slots, minlength=self.counts.shape[0])
        self.tails += encoded.tails[start:stop].sum(axis=0)
        self.events += stop - start
        self.version += 1

    def add(self, other: Pane) -> None:
        self.counts += other.counts
        self.tails += other.tails
        self.events += other.events
        self.version += 1

    def subtract(self, other: Pane) -> None:
        self.counts -= other.counts
        self.tails -= other.tails
        self.events -= other.events
        self.version += 1

    def fits(self, slots: int, tails: int) -> bool:
        return self.counts.shape == (slots,) and self.tails.shape == (tails,)

    def copy(self) -> Pane:
        return Pane(self.counts.copy(), self.tails.copy(), self.events)

