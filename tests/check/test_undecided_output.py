"""What `driftd check` says about tests a small file cannot decide."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftd.cli import main


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.lognormal(3.0, 0.8, rows).round(2),
                         "country": rng.choice(["DE", "FR", "US", "IT"], rows)})


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    data, out = tmp_path / "train.csv", tmp_path / "p.json"
    frame(20_000, 1).to_csv(data, index=False)
    assert main(["reference", "build", "--model", "m", "--data", str(data), "--out", str(out),
                 "--numeric", "amount", "--categorical", "country"]) == 0
    return out


def test_a_small_file_lists_its_undecided_tests_and_the_rows_they_need(
        profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: check a 150-row file of the reference's population, as text and as JSON.

    Expected: exit 0; the text names JS as undecided on both columns with the values it
    needs, says this is not "no drift", and gives the false-alarm bound (3%: thresholds
    1%, KS 1%, chi-square 1%); the JSON has outcome "undecided", drift null and the
    min_events of JS, and the same lists under "undecided"."""
    data = tmp_path / "small.csv"
    frame(150, 2).to_csv(data, index=False)
    capsys.readouterr()

    assert main(["check", "--reference", str(profile), "--data", str(data)]) == 0
    text = capsys.readouterr().out
    assert "false-alarm rate <= 3.0%" in text
    assert "not the same as no drift" in text
    assert "  js: 2 column(s), needs up to " in text and ": amount, country" in text
    assert "no drift detected by the tests that decided" in text

    assert main(["check", "--reference", str(profile), "--data", str(data),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["undecided"]["js"] == ["amount", "country"]
    assert report["false_alarm_bound"] == pytest.approx(0.03)
    js = {c["column"]: c["tests"]["js"] for c in report["columns"]}
    for entry in js.values():
        assert entry["outcome"] == "undecided" and entry["drift"] is None
        assert entry["min_events"] > 150
    ks = next(c for c in report["columns"] if c["column"] == "amount")["tests"]["ks"]
    assert ks["outcome"] in ("ok", "drift") and "min_events" not in ks
