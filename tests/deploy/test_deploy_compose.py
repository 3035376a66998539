"""deploy/compose: the demo stack's services, wiring, mounts and Prometheus config."""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from deploy_support import (
    COMPOSE,
    DOCKERFILE,
    REPO,
    compose,
    compose_service,
    dockerfile_instructions,
    env_of,
    final_stage,
    load_yaml,
    option,
    tool,
)
from driftd.cli import build_parser
from driftd.config import HttpConfig
from driftd.service.demo import DemoTopics, demo_config

SERVICES = {"kafka", "kafka-init", "driftd-demo-producer", "driftd", "prometheus",
            "alertmanager", "grafana"}
DRIFTD_SERVICES = ("driftd-demo-producer", "driftd")


def prometheus_config() -> dict[str, Any]:
    document = load_yaml(COMPOSE / "prometheus.yml")
    assert isinstance(document, dict)
    return document


def bind_mounts() -> list[tuple[str, str, str]]:
    """(service, host path, container path) of every bind mount (a path, not a volume)."""
    mounts = []
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                mounts.append((name, source, target))
    return mounts


def test_stack_has_its_services_and_pins_every_image() -> None:
    """Kafka, its topic set-up, producer, driftd, Prometheus, Alertmanager, Grafana;
    every image has an explicit tag other than latest."""
    services = compose()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        repository, _, tag = service["image"].rpartition(":")
        assert repository and tag and tag != "latest", name


def test_driftd_services_are_built_from_the_dockerfile() -> None:
    """Producer and monitor run the image deploy/Dockerfile builds from the repository."""
    for name in DRIFTD_SERVICES:
        build = compose_service(name)["build"]
        assert (COMPOSE / build["context"]).resolve() == REPO
        assert (REPO / build["dockerfile"]).resolve() == DOCKERFILE


def test_producer_and_monitor_commands_parse_and_meet_on_the_broker() -> None:
    """Scenario: both demo commands are accepted by driftd's own parser, the producer
    publishes where the monitor reads (the kafka service), and the monitor listens on
    the port the image's DRIFTD_HTTP_ADDRESS (which takes precedence) names."""
    producer = compose_service("driftd-demo-producer")["command"]
    monitor = compose_service("driftd")["command"]
    for command in (producer, monitor):
        build_parser().parse_args(command)  # exits on an unknown flag
    broker = option(producer, "--produce-to")
    assert option(monitor, "--consume-from") == broker
    assert broker.partition(":")[0] in compose()["services"]
    image_address = env_of(final_stage(dockerfile_instructions()))["DRIFTD_HTTP_ADDRESS"]
    assert option(monitor, "--address") == image_address


def test_topic_init_creates_the_demo_topics() -> None:
    """kafka-init creates the topics the demo publishes to and reads from."""
    script = " ".join(compose_service("kafka-init")["command"])
    for topic in (DemoTopics().predictions, DemoTopics().outcomes):
        assert topic in script


def test_driftd_runs_read_only_with_its_state_on_a_volume() -> None:
    """As in Kubernetes: read-only root, /tmp and the checkpoint's directory writable."""
    service = compose_service("driftd")
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    checkpoint = PurePosixPath(option(service["command"], "--checkpoint"))
    targets = [PurePosixPath(v.split(":")[1]) for v in service["volumes"]]
    assert checkpoint.parent in targets


def test_prometheus_scrapes_driftd_on_its_published_port() -> None:
    """The scrape job is named like the rules' job label, and targets the driftd
    service on the port it listens on (and publishes to the host)."""
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    job = jobs["driftd"]
    assert job["job_name"] == demo_config().alerts.job
    assert job["scrape_interval"] == "5s"
    targets = [t for c in job["static_configs"] for t in c["targets"]]
    port = HttpConfig(address=option(compose_service("driftd")["command"], "--address")).port
    assert targets == [f"driftd:{port}"]
    assert f"127.0.0.1:{port}:{port}" in compose_service("driftd")["ports"]


def test_prometheus_loads_the_mounted_demo_rules_and_alerts_alertmanager() -> None:
    """rule_files names demo.rules.yml relative to prometheus.yml, and the rules are
    mounted beside it, so the same path holds in the container and in the repository;
    alerts go to the alertmanager service."""
    config = prometheus_config()
    mounts = {target: source for name, source, target in bind_mounts() if name == "prometheus"}
    assert config["rule_files"] == ["demo.rules.yml"]
    assert mounts["/etc/prometheus/demo.rules.yml"] == "./demo.rules.yml"
    assert mounts["/etc/prometheus/prometheus.yml"] == "./prometheus.yml"
    targets = [t for a in config["alerting"]["alertmanagers"] for c in a["static_configs"]
               for t in c["targets"]]
    assert targets == ["alertmanager:9093"]


def test_promtool_accepts_the_prometheus_config() -> None:
    """``promtool check config`` as shipped, not only its syntax: the rule files it names
    are found (next to prometheus.yml, as in the container) and checked too."""
    promtool = tool("promtool", "prometheus")
    result = subprocess.run([promtool, "check", "config", str(COMPOSE / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout, result.stdout


# demo.rules.yml is generated: test_compose_rules_are_generated_for_the_demo checks it.
@pytest.mark.parametrize(("service", "source", "target"),
                         [m for m in bind_mounts() if m[1] != "./demo.rules.yml"],
                         ids=lambda value: str(value))
def test_bind_mounted_paths_exist_in_the_repository(service: str, source: str,
                                                    target: str) -> None:
    """Every host path the stack mounts is in the repository (else Docker would mount
    an empty directory created on the fly)."""
    assert (COMPOSE / source).exists(), f"{service}: {source} -> {target}"


def test_grafana_gets_provisioning_and_dashboards_where_it_reads_them() -> None:
    """grafana/provisioning at /etc/grafana/provisioning; grafana/dashboards at the
    folder the dashboard provider points to; the data source is the stack's Prometheus."""
    mounts = {target: (COMPOSE / source).resolve()
              for name, source, target in bind_mounts() if name == "grafana"}
    assert mounts["/etc/grafana/provisioning"] == REPO / "grafana" / "provisioning"
    assert mounts["/var/lib/grafana/dashboards/driftd"] == REPO / "grafana" / "dashboards"
    providers = [provider for path in _yaml_files(REPO / "grafana/provisioning/dashboards")
                 for provider in load_yaml(path).get("providers", [])]
    assert providers, "no dashboard provider in grafana/provisioning/dashboards"
    assert {p["options"]["path"] for p in providers} == {"/var/lib/grafana/dashboards/driftd"}
    sources = [source for path in _yaml_files(REPO / "grafana/provisioning/datasources")
               for source in load_yaml(path).get("datasources", [])]
    urls = {s["url"] for s in sources if s["type"] == "prometheus"}
    assert urls == {"http://prometheus:9090"}, "the data source is not the stack's Prometheus"
    # Grafana sizes $__rate_interval from this: it must be the stack's scrape interval.
    intervals = {s["jsonData"]["timeInterval"] for s in sources if s["type"] == "prometheus"}
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    assert intervals == {jobs["driftd"]["scrape_interval"]}


def _yaml_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def test_start_order_waits_for_what_each_service_needs() -> None:
    """Every depends_on names a service of the stack; `service_healthy` only on a
    service with a healthcheck, `service_completed_successfully` only on a one-shot."""
    services = compose()["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} -> {dependency}"
            other = services[dependency]
            if condition["condition"] == "service_healthy":
                assert "test" in other.get("healthcheck", {}), f"{name} -> {dependency}"
            elif condition["condition"] == "service_completed_successfully":
                assert other.get("restart") == "no", f"{name} -> {dependency}"
    assert compose_service("driftd")["depends_on"] == {
        "kafka-init": {"condition": "service_completed_successfully"}}


def test_docker_waits_for_driftds_shutdown_before_killing_it() -> None:
    """stop_grace_period outlasts the demo's shutdown_grace_seconds, as in Kubernetes."""
    period = compose_service("driftd")["stop_grace_period"]
    assert period.endswith("s") and float(period[:-1]) > demo_config().shutdown_grace_seconds
