"""`driftd backtest`: a replay of files to their end, a table of every window."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml

from driftd.cli import main
from driftd.config import ColumnConfig
from driftd.reference.build import build_profile

START = 1_760_000_000.0  # 2025-10-09, before the clock


def write_backtest(tmp_path: Path, shift: float) -> Path:
    """A model with one numeric column, its reference N(0, 1), and 3,000 events over 5
    minutes whose x is N(``shift``, 1), in a JSONL file; 1-minute tumbling windows (600
    events each: below min_window_events, so only the KS p-value decides)."""
    rng = np.random.default_rng(4)
    build_profile("m", [ColumnConfig(name="x", kind="numeric")], {"x": rng.normal(size=5000)},
                  {}, rows=5000, metadata={}).save(tmp_path / "m.json")
    base = (START // 60) * 60
    (tmp_path / "events.jsonl").write_bytes(b"".join(
        orjson.dumps({"model": "m", "ts": base + i * 0.1,
                      "features": {"x": float(rng.normal(shift))}}) + b"\n"
        for i in range(3000)))
    config = tmp_path / "backtest.yaml"
    config.write_text(yaml.safe_dump({
        "models": [{"name": "m", "reference": "m.json",
                    "columns": [{"name": "x", "kind": "numeric"}],
                    "windows": [{"name": "1m", "type": "time", "duration_seconds": 60,
                                 "slide_seconds": 60}]}],
        "sources": [{"type": "file", "path": "events.jsonl"}],
        "http": {"address": "127.0.0.1:9"},  # a backtest serves nothing: never bound
    }))
    return config


def test_the_table_has_one_row_per_window_and_drift_fails_only_when_asked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_backtest(tmp_path, shift=2.0)
    assert main(["backtest", "--config", str(config)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["model", "window", "start"]
    rows = table[1:-1]
    assert len(rows) == 5 and table[-1] == "5 windows"
    assert all(row.split()[6] == "600" and " x " in row + " " for row in rows)
    assert main(["backtest", "--config", str(config), "--fail-on-drift",
                 "--results", str(tmp_path / "history.jsonl")]) == 1
    capsys.readouterr()
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text()
               .splitlines()]
    assert [r["events"] for r in history] == [600] * 5


def test_json_prints_the_history_and_the_exit_code_follows_its_decisions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Same distribution as the reference: without --fail-on-drift the exit code is 0
    whatever the decisions; with it, 1 exactly when some window flagged drift."""
    config = write_backtest(tmp_path, shift=0.0)
    assert main(["backtest", "--config", str(config), "--format", "json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["window"], r["end"] - r["start"], r["events"]) for r in records] == [
        ("1m", 60.0, 600)] * 5
    drifted = any(any(c["drift"].values()) for r in records for c in r["columns"])
    assert main(["backtest", "--config", str(config), "--fail-on-drift",
                 "--format", "json"]) == int(drifted)


def test_a_bad_config_is_one_line_per_problem_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_backtest(tmp_path, shift=0.0)
    raw = yaml.safe_load(config.read_text())
    raw["sources"][0]["format"] = "xlsx"
    config.write_text(yaml.safe_dump(raw))
    assert main(["backtest", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("driftd backtest: ") and "format" in err[0]
