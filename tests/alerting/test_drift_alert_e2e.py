"""The whole chain, for real: Kafka -> driftd -> Prometheus -> Alertmanager -> on-call.

A demo producer writes the demo stream to a real broker; its inputs drift at a known
moment. driftd consumes it; a real Prometheus scrapes driftd with the rules
``driftd rules generate`` writes for driftd's config, and sends alerts to a real
Alertmanager running the shipped routing (deploy/alertmanager/alertmanager.yml) with
its receivers pointed at a local webhook. Then every query of every shipped Grafana
panel runs against that Prometheus.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from alerting.servers import (
    Alertmanager,
    Prometheus,
    PrometheusAPIError,
    WebhookReceiver,
    prometheus_config,
    wait_until,
)
from driftd.cli import main as driftd_cli
from driftd.config import DemoSourceConfig
from driftd.service.demo import demo_config, demo_profile
from grafana_support import dashboard_queries, substitute
from kafka_e2e.support import Driftd, create_topic, free_port, produce

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
SHIPPED_ROUTING = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
DASHBOARDS = sorted((REPO / "grafana" / "dashboards").glob("*.json"))

RATE = 400.0  # demo events per second
DRIFT_AFTER = 40.0  # seconds from the producer's start to the drift
HOLD = 5.0  # alerts.drift_for_seconds: most windows evaluated over this long must drift
# Drift -> webhook: the count window turns over (2000 events at RATE: 5 s), drifted
# windows fill most of HOLD, plus evaluation, scrape and rule intervals (1 s each) and
# Alertmanager's group_wait (1 s). Generous for a loaded 2-core machine.
MAX_DELAY = 60.0
COUNT_WINDOW, TIME_WINDOW = "last-2k", "2m"


def write_config(directory: Path, *, bootstrap: str, predictions: str, outcomes: str) -> Path:
    """The demo model (its columns, reference and baseline) read from Kafka, with
    test-speed windows, intervals and alert durations."""
    demo = demo_config()
    profile = directory / "demo-profile.json"
    demo_profile(demo.models[0], DemoSourceConfig()).save(profile)
    model = demo.models[0].model_dump(mode="json", exclude_defaults=True)
    model |= {
        "reference": str(profile),
        "windows": [{"name": COUNT_WINDOW, "type": "count", "size": 2000, "step": 500},
                    {"name": TIME_WINDOW, "type": "time", "duration_seconds": 120,
                     "slide_seconds": 10, "allowed_lateness_seconds": 2}],
        # Outcomes come 10 s after their prediction: a 15 s horizon matures windows within
        # the test, for the matured-performance panels.
        "performance": {**demo.models[0].model_dump(mode="json")["performance"],
                        "label_ttl_seconds": 15},
        # p-value decisions at 1e-6: a pre-drift false alarm would be a flaky test, and
        # the drift moves the p-values of the shifted columns far below that.
        "tests": {"ks": {"decision": "pvalue", "alpha": 1e-6},
                  "chi2": {"decision": "pvalue", "alpha": 1e-6}},
    }
    raw = {
        "models": [model],
        "sources": [{"type": "kafka", "bootstrap_servers": bootstrap,
                     "group_id": f"driftd-{uuid.uuid4().hex[:8]}",
                     "topics": [{"name": predictions, "stream": "predictions"},
                                {"name": outcomes, "stream": "outcomes"}],
                     "poll_timeout_ms": 100, "session_timeout_ms": 6000}],
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "evaluation": {"interval_seconds": 1},
        "checkpoint": {"path": str(directory / "state.sqlite"), "interval_seconds": 2},
        "alerts": {"drift_for_seconds": HOLD, "decay_for_seconds": HOLD},
    }
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def generate_rules(config: Path, out: Path) -> Path:
    assert driftd_cli(["rules", "generate", "--config", str(config), "--out", str(out)]) == 0
    return out


def routing_to(webhook: WebhookReceiver) -> dict[str, Any]:
    """The shipped routing, inhibitions and grouping, with every receiver replaced by
    the local webhook (its name is kept: the webhook records which one was used) and
    test-speed timers."""
    config: dict[str, Any] = yaml.safe_load(SHIPPED_ROUTING.read_text(encoding="utf-8"))
    config.pop("global", None)
    config.pop("templates", None)
    config["receivers"] = [
        {"name": receiver["name"],
         "webhook_configs": [{"url": f"{webhook.url}/{receiver['name']}",
                              "send_resolved": True}]}
        for receiver in config["receivers"]
    ]
    speed_up(config["route"])
    return config


def speed_up(route: dict[str, Any]) -> None:
    route["group_wait"] = route["group_interval"] = "1s"
    for child in route.get("routes", []):
        speed_up(child)


def receiver_for(severity: str) -> str:
    """The receiver the shipped routing sends ``severity`` alerts to."""
    route = yaml.safe_load(SHIPPED_ROUTING.read_text(encoding="utf-8"))["route"]
    for child in route.get("routes", []):
        matchers = child.get("matchers", [])
        if any(m.replace(" ", "") in (f'severity="{severity}"', f"severity={severity}")
               for m in matchers) or child.get("match", {}).get("severity") == severity:
            return str(child["receiver"])
    return str(route["receiver"])


@pytest.fixture
def started() -> Iterator[Callable[[Any], Any]]:
    """Stops the processes the test started (the producer, driftd), newest first; the
    server factories stop Prometheus and Alertmanager after them."""
    stack: list[subprocess.Popen[bytes] | Driftd] = []

    def keep(process: Any) -> Any:
        stack.append(process)
        return process

    yield keep
    for process in reversed(stack):
        if isinstance(process, Driftd):
            if process.process.poll() is None:
                process.terminate()
            continue
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def pages(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"].get("severity") == "page"
            and a.get("status", a.get("state")) == "firing"]


def test_drift_reaches_on_call_and_every_dashboard_panel_has_data(
    tmp_path: Path, kafka_bootstrap: str, webhook_receiver: WebhookReceiver,
    alertmanager_factory: Callable[..., Alertmanager],
    prometheus_factory: Callable[..., Prometheus], started: Callable[[Any], Any],
) -> None:
    """Steps: start driftd on two fresh topics, Prometheus with driftd's generated
    rules, Alertmanager with the shipped routing; produce the demo stream whose inputs
    and prediction drift DRIFT_AFTER seconds in; add a few malformed and late events.

    Expected: before the drift, no page anywhere (webhook, Prometheus). After it, the
    prediction drift pages the on-call receiver and the input drift reaches the ticket
    receiver, each within MAX_DELAY of the drift and not sooner than the hold. Every
    query of every Grafana panel then returns data without error.
    """
    suffix = uuid.uuid4().hex[:8]
    predictions, outcomes = f"demo-predictions-{suffix}", f"demo-outcomes-{suffix}"
    for topic in (predictions, outcomes):
        create_topic(kafka_bootstrap, topic, 1)
    config = write_config(tmp_path, bootstrap=kafka_bootstrap, predictions=predictions,
                          outcomes=outcomes)
    rules = generate_rules(config, tmp_path / "driftd.rules.yml")

    manager = alertmanager_factory(routing_to(webhook_receiver))
    driftd = started(Driftd(config, log=tmp_path / "driftd.log"))
    driftd.wait_ready()
    address = driftd.url.removeprefix("http://")
    prometheus = prometheus_factory(
        prometheus_config({"driftd": [address]}, alertmanager_url=manager.url), [rules])
    prometheus.wait_for_target_up("driftd", timeout=30)

    with (tmp_path / "producer.log").open("wb") as log:
        producer_started = time.time()
        started(subprocess.Popen(
            [sys.executable, "-m", "driftd", "demo", "--produce-to", kafka_bootstrap,
             "--predictions-topic", predictions, "--outcomes-topic", outcomes,
             "--rate", str(RATE), "--drift-after", str(DRIFT_AFTER), "--label-delay", "10",
             "--seed", "7"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO))
    # The producer's clock starts after its imports, so the drift is no sooner than this.
    drift_at = producer_started + DRIFT_AFTER

    # Before the drift: the count window fills and is evaluated, rules run, nothing pages.
    wait_until(lambda: prometheus.query(
        f'driftd_window_events{{model="demo",window="{COUNT_WINDOW}"}} >= 2000'),
        timeout=DRIFT_AFTER - 5, what="a full count window in Prometheus")
    add_malformed_and_late_events(kafka_bootstrap, predictions)
    time.sleep(max(0.0, drift_at - time.time() - 1))
    assert pages(webhook_receiver.alerts()) == []
    assert pages(prometheus.alerts()) == []

    # After the drift: prediction drift pages on-call, input drift opens a ticket.
    page = webhook_receiver.wait_for_alert(
        lambda a: a["labels"]["alertname"] == "DriftdPredictionDrift"
        and a["status"] == "firing", timeout=drift_at + MAX_DELAY - time.time())
    ticket = webhook_receiver.wait_for_alert(
        lambda a: a["labels"]["alertname"] == "DriftdFeatureDrift"
        and a["status"] == "firing", timeout=drift_at + MAX_DELAY - time.time())

    assert page["receiver"] == receiver_for("page")
    assert ticket["receiver"] == receiver_for("ticket")
    assert page["labels"]["model"] == "demo" and page["labels"]["column"] == "score"
    assert ticket["labels"]["column"] in {"amount", "velocity", "country"}
    for alert in (page, ticket):
        assert HOLD <= alert["received_at"] - drift_at <= MAX_DELAY, alert
        assert alert["annotations"]["runbook_url"].endswith(
            f"#{alert['labels']['alertname'].lower()}")
    print(f"drift -> page {page['received_at'] - drift_at:.1f} s, "
          f"ticket {ticket['received_at'] - drift_at:.1f} s")
    early = [a for a in pages(webhook_receiver.alerts()) if a["received_at"] < drift_at]
    assert early == []

    # Every panel of every dashboard: data, no error.
    wait_until(lambda: prometheus.query('driftd_performance{model="demo",stage="matured"}'),
               timeout=90, what="matured performance in Prometheus")
    variables = {"model": "demo", "window": TIME_WINDOW, "column": "velocity",
                 "datasource": "driftd-prometheus"}
    failures, panels = [], 0
    for dashboard in DASHBOARDS:
        for title, queries in panel_queries(dashboard):
            panels += 1
            failures += [f"{dashboard.name}: {title!r}: {problem}"
                         for problem in check_panel(prometheus, queries, variables)]
    assert panels >= 20 and not failures, "\n".join(failures)


def panel_queries(dashboard: Path) -> list[tuple[str, list[str]]]:
    """Each panel's title with its queries, in dashboard order."""
    panels: dict[str, list[str]] = {}
    for title, expr in dashboard_queries(dashboard):
        panels.setdefault(title, []).append(expr)
    return list(panels.items())


def check_panel(prometheus: Prometheus, queries: list[str],
                variables: dict[str, str]) -> list[str]:
    """Problems of one panel: a query Prometheus rejects, a panel without any data, or an
    empty query other than a threshold line. A column is decided by threshold or by
    p-value per test, so a panel's threshold line or alpha line may have no series."""
    problems, answered = [], False
    for expr in queries:
        query = substitute(expr, variables)
        try:
            result = prometheus.query(query)
        except PrometheusAPIError as error:
            problems.append(f"error: {error}")
            continue
        answered = answered or bool(result)
        if not result and "driftd:test_threshold" not in query:
            problems.append(f"no data: {query}")
    if not answered:
        problems.append("no query of the panel returned data")
    return problems


def add_malformed_and_late_events(bootstrap: str, topic: str) -> None:
    """Two malformed messages and one an hour late: the invalid and late panels."""
    late = {"model": "demo", "id": "late-1", "ts": time.time() - 3600,
            "features": {"amount": 10.0, "account_age_days": 3.0, "hour": 4.0,
                         "velocity": 0.1, "country": "DE", "device": "mobile"},
            "prediction": 0.2}
    produce(bootstrap, topic, [b"{not json", b"[1, 2", orjson.dumps(late)])
