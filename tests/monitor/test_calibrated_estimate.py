"""The label-free estimate on calibrated scores, through `reference build` and `check`.

A seeded synthetic model: one feature x ~ N(shift, 1), the true probability
p = sigmoid(2x - 0.5), labels y ~ Bernoulli(p). The model emits either p itself (well
calibrated) or a known monotone distortion of it, p ** 3 (scores far too low), and
decides positive when its emitted score is >= 0.3. The reference is a labelled sample at
shift 0; the windows are labelled files at shifts from -1.5 to 1.5 (covariate shift, so
the realized accuracy moves from window to window, about 0.75 to 0.92). Each window goes
through `driftd check` twice: against the calibrated profile (what `reference build`
writes) and against the same profile without its calibration (the estimate as it was:
raw scores). `check` evaluates the window with the daemon's own PerformanceSlots, built
by the Layout from the profile, so this is the daemon's path too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftd.cli import main
from driftd.reference.profile import load_profile, make_profile

THRESHOLD = 0.3
SHIFTS = (0.0, 0.0, -1.5, -1.0, -0.6, -0.3, 0.3, 0.6, 1.0, 1.5)
DISTORTIONS = {"cube": lambda p: p ** 3, "none": lambda p: p}


def population(rows: int, seed: int, distortion: str, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, rows)
    p = 1.0 / (1.0 + np.exp(-(2.0 * x - 0.5)))
    label = (rng.random(rows) < p).astype(int)
    return pd.DataFrame({"x": x, "score": DISTORTIONS[distortion](p), "label": label})


def write_config(path: Path, profile: Path, extra: str = "") -> Path:
    path.write_text(f"""
models:
  - name: m
    reference: {profile}
    columns:
      - {{name: x, kind: numeric}}
      - {{name: score, kind: numeric, role: prediction, path: score}}
      - {{name: label, kind: categorical, role: label, path: label}}
    windows: [{{name: w, type: count, size: 10, step: 10}}]
    performance: {{task: binary, prediction: score, label: label, threshold: {THRESHOLD}{extra}}}
sources: [{{type: jsonl, path: "-"}}]
""")
    return path


def check_json(capsys: pytest.CaptureFixture[str], profile: Path, config: Path,
               data: Path) -> dict[str, Any]:
    # Exit 1 is fine: the shifted windows drift (that is the point of them).
    assert main(["check", "--reference", str(profile), "--config", str(config),
                 "--data", str(data), "--format", "json"]) in (0, 1)
    report: dict[str, Any] = json.loads(capsys.readouterr().out)["performance"]
    return report


def estimate_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                    distortion: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Build the profile (5,000 labelled rows), strip a copy of its calibration, check
    10 windows of 2,000 rows against both. Returns the calibrated and raw-score
    estimates' absolute accuracy errors per window, and the calibrated profile's JSON."""
    calibrated, raw = tmp_path / "m.json", tmp_path / "raw.json"
    config = write_config(tmp_path / "driftd.yaml", calibrated)
    population(5000, 1, distortion).to_parquet(tmp_path / "reference.parquet")
    assert main(["reference", "build", "--model", "m", "--config", str(config), "--data",
                 str(tmp_path / "reference.parquet"), "--out", str(calibrated)]) == 0
    capsys.readouterr()
    built = load_profile(calibrated)
    make_profile(built.model, built.rows, built.columns, built.metadata,
                 built.performance).save(raw)
    errors: list[tuple[float, float]] = []
    for i, shift in enumerate(SHIFTS):
        window = tmp_path / f"window-{i}.parquet"
        population(2000, 100 + i, distortion, shift).to_parquet(window)
        with_cal = check_json(capsys, calibrated, config, window)
        without = check_json(capsys, raw, config, window)
        # The model's decisions are its raw scores': realized metrics do not change.
        assert with_cal["metrics"] == without["metrics"]
        realized = with_cal["metrics"]["accuracy"]
        errors.append((abs(with_cal["estimated"]["accuracy"] - realized),
                       abs(without["estimated"]["accuracy"] - realized)))
    table = np.array(errors)
    return table[:, 0], table[:, 1], json.loads(calibrated.read_text())


def test_calibration_halves_the_estimate_error_of_distorted_scores(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: scores p ** 3, reference build, 10 windows through check with and without
    the calibration. Expected: the calibrated estimate's mean absolute error against the
    realized accuracy is at most half the raw one's (measured: 0.0088 against 0.0728);
    the profile records the calibration error before and after (0.207 -> 0.017), that
    the raw scores fail the calibration test (so the calibration is applied), and the
    reference's own estimate error (calibrated 0.003, raw scores 0.088 on accuracy)."""
    calibrated, raw, profile = estimate_errors(tmp_path, capsys, "cube")
    assert calibrated.mean() <= 0.5 * raw.mean()
    assert (round(calibrated.mean(), 4), round(raw.mean(), 4)) == (0.0088, 0.0728)
    stored = profile["calibration"]
    assert (round(stored["ece_before"], 3), round(stored["ece_after"], 3)) == (0.207, 0.017)
    assert stored["applied"] is True and stored["pvalue"] < 1e-12
    check = stored["reference_estimate"]
    realized = check["realized"]["accuracy"]
    assert realized == pytest.approx(profile["performance"]["accuracy"], abs=1e-12)
    assert round(abs(check["calibrated"]["accuracy"] - realized), 3) == 0.003
    assert round(abs(check["uncalibrated"]["accuracy"] - realized), 3) == 0.088


def test_a_well_calibrated_model_keeps_its_estimate_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: scores p (calibrated), the same 10 windows. Expected: the raw scores pass
    the calibration test, so the profile keeps its fitted curve but does not apply it:
    every window's estimate is the raw scores' one (mean absolute error 0.0052 both
    ways; applied, the curve would add the reference's sampling error: 0.0065)."""
    calibrated, raw, profile = estimate_errors(tmp_path, capsys, "none")
    assert calibrated.tolist() == raw.tolist()
    assert round(raw.mean(), 4) == 0.0052
    stored = profile["calibration"]
    assert stored["applied"] is False and stored["pvalue"] > 0.01
    assert (round(stored["ece_before"], 3), round(stored["ece_after"], 3)) == (0.019, 0.017)


def test_check_and_show_tell_how_the_estimate_did_on_the_reference(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: build the p ** 3 profile; `reference show` it; `check` an unlabelled window
    (text and JSON); then the same profile as if its reference estimate had missed
    accuracy by 0.05. Expected: show prints the calibration (applied, errors before and
    after) and the misses; check prints the estimate and "calibrated on 5,000 reference
    rows"; JSON carries estimate_reference; the missed profile is UNRELIABLE in both."""
    profile = tmp_path / "m.json"
    config = write_config(tmp_path / "driftd.yaml", profile)
    population(5000, 1, "cube").to_parquet(tmp_path / "reference.parquet")
    assert main(["reference", "build", "--model", "m", "--config", str(config), "--data",
                 str(tmp_path / "reference.parquet"), "--out", str(profile)]) == 0
    capsys.readouterr()
    assert main(["reference", "show", str(profile)]) == 0
    shown = capsys.readouterr().out
    assert "isotonic on 5,000 labelled rows, applied" in shown
    assert "0.2067 raw, 0.0173 calibrated" in shown
    assert "missed the reference by accuracy 0.0030" in shown
    window = tmp_path / "window.parquet"
    population(2000, 7, "cube", 0.5).drop(columns=["label"]).to_parquet(window)
    base = ["check", "--reference", str(profile), "--config", str(config), "--data",
            str(window)]
    main(base)
    text = capsys.readouterr().out
    assert "estimated without labels: accuracy" in text
    assert "calibrated on 5,000 reference rows" in text and "UNRELIABLE" not in text
    report = check_json(capsys, profile, config, window)
    assert report["estimate_reference"]["unreliable"] is False
    assert report["estimate_reference"]["tolerance"] == 0.02
    built = load_profile(profile)
    assert built.calibration is not None
    estimated = {**built.calibration.estimated,
                 "accuracy": built.calibration.realized["accuracy"] + 0.05}
    make_profile(built.model, built.rows, built.columns, built.metadata, built.performance,
                 replace(built.calibration, estimated=estimated)).save(profile)
    main(base)
    assert "UNRELIABLE, calibrated on 5,000 reference rows" in capsys.readouterr().out
    assert check_json(capsys, profile, config, window)["estimate_reference"]["unreliable"]
    assert main(["reference", "show", str(profile)]) == 0
    assert "missed the reference by accuracy 0.0500" in capsys.readouterr().out
