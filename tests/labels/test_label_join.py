"""Delayed outcomes joined to predictions: exact windowed performance, exact counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from driftd.config import DemoSourceConfig, parse_config
from driftd.reference.build import build_profile
from driftd.service.daemon import Daemon
from driftd.service.demo import demo_config, demo_profile
from driftd.sources.base import RawBatch
from driftd.sources.demo import DemoGenerator, DemoSource
from driftd.telemetry import counted


def binary_daemon(tmp_path: Path, **performance: Any) -> Daemon:
    raw = {
        "models": [{
            "name": "m", "reference": str(tmp_path / "ref.json"),
            "columns": [{"name": "x", "kind": "numeric"},
                        {"name": "score", "kind": "numeric", "role": "prediction"},
                        {"name": "label", "kind": "categorical", "role": "label"}],
            "windows": [{"name": "all", "type": "time", "duration_seconds": 1000,
                         "slide_seconds": 100, "allowed_lateness_seconds": 600}],
            "performance": {"task": "binary", "prediction": "score", "label": "label",
                            "label_ttl_seconds": 50, "orphan_ttl_seconds": 50,
                            "score_bins": 1000, "baseline": {"accuracy": 0.9}, **performance},
        }],
        "sources": [{"type": "jsonl", "path": "-"}],
        "http": {"address": "127.0.0.1:0"},
        "ingest": {"max_future_seconds": None},  # synthetic event times, ahead of the clock
    }
    config = parse_config(raw, environ={})
    rng = np.random.default_rng(1)
    profile = build_profile("m", config.models[0].columns,
                            {"x": rng.normal(size=500), "score": rng.random(500)}, {},
                            rows=500, metadata={})
    return Daemon(config, {"m": profile}, [], clock=lambda: 0.0, keep_history=True)


def send(daemon: Daemon, stream: str, events: list[dict[str, Any]], now: float) -> None:
    daemon._pipeline.ingest(RawBatch(stream, [orjson.dumps(e) for e in events]), now)
    daemon._publish()


def matured(daemon: Daemon, start: float, end: float) -> dict[str, Any]:
    """The matured revision of the window [start, end) from the results history."""
    assert daemon.history.records is not None
    (record,) = [r for r in daemon.history.records
                 if (r["start"], r["end"]) == (start, end) and r["matured"]]
    performance: dict[str, Any] = record["performance"]
    return performance


def test_out_of_order_outcomes_give_exactly_the_offline_metrics(tmp_path: Path) -> None:
    """Scenario: 2,000 predictions over 500 s; outcomes for 1,500 of them arrive late and
    shuffled (within the 600 s allowed lateness), 300 of those before their prediction
    (orphans that then join); 500 never arrive and expire; 50 outcomes have no
    prediction at all and are orphaned. Both streams then move on to 3,000 s.

    Expected: accuracy, F1 and AUC of the matured window [1000, 2000) equal numpy on the
    joined pairs; label coverage 1500/2000; matched, expired and orphaned counts exact.
    """
    daemon = binary_daemon(tmp_path)
    rng = np.random.default_rng(7)
    n = 2000
    ts = 1_000.0 + np.sort(rng.uniform(0, 500, n))
    scores = rng.random(n).round(3)
    labels = (rng.random(n) < scores).astype(int)
    predictions = [{"model": "m", "id": f"p{i}", "ts": float(ts[i]),
                    "features": {"x": float(rng.normal())}, "prediction": float(scores[i])}
                   for i in range(n)]
    labelled = rng.permutation(n)[:1500]
    early, late = labelled[:300], labelled[300:]
    outcome = {i: {"model": "m", "id": f"p{i}", "ts": float(ts[i]) + 30, "label": int(labels[i])}
               for i in labelled}
    send(daemon, "outcomes", [outcome[i] for i in early], now=0.0)
    for chunk in np.array_split(np.arange(n), 8):
        send(daemon, "predictions", [predictions[i] for i in chunk], now=1.0)
    send(daemon, "outcomes", [outcome[i] for i in rng.permutation(late)], now=2.0)
    send(daemon, "outcomes", [{"model": "m", "id": f"ghost{i}", "ts": 1200.0, "label": 1}
                              for i in range(50)], now=2.0)
    send(daemon, "outcomes", [{"model": "m", "ts": 1200.0, "label": 1}], now=2.0)  # no id
    daemon._pipeline.ingest(RawBatch("outcomes", [b"{not json", b'{"model": "m", "id": "p1",'
                                                  b' "label": {"bad": 1}}']), 2.0)
    # Both streams move on: the label clock passes every deadline and the window's horizon.
    send(daemon, "predictions", [dict(predictions[0], id="tick", ts=3000.0)], now=3.0)
    send(daemon, "outcomes", [{"model": "m", "id": "tock", "ts": 3000.0, "label": 1}], now=3.0)
    daemon.evaluate()

    perf = matured(daemon, 1000.0, 2000.0)
    joined = np.sort(labelled)
    said, truth = scores[joined] >= 0.5, labels[joined] == 1
    tp, fp = np.sum(said & truth), np.sum(said & ~truth)
    fn = np.sum(~said & truth)
    assert perf["labeled"] == 1500 and perf["predictions"] == 2000
    assert perf["coverage"] == pytest.approx(0.75)
    assert perf["metrics"]["accuracy"] == pytest.approx(np.mean(said == truth), abs=1e-12)
    assert perf["metrics"]["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-12)
    positives, negatives = scores[joined][truth], scores[joined][~truth]
    auc = (np.sum(positives[:, None] > negatives[None, :])
           + 0.5 * np.sum(positives[:, None] == negatives[None, :])) / (
        len(positives) * len(negatives))
    assert perf["metrics"]["auc"] == pytest.approx(auc, abs=1e-12)  # 1000 bins: 3 decimals
    snapshot = daemon.telemetry.snapshot()
    assert snapshot.join[("labels_matched", "m")] == 1500
    assert snapshot.join[("predictions_expired", "m")] == 500
    assert snapshot.join[("outcomes_orphaned", "m")] == 50
    assert snapshot.join[("outcomes_without_id", "m")] == 1
    buckets, delay_sum = snapshot.label_delay["m"]  # every label came 30 s after its prediction
    assert buckets[1] == 0 and buckets[2] == buckets[-1] == 1500
    assert delay_sum == pytest.approx(1500 * 30.0)
    assert counted(snapshot.invalid) == {"malformed_json": 1,
                                                                "wrong_type": 1}


def test_outcomes_out_of_their_partitions_order_or_outside_the_horizon_do_not_count(
        tmp_path: Path) -> None:
    """Lateness 600 s, label horizon 50 s, orphan horizon 50 s. Outcomes: one 40 s after
    its prediction (counts), one 60 s after (outside the horizon), one 70 s before
    (outside the orphan horizon), and one whose time is 700 s older than its partition's
    newest outcome (late: its window may have matured, so it never counts).

    Expected: 1 matched, 2 after the horizon, 1 late; the window's coverage 1/4.
    """
    daemon = binary_daemon(tmp_path)
    event = {"model": "m", "features": {"x": 0.0}, "prediction": 0.9}
    send(daemon, "predictions", [dict(event, id=f"p{i}", ts=1000.0 + i) for i in range(4)],
         now=0.0)
    send(daemon, "outcomes", [{"model": "m", "id": "p0", "ts": 1040.0, "label": 1},
                              {"model": "m", "id": "p1", "ts": 1061.0, "label": 1},
                              {"model": "m", "id": "p2", "ts": 932.0, "label": 1},
                              {"model": "m", "id": "x", "ts": 1800.0, "label": 1},
                              {"model": "m", "id": "p3", "ts": 1003.0 + 40, "label": 1}],
         now=1.0)
    daemon._publish(finish=True)
    snapshot = daemon.telemetry.snapshot()
    assert snapshot.join[("labels_matched", "m")] == 1
    assert snapshot.join[("labels_after_horizon", "m")] == 2
    assert snapshot.join[("outcomes_late", "m")] == 1
    perf = matured(daemon, 1000.0, 2000.0)
    assert (perf["labeled"], perf["predictions"]) == (1, 4)


def test_regression_rmse_and_mae_equal_numpy(tmp_path: Path) -> None:
    config = parse_config({
        "models": [{
            "name": "r", "reference": str(tmp_path / "ref.json"),
            "columns": [{"name": "score", "kind": "numeric", "role": "prediction"},
                        {"name": "y", "kind": "numeric", "role": "label", "path": "label"}],
            "windows": [{"name": "all", "type": "time", "duration_seconds": 1000,
                         "slide_seconds": 100}],
            "performance": {"task": "regression", "prediction": "score", "label": "y",
                            "baseline": {"rmse": 1.0, "mae": 0.8}}}],
        "sources": [{"type": "jsonl", "path": "-"}], "http": {"address": "127.0.0.1:0"},
        "ingest": {"max_future_seconds": None},  # synthetic event times, ahead of the clock
    }, environ={})
    rng = np.random.default_rng(3)
    profile = build_profile("r", config.models[0].columns, {"score": rng.normal(size=300)}, {},
                            rows=300, metadata={})
    daemon = Daemon(config, {"r": profile}, [], clock=lambda: 0.0, keep_history=True)
    n = 1000
    pred, truth = rng.normal(size=n), rng.normal(size=n)
    send(daemon, "predictions", [{"model": "r", "id": f"q{i}", "ts": 500.0 + i * 0.1,
                                  "prediction": float(pred[i])} for i in range(n)], now=0.0)
    send(daemon, "outcomes", [{"model": "r", "id": f"q{i}", "ts": 900.0,
                               "label": float(truth[i])} for i in range(n)], now=1.0)
    daemon._publish(finish=True)  # the end of the data: the window matures
    perf = matured(daemon, 0.0, 1000.0)
    assert perf["labeled"] == n
    assert perf["metrics"]["rmse"] == pytest.approx(np.sqrt(np.mean((pred - truth) ** 2)))
    assert perf["metrics"]["mae"] == pytest.approx(np.mean(np.abs(pred - truth)))
    assert perf["decay"]["rmse"]["decay"] == pytest.approx(perf["metrics"]["rmse"] - 1.0)


def test_demo_estimate_tracks_realized_accuracy_before_its_concept_drift() -> None:
    """The demo's scores are calibrated before the drift: the label-free estimate of the
    1-minute window is within 0.02 of the realized accuracy of its joined labels."""
    clock = [1_000_000.0]
    config = demo_config(address="127.0.0.1:0", drift_after_seconds=10_000, environ={})
    source_config = config.sources[0]
    assert isinstance(source_config, DemoSourceConfig)
    daemon = Daemon(config, {"demo": demo_profile(config.models[0], source_config)}, [],
                    clock=lambda: clock[0])
    source = DemoSource(DemoGenerator(3), model="demo", events_per_second=500,
                        drift_after_seconds=10_000, label_delay_seconds=20,
                        clock=lambda: clock[0], sleep=lambda s: None)
    for _ in range(150):
        clock[0] += 1.0
        batch = source.poll(100_000, 0.0)
        while batch is not None and batch.messages:
            daemon._pipeline.ingest(batch, clock[0])
            batch = source.poll(100_000, 0.0)
    daemon.evaluate()
    published = daemon.board.latest()
    assert published is not None
    window = next(w for w in published.windows if w.window == "1m")
    perf = window.performance
    assert perf is not None and perf.labeled > 10_000
    assert abs(perf.estimated["accuracy"] - perf.metrics["accuracy"]) < 0.02
