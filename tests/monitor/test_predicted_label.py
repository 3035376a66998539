"""The model's own predicted label (``performance.predicted_label``) decides the
confusion counts instead of ``score >= threshold``; the score stays for AUC and log-loss.

The binary model here decides at 0.7, not at the default threshold 0.5, and overrides
one decision in ten: a threshold would give another accuracy (the issue's 0.818 where
the model's real one was 0.670). `driftd check`, `reference build --predicted-label` and
the daemon (`driftd run --exit-when-drained` on prediction and outcome files) must all
give scikit-learn's metrics on the model's own labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import yaml
from pydantic import ValidationError
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score

from driftd.cli import main
from driftd.config import ModelConfig, PerformanceConfig
from driftd.events import ModelBatch
from driftd.monitor.performance import PerformanceSlots, prediction_values
from driftd.service.checkpoint import CheckpointStore

START = 1_780_000_200.0  # a multiple of 600, before the clock
TOLERANCE = 1e-12


def draw(seed: int, count: int) -> tuple[np.ndarray, list[str | None], list[str]]:
    """Scores, the model's labels (score >= 0.7, one in ten flipped; row 0 has none)
    and outcomes drawn from the scores."""
    rng = np.random.default_rng(seed)
    scores = rng.random(count).round(4)
    said: list[str | None] = [str(int((s >= 0.7) != (rng.random() < 0.1))) for s in scores]
    said[0] = None
    labels = [str(int(rng.random() < s)) for s in scores]
    return scores, said, labels


def events(scores: np.ndarray, said: list[str | None], labels: list[str] | None,
           first: int = 0) -> list[dict[str, Any]]:
    found = []
    for i, (s, p) in enumerate(zip(scores, said, strict=True)):
        event: dict[str, Any] = {"model": "m", "id": f"p{first + i}", "ts": START + 2 * i,
                                 "features": {"x": float(s) * 3}, "score": float(s),
                                 "said": p}
        if labels is not None:
            event["label"] = labels[i]
        found.append(event)
    return found


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def sklearn(scores: np.ndarray, said: list[str | None], labels: list[str]) -> dict[str, float]:
    """scikit-learn's metrics on the rows with a predicted label, the model's labels as
    its predictions."""
    keep = [i for i, p in enumerate(said) if p is not None]
    y = np.array([int(labels[i]) for i in keep])
    pred = np.array([int(said[i] or 0) for i in keep])
    return {"accuracy": accuracy_score(y, pred), "precision": precision_score(y, pred),
            "recall": recall_score(y, pred), "f1": f1_score(y, pred),
            "log_loss": log_loss(y, np.clip(scores[keep], 1e-15, 1 - 1e-15), labels=[0, 1]),
            "threshold_accuracy": accuracy_score(y, scores[keep] >= 0.5)}


def assert_metrics(metrics: dict[str, float], expected: dict[str, float]) -> None:
    for name in ("accuracy", "precision", "recall", "f1", "log_loss"):
        assert metrics[name] == pytest.approx(expected[name], abs=TOLERANCE), name
    assert abs(expected["threshold_accuracy"] - expected["accuracy"]) > 0.05


def test_reference_build_and_check_use_the_models_labels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: `reference build --prediction score --predicted-label said --label label
    --task binary` on 2,000 labelled rows; `driftd check` (no config: the settings come
    from the profile) on 1,500 others.

    Expected: the baseline and the file's accuracy, precision, recall, F1 and log-loss
    equal scikit-learn's with the model's labels as predictions (row 0, without one,
    left out), more than 0.05 away from what the 0.5 threshold gives; the calibration's
    check of the label-free estimate on the reference used the model's labels too."""
    reference = draw(1, 2000)
    write_jsonl(tmp_path / "reference.jsonl", events(*reference))
    assert main(["reference", "build", "--model", "m", "--data",
                 str(tmp_path / "reference.jsonl"), "--out", str(tmp_path / "m.json"),
                 "--numeric", "x", "--prediction", "score", "--predicted-label", "said",
                 "--label", "label", "--task", "binary"]) == 0
    profile = json.loads((tmp_path / "m.json").read_text())
    assert profile["columns"]["said"]["role"] == "prediction"
    assert_metrics(profile["performance"], sklearn(*reference))
    # The estimate's check on the reference judged the model's decisions, no threshold.
    realized = profile["calibration"]["reference_estimate"]["realized"]
    assert realized["accuracy"] == pytest.approx(sklearn(*reference)["accuracy"],
                                                 abs=TOLERANCE)
    assert "threshold" not in profile["calibration"]
    current = draw(2, 1500)
    write_jsonl(tmp_path / "current.jsonl", events(*current))
    capsys.readouterr()

    main(["check", "--reference", str(tmp_path / "m.json"), "--data",
          str(tmp_path / "current.jsonl"), "--format", "json"])

    performance = json.loads(capsys.readouterr().out)["performance"]
    assert (performance["predictions"], performance["labeled"]) == (1499, 1499)
    assert_metrics(performance["metrics"], sklearn(*current))


def write_config(tmp_path: Path, **performance: Any) -> Path:
    config = tmp_path / "driftd.yaml"
    config.write_text(yaml.safe_dump({
        "models": [{
            "name": "m", "reference": "m.json", "min_window_events": 0,
            "columns": [{"name": "x", "kind": "numeric"},
                        {"name": "score", "kind": "numeric", "role": "prediction"},
                        {"name": "said", "kind": "categorical", "role": "prediction",
                         "path": "said"},
                        {"name": "y", "kind": "categorical", "role": "label",
                         "path": "label"}],
            "windows": [{"name": "10m", "type": "time", "duration_seconds": 600,
                         "slide_seconds": 600}],
            "performance": {"task": "binary", "prediction": "score", "label": "y",
                            "predicted_label": "said", "label_ttl_seconds": 3600,
                            **performance},
        }],
        "sources": [{"type": "jsonl", "path": "predictions.jsonl"},
                    {"type": "jsonl", "path": "outcomes.jsonl", "stream": "outcomes"}],
        "http": {"address": "127.0.0.1:0"},
    }))
    return config


def test_the_daemon_joins_score_and_label_and_counts_the_models_labels(
        tmp_path: Path) -> None:
    """Steps: a profile built with the config; 300 predictions over one 10-minute window
    (score and the model's label, no outcome) in one JSONL file, their outcomes 30 s
    later in another; `driftd run --exit-when-drained --dump-results`.

    Expected: all 300 outcomes join (the pending store keeps the score and the label);
    the matured window's metrics equal scikit-learn's on the model's labels, its log-loss
    that of the scores; 299 predictions count (row 0 has no label)."""
    config = write_config(tmp_path)
    write_jsonl(tmp_path / "reference.jsonl", events(*draw(1, 2000)))
    assert main(["reference", "build", "--config", str(config), "--model", "m", "--data",
                 str(tmp_path / "reference.jsonl"), "--out", str(tmp_path / "m.json")]) == 0
    scores, said, labels = draw(3, 300)
    write_jsonl(tmp_path / "predictions.jsonl", events(scores, said, None))
    write_jsonl(tmp_path / "outcomes.jsonl",
                [{"model": "m", "id": f"p{i}", "ts": START + 2 * i + 30, "label": y}
                 for i, y in enumerate(labels)])
    dump = tmp_path / "dump.json"

    assert main(["run", "--config", str(config), "--exit-when-drained",
                 "--dump-results", str(dump)]) == 0

    results = json.loads(dump.read_text())
    assert results["join"]["labels_matched/m"] == 300
    last = max(results["history"], key=lambda r: r["revision"])
    assert last["matured"] is True
    assert last["performance"]["predictions"] == 299
    assert_metrics(last["performance"]["metrics"], sklearn(scores, said, labels))


def test_multiclass_counts_the_models_label_and_skips_unknown_ones() -> None:
    """Steps: three classes; scores whose argmax is always a, the model's labels b, c,
    a, an unknown 'z' and none; labels b, c, b, a, a.

    Expected: accuracy 2/3 on the three known predicted labels (the argmax would give
    0/3); the unknown and the missing one count for nothing."""
    config = PerformanceConfig(task="multiclass", label="y", classes=("a", "b", "c"),
                               scores=("pa", "pb", "pc"), predicted_label="said")
    slots = PerformanceSlots(config, 0)
    n = 5
    batch = ModelBatch("m", np.zeros(n), [f"p{i}" for i in range(n)],
                       {"pa": np.full(n, 0.6), "pb": np.full(n, 0.3), "pc": np.full(n, 0.1)},
                       {"said": ["b", "c", "a", "z", None], "y": ["b", "c", "b", "a", "a"]})
    result = slots.evaluate(slots.labelled_totals(batch))
    assert (result.predictions, result.labeled) == (3, 3)
    assert result.metrics["accuracy"] == pytest.approx(2 / 3, abs=TOLERANCE)


MODEL = {"name": "m", "reference": "m.json",
         "columns": [{"name": "score", "kind": "numeric", "role": "prediction"},
                     {"name": "said", "kind": "categorical", "role": "prediction"},
                     {"name": "n", "kind": "numeric", "role": "prediction"},
                     {"name": "i", "kind": "categorical"},
                     {"name": "y", "kind": "categorical", "role": "label"}],
         "windows": [{"name": "w", "type": "count", "size": 10, "step": 10}]}


@pytest.mark.parametrize(("performance", "message"), [
    ({"predicted_label": "nope"}, "performance.predicted_label: 'nope' must be a "
     "categorical column with role prediction"),
    ({"predicted_label": "n"}, "performance.predicted_label: 'n' must be a categorical"),
    ({"predicted_label": "i"}, "performance.predicted_label: 'i' must be a categorical"),
    ({"predicted_label": "said", "threshold": 0.7}, "threshold: not used with "
     "predicted_label"),
    ({"predicted_label": "said", "task": "regression"}, "predicted_label: only for tasks"),
])
def test_a_wrong_predicted_label_names_its_field(performance: dict[str, Any],
                                                 message: str) -> None:
    """The column must exist, be categorical and have role prediction; not with a
    threshold; not for regression."""
    settings = {"task": "binary", "prediction": "score", "label": "y"} | performance
    with pytest.raises(ValidationError, match=message):
        ModelConfig.model_validate(MODEL | {"performance": settings})


def test_the_pending_store_keeps_score_and_decision_exactly(tmp_path: Path) -> None:
    """Steps: predictions with scores 0, 1e-300, 0.5 and 1, each predicted positive and
    negative, stored in a checkpoint database, committed, reopened and matched.

    Expected: every score and decision comes back exactly (a score of 0 predicted
    positive too, which a plain -0.0 would lose in SQLite)."""
    config = PerformanceConfig(task="binary", prediction="score", label="y",
                               predicted_label="said")
    scores = np.array([0.0, 1e-300, 0.5, 1.0] * 2)
    said: list[str | None] = ["1"] * 4 + ["0"] * 4
    batch = ModelBatch("m", np.zeros(8), [f"p{i}" for i in range(8)], {"score": scores},
                       {"said": said, "y": ["1"] * 8})
    store = CheckpointStore(tmp_path / "state.sqlite")
    store.pending(capacity=10).add("m", batch.ids, batch.timestamps,
                                   prediction_values(config, batch), np.full(8, 1e9))
    store.commit()
    store.close()
    found = CheckpointStore(tmp_path / "state.sqlite").pending(capacity=10).match(
        "m", batch.ids)
    slots = PerformanceSlots(config, 0)
    rows = slots.outcome_rows(found.value[np.argsort(found.index)], np.ones(8), np.zeros(8))
    tp, fp, fn, tn = rows[:, slots._confusion:slots._confusion + 4].sum(axis=0)
    assert (tp, fp, fn, tn) == (4, 0, 4, 0)
    log_loss_terms = rows[:, slots._log_loss]
    assert log_loss_terms.tolist() == (-np.log(np.clip(scores, 1e-15, 1 - 1e-15))).tolist()
