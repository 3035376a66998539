"""Count windows: the last ``size`` events, advancing every ``step`` events."""

from __future__ import annotations

from collections import deque

import numpy as np

from driftd.windows.panes import Encoded, Pane, stack_panes, unstack_panes


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
        self._panes: deque[Pane] = deque()
        self._sum = Pane.empty(slots, tails)
        self._open = Pane.empty(slots, tails)
        self.completed = 0  # windows completed so far

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
        self._panes.append(self._open)
        self._sum.add(self._open)
        if len(self._panes) > self.size // self.step:
            self._sum.subtract(self._panes.popleft())
        self._open = Pane.empty(self._slots, self._tails)

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

    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to resume exactly: panes, running sum, open pane."""
        panes = [*self._panes, self._sum, self._open]
        return {**stack_panes(panes, self._slots, self._tails),
                "completed": np.array([self.completed], dtype=np.int64)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Resume from ``state()``; raises ValueError when it does not fit this window."""
        *panes, total, current = unstack_panes(state, self._slots, self._tails)
        if len(panes) > self.size // self.step or current.events >= self.step:
            raise ValueError("checkpointed panes do not fit this window's size and step")
        self._panes, self._sum, self._open = deque(panes), total, current
        self.completed = int(state["completed"][0])
