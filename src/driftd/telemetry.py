"""Operational counters and gauges written by the ingest path, read at scrape time.

Label values come from the config (model, window, stream names) or from a fixed set of
reasons, never from event data, so their cardinality is bounded; the one exception, the
model version events carry, is capped at ``MAX_MODEL_VERSIONS`` per model.
"""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

# Upper bounds (seconds) of the label delay histogram: a second to a week.
LABEL_DELAY_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0, 43_200.0, 86_400.0,
                       259_200.0, 604_800.0)
# Model versions counted per model; events of further versions count as "other" (the
# version comes from event data, so its label values are capped).
MAX_MODEL_VERSIONS = 20
OTHER_VERSION = "other"
# Upper bounds (seconds) of the batch processing time histogram.
BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

K = TypeVar("K")


def counted(counts: Mapping[K, int]) -> dict[K, int]:
    """The entries of ``counts`` above 0 (what happened, without the series exported at
    0 from start).

    >>> counted({"malformed_json": 2, "oversized": 0})
    {'malformed_json': 2}
    """
    return {key: n for key, n in counts.items() if n}


@dataclass(frozen=True, slots=True)
class TelemetrySnapshot:
    events: Mapping[tuple[str, str], int]  # (stream, model) -> events accepted
    invalid: Mapping[str, int]  # reason -> events rejected
    late: Mapping[tuple[str, str], int]  # (model, window) -> events after their window closed
    last_event: Mapping[tuple[str, str], float]  # (model, stream) -> newest event time
    last_evaluation: float | None
    last_checkpoint: float | None
    lag: Mapping[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition)
    batch_buckets: tuple[int, ...] = ()  # cumulative counts per BATCH_SECONDS_BUCKETS, +Inf
    batch_seconds_sum: float = 0.0
    source_up: Mapping[str, bool] = field(default_factory=dict)
    join: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (counter, model)
    label_delay: Mapping[str, tuple[tuple[int, ...], float]] = field(default_factory=dict)
    # (model, window, part, reason) -> evaluations where that part was not available
    evaluation_errors: Mapping[tuple[str, str, str, str], int] = field(default_factory=dict)
    dead_letters: Mapping[str, int] = field(default_factory=dict)  # outcome -> records
    # Closed windows: (model, window) -> evaluated; (model, window, column, test) -> drifted
    windows_evaluated: Mapping[tuple[str, str], int] = field(default_factory=dict)
    windows_drifted: Mapping[tuple[str, str, str, str], int] = field(default_factory=dict)
    # Matured windows: (model, window) -> matured; (model, window, metric) -> decayed
    windows_matured: Mapping[tuple[str, str], int] = field(default_factory=dict)
    windows_decayed: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    http_requests: Mapping[str, int] = field(default_factory=dict)  # HTTP ingest, by status
    # (model, stream, model version read from events) -> events accepted
    versions: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    # The last config reload: succeeded (or none yet), and when the running config loaded
    reload_successful: bool = True
    config_loaded_at: float | None = None


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
        self._lag: dict[tuple[str, int], int] = {}
        self._batch_counts = [0] * (len(BATCH_SECONDS_BUCKETS) + 1)
        self._batch_sum = 0.0
        self._source_up: dict[str, bool] = {}
        self._join: Counter[tuple[str, str]] = Counter()
        self._delay: dict[str, tuple[list[int], list[float]]] = {}
        self._evaluation_errors: Counter[tuple[str, str, str, str]] = Counter()
        self._dead_letters: dict[str, int] = {}
        self._windows_evaluated: Counter[tuple[str, str]] = Counter()
        self._windows_drifted: Counter[tuple[str, str, str, str]] = Counter()
        self._windows_matured: Counter[tuple[str, str]] = Counter()
        self._windows_decayed: Counter[tuple[str, str, str]] = Counter()
        self._http_requests: Counter[str] = Counter()
        self._versions: Counter[tuple[str, str, str]] = Counter()
        self._versions_seen: dict[str, set[str]] = {}
        self._reload_successful = True
        self._config_loaded_at: float | None = None

    def expect_events(self, stream: str, model: str) -> None:
        """Export ``driftd_events_total`` for the pair at 0 before its first event, so
        "no events since start" is visible to alert rules (a missing series is not 0)."""
        with self._lock:
            self._events[(stream, model)] += 0

    def expect_invalid(self, reasons: Iterable[str]) -> None:
        """Export ``driftd_events_invalid_total`` at 0 for each of ``reasons``."""
        with self._lock:
            for reason in reasons:
                self._invalid[reason] += 0

    def expect_late(self, model: str, window: str) -> None:
        """Export ``driftd_events_late_total`` of a time window at 0."""
        with self._lock:
            self._late[(model, window)] += 0

    def expect_join(self, model: str, counters: Iterable[str]) -> None:
        """Export the label-join counters of a model with performance at 0."""
        with self._lock:
            for counter in counters:
                self._join[(counter, model)] += 0

    def expect_http_requests(self, codes: Iterable[int]) -> None:
        """Export ``driftd_http_ingest_requests_total`` at 0 for each status code."""
        with self._lock:
            for code in codes:
                self._http_requests[str(code)] += 0

    def count_events(self, stream: str, model: str, count: int) -> None:
        with self._lock:
            self._events[(stream, model)] += count

    def count_versions(self, model: str, stream: str, versions: Mapping[str, int]) -> None:
        """Accepted events by the model version they carry; past ``MAX_MODEL_VERSIONS``
        distinct versions of a model, new ones count as ``other``."""
        with self._lock:
            seen = self._versions_seen.setdefault(model, set())
            for version, count in versions.items():
                if version not in seen and len(seen) < MAX_MODEL_VERSIONS:
                    seen.add(version)
                label = version if version in seen else OTHER_VERSION
                self._versions[(model, stream, label)] += count

    def count_invalid(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self._invalid[reason] += count

    def count_http_request(self, code: int) -> None:
        """An HTTP ingest request answered with status ``code``."""
        with self._lock:
            self._http_requests[str(code)] += 1

    def count_late(self, model: str, window: str, count: int) -> None:
        with self._lock:
            self._late[(model, window)] += count

    def expect_windows(self, model: str, window: str, drift: Iterable[tuple[str, str]],
                       metrics: Iterable[str]) -> None:
        """Export the window counters of (model, window) at 0 before its first window: each
        (column, test) of ``drift`` that can flag drift and each performance metric of
        ``metrics``, so ``increase()`` sees the first window (a counter that appears at 1
        is invisible to it)."""
        with self._lock:
            self._windows_evaluated[(model, window)] += 0
            self._windows_matured[(model, window)] += 0
            for column, test in drift:
                self._windows_drifted[(model, window, column, test)] += 0
            for metric in metrics:
                self._windows_decayed[(model, window, metric)] += 0

    def count_window(self, model: str, window: str, drifted: Iterable[tuple[str, str]]) -> None:
        """A window closed and was evaluated; ``drifted``: its (column, test) flagging drift."""
        pairs = set(drifted)
        with self._lock:
            self._windows_evaluated[(model, window)] += 1
            for column, test in pairs:
                self._windows_drifted[(model, window, column, test)] += 1

    def count_matured(self, model: str, window: str, decayed: Iterable[str]) -> None:
        """A window matured; ``decayed``: metrics whose decay is significant in it."""
        metrics = set(decayed)
        with self._lock:
            self._windows_matured[(model, window)] += 1
            for metric in metrics:
                self._windows_decayed[(model, window, metric)] += 1

    def count_evaluation_error(self, model: str, window: str, part: str, reason: str) -> None:
        """A part (column, "performance", "*" for all) of a window not computed, by reason."""
        with self._lock:
            self._evaluation_errors[(model, window, part, reason)] += 1

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

    def mark_config(self, timestamp: float, *, successful: bool = True) -> None:
        """A config was loaded at ``timestamp`` (start-up or reload), or, not
        ``successful``, a reload failed and the running config stays."""
        with self._lock:
            self._reload_successful = successful
            if successful:
                self._config_loaded_at = timestamp

    def set_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Replace the consumer lag of every assigned partition."""
        with self._lock:
            self._lag = dict(lag)

    def observe_batch(self, seconds: float) -> None:
        """Record how long one poll batch took from decode to windows."""
        slot = next((i for i, bound in enumerate(BATCH_SECONDS_BUCKETS) if seconds <= bound),
                    len(BATCH_SECONDS_BUCKETS))
        with self._lock:
            self._batch_counts[slot] += 1
            self._batch_sum += seconds

    def count_join(self, counter: str, model: str, count: int) -> None:
        """Label-join counters: labels_matched, predictions_expired, outcomes_orphaned,
        outcomes_late, labels_after_horizon... (sinks.metric_families.JOIN_COUNTERS)."""
        with self._lock:
            self._join[(counter, model)] += count

    def observe_label_delays(self, model: str, seconds: Sequence[float]) -> None:
        """Record the delays of a batch of joined labels (one lock for the batch)."""
        slots = Counter(bisect_left(LABEL_DELAY_BUCKETS, s) for s in seconds)
        with self._lock:
            counts, total = self._delay.setdefault(
                model, ([0] * (len(LABEL_DELAY_BUCKETS) + 1), [0.0]))
            for slot, n in slots.items():
                counts[slot] += n
            total[0] += sum(seconds)

    def set_dead_letters(self, outcomes: Mapping[str, int]) -> None:
        """The dead-letter sink's running totals by outcome (sent, truncated, ...)."""
        with self._lock:
            self._dead_letters = dict(outcomes)

    def set_source_up(self, source: str, up: bool) -> None:
        with self._lock:
            self._source_up[source] = up

    def snapshot(self) -> TelemetrySnapshot:
        with self._lock:
            return TelemetrySnapshot(
                events=dict(self._events),
                invalid=dict(self._invalid),
                late=dict(self._late),
                last_event=dict(self._last_event),
                last_evaluation=self._last_evaluation,
                last_checkpoint=self._last_checkpoint,
                lag=dict(self._lag),
                batch_buckets=tuple(itertools.accumulate(self._batch_counts)),
                batch_seconds_sum=self._batch_sum,
                source_up=dict(self._source_up),
                join=dict(self._join),
                evaluation_errors=dict(self._evaluation_errors),
                label_delay={model: (tuple(itertools.accumulate(counts)), total[0])
                             for model, (counts, total) in self._delay.items()},
                dead_letters=dict(self._dead_letters),
                windows_evaluated=dict(self._windows_evaluated),
                windows_drifted=dict(self._windows_drifted),
                windows_matured=dict(self._windows_matured),
                windows_decayed=dict(self._windows_decayed),
                http_requests=dict(self._http_requests),
                versions=dict(self._versions),
                reload_successful=self._reload_successful,
                config_loaded_at=self._config_loaded_at,
            )
