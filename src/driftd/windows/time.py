"""Event-time windows: ``duration`` long, advancing every ``slide``, with lateness.

Events fall into panes of one slide by their own timestamp. The watermark (see
``watermark.py``) is the oldest of the inputs' newest event times minus the allowed
lateness; a pane is closed once the watermark passes its end. The latest window is
the ``duration / slide`` panes before the newest closed boundary. An event whose pane
is already closed is late: it is counted and reported to the caller, never added
silently nor dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from driftd.windows.panes import Encoded, Pane
from driftd.windows.watermark import Watermark


@dataclass(frozen=True, slots=True)
class TimedPane:
    """A window's aggregate with its event-time bounds [start, end) in seconds."""

    pane: Pane
    start: float
    end: float


class TimeWindow:
    """Sliding event-time window made of panes of one slide."""

    def __init__(
        self, duration: float, slide: float, lateness: float, *, slots: int, tails: int,
        idle_seconds: float = 60.0,
    ) -> None:
        panes = duration / slide
        if slide <= 0 or lateness < 0 or abs(panes - round(panes)) > 1e-9 or panes < 1:
            raise ValueError("slide must be positive and divide duration; lateness >= 0")
        self.slide, self.lateness, self.panes = slide, lateness, round(panes)
        self._slots, self._tails = slots, tails
        self._open: dict[int, Pane] = {}
        self.watermark = Watermark(lateness, idle_seconds)

    @property
    def closed_pane(self) -> float:
        """Index of the first pane not yet closed (-inf before any event)."""
        if self.watermark.value == -math.inf:
            return -math.inf
        return math.floor(self.watermark.value / self.slide)

    def add(self, encoded: Encoded, key: str = "", now: float = 0.0) -> int:
        """Add a batch of input ``key`` at processing time ``now``; returns how many of
        its events were late (counted, not added)."""
        if len(encoded) == 0:
            return 0
        pane_index = np.floor(encoded.timestamps / self.slide).astype(np.int64)
        on_time = pane_index >= self.closed_pane
        late = int(len(encoded) - np.count_nonzero(on_time))
        order = np.argsort(pane_index, kind="stable")
        order = order[on_time[order]]
        ordered = encoded.take(order)
        indices = pane_index[order]
        bounds = np.flatnonzero(np.diff(indices)) + 1
        for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(order)], strict=True):
            if stop > start:
                pane = self._open.setdefault(int(indices[start]),
                                             Pane.empty(self._slots, self._tails))
                pane.add_rows(ordered, int(start), int(stop))
        self.watermark.observe(key, float(encoded.timestamps.max()), now)
        self._evict()
        return late

    def add_floats(self, timestamps: np.ndarray, rows: np.ndarray, offset: int) -> int:
        """Add float sums (e.g. joined outcomes) to the panes of their event times, open or
        closed; returns how many had no pane any more (older than the window)."""
        panes = np.floor(timestamps / self.slide).astype(np.int64)
        missing = 0
        for index in np.unique(panes):
            pane = self._open.get(int(index))
            chosen = panes == index
            if pane is None:
                missing += int(np.count_nonzero(chosen))
                continue
            pane.tails[offset:offset + rows.shape[1]] += rows[chosen].sum(axis=0)
            pane.version += 1
        return missing

    def advance(self, now: float) -> None:
        """Let idleness move the watermark when no events arrive."""
        self.watermark.advance(now)
        self._evict()

    def excuse(self, key: str, now: float) -> None:
        """Input ``key`` sent a batch with no event of this window (see ``Watermark``)."""
        self.watermark.excuse(key, now)
        self._evict()

    def _evict(self) -> None:
        oldest_needed = self.closed_pane - self.panes
        for index in [i for i in self._open if i < oldest_needed]:
            del self._open[index]

    def latest(self) -> TimedPane | None:
        """The newest complete window, or None while no pane has closed."""
        closed = self.closed_pane
        if closed == -math.inf:
            return None
        end_index = int(closed)
        total = Pane.empty(self._slots, self._tails)
        for index in range(end_index - self.panes, end_index):
            pane = self._open.get(index)
            if pane is not None:
                total.add(pane)
        return TimedPane(total, (end_index - self.panes) * self.slide, end_index * self.slide)

    def state(self) -> tuple[dict[str, float], dict[str, Pane]]:
        """What resumes it exactly: the watermark with each input's newest event time, and
        the retained panes by index (shared, not copied: take it on the thread that adds
        events)."""
        return (self.watermark.state(),
                {f"i{index}": pane for index, pane in self._open.items()})

    def restore(self, meta: Mapping[str, float], panes: Mapping[str, Pane],
                now: float = 0.0) -> None:
        """Resume from ``state()`` at processing time ``now``; raises ValueError when it
        does not fit this window."""
        if not all(p.fits(self._slots, self._tails) for p in panes.values()):
            raise ValueError("checkpointed panes do not fit this window's layout")
        self._open = {int(name[1:]): pane for name, pane in panes.items()}
        self.watermark.restore(meta, now)
