"""The alerting harness itself: a gauge, real Prometheus and Alertmanager, a webhook.

Independent of driftd: if these fail, the end-to-end alert tests cannot mean anything.
"""

from __future__ import annotations

import functools
import textwrap
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from alerting.servers import (
    Alertmanager,
    HTTPServerThread,
    Prometheus,
    WebhookReceiver,
    alertmanager_config,
    prometheus_config,
    promtool_check_rules,
    promtool_test_rules,
    wait_until,
)

HARNESS_RULES = """\
groups:
  - name: harness
    rules:
      - alert: HarnessHigh
        expr: harness_value > 0
        for: 2s
        labels:
          severity: page
        annotations:
          summary: harness_value is {{ $value }}
"""


class Gauge:
    """The value the metrics endpoint serves as ``harness_value``."""

    def __init__(self) -> None:
        self.value = 0.0


class _MetricsHandler(BaseHTTPRequestHandler):
    def __init__(self, gauge: Gauge, *args: Any) -> None:
        self.gauge = gauge
        super().__init__(*args)

    def do_GET(self) -> None:
        body = (
            "# HELP harness_value A value the test flips.\n"
            "# TYPE harness_value gauge\n"
            f"harness_value {self.gauge.value}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per scrape is only noise


@pytest.fixture
def gauge() -> Gauge:
    return Gauge()


@pytest.fixture
def metrics_target(gauge: Gauge) -> Iterator[str]:
    """``host:port`` of an endpoint serving ``harness_value`` from the ``gauge`` fixture."""
    with HTTPServerThread(functools.partial(_MetricsHandler, gauge)) as server:
        yield server.url.removeprefix("http://")


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "harness.rules.yml"
    path.write_text(HARNESS_RULES)
    return path


def _is_harness_high(alert: dict[str, Any]) -> bool:
    return alert["labels"].get("alertname") == "HarnessHigh"


def test_firing_alert_reaches_the_webhook(
    gauge: Gauge,
    metrics_target: str,
    rule_file: Path,
    webhook_receiver: WebhookReceiver,
    alertmanager_factory: Callable[..., Alertmanager],
    prometheus_factory: Callable[..., Prometheus],
) -> None:
    """A gauge flipped from 0 to 1 fires HarnessHigh through to the webhook.

    Steps: Prometheus scrapes ``harness_value`` every second and evaluates
    ``harness_value > 0 for 2s``; Alertmanager sends to the webhook (group_wait 1 s).
    1. With the value 0 for longer than ``for``: no alert anywhere.
    2. Flip to 1: the webhook gets a firing HarnessHigh (severity page) within 30 s,
       and both Prometheus and Alertmanager show it.
    """
    manager = alertmanager_factory(
        alertmanager_config(webhook_receiver.url, receiver="harness-webhook")
    )
    prometheus = prometheus_factory(
        prometheus_config({"harness": [metrics_target]}, alertmanager_url=manager.url),
        [rule_file],
    )
    prometheus.wait_for_target_up("harness")
    (group,) = prometheus.rules()
    assert [rule["name"] for rule in group["rules"]] == ["HarnessHigh"]

    # A value of 0 scraped and then held for longer than `for: 2s`: quiet everywhere.
    wait_until(lambda: prometheus.query("harness_value == 0"), 15, "harness_value 0 scraped")
    time.sleep(3)
    assert prometheus.alerts() == []
    assert manager.alerts() == []
    assert webhook_receiver.alerts() == []

    gauge.value = 1.0
    flipped_at = time.time()
    alert = webhook_receiver.wait_for_alert(_is_harness_high, timeout=30)

    assert alert["status"] == "firing"
    assert alert["receiver"] == "harness-webhook"
    assert alert["labels"] == {
        "alertname": "HarnessHigh",
        "instance": metrics_target,
        "job": "harness",
        "severity": "page",
    }
    assert alert["annotations"] == {"summary": "harness_value is 1"}
    assert flipped_at < alert["received_at"] < flipped_at + 30
    assert [a["state"] for a in prometheus.alerts() if _is_harness_high(a)] == ["firing"]
    assert [a["labels"]["alertname"] for a in manager.alerts()] == ["HarnessHigh"]


def test_promtool_accepts_the_rule_file(rule_file: Path) -> None:
    checked = promtool_check_rules(rule_file)

    assert checked.returncode == 0, checked.stderr
    assert "SUCCESS: 1 rules found" in checked.stdout


def test_promtool_rejects_a_broken_rule_file(tmp_path: Path) -> None:
    """An expression cut short fails the check, naming the file, the rule and the error."""
    broken = tmp_path / "broken.rules.yml"
    broken.write_text(HARNESS_RULES.replace("harness_value > 0", "harness_value >"))

    checked = promtool_check_rules(broken)

    assert checked.returncode == 1
    assert '"HarnessHigh": could not parse expression' in checked.stderr
    assert "parse error: unexpected end of input" in checked.stderr


def test_promtool_unit_tests_the_rule(tmp_path: Path, rule_file: Path) -> None:
    """promtool's rule unit test: 0 then 1 from 10 s on; firing 2 s later, not before."""
    tests = tmp_path / "harness.test.yml"
    tests.write_text(
        textwrap.dedent(
            f"""\
            rule_files: [{rule_file}]
            evaluation_interval: 1s
            tests:
              - interval: 1s
                input_series:
                  - series: 'harness_value{{job="harness"}}'
                    values: '0x9 1x10'
                alert_rule_test:
                  - {{eval_time: 11s, alertname: HarnessHigh, exp_alerts: []}}
                  - eval_time: 12s
                    alertname: HarnessHigh
                    exp_alerts:
                      - exp_labels: {{job: harness, severity: page}}
                        exp_annotations: {{summary: harness_value is 1}}
            """
        )
    )

    tested = promtool_test_rules(tests)

    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
