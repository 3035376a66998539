"""The monitor: routes decoded events of each model into its windows, evaluates them.

``ingest`` runs on the main (consumer) thread; ``evaluate`` on the scheduler thread.
They share window state under one lock per model, held only to add a batch or to copy
the window aggregates; statistics are computed outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from driftd.config import CountWindowConfig, ModelConfig, TimeWindowConfig
from driftd.events import ModelBatch
from driftd.monitor.evaluate import Evaluator
from driftd.monitor.failures import WHOLE_WINDOW, Attempts, FailureLog
from driftd.monitor.layout import Layout
from driftd.monitor.results import Published, WindowResult
from driftd.monitor.state import ModelState, WindowState
from driftd.reference.profile import Profile
from driftd.telemetry import Telemetry
from driftd.windows.count import CountWindow
from driftd.windows.panes import Pane
from driftd.windows.time import TimeWindow


@dataclass(frozen=True, slots=True)
class _Snapshot:
    window: str
    pane: Pane
    start: float | None
    end: float | None


class ModelMonitor:
    """Windows and evaluator of one model."""

    def __init__(self, config: ModelConfig, profile: Profile, telemetry: Telemetry) -> None:
        self.config = config
        self.layout = Layout(config.columns, profile, config.performance)
        self.evaluator = Evaluator(config, self.layout)
        self._telemetry = telemetry
        self._failure_log = FailureLog()
        self._lock = threading.Lock()
        self.windows: dict[str, CountWindow | TimeWindow] = {
            w.name: _make_window(w, self.layout) for w in config.windows
        }

    def ingest(self, batch: ModelBatch, key: str = "", now: float = 0.0) -> None:
        """Add a batch from input ``key`` (a partition) received at ``now``."""
        encoded = self.layout.encode(batch)
        with self._lock:
            for name, window in self.windows.items():
                if isinstance(window, TimeWindow):
                    late = window.add(encoded, key, now)
                    if late:
                        self._telemetry.count_late(self.config.name, name, late)
                else:
                    window.add(encoded)

    def add_outcomes(self, prediction_ts: np.ndarray, predicted: np.ndarray,
                     actual: np.ndarray, delays: np.ndarray) -> int:
        """Add joined outcomes to the time-window panes of their predictions' event
        times; returns how many found no pane (prediction older than every window)."""
        perf = self.layout.performance
        if perf is None or not len(prediction_ts):
            return 0
        rows = perf.outcome_rows(predicted, actual, delays)
        with self._lock:
            gone = [w.add_floats(prediction_ts, rows, perf.offset) for w in self._time_windows()]
        return max(gone, default=0)

    def expect(self, keys: Sequence[str], now: float) -> None:
        with self._lock:
            for window in self._time_windows():
                window.watermark.expect(keys, now)

    def excuse(self, key: str, now: float) -> None:
        """Input ``key`` sent a batch without an event of this model."""
        with self._lock:
            for window in self._time_windows():
                window.excuse(key, now)

    def forget(self, keys: list[str]) -> None:
        with self._lock:
            for window in self._time_windows():
                window.watermark.forget(keys)

    def _time_windows(self) -> list[TimeWindow]:
        return [w for w in self.windows.values() if isinstance(w, TimeWindow)]

    def snapshots(self, now: float) -> list[_Snapshot]:
        with self._lock:
            for time_window in self._time_windows():
                time_window.advance(now)
            found: list[_Snapshot] = []
            for name, window in self.windows.items():
                if isinstance(window, TimeWindow):
                    timed = window.latest()
                    if timed is not None:
                        found.append(_Snapshot(name, timed.pane, timed.start, timed.end))
                else:
                    pane = window.latest()
                    if pane is not None:
                        found.append(_Snapshot(name, pane, None, None))
            return found

    def evaluate(self, now: float) -> list[WindowResult]:
        """A result per window that has one. What cannot be computed (a column, a
        performance metric, or a whole window) is left out, counted and logged."""
        attempts = Attempts()
        try:
            snapshots = self.snapshots(now)
        except Exception as error:  # a bug in one model must not stop the others
            attempts.record(WHOLE_WINDOW, error)
            self._report(WHOLE_WINDOW, attempts, now)
            return []
        results = []
        for snapshot in snapshots:
            attempts = Attempts()
            try:
                results.append(self.evaluator.evaluate(
                    snapshot.window, snapshot.pane, start=snapshot.start, end=snapshot.end,
                    attempts=attempts))
            except Exception as error:  # nor one window the other windows
                attempts.record(WHOLE_WINDOW, error)
            self._report(snapshot.window, attempts, now)
        return results

    def _report(self, window: str, attempts: Attempts, now: float) -> None:
        for error in attempts.errors:
            self._telemetry.count_evaluation_error(self.config.name, window, error.part,
                                                   error.reason)
        self._failure_log(self.config.name, window, attempts.failed, now)

    def state(self) -> ModelState:
        with self._lock:
            windows = {name: WindowState(self._fingerprint(name), *window.state())
                       for name, window in self.windows.items()}
        return ModelState(self.layout.profile.version, windows)

    def restore(self, state: ModelState, now: float = 0.0) -> list[str]:
        """Resume the windows whose state fits (at processing time ``now``); returns the
        names of those that do not."""
        if state.reference != self.layout.profile.version:
            return sorted(self.windows)
        skipped = []
        with self._lock:
            for name, window in self.windows.items():
                saved = state.windows.get(name)
                if saved is None or saved.fingerprint != self._fingerprint(name):
                    skipped.append(name)
                    continue
                try:
                    window.restore(saved.meta, saved.panes, now)
                except (ValueError, KeyError):
                    skipped.append(name)
        return skipped

    def _fingerprint(self, window: str) -> str:
        spec = next(w for w in self.config.windows if w.name == window)
        return f"{spec.model_dump_json()}|slots={self.layout.size}|tails={self.layout.tail_size}"


def _make_window(
    config: CountWindowConfig | TimeWindowConfig, layout: Layout
) -> CountWindow | TimeWindow:
    if isinstance(config, CountWindowConfig):
        return CountWindow(config.size, config.step, slots=layout.size, tails=layout.tail_size)
    return TimeWindow(config.duration_seconds, config.slide_seconds,
                      config.allowed_lateness_seconds, slots=layout.size, tails=layout.tail_size,
                      idle_seconds=config.idle_timeout_seconds)


class Monitor:
    """All configured models; the seam between ingest and evaluation."""

    def __init__(
        self, models: Sequence[ModelConfig], profiles: Mapping[str, Profile],
        telemetry: Telemetry,
    ) -> None:
        self._telemetry = telemetry
        self.models = {m.name: ModelMonitor(m, profiles[m.name], telemetry) for m in models}

    def ingest(self, stream: str, batches: Mapping[str, ModelBatch], key: str = "",
               now: float = 0.0) -> None:
        """Add each model's valid events of one stream, from input ``key``, to its windows.

        A model without events in the batch is told that ``key`` spoke without them, so
        its windows do not wait for inputs that carry other models only."""
        for model, batch in batches.items():
            self._telemetry.count_events(stream, model, len(batch))
            if len(batch):
                self._telemetry.observe_event_time(model, stream, float(batch.timestamps.max()))
            if stream != "outcomes":  # outcomes carry labels, joined by issue-4 work
                self.models[model].ingest(batch, key, now)
        if stream != "outcomes":
            for name, monitor in self.models.items():
                if not len(batches.get(name, ())):
                    monitor.excuse(key, now)

    def expect(self, keys: Mapping[str, Sequence[str]], now: float) -> None:
        """Inputs (assigned partitions) whose event time each model's time windows wait
        for, by model name; models not named wait for none of them."""
        for name, model_keys in keys.items():
            if name in self.models and model_keys:
                self.models[name].expect(model_keys, now)

    def forget(self, keys: list[str]) -> None:
        for model in self.models.values():
            model.forget(keys)

    def state(self) -> dict[str, ModelState]:
        """Copies of every model's window state, for a checkpoint."""
        return {name: model.state() for name, model in self.models.items()}

    def restore(self, states: Mapping[str, ModelState],
                now: float = 0.0) -> dict[str, list[str]]:
        """Resume from a checkpoint; returns, per model, the windows that start empty."""
        skipped = {name: sorted(m.windows) for name, m in self.models.items()}
        for name, state in states.items():
            if name in self.models:
                skipped[name] = self.models[name].restore(state, now)
        return {name: windows for name, windows in skipped.items() if windows}

    def evaluate(self, now: float) -> Published:
        """Evaluate every window of every model; ``now`` stamps the result."""
        windows = tuple(r for m in self.models.values() for r in m.evaluate(now))
        self._telemetry.mark_evaluation(now)
        return Published(evaluated_at=now, windows=windows)
