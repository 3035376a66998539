"""deploy/helm/driftd: the chart lints, renders both layouts (one process, sharded by
model), and what it renders validates against the Kubernetes schemas
(kubernetes-validate) and agrees with driftd itself (config, rules, files).

Needs helm (scripts/install_helm.sh puts it in ~/.cache/driftd/bin) and promtool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy_support import DEPLOY, REPO, load_yaml, run_driftd, tool
from driftd.config import Config, KafkaSourceConfig, parse_config

CHART = DEPLOY / "helm" / "driftd"
SHARDED_VALUES = DEPLOY / "helm" / "examples" / "sharded.values.yaml"
RULES = DEPLOY / "prometheus" / "driftd.rules.yml"
# The chart's kubeVersion floor and the newest schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
CRDS = {"ServiceMonitor", "PrometheusRule"}  # prometheus-operator's: no bundled schema
DIGEST = "sha256:" + "0123456789abcdef" * 4


def helm() -> str:
    """helm on PATH, else where scripts/install_helm.sh installs it; fails if neither."""
    found = shutil.which("helm")
    cache_dir = Path(os.environ.get("DRIFTD_CACHE_DIR") or Path.home() / ".cache" / "driftd")
    installed = cache_dir / "bin" / "helm"
    if found is None and os.access(installed, os.X_OK):
        found = str(installed)
    assert found is not None, (
        f"helm is not installed (not on PATH nor at {installed}); the chart tests need "
        "it: scripts/install_helm.sh")
    return found


def run_helm(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm(), *map(str, args)], capture_output=True, text=True,
                            timeout=120, check=False)
    if check:
        assert result.returncode == 0, f"helm {args}:\n{result.stdout}\n{result.stderr}"
    return result


def config_of_values(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(path)["config"]
    return config


@cache
def sharded_rules_file(tmp: str) -> Path:
    """`driftd rules generate` for the sharded example's config (all of its models)."""
    config = Path(tmp) / "sharded-config.yaml"
    config.write_text(yaml.safe_dump(config_of_values(SHARDED_VALUES)), encoding="utf-8")
    out = Path(tmp) / "sharded.rules.yml"
    generated = run_driftd("rules", "generate", "--config", str(config), "--out", str(out))
    assert generated.returncode == 0, generated.stderr
    return out


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("helm-rules"))


def sharded_args(rules_dir: str) -> list[str]:
    return ["-f", str(SHARDED_VALUES),
            "--set-file", f"prometheusRule.rules={sharded_rules_file(rules_dir)}"]


def render(*args: str) -> list[dict[str, Any]]:
    """``helm template rel CHART ARGS``, as a list of manifests."""
    out = run_helm("template", "rel", CHART, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def pod_config(configmap: dict[str, Any]) -> Config:
    raw = yaml.safe_load(configmap["data"]["driftd.yaml"])
    return parse_config(raw, source=configmap["metadata"]["name"], environ={})


def deployment_configmap(deployment: dict[str, Any],
                         manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """The ConfigMap whose driftd.yaml the Deployment mounts as /etc/driftd/driftd.yaml."""
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "config")
    sources = [s["configMap"] for s in volume["projected"]["sources"] if "configMap" in s]
    name = next(s["name"] for s in sources
                if any(i["path"] == "driftd.yaml" for i in s["items"]))
    return next(c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"] == name)


LAYOUTS = ("one-process", "sharded")


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest, rules_dir: str) -> list[str]:
    return [] if request.param == "one-process" else sharded_args(rules_dir)


# --- lint and schemas -------------------------------------------------------------------


def test_helm_lint_passes_for_both_layouts(layout: list[str]) -> None:
    result = run_helm("lint", "--strict", CHART, *layout)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_manifests_validate_against_the_kubernetes_schemas(
        layout: list[str], version: str) -> None:
    """Every manifest but the prometheus-operator CRDs, strictly (no unknown field)."""
    manifests = render(*layout, "--set", "grafanaDashboards.enabled=true")
    kinds = {m["kind"] for m in manifests}
    assert kinds >= {"Deployment", "Service", "ConfigMap", "PersistentVolumeClaim",
                     "PodDisruptionBudget", "NetworkPolicy", *CRDS}
    for manifest in manifests:
        if manifest["kind"] in CRDS:
            continue
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_crds_have_the_operators_api_and_their_parts(layout: list[str]) -> None:
    """What can be checked of the CRDs without their schemas: apiVersion, and the
    ServiceMonitor selects the Service and scrapes its metrics port."""
    manifests = render(*layout)
    for kind in CRDS:
        (crd,) = of_kind(manifests, kind)
        assert crd["apiVersion"] == "monitoring.coreos.com/v1"
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    (service,) = of_kind(manifests, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert endpoint["path"] == "/metrics"


def test_prometheusrule_rules_pass_promtool(layout: list[str], tmp_path: Path) -> None:
    (rule,) = of_kind(render(*layout), "PrometheusRule")
    extracted = tmp_path / "rules.yml"
    extracted.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}), encoding="utf-8")
    result = subprocess.run([tool("promtool", "prometheus"), "check", "rules", str(extracted)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- one process ------------------------------------------------------------------------


def test_one_process_layout_runs_every_model_of_the_shipped_example() -> None:
    """Default values: one Deployment with config/driftd.example.yaml, the checkpoint on
    the PVC, serving on 0.0.0.0."""
    manifests = render()
    (deployment,) = of_kind(manifests, "Deployment")
    config = pod_config(deployment_configmap(deployment, manifests))
    example = yaml.safe_load((REPO / "config/driftd.example.yaml").read_text("utf-8"))
    assert [m.name for m in config.models] == [m["name"] for m in example["models"]]
    assert str(config.checkpoint.path) == "/var/lib/driftd/state.sqlite"
    assert config.http.address.startswith("0.0.0.0:")
    (pvc,) = of_kind(manifests, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["state"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]


def test_the_default_prometheusrule_is_the_shipped_rules_file() -> None:
    """The PrometheusRule holds deploy/prometheus/driftd.rules.yml's groups as they are
    now (the chart reads the file through files/, never a copy of its own), and they
    are the rules driftd generates for the config the chart renders."""
    manifests = render()
    (rule,) = of_kind(manifests, "PrometheusRule")
    assert rule["spec"]["groups"] == load_yaml(RULES)["groups"]
    (deployment,) = of_kind(manifests, "Deployment")
    configmap = deployment_configmap(deployment, manifests)
    from driftd.rules import rule_groups
    from driftd.rules_file import render_rules
    generated = yaml.safe_load(render_rules(rule_groups(pod_config(configmap)), header="x"))
    assert rule["spec"]["groups"] == generated["groups"]


def test_bundled_files_are_links_to_the_repository_files_not_copies() -> None:
    """files/ of the chart links to config/, deploy/prometheus/ and grafana/dashboards,
    so nothing can drift; `helm package` stores their content byte for byte."""
    links = {"driftd.example.yaml": REPO / "config/driftd.example.yaml",
             "driftd.rules.yml": RULES, "dashboards": REPO / "grafana/dashboards"}
    assert sorted(p.name for p in (CHART / "files").iterdir()) == sorted(links)
    for name, target in links.items():
        link = CHART / "files" / name
        assert link.is_symlink(), f"{link} must be a link to {target}, not a copy"
        assert link.resolve() == target.resolve()


def test_the_packaged_chart_carries_the_files_byte_for_byte(tmp_path: Path) -> None:
    run_helm("package", CHART, "--destination", tmp_path)
    (archive,) = tmp_path.glob("driftd-*.tgz")
    expected = {"driftd/files/driftd.example.yaml": REPO / "config/driftd.example.yaml",
                "driftd/files/driftd.rules.yml": RULES}
    expected |= {f"driftd/files/dashboards/{p.name}": p
                 for p in (REPO / "grafana/dashboards").glob("*.json")}
    with tarfile.open(archive) as chart:
        for member, source in expected.items():
            packed = chart.extractfile(member)
            assert packed is not None, member
            assert packed.read() == source.read_bytes(), member


def test_grafana_dashboards_configmap_holds_the_dashboards() -> None:
    (dashboards,) = [c for c in of_kind(render("--set", "grafanaDashboards.enabled=true"),
                                        "ConfigMap")
                     if c["metadata"]["name"].endswith("-dashboards")]
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = {p.name: p.read_text("utf-8") for p in (REPO / "grafana/dashboards").glob("*.json")}
    assert dashboards["data"] == shipped


# --- sharded by model -------------------------------------------------------------------


def test_sharded_layout_gives_one_deployment_per_shard_with_only_its_models(
        rules_dir: str) -> None:
    """One Deployment, ConfigMap and PVC per shard; each config holds exactly the shard's
    models and topics, with a consumer group of its own; together they cover every
    model once."""
    values = load_yaml(SHARDED_VALUES)
    manifests = render(*sharded_args(rules_dir))
    deployments = of_kind(manifests, "Deployment")
    assert len(deployments) == len(values["shards"])
    groups, covered = set(), []
    for shard in values["shards"]:
        (deployment,) = [d for d in deployments
                         if d["metadata"]["name"] == f"rel-driftd-{shard['name']}"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["driftd/shard"] == shard["name"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        config = pod_config(deployment_configmap(deployment, manifests))
        assert [m.name for m in config.models] == shard["models"]
        (source,) = [s for s in config.sources if isinstance(s, KafkaSourceConfig)]
        assert all(set(t.models or ()) <= set(shard["models"]) for t in source.topics)
        groups.add(source.group_id)
        covered += shard["models"]
        claim = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                     if v["name"] == "state")["persistentVolumeClaim"]["claimName"]
        assert claim == f"rel-driftd-{shard['name']}-state"
    assert len(groups) == len(values["shards"])
    assert sorted(covered) == sorted(m["name"] for m in values["config"]["models"])
    assert len(of_kind(manifests, "PersistentVolumeClaim")) == len(values["shards"])


def test_each_shard_projects_only_its_models_profiles(rules_dir: str) -> None:
    manifests = render(*sharded_args(rules_dir))
    for deployment in of_kind(manifests, "Deployment"):
        config = pod_config(deployment_configmap(deployment, manifests))
        volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                      if v["name"] == "config")
        items = [i["path"] for s in volume["projected"]["sources"] if "configMap" in s
                 for i in s["configMap"]["items"] if i["path"] != "driftd.yaml"]
        assert items == [f"profiles/{m.name}.json" for m in config.models]
        assert all(str(m.reference) == f"profiles/{m.name}.json" for m in config.models)


def test_disruption_budgets_select_one_deployment_each(rules_dir: str) -> None:
    manifests = render(*sharded_args(rules_dir))
    pods = [d["spec"]["template"]["metadata"]["labels"] for d in of_kind(manifests, "Deployment")]
    for budget in of_kind(manifests, "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"].items()
        assert sum(selector <= labels.items() for labels in pods) == 1


def test_the_service_and_its_scrapes_cover_every_shard_under_the_rules_job(
        rules_dir: str) -> None:
    """One Service selects every shard's pods; the ServiceMonitor sets job to the
    config's alerts.job (what the rules select) and keeps the shard as a label."""
    manifests = render(*sharded_args(rules_dir))
    (service,) = of_kind(manifests, "Service")
    for deployment in of_kind(manifests, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    assert monitor["spec"]["podTargetLabels"] == ["driftd/shard"]
    (relabel,) = monitor["spec"]["endpoints"][0]["relabelings"]
    assert relabel == {"targetLabel": "job", "replacement": "driftd"}
    (rule,) = of_kind(manifests, "PrometheusRule")
    assert 'job="driftd"' in yaml.safe_dump(rule["spec"]["groups"])


@pytest.mark.parametrize(("values", "message"), [
    ({"shards[0].models": "{fraud}"}, 'model "chargeback" is in no shard'),
    ({"shards[1].models": "{churn,fraud}"}, '"fraud" is already in shard "payments"'),
    ({"shards[1].models": "{churn,nope}"}, '"nope" is not a model of the config'),
    ({"shards[1].name": "Growth!"}, "must be a lower-case DNS label"),
], ids=["model-in-no-shard", "model-in-two-shards", "unknown-model", "bad-name"])
def test_inconsistent_shards_are_refused_with_the_field(
        rules_dir: str, values: dict[str, str], message: str) -> None:
    settings = [a for k, v in values.items() for a in ("--set", f"{k}={v}")]
    result = run_helm("template", "rel", CHART, *sharded_args(rules_dir), *settings,
                      check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_a_custom_config_without_its_rules_is_refused() -> None:
    result = run_helm("template", "rel", CHART, "-f", SHARDED_VALUES, check=False)
    assert result.returncode != 0
    assert "prometheusRule.rules: a custom config needs its own rules" in result.stderr


# --- secrets, image, pod security --------------------------------------------------------


def test_the_kafka_password_is_a_mounted_file_never_an_environment_variable(
        layout: list[str]) -> None:
    manifests = render(*layout, "--set", "kafka.saslPassword.existingSecret=driftd-kafka")
    for deployment in of_kind(manifests, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert "envFrom" not in container
        for variable in container.get("env", []):
            assert "valueFrom" not in variable, variable
        volume = next(v for v in pod["volumes"] if v["name"] == "config")
        (secret,) = [s["secret"] for s in volume["projected"]["sources"] if "secret" in s]
        assert secret["name"] == "driftd-kafka"
        (item,) = secret["items"]
        mounted = f"/etc/driftd/{item['path']}"
        config = pod_config(deployment_configmap(deployment, manifests))
        for source in config.sources:
            if isinstance(source, KafkaSourceConfig):
                assert str(source.security.sasl_password_file) == mounted
                assert source.security.sasl_password is None
    assert not of_kind(manifests, "Secret")  # the chart never holds the password itself


def test_the_image_is_pinned_by_digest_when_given() -> None:
    (deployment,) = of_kind(render("--set", f"image.digest={DIGEST}",
                                   "--set", "image.repository=registry.example/driftd"),
                            "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"registry.example/driftd:0.1.0@{DIGEST}"
    refused = run_helm("template", "rel", CHART, "--set", "image.digest=latest", check=False)
    assert refused.returncode != 0
    assert "image.digest" in refused.stderr


def test_pods_run_non_root_on_a_read_only_root_with_limits_and_probes(
        layout: list[str]) -> None:
    for deployment in of_kind(render(*layout), "Deployment"):
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["limits"]["memory"]
        assert container["resources"]["requests"]["cpu"]
        paths = {probe: container[probe]["httpGet"]["path"]
                 for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz",
                         "readinessProbe": "/readyz"}
        assert all(container[p]["httpGet"]["port"] == "metrics" for p in paths)
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/var/lib/driftd", "/tmp"} <= mounts
        assert pod["terminationGracePeriodSeconds"] > 30  # shutdown_grace_seconds


def test_emptydir_instead_of_a_claim_when_persistence_is_off() -> None:
    manifests = render("--set", "persistence.enabled=false")
    assert not of_kind(manifests, "PersistentVolumeClaim")
    (deployment,) = of_kind(manifests, "Deployment")
    state = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                 if v["name"] == "state")
    assert "emptyDir" in state


def test_chart_version_follows_the_package_version() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    assert chart["version"] == chart["appVersion"] == project["version"]


def test_a_misspelt_value_is_refused_by_the_values_schema() -> None:
    """values.schema.json: no unknown top-level key (``sahrds``), shards well-formed."""
    for setting in ("sahrds[0].name=a", "shards[0].name=a", "image.tag=v1",
                    "extraEnv[0].name=X"):
        result = run_helm("template", "rel", CHART, "--set", setting, check=False)
        if setting == "image.tag=v1":
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode != 0, setting
            assert "schema" in result.stderr, result.stderr


def test_kafka_bootstrap_servers_apply_to_every_kafka_source(layout: list[str]) -> None:
    manifests = render(*layout, "--set", "kafka.bootstrapServers=kafka.kafka:9092")
    for deployment in of_kind(manifests, "Deployment"):
        config = pod_config(deployment_configmap(deployment, manifests))
        kafka = [s for s in config.sources if isinstance(s, KafkaSourceConfig)]
        assert kafka
        assert all(s.bootstrap_servers == "kafka.kafka:9092" for s in kafka), kafka
