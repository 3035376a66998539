"""The metric families driftd exports: name, type, help text and label names of each.

The collector (``sinks.prometheus``) fills them at scrape time; tests and the rule and
dashboard checks read ``FAMILIES`` to know every name driftd exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

COLUMN_LABELS = ("model", "model_version", "column", "role", "window", "reference")
WINDOW_LABELS = ("model", "model_version", "window", "reference")

# Performance series: stage="latest" for the latest closed window of each (model, window)
# (its latest revision), stage="matured" for the latest one whose label horizon passed.
STAGES = ("latest", "matured")

MetricFamily = GaugeMetricFamily | CounterMetricFamily


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """Name, type, help text and label names of one metric family."""

    name: str
    kind: Literal["gauge", "counter"]
    help: str
    labels: tuple[str, ...] = ()

    def new(self, labels: tuple[str, ...] | None = None) -> MetricFamily:
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
DRIFT_UNDECIDED = FamilySpec(
    "driftd_drift_undecided", "gauge",
    "1 when the window was too small for the threshold test to decide (its "
    "driftd_drift_detected is then absent: not decided is not no drift), else 0.",
    (*COLUMN_LABELS, "test"),
)
DRIFT_MIN_EVENTS = FamilySpec(
    "driftd_drift_decision_min_events", "gauge",
    "Values of the column a window needs for the threshold test to decide at the "
    "model's false-alarm rate (events; +Inf when the reference is too small for any).",
    (*COLUMN_LABELS, "test"),
)
WINDOW_EVENTS = FamilySpec(
    "driftd_window_events", "gauge",
    "Number of events in the latest closed window (events).",
    WINDOW_LABELS,
)
WINDOW_START = FamilySpec(
    "driftd_window_start_timestamp_seconds", "gauge",
    "Start of the latest closed window as a Unix timestamp (seconds).", WINDOW_LABELS,
)
WINDOW_END = FamilySpec(
    "driftd_window_end_timestamp_seconds", "gauge",
    "End of the latest closed window as a Unix timestamp (seconds).", WINDOW_LABELS,
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
MODEL_VERSION_EVENTS = FamilySpec(
    "driftd_model_version_events", "counter",
    "Events accepted, by the model version they carry (fields.model_version; at most "
    "20 versions a model, later ones as \"other\") (events).",
    ("model", "stream", "version"),
)
EVENTS_INVALID = FamilySpec(
    "driftd_events_invalid", "counter", "Events rejected by validation, by reason (events).",
    ("reason",),
)
HTTP_INGEST_REQUESTS = FamilySpec(
    "driftd_http_ingest_requests", "counter",
    "Requests to the HTTP ingest listeners, by status code (202 accepted and on disk; "
    "400 garbage, 401, 413, 429 queue full, 503 stopping) (requests).",
    ("code",),
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
# Prometheus' and Alertmanager's own names for the outcome of the last config reload.
CONFIG_RELOAD_SUCCESSFUL = FamilySpec(
    "driftd_config_last_reload_successful", "gauge",
    "1 when the last config reload (SIGHUP or POST /-/reload) succeeded or none was asked "
    "for, 0 when it failed and the daemon kept running the config before it.",
)
CONFIG_RELOAD_SUCCESS_TIME = FamilySpec(
    "driftd_config_last_reload_success_timestamp_seconds", "gauge",
    "When the running config was loaded (start-up or the last successful reload) as a "
    "Unix timestamp (seconds).",
)
WINDOWS_EVALUATED = FamilySpec(
    "driftd_windows_evaluated", "counter",
    "Windows closed and evaluated: a time window once, when the event-time watermark closes "
    "it; a count window once per step (windows).", ("model", "window"),
)
WINDOWS_DRIFTED = FamilySpec(
    "driftd_windows_drifted", "counter",
    "Evaluated windows in which the test flagged drift of the column after thresholds and "
    "correction (windows).", ("model", "window", "column", "test"),
)
WINDOWS_MATURED = FamilySpec(
    "driftd_windows_matured", "counter",
    "Windows whose label horizon passed, so that their performance is final (windows).",
    ("model", "window"),
)
WINDOWS_DECAYED = FamilySpec(
    "driftd_windows_decayed", "counter",
    "Matured windows in which the decay of the metric was significant (windows).",
    ("model", "window", "metric"),
)
WINDOW_MATURED_START = FamilySpec(
    "driftd_window_matured_start_timestamp_seconds", "gauge",
    "Start of the latest matured window as a Unix timestamp (seconds).", WINDOW_LABELS,
)
WINDOW_MATURED_END = FamilySpec(
    "driftd_window_matured_end_timestamp_seconds", "gauge",
    "End of the latest matured window as a Unix timestamp (seconds).", WINDOW_LABELS,
)
_STAGE = (" stage: latest (the latest closed window, revised as its labels arrive) or "
          "matured (the latest window whose label horizon passed: final).")
PERFORMANCE_LABELS = (*WINDOW_LABELS, "stage", "metric")
# Regression errors are in the label's units; every other metric is unitless. Each unit
# has its own families (one name, one unit): driftd_performance* for the unitless scores,
# driftd_performance_error* for these.
LABEL_UNIT_METRICS = frozenset({"mae", "rmse"})
PERFORMANCE = FamilySpec(
    "driftd_performance", "gauge",
    "Model performance in the window from joined outcomes, by unitless metric (accuracy, "
    "precision, recall, f1, auc, log_loss, mape; mae and rmse are driftd_performance_error)."
    + _STAGE, PERFORMANCE_LABELS,
)
PERFORMANCE_ESTIMATED = FamilySpec(
    "driftd_performance_estimated", "gauge",
    "Label-free estimate of performance from the window's prediction scores, assuming "
    "calibrated scores (ratio, 0 to 1)." + _STAGE, PERFORMANCE_LABELS,
)
PERFORMANCE_BASELINE = FamilySpec(
    "driftd_performance_baseline", "gauge",
    "The configured baseline of the unitless metric." + _STAGE, PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY = FamilySpec(
    "driftd_performance_decay", "gauge",
    "How much worse than the baseline the window is (positive = worse), by unitless metric."
    + _STAGE, PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY_LOWER = FamilySpec(
    "driftd_performance_decay_lower", "gauge",
    "Lower bound of the decay's confidence interval (unitless metrics)." + _STAGE,
    PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY_UPPER = FamilySpec(
    "driftd_performance_decay_upper", "gauge",
    "Upper bound of the decay's confidence interval (unitless metrics)." + _STAGE,
    PERFORMANCE_LABELS,
)
PERFORMANCE_ERROR = FamilySpec(
    "driftd_performance_error", "gauge",
    "Regression error in the window from joined outcomes, by metric (mae, rmse), in the "
    "label's units." + _STAGE, PERFORMANCE_LABELS,
)
PERFORMANCE_ERROR_BASELINE = FamilySpec(
    "driftd_performance_error_baseline", "gauge",
    "The configured baseline of the regression error, in the label's units." + _STAGE,
    PERFORMANCE_LABELS,
)
PERFORMANCE_ERROR_DECAY = FamilySpec(
    "driftd_performance_error_decay", "gauge",
    "How much larger than its baseline the window's regression error is (positive = worse), "
    "in the label's units." + _STAGE, PERFORMANCE_LABELS,
)
PERFORMANCE_ERROR_DECAY_LOWER = FamilySpec(
    "driftd_performance_error_decay_lower", "gauge",
    "Lower bound of the error decay's confidence interval, in the label's units." + _STAGE,
    PERFORMANCE_LABELS,
)
PERFORMANCE_ERROR_DECAY_UPPER = FamilySpec(
    "driftd_performance_error_decay_upper", "gauge",
    "Upper bound of the error decay's confidence interval, in the label's units." + _STAGE,
    PERFORMANCE_LABELS,
)
PERFORMANCE_DECAY_DETECTED = FamilySpec(
    "driftd_performance_decay_detected", "gauge",
    "1 when the whole decay interval exceeds the tolerated decay, else 0." + _STAGE,
    PERFORMANCE_LABELS,
)
PERFORMANCE_CLASS = FamilySpec(
    "driftd_performance_class", "gauge",
    "Per-class performance of a multiclass model in the window from joined outcomes, by "
    "metric (precision, recall, f1) and class (ratio, 0 to 1)." + _STAGE,
    (*PERFORMANCE_LABELS, "class"),
)
CONFUSION = FamilySpec(
    "driftd_confusion_events", "gauge",
    "Joined outcomes of a multiclass model in the window by true and predicted class "
    "(events)." + _STAGE, (*WINDOW_LABELS, "stage", "true_class", "predicted_class"),
)
LABEL_COVERAGE = FamilySpec(
    "driftd_label_coverage_ratio", "gauge",
    "Share of the window's predictions whose outcome has been joined (ratio, 0 to 1)."
    + _STAGE, (*WINDOW_LABELS, "stage"),
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
        ("outcomes_unknown_class", "Outcomes of a multiclass model whose label is none of "
                                   "its classes: joined but not counted in performance "
                                   "(events)."),
        ("outcomes_late", "Outcomes older than their partition's newest event time minus the "
                          "allowed lateness: not joined, so matured windows do not depend on "
                          "arrival order (events)."),
        ("labels_after_horizon", "Outcomes more than label_ttl_seconds after their "
                                 "prediction's event time, or more than orphan_ttl_seconds "
                                 "before it: not counted (events)."),
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
REFERENCE_ROWS = FamilySpec(
    "driftd_reference_rows", "gauge",
    "Rows of data the model's reference profile was built from (rows).",
    ("model", "reference"),
)
BUILD_INFO = FamilySpec(
    "driftd_build_info", "gauge", "Always 1; the labels describe the running driftd build.",
)
# Of a model's labelled reference, measured at `reference build` (static per profile).
ESTIMATE_REFERENCE_ERROR = FamilySpec(
    "driftd_performance_estimate_reference_error", "gauge",
    "How far the label-free estimate of the metric was from its realized value on the "
    "labelled reference, |estimate - realized|, with the calibration cross-fitted (ratio, "
    "0 to 1).", ("model", "metric"),
)
ESTIMATE_UNRELIABLE = FamilySpec(
    "driftd_performance_estimate_unreliable", "gauge",
    "1 when the label-free estimate missed a realized metric on the labelled reference by "
    "more than performance.estimate_tolerance, else 0.", ("model",),
)
CALIBRATION_ERROR = FamilySpec(
    "driftd_reference_calibration_error", "gauge",
    "Expected calibration error of the model's scores on the labelled reference, 10 "
    "equal-width bins: scores=raw as the model emits them, scores=calibrated after "
    "driftd's calibration, cross-fitted (ratio, 0 to 1).", ("model", "scores"),
)

FAMILIES: tuple[FamilySpec, ...] = (
    *STATISTIC_FAMILIES.values(), DRIFT_DETECTED, DRIFT_UNDECIDED, DRIFT_MIN_EVENTS,
    WINDOW_EVENTS, WINDOW_START, WINDOW_END,
    MODEL_DRIFT_COLUMNS, EVENTS, MODEL_VERSION_EVENTS, EVENTS_INVALID, EVENTS_LATE, LAST_EVENT,
    LAST_EVALUATION, HTTP_INGEST_REQUESTS, CONFIG_RELOAD_SUCCESSFUL, CONFIG_RELOAD_SUCCESS_TIME,
    CHECKPOINT, CONSUMER_LAG, SOURCE_UP, REFERENCE_INFO, BUILD_INFO, ESTIMATE_REFERENCE_ERROR,
    ESTIMATE_UNRELIABLE, CALIBRATION_ERROR, PERFORMANCE,
    PERFORMANCE_ESTIMATED, PERFORMANCE_BASELINE, PERFORMANCE_DECAY, PERFORMANCE_DECAY_LOWER,
    PERFORMANCE_DECAY_UPPER, PERFORMANCE_ERROR, PERFORMANCE_ERROR_BASELINE,
    PERFORMANCE_ERROR_DECAY, PERFORMANCE_ERROR_DECAY_LOWER, PERFORMANCE_ERROR_DECAY_UPPER,
    PERFORMANCE_DECAY_DETECTED, PERFORMANCE_CLASS, CONFUSION, LABEL_COVERAGE, REFERENCE_ROWS,
    *JOIN_COUNTERS.values(), EVALUATION_ERRORS, WINDOWS_EVALUATED, WINDOWS_DRIFTED,
    WINDOWS_MATURED, WINDOWS_DECAYED, WINDOW_MATURED_START, WINDOW_MATURED_END,
)


