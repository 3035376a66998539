"""Data for the report scenarios: a check's files, a backtest's config and events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import yaml

from driftd.config import ColumnConfig
from driftd.reference.build import build_profile

# A column and a model name that would run or load something if they reached the page
# unescaped: a script, and an image whose failed load and handler both log errors.
HOSTILE_COLUMN = '<img src="x" onerror="console.error(\'injected\')"><script>bad()</script>'
HOSTILE_MODEL = "fraud</title><script>console.error('injected')</script>"

CHECK_COLUMNS = ("amount", "age", "country", HOSTILE_COLUMN)


def write_check_files(tmp_path: Path) -> tuple[Path, Path]:
    """A profile of 5,000 reference rows and a JSONL file of 2,000 records: ``amount``
    (lognormal) shifted up, ``age`` (integers) unchanged, ``country`` with a new
    category (IT, counted in __other__), the hostile column 10% missing."""
    rng = np.random.default_rng(7)
    columns = [ColumnConfig(name="amount", kind="numeric"),
               ColumnConfig(name="age", kind="numeric"),
               ColumnConfig(name="country", kind="categorical"),
               ColumnConfig(name=HOSTILE_COLUMN, kind="numeric")]
    n = 5000
    numeric = {"amount": rng.lognormal(3.0, 0.8, n),
               "age": rng.integers(18, 90, n).astype(np.float64),
               HOSTILE_COLUMN: rng.normal(size=n)}
    categorical = {"country": [str(c) for c in rng.choice(["DE", "FR", "US"], n,
                                                          p=[0.5, 0.3, 0.2])]}
    profile = tmp_path / "profile.json"
    build_profile(HOSTILE_MODEL, columns, numeric, categorical, rows=n,
                  metadata={}).save(profile)
    data = tmp_path / "data.jsonl"
    with data.open("wb") as out:
        for i in range(2000):
            features = {
                "amount": float(rng.lognormal(3.4, 0.8)), "age": int(rng.integers(18, 90)),
                "country": str(rng.choice(["DE", "FR", "US", "IT"], p=[0.3, 0.3, 0.2, 0.2])),
                HOSTILE_COLUMN: float(rng.normal()) if i % 10 else None}
            out.write(orjson.dumps({"features": features}) + b"\n")
    return profile, data


START = 1_760_000_040.0  # 2025-10-09 08:54 UTC, a whole minute
WINDOWS = 8
PER_WINDOW = 500


def write_backtest(tmp_path: Path) -> Path:
    """A model with a numeric ``x`` (reference N(0, 1)) and a categorical ``c``;
    8 one-minute windows of 500 events, ``x`` shifted by 1.5 in the last 3 windows and
    ``c`` unchanged throughout. min_window_events 0: every threshold decides."""
    rng = np.random.default_rng(11)
    columns = [ColumnConfig(name="x", kind="numeric"), ColumnConfig(name="c", kind="categorical")]
    build_profile("m", columns, {"x": rng.normal(size=5000)},
                  {"c": [str(v) for v in rng.choice(["a", "b", "c"], 5000)]},
                  rows=5000, metadata={}).save(tmp_path / "m.json")
    lines = []
    for i in range(WINDOWS * PER_WINDOW):
        window = i // PER_WINDOW
        x = float(rng.normal(1.5 if window >= WINDOWS - 3 else 0.0))
        lines.append(orjson.dumps({
            "model": "m", "ts": START + i * 60 / PER_WINDOW,
            "features": {"x": x, "c": str(rng.choice(["a", "b", "c"]))}}) + b"\n")
    (tmp_path / "events.jsonl").write_bytes(b"".join(lines))
    config = tmp_path / "backtest.yaml"
    config.write_text(yaml.safe_dump({
        "models": [{"name": "m", "reference": "m.json", "min_window_events": 0,
                    "columns": [{"name": "x", "kind": "numeric"},
                                {"name": "c", "kind": "categorical"}],
                    "windows": [{"name": "1m", "type": "time", "duration_seconds": 60,
                                 "slide_seconds": 60}]}],
        "sources": [{"type": "file", "path": "events.jsonl"}],
        "http": {"address": "127.0.0.1:9"},  # a backtest serves nothing: never bound
    }))
    return config
