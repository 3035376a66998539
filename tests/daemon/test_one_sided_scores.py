"""A replay whose scores all fall on one side of the threshold publishes every window.

The count window used to keep its float sums by subtraction and left about -1e-14 in the
expected-confusion sums once only one side remained; the label-free estimate refused
the negative sum and the evaluation of every model aborted, so the replay exited 1
without writing its results.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import yaml

from driftd.config import ColumnConfig
from driftd.reference.build import build_profile

REPO = Path(__file__).resolve().parents[2]
COLUMNS = [ColumnConfig(name="x", kind="numeric"),
           ColumnConfig(name="score", kind="numeric", role="prediction"),
           ColumnConfig(name="label", kind="categorical", role="label")]


def replay(tmp_path: Path, scores: np.ndarray,
           address: str = "127.0.0.1:0") -> tuple[int, dict[str, Any]]:
    """``driftd run --exit-when-drained --dump-results`` on one prediction per score
    (one a second); returns the exit code and the dump."""
    rng = np.random.default_rng(5)
    build_profile("m", COLUMNS, {"x": rng.normal(size=5000), "score": rng.random(5000)}, {},
                  rows=5000, metadata={}).save(tmp_path / "m.json")
    lines = [orjson.dumps({"model": "m", "id": f"p{i}", "ts": 1_000_000.0 + i,
                           "features": {"x": float(rng.normal())}, "prediction": float(s)})
             for i, s in enumerate(scores)]
    (tmp_path / "replay.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    config = {
        "models": [{
            "name": "m", "reference": "m.json", "min_window_events": 0,
            "columns": [c.model_dump(exclude_defaults=True) | {"kind": c.kind}
                        for c in COLUMNS],
            "windows": [{"name": "last-1k", "type": "count", "size": 1000, "step": 100},
                        {"name": "10m", "type": "time", "duration_seconds": 600,
                         "slide_seconds": 60}],
            "performance": {"task": "binary", "prediction": "score", "label": "label",
                            "threshold": 0.5},
        }],
        "sources": [{"type": "jsonl", "path": "replay.jsonl", "batch_size": 700}],
        "http": {"address": address},
        "evaluation": {"interval_seconds": 0.2},
        "logging": {"level": "WARNING"},
    }
    (tmp_path / "driftd.yaml").write_text(yaml.safe_dump(config))
    dump = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "driftd", "run", "--config", str(tmp_path / "driftd.yaml"),
         "--exit-when-drained", "--dump-results", str(dump)],
        cwd=REPO, capture_output=True, timeout=120, check=False)
    assert dump.exists(), done.stderr.decode()[-3000:]
    results: dict[str, Any] = json.loads(dump.read_text())
    return done.returncode, results


@pytest.mark.parametrize("case", ["collapsed-to-negative", "every-score-below-then-zero"])
def test_scores_on_one_side_of_the_threshold_publish_every_window(
    tmp_path: Path, case: str,
) -> None:
    """5,000 predictions replayed through a real daemon (count window 1000/100 and a
    10-minute time window, binary performance, threshold 0.5):

    - collapsed-to-negative: 3,000 scores over [0, 1], then 2,000 all below 0.45;
    - every-score-below-then-zero: 3,000 scores in [0, 0.45], then 2,000 exact zeros.

    Expected: exit 0, both windows in the dump with no evaluation error, and a finite
    label-free estimate in each: accuracy of the count window = mean of max(p, 1 - p)
    over its last 1,000 scores, precision 0 (nothing is predicted positive).
    """
    rng = np.random.default_rng(2026)
    if case == "collapsed-to-negative":
        scores = np.r_[rng.uniform(0, 1, 3000), rng.uniform(0, 0.45, 2000)]
    else:
        scores = np.r_[rng.uniform(0, 0.45, 3000), np.zeros(2000)]

    code, results = replay(tmp_path, scores)

    assert code == 0 and results["exit_code"] == 0
    windows = {w["window"]: w for w in results["windows"]}
    assert sorted(windows) == ["10m", "last-1k"]
    for window in windows.values():
        assert window["errors"] == []
        estimated = window["performance"]["estimated"]
        assert estimated and all(math.isfinite(v) for v in estimated.values()), window
    count = windows["last-1k"]
    assert count["events"] == 1000
    tail = scores[-1000:]
    assert count["performance"]["estimated"]["accuracy"] == pytest.approx(
        np.maximum(tail, 1 - tail).mean(), rel=1e-12)
    assert count["performance"]["estimated"]["precision"] == 0.0


def test_the_dump_is_written_when_the_daemon_ends_on_an_error(tmp_path: Path) -> None:
    """The replay's HTTP port is taken by another process, so the daemon cannot serve.

    Expected: exit 2, and the dump still written (no windows, exit_code 2).
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, results = replay(tmp_path, np.full(100, 0.2), address=f"127.0.0.1:{port}")
    assert code == 2 and results["exit_code"] == 2
    assert results["windows"] == []
