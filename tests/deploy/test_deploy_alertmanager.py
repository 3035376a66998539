"""deploy/alertmanager: amtool accepts the config; pages and tickets reach their receivers.

amtool is Alertmanager's own command-line tool (Debian: prometheus-alertmanager).
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from deploy_support import ALERTMANAGER, load_yaml, pod_config, tool
from driftd.rules import rule_groups
from driftd.service.demo import demo_config

CONFIG = ALERTMANAGER / "alertmanager.yml"
RECEIVERS = {"page": "oncall-pagerduty", "ticket": "ml-team-slack"}


def amtool(*args: str) -> str:
    result = subprocess.run([tool("amtool", "prometheus-alertmanager"), *args],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def config() -> dict[str, Any]:
    document = load_yaml(CONFIG)
    assert isinstance(document, dict)
    return document


def generated_alerts() -> list[dict[str, Any]]:
    """The alert rules driftd generates for the Kubernetes and the demo configs."""
    return [rule for cfg in (pod_config(), demo_config()) for group in rule_groups(cfg)
            for rule in group["rules"] if "alert" in rule]


def test_amtool_accepts_the_config() -> None:
    """`amtool check-config` parses routes, receivers and inhibit rules."""
    assert "SUCCESS" in amtool("check-config", str(CONFIG))


@pytest.mark.parametrize("severity", ["page", "ticket"])
def test_each_severity_reaches_its_receiver(severity: str) -> None:
    """Scenario: amtool routes a driftd alert of each severity through the tree.

    Expected: page -> the on-call receiver, ticket -> the team's channel.
    """
    routed = amtool("config", "routes", "test", f"--config.file={CONFIG}",
                    f"severity={severity}", "alertname=DriftdFeatureDrift", "model=fraud")
    assert routed.split() == [RECEIVERS[severity]]


def test_notifications_are_grouped_by_alert_and_model() -> None:
    assert config()["route"]["group_by"] == ["alertname", "model"]


def test_generated_alerts_carry_the_labels_routing_and_inhibition_use() -> None:
    """Every generated alert has a routed severity and a known category; DriftdDown is
    the only availability alert, so it never inhibits itself."""
    alerts = generated_alerts()
    assert alerts
    for rule in alerts:
        assert rule["labels"]["severity"] in RECEIVERS, rule["alert"]
        assert rule["labels"]["category"] in {"drift", "performance", "pipeline",
                                              "availability"}, rule["alert"]
    availability = {r["alert"] for r in alerts if r["labels"]["category"] == "availability"}
    assert availability == {"DriftdDown"}


def test_driftd_down_inhibits_its_drift_performance_and_pipeline_alerts() -> None:
    """While DriftdDown fires for a job, that job's other driftd alerts are muted:
    they are stale, and the page is about driftd itself."""
    rules = [r for r in config()["inhibit_rules"]
             if r["source_matchers"] == ['alertname="DriftdDown"']]
    assert len(rules) == 1
    assert rules[0]["target_matchers"] == ['category=~"drift|performance|pipeline"']
    assert rules[0]["equal"] == ["job"]


def test_a_page_inhibits_the_ticket_of_the_same_alert_and_model() -> None:
    rules = [r for r in config()["inhibit_rules"]
             if r["source_matchers"] == ['severity="page"']]
    assert [(r["target_matchers"], r["equal"]) for r in rules] == [
        (['severity="ticket"'], ["alertname", "model"])]


def test_receiver_secrets_are_read_from_files() -> None:
    """No credential is written in the config: the PagerDuty routing key and the Slack
    webhook URL come from files in the mounted secrets directory."""
    receivers = {r["name"]: r for r in config()["receivers"]}
    pagerduty = receivers[RECEIVERS["page"]]["pagerduty_configs"]
    slack = receivers[RECEIVERS["ticket"]]["slack_configs"]
    assert all("routing_key" not in c and c["routing_key_file"].startswith(
        "/etc/alertmanager/secrets/") for c in pagerduty)
    assert all("api_url" not in c and c["api_url_file"].startswith(
        "/etc/alertmanager/secrets/") for c in slack)
