"""`driftd reference build --label` without a config writes the baseline, and
`reference show` prints keys and values apart.

Each scenario writes a labelled JSONL reference, builds its profile with role flags only,
and compares the profile's baseline with scikit-learn on the same rows (to 1e-12).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
)

from driftd.cli import main
from driftd.reference.profile import load_profile

TOLERANCE = 1e-12


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


def build(tmp_path: Path, data: Path, *flags: str) -> int:
    return main(["reference", "build", "--model", "m", "--data", str(data),
                 "--out", str(tmp_path / "m.json"), "--numeric", "x", *flags])


def baseline(tmp_path: Path) -> dict[str, float]:
    return dict(load_profile(tmp_path / "m.json").performance)


def binary_rows(labels: tuple[Any, Any] = (0, 1), count: int = 800) -> tuple[
        list[dict[str, Any]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    scores = rng.random(count).round(3)
    positive = rng.random(count) < scores
    rows = [{"x": float(x), "score": float(s), "label": labels[int(y)]}
            for x, s, y in zip(rng.normal(size=count), scores, positive, strict=True)]
    return rows, scores, positive


def test_a_binary_label_is_inferred_and_its_baseline_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: 800 rows with a 0/1 label and a score in [0, 1]; `reference build
    --prediction score --label label` (no --task, no --config).

    Expected: exit 0; stderr says the task was inferred as binary with positive label
    "1"; the profile's accuracy, precision, recall and F1 equal sklearn's at threshold
    0.5 on the same rows.
    """
    rows, scores, positive = binary_rows()
    data = write(tmp_path / "ref.jsonl", rows)

    assert build(tmp_path, data, "--prediction", "score", "--label", "label") == 0

    err = capsys.readouterr().err
    assert "task binary (label values 0, 1; prediction in [" in err
    assert "positive label '1'" in err
    said = scores >= 0.5
    found = baseline(tmp_path)
    for name, metric in (("accuracy", accuracy_score), ("precision", precision_score),
                         ("recall", recall_score), ("f1", f1_score)):
        assert found[name] == pytest.approx(metric(positive, said), abs=TOLERANCE), name


def test_binary_flags_choose_the_positive_label_and_threshold(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: labels "ham"/"spam"; first without --positive-label, then with
    --positive-label spam --threshold 0.7.

    Expected: the first exits 2 asking for --positive-label; the second writes the
    baseline of "spam" at threshold 0.7, equal to sklearn's.
    """
    rows, scores, positive = binary_rows(("ham", "spam"))
    data = write(tmp_path / "ref.jsonl", rows)

    assert build(tmp_path, data, "--prediction", "score", "--label", "label") == 2
    assert "give --positive-label" in capsys.readouterr().err
    assert build(tmp_path, data, "--prediction", "score", "--label", "label",
                 "--positive-label", "spam", "--threshold", "0.7") == 0

    said = scores >= 0.7
    found = baseline(tmp_path)
    assert found["recall"] == pytest.approx(recall_score(positive, said), abs=TOLERANCE)
    assert found["accuracy"] == pytest.approx(accuracy_score(positive, said), abs=TOLERANCE)


def test_a_numeric_label_is_a_regression(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: 600 rows whose label is a price and the prediction its estimate.

    Expected: inferred regression; MAE and RMSE equal sklearn's.
    """
    rng = np.random.default_rng(8)
    truth = rng.gamma(3.0, 20.0, 600).round(2)
    predicted = (truth + rng.normal(0, 5, 600)).round(2)
    data = write(tmp_path / "ref.jsonl", [
        {"x": float(x), "estimate": float(p), "price": float(y)}
        for x, p, y in zip(rng.normal(size=600), predicted, truth, strict=True)])

    assert build(tmp_path, data, "--prediction", "estimate", "--label", "price") == 0

    assert "task regression (every label a number" in capsys.readouterr().err
    found = baseline(tmp_path)
    assert found["mae"] == pytest.approx(mean_absolute_error(truth, predicted), abs=TOLERANCE)
    assert found["rmse"] == pytest.approx(math.sqrt(mean_squared_error(truth, predicted)),
                                          abs=TOLERANCE)


def test_multiclass_flags_write_the_multiclass_baseline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: 900 rows with scores of classes cat, dog and fox (columns p_cat, p_dog,
    p_fox) and the label; `--scores p_cat,p_dog,p_fox --classes cat,dog,fox`; then
    `driftd check` of the first 300 rows against the profile, without a config.

    Expected: exit 0; accuracy, macro and weighted F1 equal sklearn's for the argmax;
    check reads the performance settings from the profile and reports the 300 rows'
    accuracy and macro F1 as sklearn computes them.
    """
    rng = np.random.default_rng(9)
    p = rng.dirichlet([1.0, 2.0, 3.0], 900).round(4)
    classes = ("cat", "dog", "fox")
    truth = [int(rng.choice(3, p=row / row.sum())) for row in p]
    data = write(tmp_path / "ref.jsonl", [
        {"x": float(row[0]), "label": classes[y]} | {f"p_{c}": float(v)
                                                     for c, v in zip(classes, row, strict=True)}
        for row, y in zip(p, truth, strict=True)])

    assert build(tmp_path, data, "--scores", "p_cat,p_dog,p_fox",
                 "--classes", "cat,dog,fox", "--label", "label") == 0

    predicted = p.argmax(axis=1)
    found = baseline(tmp_path)
    assert found["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=TOLERANCE)
    assert found["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"),
                                              abs=TOLERANCE)
    assert found["weighted_f1"] == pytest.approx(
        f1_score(truth, predicted, average="weighted"), abs=TOLERANCE)
    part = write(tmp_path / "part.jsonl", [
        json.loads(line) for line in data.read_text().splitlines()[:300]])
    capsys.readouterr()
    main(["check", "--reference", str(tmp_path / "m.json"), "--data", str(part),
          "--format", "json"])
    performance = json.loads(capsys.readouterr().out)["performance"]
    assert performance["labeled"] == 300
    assert performance["metrics"]["accuracy"] == pytest.approx(
        accuracy_score(truth[:300], predicted[:300]), abs=TOLERANCE)
    assert performance["metrics"]["macro_f1"] == pytest.approx(
        f1_score(truth[:300], predicted[:300], average="macro"), abs=TOLERANCE)


@pytest.mark.parametrize(("flags", "message"), [
    (["--label", "label"], "--label needs --prediction"),
    (["--label", "label", "--scores", "a,b,c"], "--classes: task 'multiclass' needs three"),
    (["--label", "label", "--prediction", "score", "--task", "multiclass"],
     "--prediction: not used for task multiclass"),
    (["--label", "label", "--prediction", "score", "--task", "binary", "--threshold", "2"],
     "--threshold: Input should be less than or equal to 1"),
])
def test_incomplete_label_flags_exit_2_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
        message: str) -> None:
    data = write(tmp_path / "ref.jsonl", binary_rows()[0])
    assert build(tmp_path, data, *flags) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("driftd reference build: ") and message in err[0]


def test_show_separates_keys_from_values(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: build a labelled binary profile with an input named with 40 characters;
    `reference show` it.

    Expected: every header line is a key, at least two spaces, and its value, all values
    starting in one column (created_at, driftd_version and invalid_records included);
    the baseline line lists the measured accuracy, the performance line the settings of
    the flags; the long column name is apart from its kind.
    """
    long_name = "a_column_name_of_exactly_forty_letters__"
    rows, _, _ = binary_rows()
    data = write(tmp_path / "ref.jsonl", [row | {long_name: 1.5} for row in rows])
    assert build(tmp_path, data, "--prediction", "score", "--label", "label",
                 "--task", "binary", "--numeric", f"x,{long_name}") == 0
    capsys.readouterr()

    assert main(["reference", "show", str(tmp_path / "m.json")]) == 0

    out = capsys.readouterr().out.splitlines()
    header = out[:out.index("")]
    parsed = [re.fullmatch(r"(\S+)( {2,})(\S.*)", line) for line in header]
    assert all(parsed), header
    keys = [m.group(1) for m in parsed if m]
    assert {"model", "version", "rows", "created_at", "driftd_version", "invalid_records",
            "baseline"} <= set(keys)
    assert len({len(m.group(1) + m.group(2)) for m in parsed if m}) == 1
    accuracy = baseline(tmp_path)["accuracy"]
    assert f"accuracy {accuracy:.4f}" in header[keys.index("baseline")]
    assert header[keys.index("invalid_records")].endswith("none")
    assert header[keys.index("performance")].endswith("task binary, prediction score, "
                                                      "label label")
    column = next(line for line in out if line.startswith(long_name))
    assert column.split()[:3] == [long_name, "numeric", "input"]
