"""The label join against a real broker: predictions and outcomes on their own topics."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import yaml
from scipy.stats import rankdata

from driftd.config import ColumnConfig
from driftd.reference.build import build_profile
from kafka_e2e.support import (
    Driftd,
    free_port,
    load_results,
    metric_value,
    produce,
    wait_for,
)

pytestmark = pytest.mark.kafka

# Far ahead on every partition of both topics: with 1,000 s of allowed lateness the
# watermark and the label clock reach 6,000 s, past the window [0, 5000) and its label
# horizon, and past every prediction's and orphan's deadline.
TICK_TS = 7_000.0
LATENESS = 1_000.0  # outcomes are shuffled within their partitions by up to ~900 s


def scenario(seed: int, n: int) -> dict[str, Any]:
    """``n`` predictions over 600 s with scores and labels; 5/6 of them get an outcome
    (the first 2/15 of those before their prediction), with delays of 5 to 300 s."""
    rng = np.random.default_rng(seed)
    ts = 1_000.0 + np.sort(rng.uniform(0, 600, n))
    scores = rng.random(n).round(3)
    labels = (rng.random(n) < scores).astype(int)
    order = rng.permutation(n)
    labelled = n * 5 // 6
    return {"n": n, "ts": ts, "scores": scores, "labels": labels,
            "labelled": np.sort(order[:labelled]), "early": order[:labelled * 2 // 15],
            "delay": rng.uniform(5, 300, n)}


def write_config(directory: Path, bootstrap: str, topics: tuple[str, str], group: str, *,
                 ttl: float, checkpoint: bool) -> Path:
    """Window "all": 5,000 s sliding by 100 s; label and orphan horizons ``ttl`` (event
    time); the results history goes to ``results.jsonl``."""
    profile = directory / "m.json"
    if not profile.exists():
        rng = np.random.default_rng(0)
        columns = (ColumnConfig(name="x", kind="numeric"),
                   ColumnConfig(name="score", kind="numeric", role="prediction"))
        build_profile("m", columns, {"x": rng.normal(size=2000), "score": rng.random(2000)},
                      {}, rows=2000, metadata={}).save(profile)
    raw = {
        "models": [{
            "name": "m", "reference": str(profile),
            "columns": [{"name": "x", "kind": "numeric"},
                        {"name": "score", "kind": "numeric", "role": "prediction"},
                        {"name": "label", "kind": "categorical", "role": "label"}],
            "windows": [{"name": "all", "type": "time", "duration_seconds": 5000,
                         "slide_seconds": 100, "idle_timeout_seconds": 600,
                         "allowed_lateness_seconds": LATENESS}],
            "performance": {"task": "binary", "prediction": "score", "label": "label",
                            "label_ttl_seconds": ttl, "orphan_ttl_seconds": ttl,
                            "score_bins": 1000, "baseline": {"accuracy": 0.8}}}],
        "sources": [{"type": "kafka", "bootstrap_servers": bootstrap, "group_id": group,
                     "session_timeout_ms": 6000, "poll_timeout_ms": 100,
                     "topics": [{"name": topics[0], "stream": "predictions"},
                                {"name": topics[1], "stream": "outcomes"}]}],
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "evaluation": {"interval_seconds": 0.5},
        "checkpoint": ({"path": str(directory / "state.sqlite"), "interval_seconds": 0.3}
                       if checkpoint else {"interval_seconds": 0.3}),
        "results": {"path": str(directory / "results.jsonl")},
    }
    path = directory / f"{group}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def produce_scenario(bootstrap: str, topics: tuple[str, str], s: dict[str, Any]) -> None:
    """Early outcomes first, then predictions, then the rest of the outcomes shuffled,
    then a far-ahead tick on every partition of both topics (the outcome ticks match no
    prediction: they wait as orphans)."""
    def prediction(i: int) -> bytes:
        return orjson.dumps({"model": "m", "id": f"p{i}", "ts": float(s["ts"][i]),
                             "features": {"x": 0.0}, "prediction": float(s["scores"][i])})

    def outcome(i: int) -> bytes:
        return orjson.dumps({"model": "m", "id": f"p{i}", "ts": float(s["ts"][i] + s["delay"][i]),
                             "label": int(s["labels"][i])})

    labelled = set(s["labelled"].tolist())
    early = [i for i in s["early"].tolist() if i in labelled]
    late = [i for i in s["labelled"].tolist() if i not in set(early)]
    random.Random(1).shuffle(late)
    ghosts = [orjson.dumps({"model": "m", "id": f"ghost{i}", "ts": 2000.0, "label": 1})
              for i in range(40)]
    produce(bootstrap, topics[1], [outcome(i) for i in early], partitions=3)
    produce(bootstrap, topics[0], [prediction(i) for i in range(s["n"])], partitions=3)
    produce(bootstrap, topics[1], [outcome(i) for i in late] + ghosts, partitions=3)
    produce_ticks(bootstrap, topics)


def produce_ticks(bootstrap: str, topics: tuple[str, str]) -> None:
    tick = [orjson.dumps({"model": "m", "id": f"tick{p}", "ts": TICK_TS,
                          "features": {"x": 0.0}, "prediction": 0.5}) for p in range(3)]
    produce(bootstrap, topics[0], tick, partitions=3)
    tock = [orjson.dumps({"model": "m", "id": f"tock{p}", "ts": TICK_TS, "label": 1})
            for p in range(3)]
    produce(bootstrap, topics[1], tock, partitions=3)


def offline(s: dict[str, Any]) -> dict[str, float]:
    joined = s["labelled"]
    said, truth = s["scores"][joined] >= 0.5, s["labels"][joined] == 1
    tp, fp, fn = np.sum(said & truth), np.sum(said & ~truth), np.sum(~said & truth)
    ranks = rankdata(s["scores"][joined])  # Mann-Whitney, ties as halves
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    auc = (ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return {"accuracy": float(np.mean(said == truth)), "f1": float(2 * tp / (2 * tp + fp + fn)),
            "auc": float(auc)}


def window_performance(directory: Path) -> dict[str, Any]:
    """The matured performance of the window [0, 5000) (every prediction) from the
    results file, which holds each window's matured revision once."""
    records = [orjson.loads(line) for line in (directory / "results.jsonl").read_bytes()
               .splitlines()]
    (window,) = [r for r in records
                 if r["matured"] and (r["start"], r["end"]) == (0.0, 5000.0)]
    revisions = [r["revision"] for r in records if (r["start"], r["end"]) == (0.0, 5000.0)]
    assert revisions == list(range(len(revisions))), revisions
    performance: dict[str, Any] = window["performance"]
    return performance





def test_outcomes_out_of_order_join_exactly_and_expire_and_orphan_exactly(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """6,000 predictions, 5,000 outcomes (800 of them before their prediction, the rest
    shuffled, with delays of 5 to 300 s), 1,000 predictions never labelled, 40 outcomes
    without a prediction. Label horizons of 400 s of event time.

    Expected: the matured window's accuracy, F1 and AUC equal numpy on the joined pairs;
    5,000 matched, 1,000 expired, 40 orphaned, once the label clock has passed them.
    """
    topics = (kafka_topic(partitions=3), kafka_topic(partitions=3))
    s = scenario(11, 6000)
    produce_scenario(kafka_bootstrap, topics, s)
    config = write_config(tmp_path, kafka_bootstrap, topics, "join", ttl=400.0,
                          checkpoint=False)
    dump = tmp_path / "results.json"
    driftd = Driftd(config, dump=dump, log=tmp_path / "driftd.log")
    try:
        driftd.wait_ready()

        def counted(name: str) -> float:
            return metric_value(driftd.metrics(), f"driftd_{name}_total", model="m") or 0.0

        wait_for(lambda: counted("labels_matched") == 5000
                  and counted("predictions_expired") == 1000
                  and counted("outcomes_orphaned") == 40, "join counters", timeout=90)
        assert counted("outcomes_late") == 0 and counted("labels_after_horizon") == 0
    finally:
        assert driftd.terminate() == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    performance = window_performance(tmp_path)
    assert performance["labeled"] == 5000 and performance["predictions"] == 6000
    expected = offline(s)
    for name, value in expected.items():
        assert performance["metrics"][name] == pytest.approx(value, abs=1e-12), name


def test_kill_9_during_the_join_loses_and_repeats_no_match(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """60,000 predictions and 50,000 outcomes read by a driftd killed with SIGKILL three
    times while joining (each time after it has matched some labels).

    Expected: after the final drained run, the window holds exactly the 50,000 joined
    pairs with the offline metrics: nothing lost, nothing counted twice.
    """
    topics = (kafka_topic(partitions=3), kafka_topic(partitions=3))
    s = scenario(12, 60_000)
    produce_scenario(kafka_bootstrap, topics, s)
    config = write_config(tmp_path, kafka_bootstrap, topics, "crash", ttl=3600.0,
                          checkpoint=True)
    rng = random.Random(3)
    for _ in range(3):
        driftd = Driftd(config, log=tmp_path / "driftd.log")
        driftd.wait_ready()
        wait_for(lambda d=driftd: (metric_value(d.metrics(), "driftd_labels_matched_total",
                                                 model="m") or 0) > 0, "the join to start")
        time.sleep(rng.uniform(0.0, 0.5))
        driftd.kill()
    dump = tmp_path / "results.json"
    final = Driftd(config, drain=True, dump=dump, log=tmp_path / "driftd.log")
    assert final.wait(timeout=180) == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    results = load_results(dump)
    assert results["late"] == {}  # restarts and partial assignments make nothing late
    performance = window_performance(tmp_path)
    assert performance["labeled"] == 50_000 and performance["predictions"] == 60_000
    log = (tmp_path / "driftd.log").read_text()
    assert log.count("restored checkpoint") >= 3
    for name, value in offline(s).items():
        assert performance["metrics"][name] == pytest.approx(value, abs=1e-12), name


def test_regression_outcomes_join_to_the_offline_rmse_and_mae(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """3,000 regression predictions and their outcomes, outcomes shuffled and delayed.

    Expected: the window's RMSE and MAE equal numpy on the pairs.
    """
    topics = (kafka_topic(partitions=3), kafka_topic(partitions=3))
    rng = np.random.default_rng(5)
    n = 3000
    ts = 1_000.0 + np.sort(rng.uniform(0, 600, n))
    predicted, actual = rng.normal(10, 2, n), rng.normal(10, 3, n)
    produce(kafka_bootstrap, topics[0], [
        orjson.dumps({"model": "m", "id": f"r{i}", "ts": float(ts[i]), "features": {"x": 0.0},
                      "prediction": float(predicted[i])}) for i in range(n)], partitions=3)
    produce(kafka_bootstrap, topics[1], [
        orjson.dumps({"model": "m", "id": f"r{i}", "ts": float(ts[i]) + 60,
                      "label": float(actual[i])}) for i in rng.permutation(n)], partitions=3)
    produce_ticks(kafka_bootstrap, topics)
    config = write_config(tmp_path, kafka_bootstrap, topics, "regression", ttl=3600.0,
                          checkpoint=False)
    raw = yaml.safe_load(config.read_text())
    model = raw["models"][0]
    model["columns"][2] = {"name": "label", "kind": "numeric", "role": "label"}
    model["performance"] = {"task": "regression", "prediction": "score", "label": "label",
                            "baseline": {"rmse": 3.0}}
    config.write_text(yaml.safe_dump(raw))
    dump = tmp_path / "results.json"
    driftd = Driftd(config, drain=True, dump=dump, log=tmp_path / "driftd.log")
    assert driftd.wait(timeout=120) == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    performance = window_performance(tmp_path)
    assert performance["labeled"] == n
    error = predicted - actual
    assert performance["metrics"]["rmse"] == pytest.approx(np.sqrt(np.mean(error ** 2)),
                                                           rel=1e-12)
    assert performance["metrics"]["mae"] == pytest.approx(np.mean(np.abs(error)), rel=1e-12)
