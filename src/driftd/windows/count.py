"""Count windows: the last ``size`` events, advancing every ``step`` events.

Integer counts slide by subtraction, which is exact. Float tail sums never do: after
``x + y - x`` a sum whose panes now hold only zeros is left at about 1e-15 either side
of zero, and a negative "sum of non-negative terms" fails validation downstream. The
tails slide as a two-stack queue instead (each sum is one of additions only, amortized
O(1) pane additions per slide whatever the window's length).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from driftd.windows.panes import Encoded, Pane


class CountWindow:
    """Sliding (or, with step == size, tumbling) window by event count.

    Panes hold ``step`` events each; the window is the running sum of the last
    ``size // step`` complete panes, so evaluating it does not depend on its length.
    """

    def __init__(self, size: int, step: int, *, slots: int, tails: int) -> None:
        if step <= 0 or size <= 0 or size % step:
            raise ValueError("size and step must be positive, with step dividing size")
        self.size, self.step = size, step
        self._slots, self._tails = slots, tails
        self._panes: deque[tuple[int, Pane]] = deque()  # (sequence number, pane)
        self._sum = Pane.empty(slots, tails)
        self._open = Pane.empty(slots, tails)
        self._sequence = 0  # of the open pane
        self.completed = 0  # windows completed so far
        # The oldest retained panes are the "front": _front[-1] is the sum of their tails,
        # _front[-2] the same without the oldest, ...; the newer panes sum into _back.
        self._front: list[npt.NDArray[np.float64]] = []
        self._back = np.zeros(tails)

    def add(self, encoded: Encoded, *, emit: bool = False) -> list[Pane]:
        """Add a batch; with ``emit``, return a copy of every window it completed."""
        emitted: list[Pane] = []
        start = 0
        while start < len(encoded):
            stop = min(len(encoded), start + self.step - self._open.events)
            self._open.add_rows(encoded, start, stop)
            start = stop
            if self._open.events == self.step:
                self._close_pane()
                if self.full:
                    self.completed += 1
                    if emit:
                        emitted.append(self._sum.copy())
        return emitted

    def _close_pane(self) -> None:
        self._panes.append((self._sequence, self._open))
        self._sum.add(self._open)
        self._back += self._open.tails
        if len(self._panes) > self.size // self.step:
            if not self._front:  # move every retained pane to the front
                self._front = _suffix_sums([pane for _, pane in self._panes], self._tails)
                self._back = np.zeros(self._tails)
            self._sum.subtract(self._panes.popleft()[1])
            self._front.pop()
        self._sum.tails = self._back + self._front[-1] if self._front else self._back.copy()
        self._open = Pane.empty(self._slots, self._tails)
        self._sequence += 1

    @property
    def full(self) -> bool:
        return self._sum.events == self.size

    def latest(self) -> Pane | None:
        """A copy of the newest complete window, or None before the first."""
        return self._sum.copy() if self.full else None

    @property
    def pending(self) -> int:
        """Events added since the newest complete window (not yet in it)."""
        return self._open.events

    def state(self) -> tuple[dict[str, float], dict[str, Pane]]:
        """What resumes it exactly: counters, and the panes by stable name (shared, not
        copied: take it on the thread that adds events)."""
        panes = {f"c{seq}": pane for seq, pane in self._panes}
        panes |= {"sum": self._sum, "open": self._open}
        meta: dict[str, float] = {"completed": self.completed, "sequence": self._sequence,
                                  "front": len(self._front)}
        return meta, panes

    def restore(self, meta: Mapping[str, float], panes: Mapping[str, Pane],
                now: float = 0.0) -> None:
        """Resume from ``state()``; raises ValueError when it does not fit this window.
        (``now`` is unused: a count window has no notion of time.)"""
        sequence = int(meta["sequence"])
        done = sorted(((int(name[1:]), pane) for name, pane in panes.items()
                       if name.startswith("c")), key=lambda item: item[0])
        if (len(done) > self.size // self.step or panes["open"].events >= self.step
                or any(seq >= sequence for seq, _ in done)
                or not all(p.fits(self._slots, self._tails) for p in panes.values())):
            raise ValueError("checkpointed panes do not fit this window's size and step")
        front = int(meta.get("front", 0))  # absent in checkpoints of older versions
        if front > len(done):
            raise ValueError("checkpointed panes do not fit this window's size and step")
        self._panes = deque(done)
        self._sum, self._open = panes["sum"], panes["open"]
        self._sequence, self.completed = sequence, int(meta["completed"])
        # Rebuilt in the order they were built, so the sums are the same to the last bit.
        self._front = _suffix_sums([pane for _, pane in done[:front]], self._tails)
        self._back = np.zeros(self._tails)
        for _, pane in done[front:]:
            self._back += pane.tails
        if done:
            self._sum.tails = self._back + self._front[-1] if self._front else self._back.copy()


def _suffix_sums(panes: list[Pane], tails: int) -> list[npt.NDArray[np.float64]]:
    """``[tails of panes[-1], of panes[-2:], ..., of all panes]`` (additions only)."""
    sums: list[npt.NDArray[np.float64]] = []
    total = np.zeros(tails)
    for pane in reversed(panes):
        total = total + pane.tails
        sums.append(total)
    return sums
