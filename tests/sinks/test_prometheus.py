"""The Prometheus collector: exact families, labels and values derived at scrape time."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from driftd.monitor.performance import PerformanceResult
from driftd.monitor.results import (
    STATISTICS,
    ColumnResult,
    Published,
    ResultBoard,
    WindowResult,
)
from driftd.sinks.metric_families import STATISTIC_FAMILIES
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.stats.decay import DecayResult
from driftd.telemetry import Telemetry

BUILD = {"version": "0.1.0", "python": "3.11.7"}
REFERENCES = {"fraud": {"reference": "ref-abc", "created_at": "2026-11-01T00:00:00Z"}}
FRAUD = {"model": "fraud", "model_version": "3", "window": "1h", "reference": "ref-abc"}

Scrape = Callable[[], dict[str, list[Sample]]]


def numeric(name: str = "amount", **statistics: float) -> ColumnResult:
    stats = statistics or {"psi": 0.31, "ks_statistic": 0.12, "ks_pvalue": 0.0004}
    return ColumnResult(name, "numeric", "input", stats, {"psi": True, "ks": True})


def categorical(name: str = "country") -> ColumnResult:
    stats = {"psi": 0.01, "chi2_statistic": 3.5, "chi2_pvalue": 0.62, "missing_ratio": 0.0}
    return ColumnResult(name, "categorical", "input", stats, {"psi": False, "chi2": False})


def fraud_window(*columns: ColumnResult, window: str = "1h") -> WindowResult:
    return WindowResult("fraud", "3", "ref-abc", window, 1200, 1000.0, 4600.0, columns)


@pytest.fixture
def board() -> ResultBoard:
    return ResultBoard()


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def registry(board: ResultBoard, telemetry: Telemetry) -> CollectorRegistry:
    collector = DriftdCollector(board, telemetry, references=REFERENCES, build=BUILD)
    return build_registry(collector)


@pytest.fixture
def scrape(registry: CollectorRegistry) -> Scrape:
    """Render the registry and parse it back: sample name -> samples."""

    def run() -> dict[str, list[Sample]]:
        body, _ = render(registry)
        samples: dict[str, list[Sample]] = {}
        for family in text_string_to_metric_families(body.decode("utf-8")):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(sample)
        return samples

    return run


def publish(board: ResultBoard, *windows: WindowResult) -> None:
    board.publish(Published(evaluated_at=5000.0, windows=windows))


def values(samples: list[Sample]) -> dict[frozenset[tuple[str, str]], float]:
    return {frozenset(s.labels.items()): s.value for s in samples}


def key(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def column_key(column: str, role: str = "input", **extra: str) -> frozenset[tuple[str, str]]:
    return key(**FRAUD, column=column, role=role, **extra)


def test_every_statistic_of_the_results_has_a_gauge() -> None:
    """Each statistic key a ColumnResult may carry maps to its contract metric name."""
    assert set(STATISTIC_FAMILIES) == set(STATISTICS)
    assert {key: family.name for key, family in STATISTIC_FAMILIES.items()} == {
        "psi": "driftd_psi",
        "psi_pvalue": "driftd_psi_pvalue",
        "ks_statistic": "driftd_ks_statistic",
        "ks_pvalue": "driftd_ks_pvalue",
        "chi2_statistic": "driftd_chi2_statistic",
        "chi2_pvalue": "driftd_chi2_pvalue",
        "js_distance": "driftd_js_distance",
        "wasserstein": "driftd_wasserstein_distance",
        "missing_ratio": "driftd_missing_ratio",
        "missing_ratio_reference": "driftd_missing_ratio_reference",
        "missing_pvalue": "driftd_missing_pvalue",
    }


def test_column_statistics_are_exported_only_where_present(
    board: ResultBoard, scrape: Scrape
) -> None:
    """A numeric and a categorical column of one window.

    Expected: each statistic gauge carries exactly the columns that have that key, with
    the full column label set; the categorical column has no KS series, the numeric one
    no chi-square series.
    """
    publish(board, fraud_window(numeric(), categorical()))

    samples = scrape()

    assert values(samples["driftd_psi"]) == {
        column_key("amount"): 0.31,
        column_key("country"): 0.01,
    }
    assert values(samples["driftd_ks_statistic"]) == {column_key("amount"): 0.12}
    assert values(samples["driftd_ks_pvalue"]) == {column_key("amount"): 0.0004}
    assert values(samples["driftd_chi2_statistic"]) == {column_key("country"): 3.5}
    assert values(samples["driftd_chi2_pvalue"]) == {column_key("country"): 0.62}
    assert values(samples["driftd_missing_ratio"]) == {column_key("country"): 0.0}
    for absent in ("driftd_js_distance", "driftd_wasserstein_distance", "driftd_psi_pvalue"):
        assert absent not in samples


def test_every_statistic_is_exported_under_its_name(board: ResultBoard, scrape: Scrape) -> None:
    """A column carrying all eleven statistics yields eleven gauges with its values."""
    statistics = {key: 0.5 + index / 100 for index, key in enumerate(STATISTICS)}
    publish(board, fraud_window(numeric("score", **statistics)))

    samples = scrape()

    for key_, family in STATISTIC_FAMILIES.items():
        assert values(samples[family.name]) == {column_key("score"): statistics[key_]}


def test_a_nan_statistic_is_exported_as_nan(board: ResultBoard, scrape: Scrape) -> None:
    """A present but undefined statistic (e.g. KS of an empty window) is NaN, not dropped."""
    publish(board, fraud_window(numeric(psi=0.0, ks_pvalue=math.nan)))

    (sample,) = scrape()["driftd_ks_pvalue"]

    assert sample.labels == dict(column_key("amount"))
    assert math.isnan(sample.value)


def test_drift_decisions_and_drifted_column_count(board: ResultBoard, scrape: Scrape) -> None:
    """Drift per (column, test) as 0/1, and the number of drifted columns per window."""
    publish(board, fraud_window(numeric(), categorical()))

    samples = scrape()

    assert values(samples["driftd_drift_detected"]) == {
        column_key("amount", test="psi"): 1.0,
        column_key("amount", test="ks"): 1.0,
        column_key("country", test="psi"): 0.0,
        column_key("country", test="chi2"): 0.0,
    }
    assert values(samples["driftd_model_drift_columns"]) == {key(**FRAUD): 1.0}


def test_window_events_and_bounds(board: ResultBoard, scrape: Scrape) -> None:
    """Events and window bounds per window; a count window without bounds has none."""
    count_window = WindowResult("fraud", "3", "ref-abc", "last_10k", 10_000, columns=())
    publish(board, fraud_window(numeric()), count_window)

    samples = scrape()

    last_10k = key(**{**FRAUD, "window": "last_10k"})
    assert values(samples["driftd_window_events"]) == {key(**FRAUD): 1200.0, last_10k: 10000.0}
    assert values(samples["driftd_window_start_timestamp_seconds"]) == {key(**FRAUD): 1000.0}
    assert values(samples["driftd_window_end_timestamp_seconds"]) == {key(**FRAUD): 4600.0}
    assert values(samples["driftd_model_drift_columns"])[last_10k] == 0.0


def test_removed_column_and_window_series_vanish(board: ResultBoard, scrape: Scrape) -> None:
    """Steps: publish amount+country in windows 1h and 1d; publish only amount in 1h.

    Expected: the second scrape has no series of country nor of window 1d at all.
    """
    publish(board, fraud_window(numeric(), categorical()),
            fraud_window(numeric(), categorical(), window="1d"))
    before = scrape()
    assert len(before["driftd_psi"]) == 4

    publish(board, fraud_window(numeric()))
    after = scrape()

    assert values(after["driftd_psi"]) == {column_key("amount"): 0.31}
    assert "driftd_chi2_pvalue" not in after
    assert values(after["driftd_window_events"]) == {key(**FRAUD): 1200.0}
    all_labels = [s.labels for series in after.values() for s in series]
    assert not any(labels.get("column") == "country" for labels in all_labels)
    assert not any(labels.get("window") == "1d" for labels in all_labels)


def test_telemetry_counters_and_staleness_gauges(telemetry: Telemetry, scrape: Scrape) -> None:
    """Counters keep their `_total` name; unset staleness timestamps are omitted."""
    telemetry.count_events("predictions", "fraud", 900)
    telemetry.count_events("outcomes", "fraud", 40)
    telemetry.count_invalid("bad_json", 3)
    telemetry.count_late("fraud", "1h", 2)
    telemetry.observe_event_time("fraud", "predictions", 1_700_000_000.5)

    samples = scrape()

    assert values(samples["driftd_events_total"]) == {
        key(stream="predictions", model="fraud"): 900.0,
        key(stream="outcomes", model="fraud"): 40.0,
    }
    assert values(samples["driftd_events_invalid_total"]) == {key(reason="bad_json"): 3.0}
    assert values(samples["driftd_events_late_total"]) == {key(model="fraud", window="1h"): 2.0}
    assert values(samples["driftd_last_event_timestamp_seconds"]) == {
        key(model="fraud", stream="predictions"): 1_700_000_000.5
    }
    assert "driftd_last_evaluation_timestamp_seconds" not in samples
    assert "driftd_checkpoint_timestamp_seconds" not in samples

    telemetry.mark_evaluation(1_700_000_010.0)
    telemetry.mark_checkpoint(1_700_000_020.0)
    samples = scrape()

    assert values(samples["driftd_last_evaluation_timestamp_seconds"]) == {key(): 1_700_000_010.0}
    assert values(samples["driftd_checkpoint_timestamp_seconds"]) == {key(): 1_700_000_020.0}


def test_counter_type_and_name_in_the_text_exposition(
    telemetry: Telemetry, registry: CollectorRegistry
) -> None:
    """The client appends `_total` to counter families; the text shows the contract name."""
    telemetry.count_events("predictions", "fraud", 1)

    body, content_type = render(registry)
    text = body.decode("utf-8")

    assert content_type.startswith("text/plain")
    assert "# TYPE driftd_events_total counter" in text
    assert 'driftd_events_total{model="fraud",stream="predictions"} 1.0' in text
    assert "driftd_events_created" not in text


def test_info_gauges(scrape: Scrape) -> None:
    """Reference and build versions are labels of always-1 gauges."""
    samples = scrape()

    assert values(samples["driftd_reference_info"]) == {
        key(model="fraud", reference="ref-abc", created_at="2026-11-01T00:00:00Z"): 1.0
    }
    assert values(samples["driftd_build_info"]) == {key(version="0.1.0", python="3.11.7"): 1.0}


def test_reference_info_of_models_with_different_label_sets(
    board: ResultBoard, telemetry: Telemetry
) -> None:
    """One family needs one label set: a model lacking a label gets it empty.

    Prometheus stores an empty label value as no label at all.
    """
    references: Mapping[str, Mapping[str, str]] = {
        "fraud": {"reference": "ref-abc", "created_at": "2026-11-01T00:00:00Z"},
        "churn": {"reference": "ref-def"},
    }
    collector = DriftdCollector(board, telemetry, references=references, build={})
    body, _ = render(build_registry(collector))

    families = {f.name: f for f in text_string_to_metric_families(body.decode("utf-8"))}

    assert values(families["driftd_reference_info"].samples) == {
        key(model="churn", reference="ref-def", created_at=""): 1.0,
        key(model="fraud", reference="ref-abc", created_at="2026-11-01T00:00:00Z"): 1.0,
    }
    assert values(families["driftd_build_info"].samples) == {key(): 1.0}


def test_nothing_published_yet(scrape: Scrape) -> None:
    """Before the first evaluation only the info gauges exist; no empty families (the
    process_, python_ ones of client_python's own collectors aside)."""
    assert {name for name in scrape() if name.startswith("driftd_")} == {
        "driftd_reference_info", "driftd_build_info"}


def test_registration_does_not_collect_and_never_touches_the_global_registry(
    telemetry: Telemetry,
) -> None:
    """Two registries over a board that fails when read: both register fine."""

    class UnreadableBoard(ResultBoard):
        def latest(self) -> Published | None:
            raise AssertionError("read at registration")

    before = set(REGISTRY._names_to_collectors)
    for _ in range(2):
        build_registry(DriftdCollector(UnreadableBoard(), telemetry, references={}, build={}))

    assert set(REGISTRY._names_to_collectors) == before
    assert not any(name.startswith("driftd_") for name in before)


def test_invalid_label_names_are_rejected(board: ResultBoard, telemetry: Telemetry) -> None:
    """Label names become Prometheus label names, so they are checked up front."""
    with pytest.raises(ValueError, match="build"):
        DriftdCollector(board, telemetry, references={}, build={"git-sha": "abc"})
    with pytest.raises(ValueError, match="references"):
        DriftdCollector(board, telemetry, references={"fraud": {"__name__": "x"}}, build={})


def performance(accuracy: float, labeled: int, *, significant: bool) -> PerformanceResult:
    decay = 0.9 - accuracy
    return PerformanceResult(
        predictions=1200, labeled=labeled, metrics={"accuracy": accuracy},
        estimated={"accuracy": 0.88}, baseline={"accuracy": 0.9},
        decay={"accuracy": DecayResult(decay, (decay - 0.02, decay + 0.02), significant)})


def test_performance_of_the_latest_and_the_matured_window_by_stage(
    board: ResultBoard, scrape: Scrape,
) -> None:
    """Steps: publish window 1h closed at 4600 (revision 2, 300 of 1200 labelled, no
    significant decay) and the latest matured one, 1h ending at 4300 (every label in,
    decay 0.1 significant).

    Expected: each performance family and the label coverage carry stage="latest" and
    stage="matured" with their own window's values; the matured window's bounds have
    their own gauges; window events and bounds stay those of the latest closed window.
    """
    latest = replace(fraud_window(), revision=2,
                     performance=performance(0.89, 300, significant=False))
    matured = replace(fraud_window(), start=700.0, end=4300.0, revision=5, matured=True,
                      performance=performance(0.8, 1200, significant=True))
    board.publish(Published(evaluated_at=5000.0, windows=(latest,), matured=(matured,)))

    samples = scrape()

    def staged(**extra: str) -> dict[str, frozenset[tuple[str, str]]]:
        return {stage: key(**FRAUD, stage=stage, **extra) for stage in ("latest", "matured")}

    per_metric, per_window = staged(metric="accuracy"), staged()
    expected = {
        "driftd_performance": (0.89, 0.8),
        "driftd_performance_estimated": (0.88, 0.88),
        "driftd_performance_baseline": (0.9, 0.9),
        "driftd_performance_decay_detected": (0.0, 1.0),
    }
    for name, (now, final) in expected.items():
        assert values(samples[name]) == {per_metric["latest"]: now,
                                         per_metric["matured"]: final}, name
    assert values(samples["driftd_performance_decay"]) == pytest.approx(
        {per_metric["latest"]: 0.01, per_metric["matured"]: 0.1})
    assert values(samples["driftd_performance_decay_lower"]) == pytest.approx(
        {per_metric["latest"]: -0.01, per_metric["matured"]: 0.08})
    assert values(samples["driftd_performance_decay_upper"]) == pytest.approx(
        {per_metric["latest"]: 0.03, per_metric["matured"]: 0.12})
    assert values(samples["driftd_label_coverage_ratio"]) == {per_window["latest"]: 0.25,
                                                               per_window["matured"]: 1.0}
    assert values(samples["driftd_window_matured_start_timestamp_seconds"]) == {
        key(**FRAUD): 700.0}
    assert values(samples["driftd_window_matured_end_timestamp_seconds"]) == {
        key(**FRAUD): 4300.0}
    assert values(samples["driftd_window_end_timestamp_seconds"]) == {key(**FRAUD): 4600.0}
    assert values(samples["driftd_window_events"]) == {key(**FRAUD): 1200.0}


def test_regression_errors_in_the_label_units_have_their_own_families(
    board: ResultBoard, scrape: Scrape,
) -> None:
    """One name, one unit: mae and rmse (label units) are driftd_performance_error*, mape
    (a ratio) stays in driftd_performance; decay_detected (0/1) holds both."""
    result = PerformanceResult(
        predictions=1200, labeled=1200, metrics={"mae": 3.5, "rmse": 5.0, "mape": 0.12},
        estimated={}, baseline={"mae": 3.0, "mape": 0.1},
        decay={"mae": DecayResult(0.5, (0.2, 0.8), True)})
    publish(board, replace(fraud_window(), performance=result))

    samples = scrape()

    def at(metric: str) -> frozenset[tuple[str, str]]:
        return key(**FRAUD, stage="latest", metric=metric)

    assert values(samples["driftd_performance"]) == {at("mape"): 0.12}
    assert values(samples["driftd_performance_error"]) == {at("mae"): 3.5, at("rmse"): 5.0}
    assert values(samples["driftd_performance_baseline"]) == {at("mape"): 0.1}
    assert values(samples["driftd_performance_error_baseline"]) == {at("mae"): 3.0}
    assert values(samples["driftd_performance_error_decay"]) == {at("mae"): 0.5}
    assert values(samples["driftd_performance_error_decay_lower"]) == {at("mae"): 0.2}
    assert values(samples["driftd_performance_error_decay_upper"]) == {at("mae"): 0.8}
    assert values(samples["driftd_performance_decay_detected"]) == {at("mae"): 1.0}
    assert "driftd_performance_decay" not in samples


def test_reference_rows_is_a_gauge_not_a_label(board: ResultBoard, telemetry: Telemetry) -> None:
    collector = DriftdCollector(board, telemetry, references={"fraud": {"reference": "ref-abc"}},
                                build={}, reference_rows={"fraud": ("ref-abc", 50_000)})
    body, _ = render(build_registry(collector))

    families = {f.name: f for f in text_string_to_metric_families(body.decode("utf-8"))}

    assert values(families["driftd_reference_rows"].samples) == {
        key(model="fraud", reference="ref-abc"): 50_000.0}
    assert values(families["driftd_reference_info"].samples) == {
        key(model="fraud", reference="ref-abc"): 1.0}


def test_no_matured_window_yet_exports_only_the_latest_stage(
    board: ResultBoard, scrape: Scrape,
) -> None:
    """Before the first label horizon passes, stage="matured" series do not exist."""
    latest = replace(fraud_window(), performance=performance(0.89, 300, significant=False))
    publish(board, latest)

    samples = scrape()

    assert {s.labels["stage"] for s in samples["driftd_performance"]} == {"latest"}
    assert {s.labels["stage"] for s in samples["driftd_label_coverage_ratio"]} == {"latest"}
    assert "driftd_window_matured_end_timestamp_seconds" not in samples


def test_window_counters_start_at_zero_and_count_every_window(
    telemetry: Telemetry, scrape: Scrape,
) -> None:
    """Steps: expect window 1h of fraud (amount by psi and ks, country by chi2; accuracy);
    scrape; then three windows close in one batch (amount drifted by psi in two, by ks in
    one) and two of them mature, one with a significant accuracy decay; scrape.

    Expected: every counter exists at 0 before the first window; then evaluated 3,
    drifted psi 2 / ks 1 / chi2 0, matured 2, decayed 1: windows that closed between two
    scrapes are all counted, though the gauges only show the last of them.
    """
    window = key(model="fraud", window="1h")
    telemetry.expect_windows("fraud", "1h", [("amount", "psi"), ("amount", "ks"),
                                             ("country", "chi2")], ["accuracy"])
    before = scrape()
    telemetry.count_window("fraud", "1h", [("amount", "psi"), ("amount", "ks")])
    telemetry.count_window("fraud", "1h", [("amount", "psi")])
    telemetry.count_window("fraud", "1h", [])
    telemetry.count_matured("fraud", "1h", ["accuracy"])
    telemetry.count_matured("fraud", "1h", [])
    after = scrape()

    def drifted(column: str, test: str) -> frozenset[tuple[str, str]]:
        return key(model="fraud", window="1h", column=column, test=test)

    assert values(before["driftd_windows_evaluated_total"]) == {window: 0.0}
    assert values(before["driftd_windows_matured_total"]) == {window: 0.0}
    assert values(before["driftd_windows_drifted_total"]) == {
        drifted("amount", "psi"): 0.0, drifted("amount", "ks"): 0.0,
        drifted("country", "chi2"): 0.0}
    assert values(before["driftd_windows_decayed_total"]) == {
        key(model="fraud", window="1h", metric="accuracy"): 0.0}
    assert values(after["driftd_windows_evaluated_total"]) == {window: 3.0}
    assert values(after["driftd_windows_matured_total"]) == {window: 2.0}
    assert values(after["driftd_windows_drifted_total"]) == {
        drifted("amount", "psi"): 2.0, drifted("amount", "ks"): 1.0,
        drifted("country", "chi2"): 0.0}
    assert values(after["driftd_windows_decayed_total"]) == {
        key(model="fraud", window="1h", metric="accuracy"): 1.0}


def test_a_window_counted_without_expecting_it_still_appears(
    telemetry: Telemetry, scrape: Scrape,
) -> None:
    """count_window of a pair never expected (a new test) creates it at 1; a pair listed
    twice in one window counts once."""
    telemetry.count_window("fraud", "last-10k", [("score", "ks"), ("score", "ks")])

    samples = scrape()

    assert values(samples["driftd_windows_evaluated_total"]) == {
        key(model="fraud", window="last-10k"): 1.0}
    assert values(samples["driftd_windows_drifted_total"]) == {
        key(model="fraud", window="last-10k", column="score", test="ks"): 1.0}
    assert "driftd_windows_matured_total" not in samples


def test_late_outcomes_and_labels_after_the_horizon_are_join_counters(
    telemetry: Telemetry, scrape: Scrape,
) -> None:
    telemetry.count_join("outcomes_late", "fraud", 4)
    telemetry.count_join("labels_after_horizon", "fraud", 2)
    telemetry.count_join("labels_matched", "fraud", 10)

    samples = scrape()

    assert values(samples["driftd_outcomes_late_total"]) == {key(model="fraud"): 4.0}
    assert values(samples["driftd_labels_after_horizon_total"]) == {key(model="fraud"): 2.0}
    assert values(samples["driftd_labels_matched_total"]) == {key(model="fraud"): 10.0}


def test_an_undecided_threshold_test_is_exported_as_such_not_as_no_drift(
        board: ResultBoard, scrape: Scrape) -> None:
    """Given: a window where PSI decided drift and JS was undecided (the window held 300
    values, JS needs 1,190; the reference is too small for KS ever to decide).

    Expected: driftd_drift_detected has psi only; driftd_drift_undecided is 1 for js and
    ks, 0 for psi; driftd_drift_decision_min_events carries each size, +Inf for ks."""
    column = ColumnResult("amount", "numeric", "input", {"psi": 0.4, "js_distance": 0.2,
                                                          "ks_statistic": 0.3},
                          {"psi": True}, ("js", "ks"),
                          {"psi": 140.0, "js": 1190.0, "ks": math.inf})
    publish(board, fraud_window(column))

    samples = scrape()
    assert {s.labels["test"]: s.value for s in samples["driftd_drift_detected"]} == {"psi": 1}
    assert {s.labels["test"]: s.value for s in samples["driftd_drift_undecided"]} == {
        "psi": 0, "js": 1, "ks": 1}
    assert {s.labels["test"]: s.value for s in samples["driftd_drift_decision_min_events"]} \
        == {"psi": 140, "js": 1190, "ks": math.inf}


def test_name_filters_find_the_histograms_too(registry: CollectorRegistry,
                                              telemetry: Telemetry) -> None:
    """``name[]`` selects by the names describe() announces, histograms included."""
    telemetry.observe_label_delays("fraud", [12.0, 30.0])
    telemetry.observe_batch(0.003)

    body, _ = render(registry, names=["driftd_label_delay_seconds_count",
                                      "driftd_batch_duration_seconds_sum"])

    samples = {s.name: s.value for f in text_string_to_metric_families(body.decode("utf-8"))
               for s in f.samples}
    assert samples == {"driftd_label_delay_seconds_count": 2.0,
                       "driftd_batch_duration_seconds_sum": 0.003}
