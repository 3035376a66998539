"""Multiclass classification performance, checked against scikit-learn to 1e-12.

A model with three classes (a, b, c) sends one score per class (its probabilities,
rounded to 3 decimals, so rows do not sum to exactly 1 and some tie); the label is one
of the classes, or something else. The same metrics come out of `driftd check` on a
labelled file and out of the daemon (`driftd backtest` on prediction and outcome files)
for every window.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from scipy.stats import norm
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from driftd.cli import main
from driftd.config import PerformanceConfig, parse_config
from driftd.events import ModelBatch
from driftd.monitor.performance import PerformanceSlots
from driftd.monitor.results import Published, ResultBoard, WindowResult
from driftd.reference.profile import load_profile
from driftd.rules import rule_groups
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.telemetry import Telemetry
from monitor.multiclass_files import CLASSES, START, record, write_config, write_jsonl

TOLERANCE = 1e-12


def draw(rng: np.random.Generator, count: int, *, without_c: bool = False,
         skew: float = 0.0) -> tuple[np.ndarray, list[str | None]]:
    """``count`` score rows (Dirichlet, rounded to 3 decimals) and labels drawn from
    them (calibrated), then replaced by the least likely class with probability ``skew``. With
    ``without_c`` class c has score 0 and never occurs. Rows 0-3 are special: a tie of
    a and b (predicted a), a label that is no class, a negative score (not a
    probability), a missing label."""
    p = rng.dirichlet([2.0, 2.0, 2.0], count)
    if without_c:
        p[:, 2] = 0.0
        p /= p.sum(axis=1, keepdims=True)
    labels: list[str | None] = [CLASSES[rng.choice(3, p=row)] for row in p]
    labels = [CLASSES[row.argmin()] if rng.random() < skew else y
              for row, y in zip(p, labels, strict=True)]
    scores = p.round(3)
    scores[0] = [0.4, 0.4, 0.0 if without_c else 0.2]
    labels[1] = "zzz"
    scores[2] = [-0.1, 0.6, 0.5]
    labels[3] = None
    return scores, labels


def build_reference(tmp_path: Path, config: Path) -> dict[str, float]:
    """A calibrated labelled reference of 2,000 rows; the profile's baseline."""
    scores, labels = draw(np.random.default_rng(1), 2000)
    write_jsonl(tmp_path / "reference.jsonl",
                [record(i, START - 86_400 + i, s, y)
                 for i, (s, y) in enumerate(zip(scores, labels, strict=True))])
    assert main(["reference", "build", "--config", str(config), "--model", "m",
                 "--data", str(tmp_path / "reference.jsonl"),
                 "--out", str(tmp_path / "m.json")]) == 0
    expected = sklearn_metrics(scores, labels)
    baseline = dict(load_profile(tmp_path / "m.json").performance)
    assert set(baseline) == {"accuracy", "macro_precision", "macro_recall", "macro_f1",
                             "weighted_f1"}
    for name, value in baseline.items():
        assert value == pytest.approx(expected[name], abs=TOLERANCE), name
    return baseline


def usable(scores: np.ndarray, labels: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """The rows sklearn sees: a probability row and a label that is a class; predicted
    class the argmax (first on ties), as indices."""
    keep = np.array([y in CLASSES for y in labels]) & (scores >= 0).all(axis=1)
    y_true = np.array([CLASSES.index(y) for y, k in zip(labels, keep, strict=True) if k])
    return y_true, scores[keep].argmax(axis=1)


def sklearn_metrics(scores: np.ndarray, labels: list[str | None]) -> dict[str, Any]:
    """Every multiclass metric as scikit-learn computes it (zero_division=0)."""
    y_true, y_pred = usable(scores, labels)
    every = list(range(len(CLASSES)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=every, average=None, zero_division=0)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_precision": precision_score(y_true, y_pred, average="macro", zero_division=0),
        "macro_recall": recall_score(y_true, y_pred, average="macro", zero_division=0),
        "macro_f1": f1_score(y_true, y_pred, average="macro", zero_division=0),
        "weighted_f1": f1_score(y_true, y_pred, average="weighted", zero_division=0),
        "per_class": {"precision": dict(zip(CLASSES, precision, strict=True)),
                      "recall": dict(zip(CLASSES, recall, strict=True)),
                      "f1": dict(zip(CLASSES, f1, strict=True))},
        "confusion": confusion_matrix(y_true, y_pred, labels=every),
        "labeled": len(y_true),
    }


def expected_estimate(scores: np.ndarray) -> dict[str, float]:
    """The label-free estimate by numpy: each usable row normalized to sum 1; expected
    accuracy the mean highest probability; expected confusion cell (i, j) the sum of
    p_i over rows predicted j; macro over classes with expected mass."""
    rows = scores[(scores >= 0).all(axis=1)]
    p = rows / rows.sum(axis=1, keepdims=True)
    predicted = p.argmax(axis=1)
    expected = np.stack([p[predicted == j].sum(axis=0) for j in range(3)], axis=1)
    tp, pred, true = np.diag(expected), expected.sum(axis=0), expected.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / pred)
        recall = np.nan_to_num(tp / true)
        f1 = np.nan_to_num(2 * tp / (pred + true))
    present = (pred + true) > 0
    return {"accuracy": float(p.max(axis=1).mean()),
            "macro_precision": float(precision[present].mean()),
            "macro_recall": float(recall[present].mean()),
            "macro_f1": float(f1[present].mean()),
            "weighted_f1": float((f1 * true).sum() / len(p)), "predictions": len(p)}


def assert_performance(performance: dict[str, Any], scores: np.ndarray,
                       labels: list[str | None], baseline: dict[str, float],
                       confidence: float = 0.95) -> None:
    """The reported performance equals scikit-learn's and numpy's figures."""
    expected = sklearn_metrics(scores, labels)
    assert performance["labeled"] == expected["labeled"]
    for name in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1"):
        assert performance["metrics"][name] == pytest.approx(expected[name],
                                                             abs=TOLERANCE), name
    for metric, by_class in expected["per_class"].items():
        for name, value in by_class.items():
            assert performance["per_class"][metric][name] == pytest.approx(
                value, abs=TOLERANCE), (metric, name)
    confusion = [[performance["confusion"][t][p] for p in CLASSES] for t in CLASSES]
    assert confusion == expected["confusion"].tolist()
    estimate = expected_estimate(scores)
    for name, value in performance["estimated"].items():
        assert value == pytest.approx(estimate[name], abs=TOLERANCE), name
    # Accuracy decay: baseline minus accuracy, Wilson interval of the correct share.
    decay = performance["decay"]["accuracy"]
    n, share = expected["labeled"], expected["accuracy"]
    z = norm.ppf(0.5 + confidence / 2)
    center = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert decay["decay"] == pytest.approx(baseline["accuracy"] - share, abs=TOLERANCE)
    assert decay["interval"] == pytest.approx(
        [baseline["accuracy"] - center - half, baseline["accuracy"] - center + half],
        abs=TOLERANCE)
    assert performance["decay"]["macro_f1"]["decay"] == pytest.approx(
        baseline["macro_f1"] - expected["macro_f1"], abs=TOLERANCE)


def test_check_of_a_labelled_file_equals_sklearn(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: build the profile of a calibrated reference (2,000 rows) with the config;
    `driftd check --format json` a labelled file of 1,500 rows, 30% of whose labels are
    the least likely class, tolerating 0.05 of accuracy decay.

    Expected: the profile's baseline equals sklearn on the reference; accuracy, macro
    and weighted scores, per-class precision, recall and F1 and the confusion counts
    equal sklearn on the usable rows (a label that is a class, scores that are
    probabilities: 1,497 of 1,500); the estimate equals numpy's on the 1,499 rows with
    probabilities; accuracy decay is baseline minus accuracy with its Wilson interval,
    significant, so check exits 1.
    """
    config = write_config(tmp_path, tolerance={"accuracy": 0.05})
    baseline = build_reference(tmp_path, config)
    scores, labels = draw(np.random.default_rng(2), 1500, skew=0.3)
    write_jsonl(tmp_path / "current.jsonl",
                [record(i, START + i, s, y)
                 for i, (s, y) in enumerate(zip(scores, labels, strict=True))])
    capsys.readouterr()

    code = main(["check", "--reference", str(tmp_path / "m.json"), "--config", str(config),
                 "--data", str(tmp_path / "current.jsonl"), "--format", "json"])

    performance = json.loads(capsys.readouterr().out)["performance"]
    assert performance["labeled"] == 1497
    assert_performance(performance, scores, labels, baseline)
    assert performance["decay"]["accuracy"]["significant"] is True
    assert code == 1


def test_the_daemon_gives_every_window_the_sklearn_metrics(tmp_path: Path) -> None:
    """Steps: predictions every 2 s over three 10-minute windows (300 each) in one JSONL
    file, the scores only; their outcomes 30 s later in another; the third window never
    has class c (score 0, never a label); `driftd run --exit-when-drained
    --dump-results`.

    Expected: all 900 outcomes join, the 3 whose label is no class are counted as such;
    in each window's last revision (matured), every metric equals sklearn's on that
    window's usable pairs; in the third, macro scores average classes a and b only
    (sklearn's labels=None), per-class scores of c are 0 and its confusion row and
    column are 0.
    """
    config = write_config(tmp_path)
    baseline = build_reference(tmp_path, config)
    rng = np.random.default_rng(3)
    windows = [draw(rng, 300), draw(rng, 300, skew=0.2), draw(rng, 300, without_c=True)]
    predictions, outcomes = [], []
    for w, (scores, labels) in enumerate(windows):
        for i, (s, y) in enumerate(zip(scores, labels, strict=True)):
            ts = START + 600 * w + 2 * i
            predictions.append(record(300 * w + i, ts, s, labelled=False))
            outcomes.append({"model": "m", "id": f"p{300 * w + i}", "ts": ts + 30, "label": y})
    write_jsonl(tmp_path / "predictions.jsonl", predictions)
    write_jsonl(tmp_path / "outcomes.jsonl", outcomes)

    dump = tmp_path / "dump.json"
    assert main(["run", "--config", str(config), "--exit-when-drained",
                 "--dump-results", str(dump)]) == 0

    results = json.loads(dump.read_text())
    assert results["join"]["labels_matched/m"] == 900
    assert results["join"]["outcomes_unknown_class/m"] == 3
    history = results["history"]
    last = {r["start"]: r for r in sorted(history, key=lambda r: r["revision"])}
    assert sorted(last) == [START, START + 600, START + 1200]
    for w, (scores, labels) in enumerate(windows):
        result = last[START + 600 * w]
        assert result["matured"] is True
        assert result["performance"]["predictions"] == 299
        assert_performance(result["performance"], scores, labels, baseline)
    third = last[START + 1200]["performance"]
    assert third["per_class"]["recall"]["c"] == 0.0
    assert [third["confusion"][t]["c"] for t in CLASSES] == [0, 0, 0]


@pytest.mark.parametrize(("fields", "message"), [
    ({"prediction": "p_a"}, "prediction: not used for task 'multiclass'"),
    ({"classes": ["a", "b"], "scores": ["p_a", "p_b"]}, "classes: task 'multiclass' needs"),
    ({"scores": ["p_a", "p_b"]}, "scores: one column per class"),
    ({"threshold": 0.7}, "threshold: not used for task 'multiclass'"),
    ({"baseline": {"f1": 0.8}}, "baseline has metrics ['f1'] unknown"),
])
def test_a_wrong_multiclass_setting_names_its_field(fields: dict[str, Any],
                                                    message: str) -> None:
    settings = {"task": "multiclass", "label": "y", "classes": ["a", "b", "c"],
                "scores": ["p_a", "p_b", "p_c"]} | fields
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PerformanceConfig.model_validate(settings)


def test_classes_read_as_labels_are_read() -> None:
    """Class names in YAML may be numbers: 0, 1 and 2.0 become "0", "1" and "2", as the
    labels of events; binary still needs its prediction column."""
    config = PerformanceConfig.model_validate(
        {"task": "multiclass", "label": "y", "classes": [0, 1, 2.0],
         "scores": ["s0", "s1", "s2"]})
    assert config.classes == ("0", "1", "2")
    with pytest.raises(ValidationError, match="prediction: required for task 'binary'"):
        PerformanceConfig.model_validate({"task": "binary", "label": "y"})


def test_per_class_scores_and_confusion_cells_are_prometheus_series() -> None:
    """Steps: six labelled events of classes a, b, c summed into a pane vector, the
    window evaluated and published, the collector scraped.

    Expected: driftd_performance has accuracy 4/6 and the macro and weighted scores;
    driftd_performance_class has precision, recall and F1 of each class under a class
    label; driftd_confusion_events has one series per (true, predicted) cell with its
    count, nine in all.
    """
    config = PerformanceConfig(task="multiclass", label="y", classes=CLASSES,
                               scores=tuple(f"p_{c}" for c in CLASSES))
    slots = PerformanceSlots(config, 0)
    scores = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7],
                       [0.6, 0.3, 0.1], [0.3, 0.3, 0.4], [0.1, 0.8, 0.1]])
    labels: list[str | None] = ["a", "b", "c", "b", "a", "b"]
    batch = ModelBatch("m", np.zeros(6), list(range(6)),
                       {f"p_{c}": scores[:, i] for i, c in enumerate(CLASSES)}, {"y": labels})
    performance = slots.evaluate(slots.labelled_totals(batch))
    board = ResultBoard()
    board.publish(Published(5000.0, (WindowResult("m", "", "ref", "10m", 6, 0.0, 600.0, (),
                                                  performance=performance),)))
    body, _ = render(build_registry(DriftdCollector(board, Telemetry(), references={},
                                                    build={})))
    samples = {family.name: family.samples
               for family in text_string_to_metric_families(body.decode())}

    headline = {s.labels["metric"]: s.value for s in samples["driftd_performance"]}
    assert headline["accuracy"] == pytest.approx(4 / 6, abs=TOLERANCE)
    y_true, y_pred = [0, 1, 2, 1, 0, 1], scores.argmax(axis=1)
    assert headline["weighted_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="weighted"), abs=TOLERANCE)
    per_class = {(s.labels["metric"], s.labels["class"]): s.value
                 for s in samples["driftd_performance_class"]}
    assert per_class[("recall", "b")] == pytest.approx(2 / 3, abs=TOLERANCE)
    assert per_class[("precision", "c")] == pytest.approx(0.5, abs=TOLERANCE)
    assert len(per_class) == 9
    cells = {(s.labels["true_class"], s.labels["predicted_class"]): s.value
             for s in samples["driftd_confusion_events"]}
    assert len(cells) == 9
    assert {cell: count for cell, count in cells.items() if count} == {
        ("a", "a"): 1.0, ("a", "c"): 1.0, ("b", "a"): 1.0, ("b", "b"): 2.0, ("c", "c"): 1.0}


def test_the_estimated_decay_alert_of_a_multiclass_model_reads_accuracy_and_macro_f1() -> None:
    """A multiclass model with a macro_f1 tolerance of 0.04 and an estimated-decay
    tolerance of 0.05: the generated DriftdEstimatedAccuracyDecay compares the estimated
    accuracy (0.05) and macro F1 (0.04) with their baselines (binary only before)."""
    columns = [{"name": f"p_{c}", "kind": "numeric", "role": "prediction"} for c in CLASSES]
    config = parse_config({
        "models": [{"name": "m", "reference": "m.json",
                    "columns": [*columns, {"name": "y", "kind": "categorical",
                                           "role": "label"}],
                    "windows": [{"name": "10m", "type": "count", "size": 100, "step": 100}],
                    "performance": {"task": "multiclass", "label": "y",
                                    "classes": list(CLASSES),
                                    "scores": [f"p_{c}" for c in CLASSES],
                                    "tolerance": {"macro_f1": 0.04}}}],
        "sources": [{"type": "jsonl", "path": "-"}],
        "alerts": {"estimated_decay_tolerance": 0.05}}, source="<test>", environ={})

    rules = [rule for group in rule_groups(config) for rule in group["rules"]
             if rule.get("alert") == "DriftdEstimatedAccuracyDecay"]

    def part(metric: str, tolerance: float) -> str:
        labels = f'model="m",stage="latest",metric="{metric}"'
        return (f"(driftd_performance_baseline{{{labels}}} - "
                f"driftd_performance_estimated{{{labels}}}) > {tolerance}")

    assert [rule["expr"] for rule in rules] == [
        f"{part('accuracy', 0.05)} or {part('macro_f1', 0.04)}"]
