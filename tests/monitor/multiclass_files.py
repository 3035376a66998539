"""Files of a three-class model (a, b, c) for the multiclass scenarios: events with one
score per class under ``scores``, and a config reading predictions and outcomes files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

CLASSES = ("a", "b", "c")
START = 1_780_000_200.0  # 2026-05-28, before the clock; a multiple of 600


def record(i: int, ts: float, scores: np.ndarray, label: str | None = None,
           *, labelled: bool = True) -> dict[str, Any]:
    event: dict[str, Any] = {"model": "m", "id": f"p{i}", "ts": ts,
                             "features": {"x": float(scores[0] * 3)},
                             "scores": dict(zip(CLASSES, map(float, scores), strict=True))}
    if labelled:
        event["label"] = label
    return event


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def write_config(tmp_path: Path, **performance: Any) -> Path:
    columns = [{"name": "x", "kind": "numeric"}]
    columns += [{"name": f"p_{c}", "kind": "numeric", "role": "prediction",
                 "path": f"scores.{c}"} for c in CLASSES]
    columns += [{"name": "y", "kind": "categorical", "role": "label", "path": "label"}]
    config = tmp_path / "driftd.yaml"
    config.write_text(yaml.safe_dump({
        "models": [{
            "name": "m", "reference": "m.json", "min_window_events": 0, "columns": columns,
            "windows": [{"name": "10m", "type": "time", "duration_seconds": 600,
                         "slide_seconds": 600}],
            "performance": {"task": "multiclass", "label": "y", "classes": list(CLASSES),
                            "scores": [f"p_{c}" for c in CLASSES],
                            "label_ttl_seconds": 3600, **performance},
        }],
        "sources": [{"type": "jsonl", "path": "predictions.jsonl"},
                    {"type": "jsonl", "path": "outcomes.jsonl", "stream": "outcomes"}],
        "http": {"address": "127.0.0.1:0"},
    }))
    return config
