"""Prometheus exposition: a custom collector that reads published results at scrape time.

This is the only module importing ``prometheus_client``. Nothing is stored in client-side
metric objects: every scrape derives its series from the latest ``Published`` on the
board and a telemetry snapshot, so the series of a model or column that is no longer
evaluated vanish on the next scrape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from driftd.monitor.performance import PerformanceResult
from driftd.monitor.results import ColumnResult, ResultBoard, WindowResult
from driftd.telemetry import (
    BATCH_SECONDS_BUCKETS,
    LABEL_DELAY_BUCKETS,
    Telemetry,
    TelemetrySnapshot,
)

COLUMN_LABELS = ("model", "model_version", "column", "role", "window", "reference")
WINDOW_LABELS = ("model", "model_version", "window", "reference")

_MetricFamily = GaugeMetricFamily | CounterMetricFamily
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """Name, type, help text and label names of one metric family."""

    name: str
    kind: Literal["gauge", "counter"]
    help: str
    labels: tuple[str, ...] = ()

    def new(self, labels: tuple[str, ...] | None = None) -> _MetricFamily:
        """An empty family of this spec, optionally with other label names."""
        names = self.labels if labels is None else labels
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.help, labels=names)
        return GaugeMetricFamily(self.name, self.help, labels=names)


# Statistic key of ColumnResult.statistics -> its gauge (per column and window).
STATISTIC_FAMILIES: Mapping[str, FamilySpec] = MappingProxyType({
    key: FamilySpec(name, "gauge", text, COLUMN_LABELS)
    for key, name, text in (
        ("psi", "driftd_psi",
         "Population stability index of the column in the window against the reference "
         "(dimensionless)."),
        ("psi_pvalue", "driftd_psi_pvalue",
         "P-value of the PSI under the null hypothesis of no drift (probability, 0 to 1)."),
        ("ks_statistic", "driftd_ks_statistic",
         "Two-sample Kolmogorov-Smirnov statistic of the column against the reference "
         "(0 to 1)."),
        ("ks_pvalue", "driftd_ks_pvalue",
         "P-value of the two-sample Kolmogorov-Smirnov test (probability, 0 to 1)."),
        ("chi2_statistic", "driftd_chi2_statistic",
         "Chi-square homogeneity statistic of the categorical column against the reference "
         "(dimensionless)."),
        ("chi2_pvalue", "driftd_chi2_pvalue",
         "P-value of the chi-square homogeneity test (probability, 0 to 1)."),
        ("js_distance", "driftd_js_distance",
         "Jensen-Shannon distance of the column against the reference, base 2 (0 to 1)."),
        ("wasserstein", "driftd_wasserstein_distance",
         "Wasserstein-1 distance of the column against the reference, in the column's units."),
        ("missing_ratio", "driftd_missing_ratio",
         "Share of missing or non-finite values of the column in the window (ratio, 0 to 1)."),
        ("missing_ratio_reference", "driftd_missing_ratio_reference",
         "Share of missing or non-finite values of the column in the reference (ratio, 0 to 1)."),
        ("missing_pvalue", "driftd_missing_pvalue",
         "P-value of the test that the missing rate equals the reference's (probability, 0 to 1)."),
    )
})

DRIFT_DETECTED = FamilySpec(
    "driftd_drift_detected", "gauge",
    "1 when the test flags drift of the column in the window after thresholds and "
    "correction, else 0.",
    (*COLUMN_LABELS, "test"),
)
WINDOW_EVENTS = FamilySpec(
    "driftd_window_events", "gauge", "Number of events in the evaluated window (events).",
    WINDOW_LABELS,
)
WINDOW_START = FamilySpec(
    "driftd_window_start_timestamp_seconds", "gauge",
    "Start of the evaluated window as a Unix timestamp (seconds).", WINDOW_LABELS,
)
WINDOW_END = FamilySpec(
    "driftd_window_end_timestamp_seconds", "gauge",
    "End of the evaluated window as a Unix timestamp (seconds).", WINDOW_LABELS,
)
MODEL_DRIFT_COLUMNS = FamilySpec(
    "driftd_model_drift_columns", "gauge",
    "Number of columns of the model with at least one test flagging drift in the window "
    "(columns).",
    WINDOW_LABELS,
)
EVENTS = FamilySpec(
    "driftd_events", "counter", "Events accepted, by stream and model (events).",
    ("stream", "model"),
)
EVENTS_INVALID = FamilySpec(
    "driftd_events_invalid", "counter", "Events rejected by validation, by reason (events).",
    ("reason",),
)
EVENTS_LATE = FamilySpec(
    "driftd_events_late", "counter",
    "Events that arrived after their window had closed, counted but not evaluated (events).",
    ("model", "window"),
)
LAST_EVENT = FamilySpec(
    "driftd_last_event_timestamp_seconds", "gauge",
    "Event time of the newest accepted event as a Unix timestamp (seconds).",
    ("model", "stream"),
)
LAST_EVALUATION = FamilySpec(
    "driftd_last_evaluation_timestamp_seconds", "gauge",
    "When the last evaluation finished as a Unix timestamp (seconds).",
)
EVALUATION_ERRORS = FamilySpec(
    "driftd_evaluation_errors", "counter",
    "Evaluations in which a part of a window could not be computed and was left out, by "
    "part (a column, performance, or * for the whole window) and reason (invalid_value, "
    "arithmetic, unexpected) (evaluations).", ("model", "window", "part", "reason"),
)
CHECKPOINT = FamilySpec(
    "driftd_checkpoint_timestamp_seconds", "gauge",
    "When the last checkpoint was written as a Unix timestamp (seconds).",
)
PERFORMANCE_LABELS = (*WINDOW_LABELS, "metric")
PERFORMANCE = FamilySpec(
    "driftd_performance", "gauge",
    "Model performance in the window from joined outcomes, by metric (accuracy, f1, auc, "
    "log_loss, mae, rmse, mape; ratios or the label's units).", PERFORMANCE_LABELS,
)
PERFORMANCE_ESTIMATED = FamilySpec(
    "driftd_performance_estimated", "gauge",
    "Label-free estimate of performance from the window's prediction scores, assuming "
    "calibrated scores (ratio, 0 to 1).", PERFORMANCE_LABELS,
)
PERFORMANCE_BASELINE = FamilySpec(
    "driftd_performance_baseline", "gauge",
    "The configured baseline of the metric.", PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY = FamilySpec(
    "driftd_performance_decay", "gauge",
    "How much worse than the baseline the window is (positive = worse), by metric.",
    PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY_LOWER = FamilySpec(
    "driftd_performance_decay_lower", "gauge",
    "Lower bound of the decay's confidence interval.", PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY_UPPER = FamilySpec(
    "driftd_performance_decay_upper", "gauge",
    "Upper bound of the decay's confidence interval.", PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY_DETECTED = FamilySpec(
    "driftd_performance_decay_detected", "gauge",
    "1 when the whole decay interval exceeds the tolerated decay, else 0.",
    PERFORMANCE_LABELS,
)
LABEL_COVERAGE = FamilySpec(
    "driftd_label_coverage", "gauge",
    "Share of the window's predictions whose outcome has been joined (ratio, 0 to 1).",
    WINDOW_LABELS,
)
JOIN_COUNTERS = {
    name: FamilySpec(f"driftd_{name}", "counter", text, ("model",))
    for name, text in (
        ("labels_matched", "Outcomes joined to their prediction (events)."),
        ("predictions_expired", "Predictions whose outcome did not arrive within "
                                "label_ttl_seconds (events)."),
        ("outcomes_orphaned", "Outcomes whose prediction did not arrive within "
                              "orphan_ttl_seconds (events)."),
        ("predictions_evicted", "Predictions dropped to keep the pending store within "
                                "max_pending (events)."),
        ("labels_outside_windows", "Joined outcomes whose prediction is older than every "
                                   "time window (events)."),
        ("predictions_without_id", "Predictions of a model with performance that carry no "
                                   "id, so no outcome can join them (events)."),
        ("outcomes_without_id", "Outcomes that carry no id, so they cannot be joined "
                                "(events)."),
    )
}
CONSUMER_LAG = FamilySpec(
    "driftd_consumer_lag", "gauge",
    "Records in the partition not yet processed by driftd (records).", ("topic", "partition"),
)
DEAD_LETTERS = FamilySpec(
    "driftd_dead_letters", "counter",
    "Dead-letter records by outcome: sent, truncated (cut to size or sent as a reference "
    "to topic, partition and offset), failed (a delivery attempt failed; retried within "
    "bounds), dropped (given up).", ("outcome",),
)
SOURCE_UP = FamilySpec(
    "driftd_source_up", "gauge",
    "1 while the source's brokers answer, 0 during an outage.", ("source",),
)
REFERENCE_INFO = FamilySpec(
    "driftd_reference_info", "gauge",
    "Always 1; the labels describe the reference profile a model is compared against.",
)
BUILD_INFO = FamilySpec(
    "driftd_build_info", "gauge", "Always 1; the labels describe the running driftd build.",
)

FAMILIES: tuple[FamilySpec, ...] = (
    *STATISTIC_FAMILIES.values(), DRIFT_DETECTED, WINDOW_EVENTS, WINDOW_START, WINDOW_END,
    MODEL_DRIFT_COLUMNS, EVENTS, EVENTS_INVALID, EVENTS_LATE, LAST_EVENT, LAST_EVALUATION,
    CHECKPOINT, CONSUMER_LAG, SOURCE_UP, REFERENCE_INFO, BUILD_INFO, PERFORMANCE,
    PERFORMANCE_ESTIMATED, PERFORMANCE_BASELINE, PERFORMANCE_DECAY, PERFORMANCE_DECAY_LOWER,
    PERFORMANCE_DECAY_UPPER, PERFORMANCE_DECAY_DETECTED, LABEL_COVERAGE,
    *JOIN_COUNTERS.values(), EVALUATION_ERRORS,
)


class DriftdCollector:
    """Builds every driftd metric family at scrape time from the board and telemetry."""

    def __init__(
        self,
        board: ResultBoard,
        telemetry: Telemetry,
        *,
        references: Mapping[str, Mapping[str, str]],
        build: Mapping[str, str],
    ) -> None:
        for model, labels in references.items():
            _check_label_names(labels, f"references[{model!r}]")
        _check_label_names(build, "build")
        self._board = board
        self._telemetry = telemetry
        # Copied into rows once: they describe the process and must not change under a scrape.
        self._reference_rows = tuple(
            {**labels, "model": model} for model, labels in sorted(references.items())
        )
        self._build_rows = (dict(build),)

    def describe(self) -> Iterator[Metric]:
        """Empty families, so registration checks names without computing anything."""
        for family in FAMILIES:
            yield family.new()

    def collect(self) -> Iterator[Metric]:
        """Every non-empty family, derived from the latest results and telemetry."""
        published = self._board.latest()
        windows = published.windows if published is not None else ()
        families = (
            *_window_families(windows),
            *_telemetry_families(self._telemetry.snapshot()),
            _info_family(REFERENCE_INFO, self._reference_rows),
            _info_family(BUILD_INFO, self._build_rows),
        )
        # A family without samples would still print HELP/TYPE lines; leave it out.
        yield from (family for family in families if family.samples)


def build_registry(collector: DriftdCollector) -> CollectorRegistry:
    """A fresh registry holding only ``collector`` (never the global REGISTRY)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition of ``registry`` and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _window_families(windows: Iterable[WindowResult]) -> list[Metric]:
    statistics = {key: family.new() for key, family in STATISTIC_FAMILIES.items()}
    performance = {spec.name: spec.new() for spec in _PERFORMANCE_FAMILIES}
    drift, events, start, end, drifted = (
        family.new() for family in (DRIFT_DETECTED, WINDOW_EVENTS, WINDOW_START, WINDOW_END,
                                    MODEL_DRIFT_COLUMNS)
    )
    for window in windows:
        window_labels = [window.model, window.model_version, window.window, window.reference]
        events.add_metric(window_labels, float(window.events))
        if window.start is not None:
            start.add_metric(window_labels, window.start)
        if window.end is not None:
            end.add_metric(window_labels, window.end)
        drifted.add_metric(window_labels, float(sum(c.drifted for c in window.columns)))
        if window.performance is not None:
            _add_performance(performance, window_labels, window.performance)
        for column in window.columns:
            labels = _column_labels(window, column)
            for key, value in column.statistics.items():
                # Keys outside the contract are not exported rather than guessed at.
                if key in statistics:
                    statistics[key].add_metric(labels, float(value))
            for test, detected in column.drift.items():
                drift.add_metric([*labels, test], 1.0 if detected else 0.0)
    return [*statistics.values(), drift, events, start, end, drifted, *performance.values()]


_PERFORMANCE_FAMILIES = (PERFORMANCE, PERFORMANCE_ESTIMATED, PERFORMANCE_BASELINE,
                         PERFORMANCE_DECAY, PERFORMANCE_DECAY_LOWER, PERFORMANCE_DECAY_UPPER,
                         PERFORMANCE_DECAY_DETECTED, LABEL_COVERAGE)


def _add_performance(families: Mapping[str, _MetricFamily], labels: list[str],
                     result: PerformanceResult) -> None:
    """One window's performance series; metrics without a value are left out."""
    for spec, values in ((PERFORMANCE, result.metrics), (PERFORMANCE_ESTIMATED, result.estimated),
                         (PERFORMANCE_BASELINE, result.baseline)):
        for metric, value in values.items():
            families[spec.name].add_metric([*labels, metric], float(value))
    for metric, decay in result.decay.items():
        low, high = decay.interval
        for spec, value in ((PERFORMANCE_DECAY, decay.decay), (PERFORMANCE_DECAY_LOWER, low),
                            (PERFORMANCE_DECAY_UPPER, high),
                            (PERFORMANCE_DECAY_DETECTED, float(decay.significant))):
            families[spec.name].add_metric([*labels, metric], float(value))
    if result.predictions:
        families[LABEL_COVERAGE.name].add_metric(labels, result.coverage)


def _column_labels(window: WindowResult, column: ColumnResult) -> list[str]:
    return [window.model, window.model_version, column.column, column.role, window.window,
            window.reference]


def _telemetry_families(snapshot: TelemetrySnapshot) -> list[Metric]:
    events, invalid, late, last_event, evaluation, checkpoint = (
        family.new() for family in (EVENTS, EVENTS_INVALID, EVENTS_LATE, LAST_EVENT,
                                    LAST_EVALUATION, CHECKPOINT)
    )
    for (stream, model), count in sorted(snapshot.events.items()):
        events.add_metric([stream, model], float(count))
    for reason, count in sorted(snapshot.invalid.items()):
        invalid.add_metric([reason], float(count))
    for (model, window), count in sorted(snapshot.late.items()):
        late.add_metric([model, window], float(count))
    for (model, stream), timestamp in sorted(snapshot.last_event.items()):
        last_event.add_metric([model, stream], timestamp)
    if snapshot.last_evaluation is not None:
        evaluation.add_metric([], snapshot.last_evaluation)
    if snapshot.last_checkpoint is not None:
        checkpoint.add_metric([], snapshot.last_checkpoint)
    lag, up = CONSUMER_LAG.new(), SOURCE_UP.new()
    for (topic, partition), records in sorted(snapshot.lag.items()):
        lag.add_metric([topic, str(partition)], float(records))
    for source, is_up in sorted(snapshot.source_up.items()):
        up.add_metric([source], 1.0 if is_up else 0.0)
    dead_letters = DEAD_LETTERS.new()
    for outcome, records in sorted(snapshot.dead_letters.items()):
        dead_letters.add_metric([outcome], float(records))
    errors = EVALUATION_ERRORS.new()
    for labels, count in sorted(snapshot.evaluation_errors.items()):
        errors.add_metric(list(labels), float(count))
    joins = {name: spec.new() for name, spec in JOIN_COUNTERS.items()}
    for (counter, model), count in sorted(snapshot.join.items()):
        if counter in joins:
            joins[counter].add_metric([model], float(count))
    return [events, invalid, late, last_event, evaluation, checkpoint, lag, up, dead_letters,
            _batch_histogram(snapshot), *joins.values(), _label_delay_histogram(snapshot), errors]


def _label_delay_histogram(snapshot: TelemetrySnapshot) -> Metric:
    histogram = HistogramMetricFamily(
        "driftd_label_delay_seconds",
        "Time from a prediction's event time to its outcome's event time (seconds).",
        labels=["model"])
    bounds = [*(str(b) for b in LABEL_DELAY_BUCKETS), "+Inf"]
    for model, (buckets, total) in sorted(snapshot.label_delay.items()):
        histogram.add_metric([model], list(zip(bounds, map(float, buckets), strict=True)), total)
    return histogram


def _batch_histogram(snapshot: TelemetrySnapshot) -> Metric:
    histogram = HistogramMetricFamily(
        "driftd_batch_duration_seconds",
        "Time to decode a poll batch and add it to the windows (seconds).")
    if snapshot.batch_buckets and snapshot.batch_buckets[-1]:  # after the first batch
        bounds = [*(str(b) for b in BATCH_SECONDS_BUCKETS), "+Inf"]
        histogram.add_metric([], list(zip(bounds, map(float, snapshot.batch_buckets),
                                           strict=True)), snapshot.batch_seconds_sum)
    return histogram


def _info_family(family: FamilySpec, rows: Iterable[Mapping[str, str]]) -> Metric:
    """An always-1 gauge with one sample per row of labels."""
    rows = list(rows)
    # One family needs one label set: the union ("model" first), "" (absent) where missing.
    names = sorted({name for row in rows for name in row}, key=lambda name: (name != "model", name))
    metric = family.new(tuple(names))
    for row in rows:
        metric.add_metric([row.get(name, "") for name in names], 1.0)
    return metric


def _check_label_names(labels: Mapping[str, str], parameter: str) -> None:
    for name in labels:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"{parameter} has an invalid Prometheus label name {name!r}")
