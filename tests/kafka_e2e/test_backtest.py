"""A backtest from files gives the results history of a Kafka replay of the same events.

The Kafka replay also publishes its history to a results topic, keyed by model.

Predictions and their delayed outcomes, once produced to two 3-partition topics and
read by `driftd run --exit-when-drained`, once written to a Parquet file (zoned
timestamps) and a JSONL file and read by `driftd backtest`: every window closes once,
with the same events, statistics and decisions, and matures with the same labels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
import yaml

from driftd.config import ColumnConfig
from driftd.reference.build import build_profile
from kafka_e2e.support import Driftd, consume_all, free_port, produce, results_history

pytestmark = pytest.mark.kafka

START = 1_780_000_000.0  # 2026-05-28, before the clock: nothing is in the future
# Flat events (the shape of a table): inputs at the top level, not under "features".
COLUMNS = [ColumnConfig(name="x", kind="numeric", path="x"),
           ColumnConfig(name="c", kind="categorical", path="c"),
           ColumnConfig(name="score", kind="numeric", role="prediction"),
           ColumnConfig(name="label", kind="categorical", role="label")]


def events(n: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``n`` predictions over 1,800 s (x drifts after 900 s) and outcomes for 80% of
    them 5 to 1,000 s later (up to three window lengths and more), each stream in its
    event-time order."""
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0, 1800, n)).round(3)
    scores = rng.random(n).round(3)
    predictions = [{"model": "m", "id": f"p{i}", "ts": float(ts[i]),
                    "x": float(rng.normal(0.8 if ts[i] > START + 900 else 0)),
                    "c": str(rng.choice(["a", "b", "c"])), "prediction": float(scores[i])}
                   for i in range(n)]
    outcomes = [{"model": "m", "id": f"p{i}", "ts": round(float(ts[i] + rng.uniform(5, 1000)), 3),
                 "label": int(rng.random() < scores[i])} for i in range(n) if rng.random() < 0.8]
    outcomes.sort(key=lambda e: e["ts"])
    return predictions, outcomes


def write_config(directory: Path, sources: list[dict[str, Any]],
                 results_topic: str | None = None) -> Path:
    rng = np.random.default_rng(0)
    build_profile("m", COLUMNS, {"x": rng.normal(size=3000), "score": rng.random(3000)},
                  {"c": rng.choice(["a", "b", "c"], 3000).tolist()}, rows=3000,
                  metadata={}).save(directory / "m.json")
    raw = {
        "models": [{
            "name": "m", "reference": str(directory / "m.json"), "min_window_events": 100,
            "columns": [c.model_dump(exclude_defaults=True) | {"kind": c.kind} for c in COLUMNS],
            "windows": [{"name": "5m", "type": "time", "duration_seconds": 300,
                         "slide_seconds": 60, "allowed_lateness_seconds": 30},
                        {"name": "last-1k", "type": "count", "size": 1000, "step": 500}],
            "performance": {"task": "binary", "prediction": "score", "label": "label",
                            "label_ttl_seconds": 1200, "orphan_ttl_seconds": 60,
                            "baseline": {"accuracy": 0.7}}}],
        "sources": sources,
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "results": {"path": str(directory / "results.jsonl"),
                    **({"kafka_topic": results_topic} if results_topic else {})},
    }
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def digest(history: list[dict[str, Any]]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Time windows: revision 0 (events, statistics, decisions) and the matured
    performance, by bounds; each window closed once and matured once."""
    closed: dict[Any, Any] = {}
    matured: dict[Any, Any] = {}
    for record in history:
        if record["window"] != "5m":
            continue
        key = (record["start"], record["end"])
        if record["revision"] == 0:
            assert key not in closed
            closed[key] = (record["events"],
                           {c["column"]: (c["statistics"], c["drift"]) for c in record["columns"]})
        if record["matured"]:
            assert key not in matured
            perf = record["performance"]
            matured[key] = (perf["predictions"], perf["labeled"], perf["metrics"])
    assert closed.keys() == matured.keys()
    return closed, matured


def test_a_file_backtest_gives_the_history_of_the_kafka_replay(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    predictions, outcomes = events(6000, seed=3)
    kafka_dir, files_dir = tmp_path / "kafka", tmp_path / "files"
    kafka_dir.mkdir()
    files_dir.mkdir()

    topics = (kafka_topic(partitions=3), kafka_topic(partitions=3), kafka_topic(partitions=2))
    produce(kafka_bootstrap, topics[0], [orjson.dumps(e) for e in predictions], partitions=3)
    produce(kafka_bootstrap, topics[1], [orjson.dumps(e) for e in outcomes], partitions=3)
    config = write_config(kafka_dir, [{
        "type": "kafka", "bootstrap_servers": kafka_bootstrap, "group_id": "replay",
        "poll_timeout_ms": 100, "topics": [{"name": topics[0], "stream": "predictions"},
                                           {"name": topics[1], "stream": "outcomes"}]}],
        results_topic=topics[2])
    driftd = Driftd(config, drain=True, log=kafka_dir / "driftd.log")
    assert driftd.wait(timeout=180) == 0, (kafka_dir / "driftd.log").read_text()[-3000:]
    from_kafka = results_history(kafka_dir / "results.jsonl")
    published = consume_all(kafka_bootstrap, topics[2], expected=len(from_kafka))
    assert {r.key for r in published} == {b"m"}  # keyed by model: one partition, in order
    assert [orjson.loads(r.value)["end"] for r in published] == [r["end"] for r in from_kafka]

    frame = pd.DataFrame({
        "model": "m", "id": [e["id"] for e in predictions],
        "ts": pd.to_datetime([e["ts"] for e in predictions], unit="s", utc=True),
        "x": [e["x"] for e in predictions], "c": [e["c"] for e in predictions],
        "prediction": [e["prediction"] for e in predictions]})
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    frame.to_parquet(files_dir / "predictions.parquet")
    (files_dir / "outcomes.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n"
                                                        for e in outcomes))
    config = write_config(files_dir, [
        {"type": "file", "path": str(files_dir / "predictions.parquet")},
        {"type": "file", "path": str(files_dir / "outcomes.jsonl"), "stream": "outcomes"}])
    done = subprocess.run([sys.executable, "-m", "driftd", "backtest", "--config", str(config)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    from_files = results_history(files_dir / "results.jsonl")

    kafka_closed, kafka_matured = digest(from_kafka)
    files_closed, files_matured = digest(from_files)
    assert len(kafka_closed) >= 30  # 1,800 s of 5-minute windows sliding by a minute
    assert files_closed.keys() == kafka_closed.keys()
    for key, (events_count, columns) in kafka_closed.items():
        assert files_closed[key][0] == events_count, key
        for column, (statistics, drift) in columns.items():
            got_statistics, got_drift = files_closed[key][1][column]
            assert got_drift == drift, (key, column)
            assert got_statistics == pytest.approx(statistics, rel=1e-9, abs=1e-12)
    assert files_matured.keys() == kafka_matured.keys()
    for key, (count, labeled, metrics) in kafka_matured.items():
        assert files_matured[key][:2] == (count, labeled), key
        assert files_matured[key][2] == pytest.approx(metrics, rel=1e-12)
    # Every label landed in its prediction's window, however late it came.
    labelled = {e["id"] for e in outcomes}
    for (start, end), (count, labeled, _) in kafka_matured.items():
        inside = [e for e in predictions if start <= e["ts"] < end]
        assert (count, labeled) == (len(inside), sum(e["id"] in labelled for e in inside))
    predicted_at = {e["id"]: e["ts"] for e in predictions}
    delays = np.array([e["ts"] - predicted_at[e["id"]] for e in outcomes])
    assert np.mean(delays > 600) > 0.3  # a third came more than two windows late
    assert any(drift for _, columns in kafka_closed.values()
               for _, (_, d) in columns.items() for drift in d.values())

    table = done.stdout.splitlines()
    assert table[0].split()[:4] == ["model", "window", "start", "(UTC)"]
    assert table[-1] == f"{len([r for r in from_files if r['revision'] == 0])} windows"
    assert any("2026-05-28" in line and " x" in line for line in table[1:-1])
    json.dumps(from_files)  # strict JSON, as written
