"""Operational counters and gauges written by the ingest path, read at scrape time.

Label values come from the config (model, window, stream names) or from a fixed set of
reasons, never from event data, so their cardinality is bounded.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TelemetrySnapshot:
    events: Mapping[tuple[str, str], int]  # (stream, model) -> events accepted
    invalid: Mapping[str, int]  # reason -> events rejected
    late: Mapping[tuple[str, str], int]  # (model, window) -> events after their window closed
    last_event: Mapping[tuple[str, str], float]  # (model, stream) -> newest event time
    last_evaluation: float | None
    last_checkpoint: float | None


class Telemetry:
    """Thread-safe counters; every method is cheap enough for the per-batch path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: Counter[tuple[str, str]] = Counter()
        self._invalid: Counter[str] = Counter()
        self._late: Counter[tuple[str, str]] = Counter()
        self._last_event: dict[tuple[str, str], float] = {}
        self._last_evaluation: float | None = None
        self._last_checkpoint: float | None = None

    def count_events(self, stream: str, model: str, count: int) -> None:
        with self._lock:
            self._events[(stream, model)] += count

    def count_invalid(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self._invalid[reason] += count

    def count_late(self, model: str, window: str, count: int) -> None:
        with self._lock:
            self._late[(model, window)] += count

    def observe_event_time(self, model: str, stream: str, timestamp: float) -> None:
        key = (model, stream)
        with self._lock:
            if timestamp > self._last_event.get(key, float("-inf")):
                self._last_event[key] = timestamp

    def mark_evaluation(self, timestamp: float) -> None:
        with self._lock:
            self._last_evaluation = timestamp

    def mark_checkpoint(self, timestamp: float) -> None:
        with self._lock:
            self._last_checkpoint = timestamp

    def snapshot(self) -> TelemetrySnapshot:
        with self._lock:
            return TelemetrySnapshot(
                events=dict(self._events),
                invalid=dict(self._invalid),
                late=dict(self._late),
                last_event=dict(self._last_event),
                last_evaluation=self._last_evaluation,
                last_checkpoint=self._last_checkpoint,
            )
