"""``driftd rules generate``: rules that follow a config's models, thresholds and intervals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.servers import promtool_check_rules
from driftd.cli import main as driftd
from driftd.config import Config, ConfigError, parse_config
from driftd.rules import rule_groups
from driftd.rules_file import render_rules


def config(**overrides: Any) -> Config:
    model: dict[str, Any] = {
        "name": "fraud", "version": "3", "reference": "fraud.json",
        "columns": [{"name": "amount", "kind": "numeric"},
                    {"name": "country", "kind": "categorical"}],
        "windows": [{"name": "last-1k", "type": "count", "size": 1000, "step": 100}],
    }
    model |= overrides.pop("model", {})
    raw: dict[str, Any] = {"models": [model], "sources": [{"type": "jsonl", "path": "-"}]}
    raw |= overrides
    return parse_config(raw, source="<test>", environ={})


def rules_by_name(cfg: Config) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for group in rule_groups(cfg):
        for rule in group["rules"]:
            found.setdefault(rule.get("alert") or rule["record"], []).append(rule)
    return found


def thresholds(cfg: Config) -> dict[tuple[str, str], tuple[str, str]]:
    return {(r["labels"]["column"], r["labels"]["test"]): (r["labels"]["decision"], r["expr"])
            for r in rules_by_name(cfg)["driftd:test_threshold"]}


def test_threshold_series_follow_each_columns_tests() -> None:
    """Given: amount with its own PSI threshold and KS alpha, wasserstein undecided, and
    the missing-rate test disabled for the model.

    Expected: one driftd:test_threshold per decided test that applies to the column's
    kind, with the column's own values; none for wasserstein or missing.
    """
    cfg = config(model={
        "columns": [{"name": "amount", "kind": "numeric",
                     "tests": {"psi": {"threshold": 0.3}, "ks": {"decision": "pvalue",
                                                               "alpha": 0.001}}},
                    {"name": "country", "kind": "categorical"}],
        "tests": {"missing": {"enabled": False}},
    })

    assert thresholds(cfg) == {
        ("amount", "psi"): ("threshold", "vector(0.3)"),
        ("amount", "ks"): ("pvalue", "vector(0.001)"),
        ("amount", "js"): ("threshold", "vector(0.1)"),
        ("country", "psi"): ("threshold", "vector(0.2)"),
        ("country", "chi2"): ("pvalue", "vector(0.01)"),
        ("country", "js"): ("threshold", "vector(0.1)"),
    }


def test_durations_follow_the_alerts_section_and_per_model_overrides() -> None:
    cfg = config(alerts={"drift_for_seconds": 600, "no_events_seconds": 3600},
                 model={"alerts": {"drift_for_seconds": 90}})

    rules = rules_by_name(cfg)

    (drift,) = rules["DriftdFeatureDrift"]
    assert "for" not in drift
    assert drift["expr"].count("[90s]") == 2
    no_events = rules["DriftdNoEvents"][0]
    assert "[5m]" in no_events["expr"] and no_events["for"] == "55m"


def test_stale_limits_follow_the_evaluation_and_checkpoint_intervals() -> None:
    cfg = config(evaluation={"interval_seconds": 60},
                 checkpoint={"path": "state.sqlite", "interval_seconds": 120})

    rules = rules_by_name(cfg)

    assert rules["DriftdEvaluationStale"][0]["expr"].endswith("> 300")
    assert rules["DriftdCheckpointStale"][0]["expr"].endswith("> 600")


def test_alerts_for_parts_the_config_does_not_have_are_left_out() -> None:
    """No prediction column, no performance, no checkpoint, no Kafka source: no alert
    that could never fire."""
    rules = rules_by_name(config())

    for absent in ("DriftdPredictionDrift", "DriftdAccuracyDecay",
                   "DriftdEstimatedAccuracyDecay", "DriftdCheckpointStale",
                   "DriftdConsumerLagGrowing"):
        assert absent not in rules
    for present in ("DriftdFeatureDrift", "DriftdNoEvents", "DriftdEvaluationStale",
                    "DriftdInvalidEventsHigh", "DriftdDown"):
        assert present in rules


def test_estimated_decay_uses_the_performance_tolerance_per_metric() -> None:
    cfg = config(model={
        "columns": [{"name": "amount", "kind": "numeric"},
                    {"name": "score", "kind": "numeric", "role": "prediction"},
                    {"name": "label", "kind": "categorical", "role": "label"}],
        "performance": {"task": "binary", "prediction": "score", "label": "label",
                        "tolerance": {"f1": 0.04}},
    }, alerts={"estimated_decay_tolerance": 0.03})

    expr = rules_by_name(cfg)["DriftdEstimatedAccuracyDecay"][0]["expr"]

    assert expr == (
        '(driftd_performance_baseline{model="fraud",stage="latest",metric="accuracy"} - '
        'driftd_performance_estimated{model="fraud",stage="latest",metric="accuracy"}) > 0.03 '
        'or (driftd_performance_baseline{model="fraud",stage="latest",metric="f1"} - '
        'driftd_performance_estimated{model="fraud",stage="latest",metric="f1"}) > 0.04')


def test_drift_alerts_count_the_windows_of_the_hold_and_have_no_for() -> None:
    """Given: drift held 15m, alerting from 60% of the windows; input amount and
    prediction score.

    Expected: per column, the windows drifted (by the test flagging most) over 15m
    divided by the windows evaluated over 15m, labelled like the latest window's drift
    gauge of the column's role, from 0.6; no ``for:`` (the range is the hold).
    """
    cfg = config(alerts={"drift_window_share": 0.6}, model={
        "columns": [{"name": "amount", "kind": "numeric"},
                    {"name": "score", "kind": "numeric", "role": "prediction"}]})

    rules = rules_by_name(cfg)

    for name, role in (("DriftdFeatureDrift", "input"), ("DriftdPredictionDrift", "prediction")):
        (rule,) = rules[name]
        assert "for" not in rule
        assert rule["expr"] == (
            '(max without (test) (increase(driftd_windows_drifted_total{model="fraud"}[15m])) '
            "/ on (job, instance, model, window) group_left "
            'increase(driftd_windows_evaluated_total{model="fraud"}[15m])) '
            "* on (job, instance, model, window, column) group_left (model_version, reference, "
            "role) group by (job, instance, model, model_version, window, reference, column, "
            f'role) (driftd_drift_detected{{model="fraud",role="{role}"}}) >= 0.6')
        assert "(alerting from 60%)" in rule["annotations"]["description"]


def test_a_time_window_sliding_slower_than_half_the_hold_gets_its_own_range() -> None:
    """Given: drift held 15m; a count window, a time window sliding every 5m and one
    sliding every hour.

    Expected: one rule per window; the range is the hold, or two slides where that is
    longer, so the range always holds a window of each (no alert flapping between them).
    """
    cfg = config(model={"windows": [
        {"name": "last-1k", "type": "count", "size": 1000, "step": 100},
        {"name": "1h", "type": "time", "duration_seconds": 3600, "slide_seconds": 300},
        {"name": "1d", "type": "time", "duration_seconds": 86400, "slide_seconds": 3600}]})

    drift = rules_by_name(cfg)["DriftdFeatureDrift"]

    ranges = {}
    for rule in drift:
        (window,) = set(re.findall(r'window="([^"]+)"', rule["expr"]))
        (span,) = set(re.findall(r"\[(\w+)\]", rule["expr"]))
        ranges[window] = span
        assert f"over the last {span} " in rule["annotations"]["description"]
    assert ranges == {"last-1k": "15m", "1h": "15m", "1d": "2h"}


def test_decay_reads_the_matured_window_or_the_latest_one_with_enough_labels() -> None:
    cfg = config(alerts={"decay_min_coverage": 0.9}, model={
        "columns": [{"name": "amount", "kind": "numeric"},
                    {"name": "score", "kind": "numeric", "role": "prediction"},
                    {"name": "label", "kind": "categorical", "role": "label"}],
        "performance": {"task": "binary", "prediction": "score", "label": "label"},
    })

    (rule,) = rules_by_name(cfg)["DriftdAccuracyDecay"]

    assert rule["expr"] == (
        'max without (stage) (driftd_performance_decay{model="fraud",stage="matured"} and '
        'driftd_performance_decay_detected{model="fraud",stage="matured"} == 1 or '
        'driftd_performance_decay{model="fraud",stage="latest"} and '
        'driftd_performance_decay_detected{model="fraud",stage="latest"} == 1 and '
        'ignoring (metric) driftd_label_coverage_ratio{model="fraud",stage="latest"} >= 0.9)')
    assert rule["for"] == "30m"
    assert "once 90% of its outcomes had joined" in rule["annotations"]["description"]


def test_a_regression_models_decay_reads_the_error_families_in_label_units() -> None:
    cfg = config(model={
        "columns": [{"name": "amount", "kind": "numeric"},
                    {"name": "price", "kind": "numeric", "role": "prediction"},
                    {"name": "sold_at", "kind": "numeric", "role": "label"}],
        "performance": {"task": "regression", "prediction": "price", "label": "sold_at",
                        "baseline": {"mae": 3.0}},
    })

    (rule,) = rules_by_name(cfg)["DriftdAccuracyDecay"]

    assert rule["expr"].count('driftd_performance_error_decay{model="fraud"') == 2
    assert "driftd_performance_decay{" not in rule["expr"]


@pytest.mark.parametrize(("field", "value"), [
    ("drift_window_share", 0), ("drift_window_share", 1.5),
    ("decay_min_coverage", -0.1), ("decay_min_coverage", 2),
])
def test_shares_outside_0_to_1_are_rejected_with_their_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"alerts.{field}"):
        config(alerts={field: value})


def test_severities_and_job_come_from_the_config() -> None:
    cfg = config(alerts={"job": "ml/driftd", "severity": {"feature_drift": "page"}})

    rules = rules_by_name(cfg)

    assert rules["DriftdFeatureDrift"][0]["labels"]["severity"] == "page"
    assert rules["DriftdDown"][0]["expr"] == (
        'up{job="ml/driftd"} == 0 or absent(up{job="ml/driftd"})')


def test_generated_rules_of_awkward_model_names_pass_promtool(tmp_path: Path) -> None:
    """Model names are label values: quotes and backslashes are escaped in selectors."""
    cfg = config(model={"name": 'fraud "v2" \\ eu'})
    out = tmp_path / "rules.yml"

    out.write_text(render_rules(rule_groups(cfg), header="test"), encoding="utf-8")

    result = promtool_check_rules(out)
    assert result.returncode == 0, result.stdout + result.stderr
    expr = rules_by_name(cfg)["DriftdFeatureDrift"][0]["expr"]
    assert 'model="fraud \\"v2\\" \\\\ eu"' in expr


def test_prometheusrule_format_wraps_the_same_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "driftd.yaml"
    path.write_text(yaml.safe_dump({
        "models": [{"name": "fraud", "reference": "fraud.json",
                    "columns": [{"name": "amount", "kind": "numeric"}],
                    "windows": [{"name": "w", "type": "count", "size": 10, "step": 5}]}],
        "sources": [{"type": "jsonl", "path": "-"}],
    }), encoding="utf-8")

    code = driftd(["rules", "generate", "--config", str(path), "--format", "prometheusrule",
                   "--name", "fraud-rules"])

    manifest = yaml.safe_load(capsys.readouterr().out)
    assert code == 0
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["metadata"]["name"] == "fraud-rules"
    cfg = parse_config(yaml.safe_load(path.read_text()), source="<test>", environ={})
    assert manifest["spec"]["groups"] == rule_groups(cfg)


def test_an_invalid_config_names_the_field_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "driftd.yaml"
    path.write_text("models: []\nsources: [{type: jsonl, path: '-'}]\n"
                    "alerts: {drift_for_seconds: -1}\n", encoding="utf-8")

    code = driftd(["rules", "generate", "--config", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "alerts.drift_for_seconds" in err
