"""The monitor: routes decoded events of each model into its windows, evaluates them.

Windows are evaluated when they close, in event-time order, each once; later revisions
update their performance as labels arrive, the last one when they mature. Everything
runs on the main (consumer) thread; a lock per model still guards the window state
against a partition listener or a checkpoint taken from another thread, held only to
add a batch or to copy the window aggregates; statistics are computed outside it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from driftd.config import CountWindowConfig, ModelConfig, TimeWindowConfig
from driftd.events import ModelBatch
from driftd.monitor.evaluate import Evaluator
from driftd.monitor.failures import WHOLE_WINDOW, Attempts, FailureLog
from driftd.monitor.layout import Layout
from driftd.monitor.results import WindowResult
from driftd.monitor.state import ModelState, WindowState
from driftd.reference.profile import Profile
from driftd.telemetry import Telemetry
from driftd.windows.count import CountWindow
from driftd.windows.panes import Pane
from driftd.windows.time import TimeWindow
from driftd.windows.watermark import Watermark


@dataclass(frozen=True, slots=True)
class _Due:
    """A window aggregate to evaluate: closed (revision 0), or a later revision."""

    window: str
    pane: Pane
    start: float | None = None
    end: float | None = None
    revision: int = 0
    matured: bool = False
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class ModelChanges:
    """What a reload did to the models: ``restarted`` maps each changed model to its
    windows that start empty (the others resumed)."""

    kept: tuple[str, ...]
    restarted: Mapping[str, list[str]]
    added: tuple[str, ...]
    removed: tuple[str, ...]


class ModelMonitor:
    """Windows, label clock and evaluator of one model.

    The label clock is the event time that both the model's predictions and its
    outcomes have reached (the oldest input's stream time minus the largest allowed
    lateness): a prediction stops waiting for its outcome, and a window matures, when
    the label clock has passed them by the label horizon, so every outcome that counts
    has arrived by then whatever the order the inputs were read in.
    """

    def __init__(self, config: ModelConfig, profile: Profile, telemetry: Telemetry) -> None:
        self.config = config
        self.layout = Layout(config.columns, profile, config.performance)
        self.evaluator = Evaluator(config, self.layout)
        self._telemetry = telemetry
        self._failure_log = FailureLog()
        self._lock = threading.Lock()
        horizon = config.performance.label_ttl_seconds if config.performance else None
        self.windows: dict[str, CountWindow | TimeWindow] = {
            w.name: _make_window(w, self.layout, horizon) for w in config.windows
        }
        timed = [w for w in config.windows if isinstance(w, TimeWindowConfig)]
        self.lateness = max((w.allowed_lateness_seconds for w in timed), default=0.0)
        self.label_clock = Watermark(self.lateness,
                                     max((w.idle_timeout_seconds for w in timed), default=60.0))
        self._due: list[_Due] = []  # count windows completed by ingest, not yet evaluated

    def ingest(self, batch: ModelBatch, key: str = "", now: float = 0.0) -> npt.NDArray[np.bool_]:
        """Add a batch from input ``key`` (a partition, in its order) received at
        ``now``; returns which events were on time in every time window."""
        encoded = self.layout.encode(batch)
        on_time = np.ones(len(batch), dtype=bool)
        with self._lock:
            for name, window in self.windows.items():
                if isinstance(window, TimeWindow):
                    late = window.add(encoded, key, now)
                    if late.any():
                        self._telemetry.count_late(self.config.name, name, int(late.sum()))
                    on_time &= ~late
                else:
                    emitted = window.add(encoded, emit=True)
                    first = window.completed - len(emitted)
                    self._due += [_Due(name, pane, sequence=first + i)
                                  for i, pane in enumerate(emitted)]
            if len(batch):
                self.label_clock.observe(key, float(batch.timestamps.max()), now)
        return on_time

    def outcomes(self, key: str, timestamps: npt.NDArray[np.float64],
                 now: float) -> npt.NDArray[np.bool_]:
        """Outcomes from input ``key`` move the label clock; returns which are on time
        (not older than their input's stream time minus the lateness, nor than the label
        clock): a late one could miss a window that has matured."""
        if not len(timestamps):
            return np.zeros(0, dtype=bool)
        with self._lock:
            before = np.maximum.accumulate(
                np.r_[self.label_clock.stream_time(key), timestamps[:-1]])
            on_time = ((timestamps >= before - self.lateness)
                       & (timestamps >= self.label_clock.value))
            self.label_clock.observe(key, float(timestamps.max()), now)
        return on_time

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

    def expect(self, keys: Sequence[str], now: float, stream: str = "predictions") -> None:
        """Inputs of ``stream`` that will send; outcomes move the label clock only."""
        with self._lock:
            if stream != "outcomes":
                for window in self._time_windows():
                    window.watermark.expect(keys, now)
            if self.config.performance is not None:
                self.label_clock.expect(keys, now)

    def excuse(self, key: str, now: float, stream: str = "predictions") -> None:
        """Input ``key`` sent a batch without an event of this model."""
        with self._lock:
            if stream != "outcomes":
                for window in self._time_windows():
                    window.excuse(key, now)
            self.label_clock.excuse(key, now)

    def forget(self, keys: list[str]) -> None:
        with self._lock:
            for window in self._time_windows():
                window.watermark.forget(keys)
            self.label_clock.forget(keys)

    def drift_tests(self) -> list[tuple[str, str]]:
        """The (column, test) pairs that can flag drift in a window of this model."""
        return [(slots.column.name, test) for slots in self.layout.columns
                for test in self.evaluator.decided_tests(slots.column)]

    def decay_metrics(self) -> list[str]:
        """The performance metrics whose decay is judged (those with a baseline)."""
        perf = self.layout.performance
        return sorted(perf.baseline) if perf is not None else []

    def _time_windows(self) -> list[TimeWindow]:
        return [w for w in self.windows.values() if isinstance(w, TimeWindow)]

    def _collect(self, now: float, *, revise: bool, finish: bool) -> list[_Due]:
        with self._lock:
            due, self._due = self._due, []
            if finish:
                self.label_clock.value = math.inf
            else:
                self.label_clock.advance(now)
            for name, window in self.windows.items():
                if not isinstance(window, TimeWindow):
                    continue
                if not finish:
                    window.advance(now)
                found = window.finish() if finish else window.close()
                found += window.mature(self.label_clock.value)
                if revise:
                    found += window.revise()
                found.sort(key=lambda timed: (timed.end, timed.revision))
                due += [_Due(name, t.pane, t.start, t.end, t.revision, t.matured)
                        for t in found]
            return due

    def results(self, now: float, *, revise: bool = False,
                finish: bool = False) -> list[WindowResult]:
        """A result for every window closed since the last call (in event-time order per
        window), every revision due (``revise``: windows whose labels changed) and every
        window that matured; ``finish`` closes and matures all (end of the data). What
        cannot be computed (a column, a metric, or a whole window) is left out, counted
        and logged."""
        attempts = Attempts()
        try:
            due = self._collect(now, revise=revise, finish=finish)
        except Exception as error:  # a bug in one model must not stop the others
            attempts.record(WHOLE_WINDOW, error)
            self._report(WHOLE_WINDOW, attempts, now)
            return []
        results = []
        for item in due:
            attempts = Attempts()
            try:
                result = self.evaluator.evaluate(item.window, item.pane, start=item.start,
                                                 end=item.end, attempts=attempts)
                results.append(replace(result, revision=item.revision, matured=item.matured,
                                       sequence=item.sequence, evaluated_at=now))
            except Exception as error:  # nor one window the other windows
                attempts.record(WHOLE_WINDOW, error)
            self._report(item.window, attempts, now)
        return results

    def _report(self, window: str, attempts: Attempts, now: float) -> None:
        for error in attempts.errors:
            self._telemetry.count_evaluation_error(self.config.name, window, error.part,
                                                   error.reason)
        self._failure_log(self.config.name, window, attempts.failed, now)

    def memory(self) -> tuple[int, int]:
        """Bytes of time-window panes with bucket counts, and of those kept for labels."""
        with self._lock:
            sizes = [w.memory() for w in self._time_windows()]
        return sum(s[0] for s in sizes), sum(s[1] for s in sizes)

    def state(self) -> ModelState:
        with self._lock:
            windows = {name: WindowState(self._fingerprint(name), *window.state())
                       for name, window in self.windows.items()}
            clock = self.label_clock.state()
        return ModelState(self.layout.profile.version, windows, clock)

    def restore(self, state: ModelState, now: float = 0.0) -> list[str]:
        """Resume the windows whose state fits (at processing time ``now``); returns the
        names of those that do not."""
        if state.reference != self.layout.profile.version:
            return sorted(self.windows)
        skipped = []
        with self._lock:
            self.label_clock.restore(state.clock, now)
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
        # Defaults left out: a setting added later does not invalidate older checkpoints.
        return (f"{spec.model_dump_json(exclude_defaults=True)}|slots={self.layout.size}"
                f"|tails={self.layout.tail_size}")


def _make_window(
    config: CountWindowConfig | TimeWindowConfig, layout: Layout, label_horizon: float | None,
) -> CountWindow | TimeWindow:
    if isinstance(config, CountWindowConfig):
        return CountWindow(config.size, config.step, slots=layout.size, tails=layout.tail_size)
    return TimeWindow(config.duration_seconds, config.slide_seconds,
                      config.allowed_lateness_seconds, slots=layout.size, tails=layout.tail_size,
                      idle_seconds=config.idle_timeout_seconds, offset=config.offset,
                      label_horizon=label_horizon)


class Monitor:
    """All configured models; the seam between ingest and evaluation."""

    def __init__(
        self, models: Sequence[ModelConfig], profiles: Mapping[str, Profile],
        telemetry: Telemetry,
    ) -> None:
        self._telemetry = telemetry
        self.models = {m.name: ModelMonitor(m, profiles[m.name], telemetry) for m in models}

    def ingest(self, stream: str, batches: Mapping[str, ModelBatch], key: str = "",
               now: float = 0.0) -> dict[str, npt.NDArray[np.bool_]]:
        """Add each model's valid events of one stream, from input ``key``, to its windows
        (outcomes: to its label clock); returns per model which events were on time.

        A model without events in the batch is told that ``key`` spoke without them, so
        its windows do not wait for inputs that carry other models only."""
        on_time = {}
        for model, batch in batches.items():
            self._telemetry.count_events(stream, model, len(batch))
            if len(batch):
                self._telemetry.observe_event_time(model, stream, float(batch.timestamps.max()))
            if stream == "outcomes":
                on_time[model] = self.models[model].outcomes(key, batch.timestamps, now)
            else:
                on_time[model] = self.models[model].ingest(batch, key, now)
        for name, monitor in self.models.items():
            if not len(batches.get(name, ())):
                monitor.excuse(key, now, stream)
        return on_time

    def expect(self, keys: Mapping[str, Sequence[str]], now: float,
               stream: str = "predictions") -> None:
        """Inputs (assigned partitions) of ``stream`` whose event time each model waits
        for, by model name; models not named wait for none of them."""
        for name, model_keys in keys.items():
            if name in self.models and model_keys:
                self.models[name].expect(model_keys, now, stream)

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

    def reconfigure(self, models: Sequence[ModelConfig], profiles: Mapping[str, Profile],
                    now: float = 0.0) -> ModelChanges:
        """Take a new set of models (a config reload). A model whose config and reference
        are unchanged keeps its monitor as it is; a changed one starts as on a restart: a
        new monitor resumes the old one's state where it still fits (the windows whose
        settings and reference are unchanged, see ``ModelMonitor.restore``); models no
        longer configured are dropped, new ones start empty."""
        kept, restarted, added = [], {}, []
        found: dict[str, ModelMonitor] = {}
        for config in models:
            profile, old = profiles[config.name], self.models.get(config.name)
            if old is None:
                found[config.name] = ModelMonitor(config, profile, self._telemetry)
                added.append(config.name)
            elif old.config == config and old.layout.profile.version == profile.version:
                found[config.name] = old
                kept.append(config.name)
            else:
                fresh = ModelMonitor(config, profile, self._telemetry)
                restarted[config.name] = fresh.restore(old.state(), now)
                found[config.name] = fresh
        removed = sorted(set(self.models) - set(found))
        self.models = found
        return ModelChanges(tuple(kept), restarted, tuple(added), tuple(removed))

    def results(self, now: float, *, revise: bool = False,
                finish: bool = False) -> list[WindowResult]:
        """Every model's results due (see ``ModelMonitor.results``)."""
        return [r for m in self.models.values()
                for r in m.results(now, revise=revise, finish=finish)]
