"""Event-time progress across the partitions of a stream.

The watermark is the oldest of the partitions' newest event times, minus the allowed
lateness, so the order in which partitions happen to be read does not matter: a window
closes only once every partition has moved past its end. A partition that has sent
nothing for ``idle_seconds`` of processing time stops holding the others back; one that
was assigned but has not sent anything yet holds them back for at most that long, or
until it has sent something that is not for this watermark (``excuse``: a partition
of a topic that carries other models' events only).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


class Watermark:
    """Monotonic event-time watermark over keyed inputs (e.g. topic partitions).

    >>> w = Watermark(lateness=10.0, idle_seconds=60.0)
    >>> w.expect(["p0", "p1"], now=0.0)
    >>> w.observe("p0", 100.0, now=0.0); w.value  # waits for p1
    -inf
    >>> w.observe("p1", 50.0, now=0.0); w.value
    40.0
    >>> w.observe("p1", 120.0, now=1.0); w.value
    90.0
    """

    def __init__(self, lateness: float, idle_seconds: float) -> None:
        if lateness < 0 or idle_seconds <= 0:
            raise ValueError("lateness must be >= 0 and idle_seconds > 0")
        self._lateness, self._idle = lateness, idle_seconds
        self._newest: dict[str, float] = {}  # key -> newest event time
        self._heard: dict[str, float] = {}  # key -> processing time of its last event
        self._waiting: dict[str, float] = {}  # expected, silent so far -> since when
        self._excused: set[str] = set()  # spoke, but nothing for this watermark so far
        self.value = -math.inf

    def expect(self, keys: Iterable[str], now: float) -> None:
        """Inputs that will send (assigned partitions); the watermark waits for them."""
        for key in keys:
            if key not in self._newest and key not in self._excused:
                self._waiting.setdefault(key, now)

    def excuse(self, key: str, now: float) -> None:
        """``key`` sent a batch with no event for this watermark: it has spoken and does
        not carry these events so far, so it stops holding the watermark back."""
        if key not in self._newest:
            self._excused.add(key)
            if self._waiting.pop(key, None) is not None:
                self.advance(now)

    def forget(self, keys: Iterable[str]) -> None:
        """Inputs that went away (revoked partitions)."""
        for key in keys:
            self._newest.pop(key, None)
            self._heard.pop(key, None)
            self._waiting.pop(key, None)
            self._excused.discard(key)

    def observe(self, key: str, newest: float, now: float) -> None:
        """``key`` sent events up to ``newest`` (event time) at processing time ``now``."""
        self._newest[key] = max(self._newest.get(key, -math.inf), newest)
        self._heard[key] = now
        self._waiting.pop(key, None)
        self._excused.discard(key)
        self.advance(now)

    def stream_time(self, key: str) -> float:
        """The newest event time ``key`` has sent (-inf before its first)."""
        return self._newest.get(key, -math.inf)

    def state(self) -> dict[str, float]:
        """The value, each input's newest event time, and the excused inputs (what a
        checkpoint keeps)."""
        return {"value": self.value, **{f"newest/{k}": t for k, t in self._newest.items()},
                **{f"excused/{k}": 1.0 for k in sorted(self._excused)}}

    def restore(self, state: Mapping[str, float], now: float) -> None:
        """Resume from ``state()``: inputs that had already sent count as heard ``now``,
        so one that is at its end does not hold the others back after a restart."""
        self.value = float(state.get("value", state.get("watermark", -math.inf)))
        for name, newest in state.items():
            if name.startswith("newest/"):
                key = name[len("newest/"):]
                self._newest[key], self._heard[key] = float(newest), now
                self._waiting.pop(key, None)
            elif name.startswith("excused/"):
                self._excused.add(name[len("excused/"):])
                self._waiting.pop(name[len("excused/"):], None)

    def advance(self, now: float) -> None:
        """Recompute with idleness as of ``now``; the watermark never goes back."""
        if any(now - since < self._idle for since in self._waiting.values()):
            return  # an assigned partition has not spoken yet
        active = [t for k, t in self._newest.items() if now - self._heard[k] < self._idle]
        if active:
            self.value = max(self.value, min(active) - self._lateness)
