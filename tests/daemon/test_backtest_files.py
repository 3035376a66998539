"""Backtests from files through a real `driftd run --exit-when-drained` process.

The dump (`--dump-results`) counts the events of each stream, the rejections and the
label join; window results are not asserted here.

The daemon reads its sources in turn, a batch each; each file is one input of its
stream, so the label clock waits for the outcomes file however far ahead the
predictions file is read: listing order and batch sizes lose no label.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
import yaml

from driftd.config import ColumnConfig
from driftd.reference.build import build_profile

REPO = Path(__file__).resolve().parents[2]
COLUMNS = [ColumnConfig(name="x", kind="numeric"),
           ColumnConfig(name="score", kind="numeric", role="prediction"),
           ColumnConfig(name="label", kind="categorical", role="label")]
START = datetime(2026, 6, 1, tzinfo=UTC)  # before the clock: no event is in the future


def backtest(etc: Path, sources: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    """Write a profile of model ``m`` and a config reading ``sources``, run
    ``driftd run --exit-when-drained --dump-results`` on it; the dump (exit code 0)."""
    rng = np.random.default_rng(5)
    build_profile("m", COLUMNS, {"x": rng.normal(size=2000), "score": rng.random(2000)}, {},
                  rows=2000, metadata={}).save(etc / "m.json")
    config = {
        "models": [{
            "name": "m", "reference": "m.json", "min_window_events": 0,
            "columns": [c.model_dump(exclude_defaults=True) | {"kind": c.kind}
                        for c in COLUMNS],
            "windows": [{"name": "1h", "type": "time", "duration_seconds": 3600,
                         "slide_seconds": 600}],
            "performance": {"task": "binary", "prediction": "score", "label": "label",
                            "threshold": 0.5, "label_ttl_seconds": 86_400},
        }],
        "sources": sources,
        "http": {"address": "127.0.0.1:0"},
        "logging": {"level": "WARNING"},
        **sections,
    }
    (etc / "driftd.yaml").write_text(yaml.safe_dump(config))
    dump = etc / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "driftd", "run", "--config", str(etc / "driftd.yaml"),
         "--exit-when-drained", "--dump-results", str(dump)],
        cwd=REPO, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    results: dict[str, Any] = json.loads(dump.read_text())
    return results


def predictions(count: int) -> pd.DataFrame:
    """Prediction p<i> every 10 s from START, with its label."""
    rng = np.random.default_rng(11)
    scores = rng.random(count).round(3)
    return pd.DataFrame({
        "model": "m", "id": [f"p{i}" for i in range(count)],
        "ts": [START + timedelta(seconds=10 * i) for i in range(count)],
        "x": rng.normal(size=count).round(4), "score": scores,
        "label": (rng.random(count) < scores).astype(int)})


def test_csv_predictions_and_jsonl_outcomes(tmp_path: Path) -> None:
    """Steps: 600 predictions in a CSV (RFC 3339 times, one batch), the x of p7 is
    "twelve"; the outcomes of the 300 even-numbered predictions in a JSONL file, a
    minute later each (epoch seconds, batches of 15), read with `stream: outcomes`
    after the whole predictions file (one batch).

    Expected: 599 predictions and 300 outcomes counted, one wrong_type rejection, every
    outcome matched to its prediction, exit 0.
    """
    frame = predictions(600)
    csv = frame.drop(columns="label").astype({"x": object})
    csv["ts"] = [t.isoformat() for t in frame["ts"]]
    csv.loc[7, "x"] = "twelve"
    csv.to_csv(tmp_path / "predictions.csv", index=False)
    (tmp_path / "outcomes.jsonl").write_bytes(b"".join(
        orjson.dumps({"model": "m", "id": row.id, "ts": row.ts.timestamp() + 60,
                      "label": int(row.label)}) + b"\n"
        for row in frame.iloc[::2].itertuples()))

    # Predictions first, in batches spanning 20 times the outcomes' time: no label lost.
    dump = backtest(tmp_path, [{"type": "file", "path": "predictions.csv", "batch_size": 600},
                               {"type": "jsonl", "path": "outcomes.jsonl",
                                "stream": "outcomes", "batch_size": 15}])

    assert dump["events"] == {"predictions/m": 599, "outcomes/m": 300}
    assert dump["invalid"] == {"wrong_type": 1}
    assert dump["join"]["labels_matched/m"] == 300
    assert "outcomes_late/m" not in dump["join"]
    assert dump["exit_code"] == 0


@pytest.mark.parametrize("zone", ["UTC in the file", "naive, ingest.timezone"])
def test_a_labelled_parquet_file_read_as_both_streams_resumes_from_its_checkpoint(
    tmp_path: Path, zone: str,
) -> None:
    """Steps: 500 labelled predictions in one Parquet file, its ts datetime64[us, UTC]
    or naive local times in Europe/Berlin with ingest.timezone set; the file is read
    twice, as outcomes and as predictions (batches of 100), with a checkpoint; then
    driftd runs again on the same checkpoint.

    Expected: first run 500 predictions, 500 outcomes, 500 labels matched, nothing
    rejected; the second run resumes at the end of the file and counts nothing.
    """
    frame = predictions(500)
    sections: dict[str, Any] = {"checkpoint": {"path": "state.sqlite"}}
    if zone == "UTC in the file":
        frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    else:
        frame["ts"] = frame["ts"].dt.tz_convert("Europe/Berlin").dt.tz_localize(None)
        frame["ts"] = frame["ts"].astype("datetime64[us]")
        sections["ingest"] = {"timezone": "Europe/Berlin"}
    frame.to_parquet(tmp_path / "labelled.parquet")
    sources = [{"type": "file", "path": "labelled.parquet", "stream": "outcomes",
                "batch_size": 100},
               {"type": "file", "path": "labelled.parquet", "batch_size": 100}]

    first = backtest(tmp_path, sources, **sections)
    again = backtest(tmp_path, sources, **sections)

    assert first["events"] == {"predictions/m": 500, "outcomes/m": 500}
    assert first["invalid"] == {}
    assert first["join"]["labels_matched/m"] == 500
    assert again["events"] == {"predictions/m": 0, "outcomes/m": 0}
    assert again["join"].get("labels_matched/m", 0) == 0
