"""Several models in one daemon publish their time windows the same as one model alone.

Each model's watermark waits only for the partitions that carry it: those of the topics
that list it (``models``), or, without that list, every partition until it has sent a
batch without the model's events. With the real session broker and driftd as a process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from kafka_e2e.support import (
    Driftd,
    free_port,
    load_results,
    metric_value,
    produce,
    wait_for,
    workload,
    write_profile,
)

pytestmark = pytest.mark.kafka

MODELS = ("alpha", "beta")
WINDOWS = [
    {"name": "last-5k", "type": "count", "size": 5000, "step": 1000},
    {"name": "2s", "type": "time", "duration_seconds": 2, "slide_seconds": 1,
     "allowed_lateness_seconds": 0},
    {"name": "10s", "type": "time", "duration_seconds": 10, "slide_seconds": 2,
     "allowed_lateness_seconds": 0},
]


def write_config(directory: Path, *, bootstrap: str, topics: dict[str, str], group: str,
                 list_models: bool = False) -> Path:
    """A config for the models of ``topics`` (model -> its topic), each on the standard
    workload's columns; with ``list_models`` each topic names its model."""
    profile = directory / "bench.json"
    if not profile.exists():
        write_profile(profile, workload.columns())
    columns = [c.model_dump(exclude_defaults=True) | {"kind": c.kind} for c in workload.columns()]
    raw: dict[str, Any] = {
        "models": [{"name": model, "reference": str(profile), "columns": columns,
                    "windows": WINDOWS} for model in topics],
        "sources": [{"type": "kafka", "bootstrap_servers": bootstrap, "group_id": group,
                     "topics": [{"name": topic} | ({"models": [model]} if list_models else {})
                                for model, topic in topics.items()],
                     "poll_timeout_ms": 100, "session_timeout_ms": 6000}],
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "evaluation": {"interval_seconds": 0.5},
        "logging": {"level": "INFO"},
    }
    path = directory / f"driftd-{group}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def messages(model: str, rows: int, seed: int) -> Iterable[bytes]:
    """``rows`` workload events of ``model``, 100 to a message (1,000 a second of
    event time)."""
    chunk: list[dict[str, Any]] = []
    for event in workload.events(rows, drift_after=rows // 2, seed=seed, model=model):
        chunk.append(event)
        if len(chunk) == 100:
            yield orjson.dumps(chunk)
            chunk = []
    if chunk:
        yield orjson.dumps(chunk)


def replay(tmp_path: Path, name: str, bootstrap: str, topics: dict[str, str],
           list_models: bool = False) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``--exit-when-drained --dump-results`` with its own group; every window result
    in order (without when it was evaluated), by (model, window)."""
    directory = tmp_path / name
    directory.mkdir()
    config = write_config(directory, bootstrap=bootstrap, topics=topics, group=name,
                          list_models=list_models)
    dump = directory / "results.json"
    driftd = Driftd(config, drain=True, dump=dump, log=directory / "driftd.log")
    assert driftd.wait(timeout=180) == 0, (directory / "driftd.log").read_text()[-3000:]
    history: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in load_results(dump)["history"]:
        record.pop("evaluated_at")
        history.setdefault((record["model"], record["window"]), []).append(record)
    return history


def test_two_models_replayed_together_publish_the_time_windows_of_each_alone(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """20,000 events of alpha on one 3-partition topic, 20,000 of beta on another.
    Replayed: alpha alone, beta alone, both without ``models`` on the topics, and both
    with each topic listing its model.

    Expected: in both combined dumps every window of both models is published, each
    time window's history (every window in order: bounds, events, every statistic)
    equals the model's own replay exactly; the count windows give one result per 1,000
    events, each of 5,000.
    """
    topics = {"alpha": kafka_topic(partitions=3), "beta": kafka_topic(partitions=3)}
    for seed, (model, topic) in enumerate(topics.items(), start=7):
        produce(kafka_bootstrap, topic, messages(model, 20_000, seed), partitions=3)

    alone = {**replay(tmp_path, "alpha-alone", kafka_bootstrap, {"alpha": topics["alpha"]}),
             **replay(tmp_path, "beta-alone", kafka_bootstrap, {"beta": topics["beta"]})}
    inferred = replay(tmp_path, "both", kafka_bootstrap, topics)
    listed = replay(tmp_path, "both-listed", kafka_bootstrap, topics, list_models=True)

    expected = sorted((model, w["name"]) for model in MODELS for w in WINDOWS)
    assert sorted(alone) == expected
    for together in (inferred, listed):
        assert sorted(together) == expected
        for model in MODELS:
            for window in ("2s", "10s"):
                assert together[(model, window)] == alone[(model, window)], (model, window)
            counted = together[(model, "last-5k")]
            assert [w["events"] for w in counted] == [5000] * 16
            assert [w["sequence"] for w in counted] == list(range(16))
    # Every 10 s window sliding by 2 s over the 20 s of event time, each once, the last
    # ones closed at the end of the data.
    for model in MODELS:
        tens = alone[(model, "10s")]
        assert [w["end"] - w["start"] for w in tens] == [10.0] * len(tens)
        assert [w["end"] for w in tens] == [tens[0]["end"] + 2 * i for i in range(len(tens))]
        assert max(w["events"] for w in tens) == 10_000 and len(tens) == 14


def test_two_live_models_publish_their_first_time_window_within_seconds(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """A live daemon with two models on their own topics (no ``models`` lists; the idle
    timeout is the default 60 s). Once both consumers are assigned, 5,000 events of
    each model are produced (5 s of event time).

    Expected: the first 2-second window of each model is on /metrics within 10 s of
    the produce (it took the 60 s idle timeout when each model waited for the other
    model's partitions).
    """
    topics = {"alpha": kafka_topic(partitions=3), "beta": kafka_topic(partitions=3)}
    config = write_config(tmp_path, bootstrap=kafka_bootstrap, topics=topics, group="live")
    driftd = Driftd(config, log=tmp_path / "driftd.log")
    try:
        driftd.wait_ready()
        wait_for(lambda: _assigned(tmp_path / "driftd.log") == 6,
                 "all six partitions to be assigned")
        for seed, (model, topic) in enumerate(topics.items(), start=7):
            produce(kafka_bootstrap, topic, messages(model, 5000, seed), partitions=3)
        produced = time.monotonic()
        wait_for(lambda: all(_window_events(driftd, model, "2s") for model in MODELS),
                 "the first 2 s window of both models", timeout=10)
        took = time.monotonic() - produced
    finally:
        code = driftd.terminate()
    assert code == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    print(f"first time window of both models {took:.1f} s after the produce")


def _assigned(log: Path) -> int:
    """Partitions in the latest "assigned partitions" line of the log."""
    lines = [line for line in log.read_text().splitlines() if "assigned partitions:" in line]
    return lines[-1].count("[") if lines else 0


def _window_events(driftd: Driftd, model: str, window: str) -> float | None:
    return metric_value(driftd.metrics(), "driftd_window_events", model=model, window=window)
