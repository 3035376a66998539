"""Window counters and staged performance through a real Prometheus, without Kafka.

A real driftd HTTP server serves the real collector over a board and telemetry the test
drives; a real Prometheus scrapes it every second with the rules ``driftd rules
generate`` writes for the config. The drift alert must see a backlog of windows that
closed in one batch although the drift gauge (latest window) never shows it; the decay
alert must read the matured window and ignore a latest window with few labels; then every
query of every Grafana panel must return data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from alerting.servers import Prometheus, prometheus_config, wait_until
from alerting.test_drift_alert_e2e import DASHBOARDS, check_panel, panel_queries
from driftd.config import Config, parse_config
from driftd.monitor.performance import PerformanceResult
from driftd.monitor.results import ColumnResult, Published, ResultBoard, WindowResult
from driftd.rules import rule_groups
from driftd.rules_file import render_rules
from driftd.service.health import Health
from driftd.sinks.http import HttpServer
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.stats.decay import DecayResult
from driftd.telemetry import Telemetry

NUMERIC = {"psi": 0.05, "psi_pvalue": 0.4, "ks_statistic": 0.03, "ks_pvalue": 0.3,
           "js_distance": 0.02, "wasserstein": 1.5, "missing_ratio": 0.01,
           "missing_ratio_reference": 0.01, "missing_pvalue": 0.9}
CATEGORICAL = {"psi": 0.02, "chi2_statistic": 4.0, "chi2_pvalue": 0.5, "js_distance": 0.01,
               "missing_ratio": 0.0, "missing_ratio_reference": 0.0, "missing_pvalue": 1.0}
DRIFT_TESTS = {"amount": ("psi", "ks", "js", "missing"), "country": ("psi", "chi2", "js"),
               "score": ("psi", "ks")}
# Values each column's threshold tests need to decide (all decided in 1,000 events).
MIN_EVENTS = {"amount": {"psi": 140.0, "js": 520.0, "missing": 160.0},
              "country": {"psi": 90.0, "js": 310.0}, "score": {"psi": 140.0}}


def config() -> Config:
    """fraud: inputs amount and country, prediction score, accuracy from labels; a count
    window and a 1h time window; drift held 5 s, decay alerting at once."""
    return parse_config({
        "models": [{
            "name": "fraud", "version": "3", "reference": "fraud.json",
            "columns": [{"name": "amount", "kind": "numeric"},
                        {"name": "country", "kind": "categorical"},
                        {"name": "score", "kind": "numeric", "role": "prediction"},
                        {"name": "label", "kind": "categorical", "role": "label"}],
            "windows": [{"name": "last-1k", "type": "count", "size": 1000, "step": 100},
                        {"name": "1h", "type": "time", "duration_seconds": 3600,
                         "slide_seconds": 300}],
            "performance": {"task": "binary", "prediction": "score", "label": "label",
                            "baseline": {"accuracy": 0.9}, "tolerance": {"accuracy": 0.02}},
        }],
        "sources": [{"type": "jsonl", "path": "-"}],
        "alerts": {"drift_for_seconds": 5, "decay_for_seconds": 0},
    }, source="<test>", environ={})


def performance(accuracy: float, labeled: int, *, significant: bool) -> PerformanceResult:
    decay = 0.9 - accuracy
    return PerformanceResult(
        predictions=1000, labeled=labeled, metrics={"accuracy": accuracy},
        estimated={"accuracy": 0.89}, baseline={"accuracy": 0.9},
        decay={"accuracy": DecayResult(decay, (decay - 0.01, decay + 0.01), significant)})


def latest_windows(now: float) -> tuple[WindowResult, ...]:
    """Both windows as last closed: nothing drifts; the 1h window's first 30% of labels
    look like a decay of 0.15 (too few to judge)."""
    columns = (
        ColumnResult("amount", "numeric", "input", NUMERIC,
                     dict.fromkeys(DRIFT_TESTS["amount"], False), (), MIN_EVENTS["amount"]),
        ColumnResult("country", "categorical", "input", CATEGORICAL,
                     dict.fromkeys(DRIFT_TESTS["country"], False), (), MIN_EVENTS["country"]),
        ColumnResult("score", "numeric", "prediction", NUMERIC,
                     dict.fromkeys(DRIFT_TESTS["score"], False), (), MIN_EVENTS["score"]),
    )
    hour = WindowResult("fraud", "3", "ref-abc", "1h", 1000, now - 3600, now, columns,
                        performance(0.75, 300, significant=True), revision=3)
    count = WindowResult("fraud", "3", "ref-abc", "last-1k", 1000, columns=columns,
                         sequence=41)
    return hour, count


@pytest.fixture
def telemetry() -> Telemetry:
    telemetry = Telemetry()
    for stream in ("predictions", "outcomes"):
        telemetry.expect_events(stream, "fraud")
    drift = [(column, test) for column, tests in DRIFT_TESTS.items() for test in tests]
    for window in ("last-1k", "1h"):
        telemetry.expect_windows("fraud", window, drift, ["accuracy"])
    return telemetry


@pytest.fixture
def served(telemetry: Telemetry) -> Iterator[tuple[ResultBoard, str]]:
    """(board, host:port) of a real driftd HTTP server with the real collector."""
    board = ResultBoard()
    collector = DriftdCollector(board, telemetry, references={"fraud": {"reference": "ref-abc"}},
                                build={"version": "test"})
    registry = build_registry(collector)
    server = HttpServer("127.0.0.1", 0, exposition=lambda accept, names: render(registry),
                        health=Health([]))
    server.start()
    try:
        yield board, server.url.removeprefix("http://")
    finally:
        server.stop()


def feed(telemetry: Telemetry, now: float) -> None:
    """One second of a live model: events, a bad one, a late one, labels, lag, clocks."""
    telemetry.count_events("predictions", "fraud", 100)
    telemetry.count_events("outcomes", "fraud", 40)
    telemetry.count_invalid("malformed_json")
    telemetry.count_late("fraud", "1h", 1)
    telemetry.count_join("labels_matched", "fraud", 40)
    telemetry.observe_label_delays("fraud", [30.0] * 40)
    telemetry.observe_event_time("fraud", "predictions", now)
    telemetry.observe_event_time("fraud", "outcomes", now - 30)
    telemetry.set_lag({("fraud.predictions", 0): 12})
    telemetry.mark_evaluation(now)
    telemetry.mark_checkpoint(now)


def test_backlog_drift_and_matured_decay_alert_and_every_panel_has_data(
    tmp_path: Path, telemetry: Telemetry, served: tuple[ResultBoard, str],
    prometheus_factory: Callable[..., Prometheus],
) -> None:
    """Steps: publish both windows clean (the 1h one decaying on 30% of its labels) and
    the 1h window's matured result (decay 0.1, significant); let Prometheus scrape the
    counters at 0; then 12 windows of 1h close in one batch (a backlog), amount drifting
    by PSI in 10 of them, while the published latest window stays clean.

    Expected: DriftdFeatureDrift fires for amount in 1h at 10/12 with the latest
    window's labels, and nothing for the other columns, the count window or the
    prediction; DriftdAccuracyDecay fires on the matured decay (0.1, no stage label), not
    the latest window's 0.15 on too few labels; every query of every panel has data.
    """
    board, address = served
    cfg = config()
    rules = tmp_path / "driftd.rules.yml"
    rules.write_text(render_rules(rule_groups(cfg), header="test"), encoding="utf-8")
    now = time.time()
    hour, count = latest_windows(now)
    matured = replace(hour, start=now - 7200, end=now - 3600, revision=9, matured=True,
                      performance=performance(0.8, 990, significant=True))
    board.publish(Published(now, (hour, count), (matured,)))
    feed(telemetry, now)
    prometheus = prometheus_factory(prometheus_config({"driftd": [address]}), [rules])
    prometheus.wait_for_target_up("driftd", timeout=30)
    wait_until(lambda: prometheus.query(
        'count_over_time(driftd_windows_evaluated_total{window="1h"}[1m]) >= 3'),
        timeout=30, what="three scrapes of the counters at 0")

    for index in range(12):
        telemetry.count_window("fraud", "1h", [("amount", "psi")] if index < 10 else [])

    drift = prometheus.wait_for_alert("DriftdFeatureDrift", timeout=30)
    decay = prometheus.wait_for_alert("DriftdAccuracyDecay", timeout=30)
    for _ in range(5):  # a few more scrapes and rule evaluations: the panels' rates
        time.sleep(1)
        feed(telemetry, time.time())

    assert {k: drift["labels"][k] for k in ("model", "model_version", "window", "reference",
                                            "column", "role")} == {
        "model": "fraud", "model_version": "3", "window": "1h", "reference": "ref-abc",
        "column": "amount", "role": "input"}
    assert math.isclose(float(drift["value"]), 10 / 12, rel_tol=0.05), drift
    firing = [(a["labels"]["alertname"], a["labels"].get("column"), a["labels"]["window"])
              for a in prometheus.alerts() if a["labels"]["category"] == "drift"]
    assert firing == [("DriftdFeatureDrift", "amount", "1h")]
    assert "stage" not in decay["labels"] and decay["labels"]["metric"] == "accuracy"
    assert math.isclose(float(decay["value"]), 0.1, rel_tol=1e-6)
    variables = {"model": "fraud", "window": "1h", "column": "amount",
                 "datasource": "driftd-prometheus"}
    failures = [f"{dashboard.name}: {title!r}: {problem}"
                for dashboard in DASHBOARDS for title, queries in panel_queries(dashboard)
                for problem in check_panel(prometheus, queries, variables)]
    assert not failures, "\n".join(failures)


def test_a_decay_on_enough_labels_of_the_latest_window_alerts_before_it_matures(
    tmp_path: Path, served: tuple[ResultBoard, str],
    prometheus_factory: Callable[..., Prometheus],
) -> None:
    """Steps: publish the 1h window with 90% of its labels in and a significant decay of
    0.05, and no matured window yet.

    Expected: DriftdAccuracyDecay fires on the latest window (value 0.05)."""
    board, address = served
    rules = tmp_path / "driftd.rules.yml"
    rules.write_text(render_rules(rule_groups(config()), header="test"), encoding="utf-8")
    hour, count = latest_windows(time.time())
    board.publish(Published(time.time(), (replace(
        hour, performance=performance(0.85, 900, significant=True)), count)))
    prometheus = prometheus_factory(prometheus_config({"driftd": [address]}), [rules])

    decay = prometheus.wait_for_alert("DriftdAccuracyDecay", timeout=30)

    assert math.isclose(float(decay["value"]), 0.05, rel_tol=1e-6)
    assert decay["labels"]["window"] == "1h"
