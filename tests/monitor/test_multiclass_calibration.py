"""The label-free multiclass estimate from calibrated probabilities.

A model whose class probabilities are too confident (the true ones squared and
renormalized) makes the raw estimate promise more accuracy than it delivers; the
profile's calibration, fitted on the labelled reference, brings the estimate back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from driftd.cli import main
from driftd.reference.profile import load_profile
from monitor.multiclass_files import CLASSES, START, record, write_config, write_jsonl


def too_confident(rng: np.random.Generator, count: int,
                  alpha: tuple[float, float, float]) -> tuple[np.ndarray, list[str | None]]:
    """True probabilities from a Dirichlet(``alpha``), labels drawn from them, and the
    model's scores: the probabilities squared and renormalized."""
    p = rng.dirichlet(alpha, count)
    labels: list[str | None] = [CLASSES[rng.choice(3, p=row)] for row in p]
    sharp = p ** 2 / (p ** 2).sum(axis=1, keepdims=True)
    return sharp.round(6), labels


def test_check_estimates_accuracy_from_calibrated_probabilities(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: a labelled reference of 4,000 rows with too-confident scores; build its
    profile; `driftd check` a labelled file of 3,000 rows from a shifted population
    (Dirichlet(3, 1, 1): class a more likely) with the same distortion.

    Expected: the profile's calibration is applied (the test rejects the raw
    probabilities) and its estimate missed the reference's accuracy less; the realized
    accuracy is that of the file; the calibrated estimate misses it by at most half as
    much as the raw-score estimate (mean highest raw probability) does.
    """
    config = write_config(tmp_path)
    rng = np.random.default_rng(21)
    scores, labels = too_confident(rng, 4000, (1.0, 1.0, 1.0))
    write_jsonl(tmp_path / "reference.jsonl",
                [record(i, START - 86_400 + i, s, y)
                 for i, (s, y) in enumerate(zip(scores, labels, strict=True))])
    assert main(["reference", "build", "--config", str(config), "--model", "m",
                 "--data", str(tmp_path / "reference.jsonl"),
                 "--out", str(tmp_path / "m.json")]) == 0
    calibration = load_profile(tmp_path / "m.json").calibration
    assert calibration is not None and calibration.applied
    assert calibration.errors()["accuracy"] < calibration.errors(calibrated=False)["accuracy"]
    capsys.readouterr()

    scores, labels = too_confident(rng, 3000, (3.0, 1.0, 1.0))
    write_jsonl(tmp_path / "current.jsonl",
                [record(i, START + i, s, y)
                 for i, (s, y) in enumerate(zip(scores, labels, strict=True))])
    main(["check", "--reference", str(tmp_path / "m.json"), "--config", str(config),
          "--data", str(tmp_path / "current.jsonl"), "--format", "json"])

    performance = json.loads(capsys.readouterr().out)["performance"]
    truth = np.array([CLASSES.index(y) for y in labels if y is not None])
    realized = float(np.mean(scores.argmax(axis=1) == truth))
    assert performance["metrics"]["accuracy"] == pytest.approx(realized, abs=1e-12)
    raw = float((scores / scores.sum(axis=1, keepdims=True)).max(axis=1).mean())
    calibrated = performance["estimated"]["accuracy"]
    assert abs(calibrated - realized) <= 0.5 * abs(raw - realized)
