"""Scenarios of `driftd reference build|show` and the `driftd check` gate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from driftd.cli import main

ROLES = ["--numeric", "amount,age", "--categorical", "country", "--prediction", "score"]


def frame(rows: int, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": rng.lognormal(3.0 + shift, 0.8, rows).round(2),
        "age": rng.integers(18, 90, rows),
        "country": rng.choice(["DE", "FR", "US"], rows,
                              p=[0.5, 0.3, 0.2] if not shift else [0.2, 0.3, 0.5]),
        "score": rng.beta(2, 5, rows),
    })


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    data = tmp_path / "train.parquet"
    frame(20_000, seed=1).to_parquet(data)
    out = tmp_path / "fraud.json"
    assert main(["reference", "build", "--model", "fraud", "--data", str(data),
                 "--out", str(out), *ROLES]) == 0
    return out


Writer = Callable[[pd.DataFrame, Path], None]


def write_jsonl(df: pd.DataFrame, path: Path) -> None:
    with path.open("wb") as handle:
        for record in df.to_dict(orient="records"):
            event = {"model": "fraud", "features": {k: record[k] for k in
                                                    ("amount", "age", "country")},
                     "prediction": record["score"]}
            handle.write(orjson.dumps(event) + b"\n")


WRITERS: dict[str, Writer] = {
    "parquet": lambda df, p: df.to_parquet(p),
    "csv": lambda df, p: df.to_csv(p, index=False),
    "jsonl": write_jsonl,
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_fresh_data_passes_and_shifted_data_fails(
    profile: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same distribution -> exit 0; shifted amount and country -> exit 1 naming them."""
    fresh, shifted = tmp_path / f"fresh.{fmt}", tmp_path / f"shifted.{fmt}"
    WRITERS[fmt](frame(5000, seed=2), fresh)
    WRITERS[fmt](frame(5000, seed=3, shift=0.5), shifted)
    assert main(["check", "--reference", str(profile), "--data", str(fresh)]) == 0
    assert "no drift detected" in capsys.readouterr().out
    assert main(["check", "--reference", str(profile), "--data", str(shifted),
                 "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    drifted = {c["column"] for c in report["columns"] if c["drift"]}
    assert drifted == {"amount", "country"}
    assert report["rows"] == 5000
    amount = next(c for c in report["columns"] if c["column"] == "amount")
    assert amount["tests"]["psi"]["threshold"] == 0.2 and amount["tests"]["psi"]["drift"]
    assert amount["tests"]["ks"]["alpha"] == 0.01


def test_profile_is_versioned_by_content_and_shown(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rebuilding from the same data gives the same version; show prints a summary."""
    again = tmp_path / "again.json"
    main(["reference", "build", "--model", "fraud", "--data", str(tmp_path / "train.parquet"),
          "--out", str(again), *ROLES])
    first, second = (json.loads(p.read_text())["version"] for p in (profile, again))
    assert first == second and first.startswith("sha256:")
    capsys.readouterr()
    assert main(["reference", "show", str(profile)]) == 0
    out = capsys.readouterr().out
    assert first in out and "country" in out and "categorical" in out


def test_a_corrupted_profile_is_refused_with_the_reason(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(profile.read_text())
    doc["columns"]["amount"]["bucket_counts"][3] += 1
    profile.write_text(json.dumps(doc))
    assert main(["reference", "show", str(profile)]) == 2
    assert "bucket_counts do not add up" in capsys.readouterr().err
    profile.write_text("{not json")
    data = tmp_path / "d.csv"
    frame(10, seed=1).to_csv(data, index=False)
    assert main(["check", "--reference", str(profile), "--data", str(data)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_an_edited_profile_no_longer_matches_its_version(
    profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(profile.read_text())
    doc["columns"]["country"]["categories"]["DE"] += 5
    doc["columns"]["country"]["count"] += 5
    profile.write_text(json.dumps(doc))
    assert main(["reference", "show", str(profile)]) == 2
    assert "does not match its version" in capsys.readouterr().err


def test_a_config_that_does_not_match_the_profile_names_the_column(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "driftd.yaml"
    config.write_text(f"""
models:
  - name: fraud
    reference: {profile}
    columns:
      - {{name: amount, kind: categorical}}
    windows: [{{name: w, type: count, size: 10, step: 10}}]
sources: [{{type: jsonl, path: "-"}}]
""")
    data = tmp_path / "d.csv"
    frame(100, seed=1).to_csv(data, index=False)
    assert main(["check", "--reference", str(profile), "--data", str(data),
                 "--config", str(config)]) == 2
    assert "column 'amount' is categorical in the config but numeric" in capsys.readouterr().err


def test_a_profile_of_another_model_is_bad_input_naming_the_expected_columns(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps: a config with models fraud and churn; `check --model churn` against the
    fraud profile. Expected: exit 2 (not a drift verdict on unrelated columns), naming
    both models and the columns churn expects; `--model fraud` checks as usual (0)."""
    config = tmp_path / "driftd.yaml"
    config.write_text(f"""
models:
  - name: fraud
    reference: {profile}
    columns: [{{name: amount, kind: numeric}}]
    windows: [{{name: w, type: count, size: 10, step: 10}}]
  - name: churn
    reference: churn.json
    columns: [{{name: tenure, kind: numeric}}, {{name: plan, kind: categorical}}]
    windows: [{{name: w, type: count, size: 10, step: 10}}]
sources: [{{type: jsonl, path: "-"}}]
""")
    data = tmp_path / "d.csv"
    frame(2000, seed=2).to_csv(data, index=False)
    base = ["check", "--reference", str(profile), "--data", str(data), "--config", str(config)]

    assert main([*base, "--model", "churn"]) == 2
    error = capsys.readouterr().err
    assert "the profile is of model 'fraud', not 'churn'" in error
    assert "expects the columns tenure, plan" in error
    assert main([*base, "--model", "fraud"]) == 0


def test_bad_records_are_reported_and_gate_the_exit_code(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Malformed and wrong-type lines are counted by reason; exit 2 past the tolerance."""
    data = tmp_path / "mixed.jsonl"
    write_jsonl(frame(1000, seed=2), data)
    with data.open("ab") as handle:
        handle.write(b'{"model": "fraud", "features": {"amount": "lots"}}\n{truncated\n')
    assert main(["check", "--reference", str(profile), "--data", str(data)]) == 2
    captured = capsys.readouterr()
    assert "malformed_json=1" in captured.out and "wrong_type=1" in captured.out
    assert "mixed.jsonl:1002" in captured.out
    assert main(["check", "--reference", str(profile), "--data", str(data),
                 "--max-invalid-ratio", "0.01"]) == 0


def test_missing_files_and_unknown_formats_exit_2(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--reference", str(profile), "--data", str(tmp_path / "no.csv")]) == 2
    assert "file not found" in capsys.readouterr().err
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"")
    assert main(["check", "--reference", str(profile), "--data", str(odd)]) == 2
    assert "unknown format" in capsys.readouterr().err


def labelled(rows: int, *, seed: int, accuracy_noise: float) -> pd.DataFrame:
    """Scores and labels: the label agrees with score >= 0.5 except for the noise."""
    rng = np.random.default_rng(seed)
    df = frame(rows, seed=seed)
    flip = rng.random(rows) < accuracy_noise
    df["label"] = np.where(flip, df["score"] < 0.5, df["score"] >= 0.5).astype(int)
    return df


def test_check_reports_performance_and_gates_on_significant_decay(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A labelled file at 95% accuracy passes a 0.9 baseline; one at 70% fails it (exit 1)
    with accuracy equal to numpy's, even though no input column drifted."""
    config = tmp_path / "driftd.yaml"
    config.write_text(f"""
models:
  - name: fraud
    reference: {profile}
    columns:
      - {{name: amount, kind: numeric}}
      - {{name: age, kind: numeric}}
      - {{name: country, kind: categorical}}
      - {{name: score, kind: numeric, role: prediction, path: score}}
      - {{name: label, kind: categorical, role: label, path: label}}
    windows: [{{name: w, type: count, size: 10, step: 10}}]
    performance:
      task: binary
      prediction: score
      label: label
      baseline: {{accuracy: 0.9}}
      tolerance: {{accuracy: 0.02}}
sources: [{{type: jsonl, path: "-"}}]
""")
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    labelled(5000, seed=2, accuracy_noise=0.05).to_csv(good, index=False)
    poor = labelled(5000, seed=3, accuracy_noise=0.30)
    poor.to_csv(bad, index=False)
    base = ["check", "--reference", str(profile), "--config", str(config), "--format", "json"]
    assert main([*base, "--data", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["performance"]["decay"]["accuracy"][
        "significant"] is False
    assert main([*base, "--data", str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    expected = np.mean((poor["score"] >= 0.5) == (poor["label"] == 1))
    assert report["performance"]["metrics"]["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert report["performance"]["decay"]["accuracy"]["significant"] is True
    assert not any(c["drift"] for c in report["columns"])
    assert main(["check", "--reference", str(profile), "--config", str(config),
                 "--data", str(bad)]) == 1
    assert "PERFORMANCE DECAY beyond tolerance: accuracy" in capsys.readouterr().out


def test_a_labelled_reference_carries_the_baseline_that_check_compares_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Build from labelled training data (95% accurate) with a config that has no
    baseline: the profile measures one; a 70%-accurate file then decays against it."""
    config = tmp_path / "driftd.yaml"
    out = tmp_path / "fraud.json"
    config.write_text(f"""
models:
  - name: fraud
    reference: {out}
    columns:
      - {{name: amount, kind: numeric}}
      - {{name: score, kind: numeric, role: prediction, path: score}}
      - {{name: label, kind: categorical, role: label, path: label}}
    windows: [{{name: w, type: count, size: 10, step: 10}}]
    performance: {{task: binary, prediction: score, label: label}}
sources: [{{type: jsonl, path: "-"}}]
""")
    train = labelled(20_000, seed=4, accuracy_noise=0.05)
    train.to_parquet(tmp_path / "train.parquet")
    assert main(["reference", "build", "--model", "fraud", "--config", str(config),
                 "--data", str(tmp_path / "train.parquet"), "--out", str(out)]) == 0
    baseline = json.loads(out.read_text())["performance"]
    expected = np.mean((train["score"] >= 0.5) == (train["label"] == 1))
    assert baseline["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert set(baseline) == {"accuracy", "precision", "recall", "f1", "auc", "log_loss"}
    capsys.readouterr()
    assert main(["reference", "show", str(out)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["baseline", "accuracy"] for line in shown)
    bad = tmp_path / "bad.csv"
    labelled(5000, seed=5, accuracy_noise=0.30).to_csv(bad, index=False)
    assert main(["check", "--reference", str(out), "--config", str(config), "--data", str(bad),
                 "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["performance"]["baseline"]["accuracy"] == pytest.approx(expected)
    assert report["performance"]["decay"]["accuracy"]["significant"] is True


def test_a_file_of_something_else_is_bad_input_not_drift(
    profile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV that shares no column with the profile (every value missing) used to read
    as drift (missing = 1.0 everywhere, exit 1). Expected: exit 2, naming the columns
    the profile expected; a file that has some of them is still judged."""
    other = tmp_path / "other.csv"
    pd.DataFrame({"temperature": np.arange(500.0), "city": ["Oslo"] * 500}).to_csv(
        other, index=False)
    assert main(["check", "--reference", str(profile), "--data", str(other)]) == 2
    err = capsys.readouterr().err
    assert "none of the profile's columns" in err
    assert all(name in err for name in ("amount", "age", "country", "score"))
    partial = tmp_path / "partial.csv"
    frame(2000, seed=4).drop(columns=["country"]).to_csv(partial, index=False)
    assert main(["check", "--reference", str(profile), "--data", str(partial)]) == 1
    out = capsys.readouterr().out
    assert "DRIFT in 1 column(s): country" in out
    assert "nan" not in out and "inf" not in out


def test_the_text_report_prints_no_nan_or_infinite_interval() -> None:
    """A metric that could not be computed (NaN) and a decay interval with infinite
    bounds (a window too small for one) print as "-" and without brackets."""
    from driftd.check import CheckResult
    from driftd.commands.check import render_text
    from driftd.config import ModelConfig
    from driftd.filescan import ScanReport
    from driftd.monitor.performance import PerformanceResult
    from driftd.monitor.results import ColumnResult, WindowResult
    from driftd.stats.decay import DecayResult

    performance = PerformanceResult(
        predictions=3, labeled=3, metrics={"auc": float("nan"), "mae": 2.0},
        estimated={}, baseline={"auc": 0.8, "mae": 1.0},
        decay={"auc": DecayResult(float("nan"), (float("nan"), float("nan")), False),
               "mae": DecayResult(1.0, (-float("inf"), float("inf")), False)})
    column = ColumnResult("x", "numeric", "input", {"psi": float("inf"), "ks_statistic": 0.5},
                          {"psi": True})
    result = WindowResult("m", "", "sha256:0", "file", 3, columns=(column,),
                          performance=performance)
    model = ModelConfig(name="m", reference=Path("m.json"),
                        columns=({"name": "x", "kind": "numeric"},),  # type: ignore[arg-type]
                        windows=({"name": "file", "type": "count", "size": 1,  # type: ignore[arg-type]
                                  "step": 1},))
    text = render_text(CheckResult(model, result, ScanReport(rows=3)))
    assert "nan" not in text and "inf" not in text, text
    assert "baseline 1.0000, decay +1.0000\n" in text + "\n"
