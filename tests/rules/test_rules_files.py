"""The shipped rules: generated from the example config, valid, unit-tested, documented.

``promtool`` comes from Debian's ``prometheus`` package (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.servers import promtool_check_rules, promtool_test_rules
from driftd.cli import main as driftd
from promql_names import known_metrics, metric_names

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "prometheus" / "driftd.rules.yml"
PROMTOOL_TESTS = Path(__file__).with_name("driftd_alerts_test.yml")
RUNBOOKS = REPO / "docs" / "runbooks.md"

ALERTS = ("DriftdFeatureDrift", "DriftdPredictionDrift", "DriftdAccuracyDecay",
          "DriftdEstimatedAccuracyDecay", "DriftdNoEvents", "DriftdEvaluationStale",
          "DriftdCheckpointStale", "DriftdConsumerLagGrowing", "DriftdInvalidEventsHigh",
          "DriftdConfigReloadFailed", "DriftdDown")


def shipped_alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_shipped_rules_are_the_generated_rules_of_the_example_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Steps: from the repository root, generate the rules of config/driftd.example.yaml.

    Expected: byte for byte the shipped file (regenerate it after changing the config:
    ``driftd rules generate --config config/driftd.example.yaml
    --out deploy/prometheus/driftd.rules.yml``).
    """
    monkeypatch.chdir(REPO)

    code = driftd(["rules", "generate", "--config", "config/driftd.example.yaml"])

    assert code == 0
    assert capsys.readouterr().out == SHIPPED.read_text(encoding="utf-8")


def test_shipped_rules_pass_promtool_check() -> None:
    result = promtool_check_rules(SHIPPED)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    """tests/rules/driftd_alerts_test.yml: each alert firing, and not firing."""
    result = promtool_test_rules(PROMTOOL_TESTS)

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_shown_firing_and_not_firing_by_the_unit_tests() -> None:
    tests = yaml.safe_load(PROMTOOL_TESTS.read_text(encoding="utf-8"))["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]

    firing = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}

    assert sorted(firing) == sorted(ALERTS)
    assert sorted(quiet) == sorted(ALERTS)


def test_every_alert_has_severity_summary_description_and_a_runbook_section() -> None:
    runbooks = RUNBOOKS.read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (\w+)\s*$", runbooks, flags=re.MULTILINE))

    alerts = shipped_alerts()

    assert sorted({a["alert"] for a in alerts}) == sorted(ALERTS)
    for alert in alerts:
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"page", "ticket"}, name
        assert alert["labels"]["category"] in {"drift", "performance", "pipeline",
                                               "availability"}, name
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert annotations["runbook_url"].endswith(f"docs/runbooks.md#{name.lower()}")
        assert name in headings, f"docs/runbooks.md has no '## {name}' section"


def test_drift_and_decay_descriptions_name_model_column_window_and_reference() -> None:
    for alert in shipped_alerts():
        if alert["labels"]["category"] not in {"drift", "performance"}:
            continue
        description = alert["annotations"]["description"]
        wanted = ["model", "window", "reference", "model_version"]
        wanted.append("column" if alert["labels"]["category"] == "drift" else "metric")
        for label in wanted:
            assert f"$labels.{label}" in description, (alert["alert"], label)


def test_rules_select_only_series_driftd_or_the_rules_produce() -> None:
    """A renamed metric must fail here, not silently leave an alert that never fires."""
    groups = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["groups"]
    known = known_metrics()

    for rule in (r for group in groups for r in group["rules"]):
        names = metric_names(rule["expr"])
        if not rule["expr"].startswith("vector("):
            assert names, rule
        assert names <= known, (rule.get("alert") or rule["record"], sorted(names - known))
