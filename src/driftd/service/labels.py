"""The label join: delayed outcomes matched to their predictions by id.

Predictions of a model with ``performance`` configured wait in the pending store;
an outcome whose prediction has not arrived yet waits in the orphan store. A joined
pair adds its realized performance terms to the time-window panes of the prediction's
event time, so a window's figure fills in as its labels arrive. Everything goes by
event time, so a replay and a live run (any interleaving, any restart) join the same
pairs: a pair counts when the outcome is at most ``label_ttl_seconds`` after its
prediction (and at most ``orphan_ttl_seconds`` before it), and the stores are emptied
of what can no longer count once the model's label clock (see ``ModelMonitor``) has
passed it. Predictions that were late for a time window, and late outcomes, are not
joined. Both stores live in the checkpoint's database and are committed with
it, so a crash neither loses nor repeats a match.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from driftd.config import ModelConfig, PerformanceConfig
from driftd.events import ModelBatch
from driftd.monitor.monitor import Monitor
from driftd.monitor.performance import outcome_values, prediction_values, unknown_classes
from driftd.service.checkpoint import CheckpointStore
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)


class _ModelJoin:
    def __init__(self, config: PerformanceConfig, store: CheckpointStore) -> None:
        self.config = config
        self.pending = store.pending(capacity=config.max_pending)
        self.orphans = store.pending(capacity=config.max_pending, table="orphans")



class LabelJoin:
    """Matches outcome batches to pending predictions and feeds the monitor."""

    def __init__(self, models: Sequence[ModelConfig], monitor: Monitor, store: CheckpointStore,
                 telemetry: Telemetry) -> None:
        self._monitor, self._telemetry = monitor, telemetry
        self._joins = {m.name: _ModelJoin(m.performance, store) for m in models
                       if m.performance is not None}

    def __bool__(self) -> bool:
        return bool(self._joins)

    def predictions(self, batches: Mapping[str, ModelBatch],
                    on_time: Mapping[str, npt.NDArray[np.bool_]]) -> None:
        """Remember the on-time predictions (joining outcomes that came first)."""
        for model, batch in batches.items():
            join = self._joins.get(model)
            if join is None:
                continue
            rows, ids = self._with_ids(model, batch, "predictions_without_id", on_time.get(model))
            scores = prediction_values(join.config, batch)[rows]
            ts = batch.timestamps[rows]
            if len(join.orphans):
                found = join.orphans.match(model, ids)
                if len(found.index):
                    self._joined(model, join.config, ts[found.index], scores[found.index],
                                 found.value, found.ts - ts[found.index])
                    keep = np.setdiff1d(np.arange(len(ids)), found.index)
                    ids, scores, ts = [ids[i] for i in keep], scores[keep], ts[keep]
            evicted = join.pending.add(model, ids, ts, scores, ts + join.config.label_ttl_seconds)
            if evicted:
                self._telemetry.count_join("predictions_evicted", model, evicted)

    def outcomes(self, batches: Mapping[str, ModelBatch],
                 on_time: Mapping[str, npt.NDArray[np.bool_]]) -> None:
        """Join on-time outcomes to their predictions; the others wait as orphans."""
        for model, batch in batches.items():
            join = self._joins.get(model)
            if join is None:
                continue
            mask = on_time.get(model)
            if mask is not None and not mask.all():
                self._telemetry.count_join("outcomes_late", model, int((~mask).sum()))
            rows, ids = self._with_ids(model, batch, "outcomes_without_id", mask)
            actual, ts = outcome_values(join.config, batch)[rows], batch.timestamps[rows]
            unknown = unknown_classes(join.config, batch)[rows].sum()
            if unknown:
                self._telemetry.count_join("outcomes_unknown_class", model, int(unknown))
            found = join.pending.match(model, ids)
            if len(found.index):
                self._joined(model, join.config, found.ts, found.value, actual[found.index],
                             ts[found.index] - found.ts)
            waiting = np.setdiff1d(np.arange(len(ids)), found.index)
            if len(waiting):
                join.orphans.add(model, [ids[i] for i in waiting], ts[waiting], actual[waiting],
                                 ts[waiting] + join.config.orphan_ttl_seconds)

    def _with_ids(self, model: str, batch: ModelBatch, counter: str,
                  on_time: npt.NDArray[np.bool_] | None) -> tuple[npt.NDArray[np.int64], list[str]]:
        """Rows of the on-time events that carry an id, and the ids; those without one
        cannot be joined and are counted under ``counter``."""
        with_id = np.array([v is not None for v in batch.ids], dtype=bool)
        if not with_id.all():
            self._telemetry.count_join(counter, model, int((~with_id).sum()))
        rows = np.flatnonzero(with_id if on_time is None else with_id & on_time)
        return rows, [str(batch.ids[i]) for i in rows]

    def _joined(self, model: str, config: PerformanceConfig,
                prediction_ts: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64],
                actual: npt.NDArray[np.float64], delays: npt.NDArray[np.float64]) -> None:
        within = (delays <= config.label_ttl_seconds) & (delays >= -config.orphan_ttl_seconds)
        if not within.all():
            self._telemetry.count_join("labels_after_horizon", model, int((~within).sum()))
            prediction_ts, predicted = prediction_ts[within], predicted[within]
            actual, delays = actual[within], delays[within]
        gone = self._monitor.models[model].add_outcomes(prediction_ts, predicted, actual, delays)
        self._telemetry.count_join("labels_matched", model, len(prediction_ts))
        if gone:
            self._telemetry.count_join("labels_outside_windows", model, gone)
        self._telemetry.observe_label_delays(model, delays.tolist())

    def expire(self) -> None:
        """Drop what the label clock has passed (no outcome that counts can still come),
        counting it."""
        for model, join in self._joins.items():
            clock = self._monitor.models[model].label_clock.value
            if clock == -np.inf:
                continue
            expired = join.pending.expire(model, clock)
            if expired:
                self._telemetry.count_join("predictions_expired", model, expired)
            orphaned = join.orphans.expire(model, clock)
            if orphaned:
                self._telemetry.count_join("outcomes_orphaned", model, orphaned)

