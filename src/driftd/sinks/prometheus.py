"""Prometheus exposition: a custom collector that reads published results at scrape time.

Only this module and ``metric_families`` (the families it fills) import
``prometheus_client``. Nothing is stored in client-side metric objects: every scrape
derives its series from the latest ``Published`` on the board and a telemetry snapshot,
so the series of a model or column that is no longer evaluated vanish on the next
scrape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

from prometheus_client import (
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from driftd.monitor.performance import PerformanceResult
from driftd.monitor.results import ColumnResult, Published, ResultBoard, WindowResult
from driftd.reference.calibration import EstimateReliability
from driftd.sinks.metric_families import (
    BUILD_INFO,
    CALIBRATION_ERROR,
    CHECKPOINT,
    CONFIG_RELOAD_SUCCESS_TIME,
    CONFIG_RELOAD_SUCCESSFUL,
    CONFUSION,
    CONSUMER_LAG,
    DEAD_LETTERS,
    DRIFT_DETECTED,
    DRIFT_MIN_EVENTS,
    DRIFT_UNDECIDED,
    ESTIMATE_REFERENCE_ERROR,
    ESTIMATE_UNRELIABLE,
    EVALUATION_ERRORS,
    EVENTS,
    EVENTS_INVALID,
    EVENTS_LATE,
    FAMILIES,
    HTTP_INGEST_REQUESTS,
    JOIN_COUNTERS,
    LABEL_COVERAGE,
    LABEL_UNIT_METRICS,
    LAST_EVALUATION,
    LAST_EVENT,
    MODEL_DRIFT_COLUMNS,
    MODEL_VERSION_EVENTS,
    PERFORMANCE,
    PERFORMANCE_BASELINE,
    PERFORMANCE_CLASS,
    PERFORMANCE_DECAY,
    PERFORMANCE_DECAY_DETECTED,
    PERFORMANCE_DECAY_LOWER,
    PERFORMANCE_DECAY_UPPER,
    PERFORMANCE_ERROR,
    PERFORMANCE_ERROR_BASELINE,
    PERFORMANCE_ERROR_DECAY,
    PERFORMANCE_ERROR_DECAY_LOWER,
    PERFORMANCE_ERROR_DECAY_UPPER,
    PERFORMANCE_ESTIMATED,
    REFERENCE_INFO,
    REFERENCE_ROWS,
    SOURCE_UP,
    STATISTIC_FAMILIES,
    WINDOW_END,
    WINDOW_EVENTS,
    WINDOW_MATURED_END,
    WINDOW_MATURED_START,
    WINDOW_START,
    WINDOWS_DECAYED,
    WINDOWS_DRIFTED,
    WINDOWS_EVALUATED,
    WINDOWS_MATURED,
    FamilySpec,
    MetricFamily,
)
from driftd.telemetry import (
    BATCH_SECONDS_BUCKETS,
    LABEL_DELAY_BUCKETS,
    Telemetry,
    TelemetrySnapshot,
)

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class DriftdCollector:
    """Builds every driftd metric family at scrape time from the board and telemetry."""

    def __init__(
        self,
        board: ResultBoard,
        telemetry: Telemetry,
        *,
        references: Mapping[str, Mapping[str, str]],
        build: Mapping[str, str],
        reference_rows: Mapping[str, tuple[str, int]] | None = None,
        estimates: Iterable[EstimateReliability] = (),
    ) -> None:
        _check_label_names(build, "build")
        self._board = board
        self._telemetry = telemetry
        self._build_rows = (dict(build),)
        self.set_models(references, reference_rows or {}, estimates)

    def set_models(self, references: Mapping[str, Mapping[str, str]],
                   reference_rows: Mapping[str, tuple[str, int]],
                   estimates: Iterable[EstimateReliability] = ()) -> None:
        """What describes the configured models: their reference labels, the rows each
        reference was built from (model -> (version, rows)) and the estimates'
        reliability; replaced whole by a config reload."""
        for model, labels in references.items():
            _check_label_names(labels, f"references[{model!r}]")
        # Copied once into one tuple, swapped in one assignment: a scrape sees the old
        # models or the new ones, never a mix.
        self._models = (
            tuple({**labels, "model": model} for model, labels in sorted(references.items())),
            tuple(sorted(reference_rows.items())),
            tuple(sorted(estimates, key=lambda e: e.model)),
        )

    def describe(self) -> Iterator[Metric]:
        """Empty families, so registration checks names, and ``name[]`` finds every
        family, without computing anything."""
        for family in FAMILIES:
            yield family.new()
        empty = Telemetry().snapshot()
        yield _label_delay_histogram(empty)
        yield _batch_histogram(empty)

    def collect(self) -> Iterator[Metric]:
        """Every non-empty family, derived from the latest results and telemetry."""
        published = self._board.latest() or Published(evaluated_at=0.0)
        references, rows, estimates = self._models
        families = (
            *_window_families(published.windows),
            *_matured_families(published.matured),
            *_telemetry_families(self._telemetry.snapshot()),
            _info_family(REFERENCE_INFO, references),
            _reference_rows_family(rows),
            _info_family(BUILD_INFO, self._build_rows),
            *_estimate_families(estimates),
        )
        # A family without samples would still print HELP/TYPE lines; leave it out.
        yield from (family for family in families if family.samples)


def build_registry(collector: DriftdCollector) -> CollectorRegistry:
    """A fresh registry (never the global REGISTRY) holding ``collector`` and
    client_python's process (``process_*``), platform (``python_info``) and garbage
    collector (``python_gc_*``) collectors. Those three have no ``describe``: auto_describe
    collects them once here so that ``name[]`` finds them (``collector`` has its own)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry, accept: str = "",
           names: Sequence[str] = ()) -> tuple[bytes, str]:
    """The exposition of ``registry`` and its content type: OpenMetrics when ``accept``
    (the scraper's Accept header) asks for it, else the text format; only the samples
    named in ``names`` (the ``name[]`` query parameters) when any are given."""
    encoder, content_type = choose_encoder(accept)
    if not names:
        return encoder(registry), content_type
    return encoder(registry.restricted_registry(names)), content_type


def _window_families(windows: Iterable[WindowResult]) -> list[Metric]:
    statistics = {key: family.new() for key, family in STATISTIC_FAMILIES.items()}
    performance = {spec.name: spec.new() for spec in _PERFORMANCE_FAMILIES}
    drift, undecided, needed, events, start, end, drifted = (
        family.new() for family in (DRIFT_DETECTED, DRIFT_UNDECIDED, DRIFT_MIN_EVENTS,
                                    WINDOW_EVENTS, WINDOW_START, WINDOW_END,
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
            _add_performance(performance, window_labels, "latest", window.performance)
        for column in window.columns:
            labels = _column_labels(window, column)
            for key, value in column.statistics.items():
                # Keys outside the contract are not exported rather than guessed at.
                if key in statistics:
                    statistics[key].add_metric(labels, float(value))
            for test, detected in column.drift.items():
                drift.add_metric([*labels, test], 1.0 if detected else 0.0)
            for test, size in column.min_events.items():
                needed.add_metric([*labels, test], float(size))
                undecided.add_metric([*labels, test], float(test in column.undecided))
    return [*statistics.values(), drift, undecided, needed, events, start, end, drifted,
            *performance.values()]


def _matured_families(windows: Iterable[WindowResult]) -> list[Metric]:
    """The latest matured window of each (model, window): bounds and final performance."""
    performance = {spec.name: spec.new() for spec in _PERFORMANCE_FAMILIES}
    start, end = WINDOW_MATURED_START.new(), WINDOW_MATURED_END.new()
    for window in windows:
        window_labels = [window.model, window.model_version, window.window, window.reference]
        if window.start is not None:
            start.add_metric(window_labels, window.start)
        if window.end is not None:
            end.add_metric(window_labels, window.end)
        if window.performance is not None:
            _add_performance(performance, window_labels, "matured", window.performance)
    return [start, end, *performance.values()]


_PERFORMANCE_FAMILIES = (PERFORMANCE, PERFORMANCE_ESTIMATED, PERFORMANCE_BASELINE,
                         PERFORMANCE_DECAY, PERFORMANCE_DECAY_LOWER, PERFORMANCE_DECAY_UPPER,
                         PERFORMANCE_ERROR, PERFORMANCE_ERROR_BASELINE, PERFORMANCE_ERROR_DECAY,
                         PERFORMANCE_ERROR_DECAY_LOWER, PERFORMANCE_ERROR_DECAY_UPPER,
                         PERFORMANCE_DECAY_DETECTED, PERFORMANCE_CLASS, CONFUSION,
                         LABEL_COVERAGE)
# The family of a unitless metric -> the one of the same series for metrics in the
# label's units (LABEL_UNIT_METRICS).
_IN_LABEL_UNITS = {PERFORMANCE.name: PERFORMANCE_ERROR, PERFORMANCE_BASELINE.name:
                   PERFORMANCE_ERROR_BASELINE, PERFORMANCE_DECAY.name: PERFORMANCE_ERROR_DECAY,
                   PERFORMANCE_DECAY_LOWER.name: PERFORMANCE_ERROR_DECAY_LOWER,
                   PERFORMANCE_DECAY_UPPER.name: PERFORMANCE_ERROR_DECAY_UPPER}


def _add_performance(families: Mapping[str, MetricFamily], window_labels: list[str],
                     stage: str, result: PerformanceResult) -> None:
    """One window's performance series; metrics without a value are left out."""
    labels = [*window_labels, stage]

    def add(spec: FamilySpec, metric: str, value: float) -> None:
        if metric in LABEL_UNIT_METRICS:
            spec = _IN_LABEL_UNITS.get(spec.name, spec)
        families[spec.name].add_metric([*labels, metric], float(value))

    for spec, values in ((PERFORMANCE, result.metrics), (PERFORMANCE_ESTIMATED, result.estimated),
                         (PERFORMANCE_BASELINE, result.baseline)):
        for metric, value in values.items():
            add(spec, metric, value)
    for metric, decay in result.decay.items():
        low, high = decay.interval
        for spec, value in ((PERFORMANCE_DECAY, decay.decay), (PERFORMANCE_DECAY_LOWER, low),
                            (PERFORMANCE_DECAY_UPPER, high),
                            (PERFORMANCE_DECAY_DETECTED, float(decay.significant))):
            add(spec, metric, value)
    for metric, by_class in result.per_class.items():
        for name, value in by_class.items():
            families[PERFORMANCE_CLASS.name].add_metric([*labels, metric, name], float(value))
    for true, row in result.confusion.items():
        for predicted, count in row.items():
            families[CONFUSION.name].add_metric([*labels, true, predicted], float(count))
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
    versions = MODEL_VERSION_EVENTS.new()
    for (model, stream, version), count in sorted(snapshot.versions.items()):
        versions.add_metric([model, stream, version], float(count))
    for (model, window), count in sorted(snapshot.late.items()):
        late.add_metric([model, window], float(count))
    requests = HTTP_INGEST_REQUESTS.new()
    for code, count in sorted(snapshot.http_requests.items()):
        requests.add_metric([code], float(count))
    for (model, stream), timestamp in sorted(snapshot.last_event.items()):
        last_event.add_metric([model, stream], timestamp)
    if snapshot.last_evaluation is not None:
        evaluation.add_metric([], snapshot.last_evaluation)
    if snapshot.last_checkpoint is not None:
        checkpoint.add_metric([], snapshot.last_checkpoint)
    reload_ok, loaded_at = CONFIG_RELOAD_SUCCESSFUL.new(), CONFIG_RELOAD_SUCCESS_TIME.new()
    if snapshot.config_loaded_at is not None:  # a daemon (not a bare collector)
        reload_ok.add_metric([], float(snapshot.reload_successful))
        loaded_at.add_metric([], snapshot.config_loaded_at)
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
    return [events, versions, invalid, late, last_event, evaluation, checkpoint, lag, up,
            dead_letters, _batch_histogram(snapshot), *joins.values(),
            _label_delay_histogram(snapshot), errors, *_window_counters(snapshot), requests,
            reload_ok, loaded_at]


def _window_counters(snapshot: TelemetrySnapshot) -> list[Metric]:
    """Closed and matured windows, each counted once however many close between scrapes."""
    families: list[Metric] = []
    for spec, counts in ((WINDOWS_EVALUATED, snapshot.windows_evaluated),
                         (WINDOWS_DRIFTED, snapshot.windows_drifted),
                         (WINDOWS_MATURED, snapshot.windows_matured),
                         (WINDOWS_DECAYED, snapshot.windows_decayed)):
        family = spec.new()
        for labels, count in sorted(counts.items()):
            family.add_metric(list(labels), float(count))
        families.append(family)
    return families


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


def _reference_rows_family(rows: Iterable[tuple[str, tuple[str, int]]]) -> Metric:
    family = REFERENCE_ROWS.new()
    for model, (reference, count) in rows:
        family.add_metric([model, reference], float(count))
    return family


def _estimate_families(estimates: Iterable[EstimateReliability]) -> list[Metric]:
    """How each model's label-free estimate did on its labelled reference (static)."""
    errors, unreliable = ESTIMATE_REFERENCE_ERROR.new(), ESTIMATE_UNRELIABLE.new()
    calibration = CALIBRATION_ERROR.new()
    for estimate in estimates:
        for metric, error in estimate.errors.items():
            errors.add_metric([estimate.model, metric], error)
        unreliable.add_metric([estimate.model], float(estimate.unreliable))
        calibration.add_metric([estimate.model, "raw"], estimate.calibration.ece_before)
        calibration.add_metric([estimate.model, "calibrated"], estimate.calibration.ece_after)
    return [errors, unreliable, calibration]


def _check_label_names(labels: Mapping[str, str], parameter: str) -> None:
    for name in labels:
        if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"{parameter} has an invalid Prometheus label name {name!r}")
