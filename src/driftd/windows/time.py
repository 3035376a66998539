"""Event-time windows: ``duration`` long, advancing every ``slide``, with lateness.

Events fall into panes of one slide by their own timestamp, boundaries at
``offset + k * slide``. An event is late when it is older than its own input's newest
event time so far minus the allowed lateness (per-partition "stream time", as in Kafka
Streams): that depends on the input's own sequence only, so any interleaving of the
inputs, any batch cut or restart judges the same events late. The watermark (the
oldest of the inputs' stream times minus the lateness, see ``watermark.py``) decides
only *when* windows close: every window whose end it has passed is handed out once, in
order, however many closed at a time. An on-time event is never older than the
watermark, so it never falls into a closed window.

Closed panes keep their float sums (where joined outcomes land) until every window
holding them has matured, i.e. the label clock passed its end plus the label horizon;
their bucket counts, the bulk of a pane, are dropped as soon as no open window needs
them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from driftd.windows.panes import Encoded, Pane
from driftd.windows.watermark import Watermark


@dataclass(frozen=True, slots=True)
class TimedPane:
    """A window's aggregate with its event-time bounds [start, end) in seconds, and its
    revision (0 when it closed)."""

    pane: Pane
    start: float
    end: float
    revision: int = 0
    matured: bool = False  # the last revision: every label that counts is in


class TimeWindow:
    """Sliding event-time window made of panes of one slide.

    >>> import numpy as np
    >>> from driftd.windows.panes import Encoded
    >>> w = TimeWindow(10.0, 10.0, 0.0, slots=1, tails=0)
    >>> def events(*ts):
    ...     return Encoded(np.zeros((1, len(ts)), dtype=np.int64), np.zeros((len(ts), 0)),
    ...                    np.array(ts, dtype=float))
    >>> late = w.add(events(1.0, 12.0, 25.0), "p0")
    >>> [(c.start, c.end, c.pane.events) for c in w.close()]  # two windows closed at once
    [(0.0, 10.0, 1), (10.0, 20.0, 1)]
    >>> w.add(events(15.0), "p0").tolist()  # older than p0's stream time: late
    [True]
    >>> [(c.start, c.end, c.pane.events) for c in w.finish()]  # end of the data
    [(20.0, 30.0, 1)]
    """

    def __init__(
        self, duration: float, slide: float, lateness: float, *, slots: int, tails: int,
        idle_seconds: float = 60.0, offset: float = 0.0, label_horizon: float | None = None,
    ) -> None:
        panes = duration / slide
        if slide <= 0 or lateness < 0 or abs(panes - round(panes)) > 1e-9 or panes < 1:
            raise ValueError("slide must be positive and divide duration; lateness >= 0")
        self.slide, self.lateness, self.panes = slide, lateness, round(panes)
        self.offset = offset % slide
        self.label_horizon = label_horizon
        self._slots, self._tails = slots, tails
        self._panes: dict[int, Pane] = {}  # by index; closed ones may hold float sums only
        self._closed = -math.inf  # end pane index of the newest window handed out
        self._revisions: dict[int, int] = {}  # closed, not matured window -> last revision
        self._changed: set[int] = set()  # closed panes whose float sums changed since
        self._running: tuple[int, npt.NDArray[np.int64]] | None = None  # (end, counts)
        self.watermark = Watermark(lateness, idle_seconds)

    # -- adding events ---------------------------------------------------------------

    def pane_index(self, timestamps: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.floor((timestamps - self.offset) / self.slide).astype(np.int64)

    def bound(self, index: float) -> float:
        """Event time of the boundary at pane index ``index``."""
        return float(index * self.slide + self.offset)

    @property
    def closed_pane(self) -> float:
        """Index of the first pane the watermark has not closed (-inf before any)."""
        if self.watermark.value == -math.inf:
            return -math.inf
        if self.watermark.value == math.inf:
            return math.inf
        return math.floor((self.watermark.value - self.offset) / self.slide)

    def add(self, encoded: Encoded, key: str = "", now: float = 0.0) -> npt.NDArray[np.bool_]:
        """Add a batch of input ``key`` (in its arrival order) at processing time ``now``;
        returns which of its events were late (counted by the caller, not added)."""
        if len(encoded) == 0:
            return np.zeros(0, dtype=bool)
        timestamps = encoded.timestamps
        before = np.maximum.accumulate(np.r_[self.watermark.stream_time(key), timestamps[:-1]])
        pane_index = self.pane_index(timestamps)
        on_time = (timestamps >= before - self.lateness) & (pane_index >= self.closed_pane)
        order = np.argsort(pane_index, kind="stable")
        order = order[on_time[order]]
        ordered = encoded.take(order)
        indices = pane_index[order]
        bounds = np.flatnonzero(np.diff(indices)) + 1
        for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(order)], strict=True):
            if stop > start:
                pane = self._panes.setdefault(int(indices[start]),
                                              Pane.empty(self._slots, self._tails))
                pane.add_rows(ordered, int(start), int(stop))
        self.watermark.observe(key, float(timestamps.max()), now)
        return ~on_time

    def add_floats(self, timestamps: npt.NDArray[np.float64], rows: npt.NDArray[np.float64],
                   offset: int) -> int:
        """Add float sums (joined outcomes) to the panes of their event times, open or
        closed; returns how many had no pane (never on time, or matured and gone)."""
        panes = self.pane_index(timestamps)
        missing = 0
        closed = self.closed_pane
        for index in np.unique(panes).tolist():
            pane = self._panes.get(index)
            chosen = panes == index
            if pane is None:
                missing += int(np.count_nonzero(chosen))
                continue
            pane.tails[offset:offset + rows.shape[1]] += rows[chosen].sum(axis=0)
            pane.version += 1
            if index < closed:
                self._changed.add(index)
        return missing

    def advance(self, now: float) -> None:
        """Let idleness move the watermark when no events arrive."""
        self.watermark.advance(now)

    def excuse(self, key: str, now: float) -> None:
        """Input ``key`` sent a batch with no event of this window (see ``Watermark``)."""
        self.watermark.excuse(key, now)

    # -- handing windows out ---------------------------------------------------------

    def close(self) -> list[TimedPane]:
        """Every window the watermark has closed since the last call, oldest first
        (windows without any event are skipped); each is handed out once."""
        closed = self.closed_pane
        if closed <= self._closed:
            return []
        ends = self._ends_with_events(closed)
        self._closed = closed if closed != math.inf else max(ends, default=self._closed)
        found = [self._window(end) for end in ends]
        if self.label_horizon is not None:
            self._revisions.update({end: 0 for end in ends})
        self._drop_counts()
        return found

    def finish(self) -> list[TimedPane]:
        """End of the data: close every window that holds an event."""
        self.watermark.value = math.inf
        return self.close()

    def mature(self, label_clock: float) -> list[TimedPane]:
        """Closed windows whose label horizon the label clock has passed (all their
        labels are in), oldest first, as their last revision; their float sums are then
        dropped once no unmatured window holds them."""
        if self.label_horizon is None:
            return []
        ready = []
        for end in self._revisions:  # in closing order: oldest first
            if not self.bound(end) + self.label_horizon < label_clock:
                break
            ready.append(end)
        found = []
        for end in ready:
            revision = self._revisions.pop(end) + 1
            found.append(self._window(end, revision, matured=True))
        if found:
            self._drop_matured()
        return found

    def revise(self) -> list[TimedPane]:
        """A new revision of every closed, not matured window whose float sums changed
        since its last one (labels arrived), oldest first."""
        changed, self._changed = self._changed, set()
        ends = sorted({end for index in changed for end in range(index + 1, index + self.panes + 1)
                       if end in self._revisions})
        found = []
        for end in ends:
            self._revisions[end] += 1
            found.append(self._window(end, self._revisions[end]))
        return found

    def _ends_with_events(self, closed: float) -> list[int]:
        """End indices in (last closed, ``closed``] of the windows that hold at least one
        pane with counts, in order: the union of [index + 1, index + panes]."""
        ends: list[int] = []
        after = self._closed
        for index in sorted(i for i, p in self._panes.items() if p.counts.size):
            first, last = max(index + 1, after + 1), min(index + self.panes, closed)
            if first <= last:
                ends.extend(range(int(first), int(last) + 1))
                after = last
        return ends

    def _window(self, end: int, revision: int = 0, *, matured: bool = False) -> TimedPane:
        """Window ``end`` (its end pane index): float sums added up pane by pane (never
        subtracted), bucket counts for revision 0 only."""
        tails = np.zeros(self._tails)
        events = 0
        for index in range(end - self.panes, end):
            pane = self._panes.get(index)
            if pane is not None:
                tails += pane.tails
                events += pane.events
        counts = self._counts(end) if revision == 0 else np.zeros(0, dtype=np.int64)
        return TimedPane(Pane(counts, tails, events), self.bound(end - self.panes),
                         self.bound(end), revision, matured)

    def _counts(self, end: int) -> npt.NDArray[np.int64]:
        """Bucket counts of window ``end``: the previous window's plus its newest pane
        minus the pane that slid out (integers: exact), else summed afresh."""
        previous = self._running
        newest, oldest = self._panes.get(end - 1), self._panes.get(end - 1 - self.panes)
        if previous is not None and previous[0] == end - 1 and (
                oldest is None or oldest.counts.size):
            counts = previous[1].copy()
            if newest is not None:
                counts += newest.counts
            if oldest is not None:
                counts -= oldest.counts
        else:
            counts = np.zeros(self._slots, dtype=np.int64)
            for index in range(end - self.panes, end):
                pane = self._panes.get(index)
                if pane is not None and pane.counts.size:
                    counts += pane.counts
        self._running = (end, counts)
        return counts.copy()

    def _drop_counts(self) -> None:
        """Bucket counts of panes no open window needs; the whole pane when no label can
        land in it any more."""
        # The oldest pane of the next window to close, and the one before it (the next
        # window's counts are this one's minus that pane).
        needed = self._closed - self.panes
        for index in [i for i, p in self._panes.items() if i < needed and p.counts.size]:
            pane = self._panes[index]
            if self.label_horizon is None:
                del self._panes[index]
            else:
                self._panes[index] = Pane(np.zeros(0, dtype=np.int64), pane.tails,
                                          pane.events, pane.version + 1)
        self._drop_matured()

    def _drop_matured(self) -> None:
        oldest_unmatured = next(iter(self._revisions), math.inf)  # closing order
        for index in [i for i, p in self._panes.items() if not p.counts.size
                      and i + self.panes < oldest_unmatured]:
            del self._panes[index]
            self._changed.discard(index)

    # -- checkpoints -----------------------------------------------------------------

    def state(self) -> tuple[dict[str, float], dict[str, Pane]]:
        """What resumes it exactly: the watermark with each input's stream time, the
        windows handed out, the revision numbers of those not matured, and the retained
        panes by index (shared, not copied: take it on the thread that adds events)."""
        meta = {**self.watermark.state(), "closed": self._closed,
                **{f"revision/{end}": float(n) for end, n in self._revisions.items()}}
        return meta, {f"i{index}": pane for index, pane in self._panes.items()}

    def restore(self, meta: Mapping[str, float], panes: Mapping[str, Pane],
                now: float = 0.0) -> None:
        """Resume from ``state()`` at processing time ``now``; raises ValueError when it
        does not fit this window."""
        if not all(p.fits(self._slots, self._tails) or p.fits(0, self._tails)
                   for p in panes.values()):
            raise ValueError("checkpointed panes do not fit this window's layout")
        self._panes = {int(name[1:]): pane for name, pane in panes.items()}
        self._closed = float(meta["closed"])
        self._revisions = dict(sorted(  # closing order (a checkpoint sorts keys as text)
            (int(name.split("/", 1)[1]), int(n)) for name, n in meta.items()
            if name.startswith("revision/")))
        self._changed = set()
        self._running = None
        self.watermark.restore(meta, now)

    def memory(self) -> tuple[int, int]:
        """Bytes held by panes with bucket counts (and the running window counts), and
        by panes kept for labels only."""
        full = sum(p.counts.nbytes + p.tails.nbytes for p in self._panes.values()
                   if p.counts.size)
        full += self._running[1].nbytes if self._running is not None else 0
        light = sum(p.tails.nbytes for p in self._panes.values() if not p.counts.size)
        return full, light
