"""deploy/helm/driftd with a web config (TLS, client certificates, basic auth) and hot
reload: what the chart renders for both layouts validates against the Kubernetes
schemas, and the files a pod would see (materialised from the rendered volumes, the
chart's Secret and the cluster's own Secrets and ConfigMaps) pass `driftd config
validate` and driftd's own web config loader.

Needs helm, like tests/deploy/test_helm.py. The kustomize base's web-config component
(deploy/kubernetes/components/web-config) is held to the same expectations here (with
`kubectl kustomize`).
"""

from __future__ import annotations

import base64
import copy
import os
import ssl
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import numpy as np
import pytest
import yaml

from deploy.test_helm import (
    CHART,
    CRDS,
    KUBERNETES_VERSIONS,
    deployment_configmap,
    of_kind,
    pod_config,
    render,
    run_helm,
    sharded_args,
)
from deploy_support import KUBERNETES, REPO, run_driftd, tool
from driftd.config import parse_config
from driftd.reference.build import build_profile
from driftd.service.reload import RELOADABLE
from driftd.sinks.web_security import load_web
from web.pki import PASSWORD, PASSWORD_HASH, USER, Pki, make_pki

WEB_FILE = "/etc/driftd/web/web.yml"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
SCRAPE_SECRET = {"username": {"name": "driftd-scrape", "key": "username"},
                 "password": {"name": "driftd-scrape", "key": "password"}}
CA = {"secret": {"name": "driftd-tls", "key": "ca.crt"}}


def tls_values(*, mutual: bool = False) -> dict[str, Any]:
    """TLS from the Secret driftd-tls and basic auth; with ``mutual``, client
    certificates verified against the ConfigMap scrapers-ca, and Prometheus' own."""
    web: dict[str, Any] = {
        "config": {"basic_auth_users": {USER: PASSWORD_HASH},
                   "http_server_config": {"headers": {"X-Content-Type-Options": "nosniff"}}},
        "tls": {"existingSecret": "driftd-tls"}}
    tls_config: dict[str, Any] = {"ca": CA}
    if mutual:
        web["config"]["tls_server_config"] = {"client_auth_type": "RequireAndVerifyClientCert"}
        web["tls"]["clientCA"] = {"configMap": "scrapers-ca"}
        tls_config |= {"cert": {"secret": {"name": "prometheus-client", "key": "tls.crt"}},
                       "keySecret": {"name": "prometheus-client", "key": "tls.key"}}
    return {"web": web, "serviceMonitor": {"tlsConfig": tls_config, "basicAuth": SCRAPE_SECRET}}


@pytest.fixture(scope="module")
def values_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm-web-values")


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("helm-web-rules"))


def values_file(directory: Path, name: str, values: dict[str, Any]) -> str:
    path = directory / f"{name}.values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return str(path)


MODES = ("tls", "mutual-tls")
LAYOUTS = ("one-process", "sharded")


@pytest.fixture(params=[(layout, mode) for layout in LAYOUTS for mode in MODES],
                ids=lambda p: "-".join(p))
def case(request: pytest.FixtureRequest, values_dir: Path,
         rules_dir: str) -> tuple[str, list[str]]:
    """(mode, helm arguments): each layout with TLS + basic auth, and with mutual TLS."""
    layout, mode = request.param
    base = [] if layout == "one-process" else sharded_args(rules_dir)
    web = values_file(values_dir, mode, tls_values(mutual=mode == "mutual-tls"))
    return mode, [*base, "-f", web]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def config_volume(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "config")
    sources: list[dict[str, Any]] = volume["projected"]["sources"]
    return sources


# --- what the chart renders -------------------------------------------------------------


def test_helm_lint_passes_with_tls_and_basic_auth(case: tuple[str, list[str]]) -> None:
    result = run_helm("lint", "--strict", CHART, *case[1])
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_tls_manifests_validate_against_the_kubernetes_schemas(
        case: tuple[str, list[str]], version: str) -> None:
    manifests = render(*case[1], "--set", "reload.enabled=true")
    assert of_kind(manifests, "Secret")
    for manifest in manifests:
        if manifest["kind"] not in CRDS:
            kubernetes_validate.validate(manifest, version, strict=True)


def test_the_container_gets_the_mounted_web_config_and_tls_files_read_only(
        case: tuple[str, list[str]]) -> None:
    """--web.config.file names web/web.yml of the read-only /etc/driftd, projected from
    the chart's Secret; the certificate, key (and client CA) sit next to it in tls/."""
    mode, args = case
    manifests = render(*args)
    (secret,) = of_kind(manifests, "Secret")
    for deployment in of_kind(manifests, "Deployment"):
        driftd = container(deployment)
        assert driftd["args"] == ["run", "--config", "/etc/driftd/driftd.yaml",
                                  "--web.config.file", WEB_FILE]
        (mount,) = [m for m in driftd["volumeMounts"] if m["name"] == "config"]
        assert mount == {"name": "config", "mountPath": "/etc/driftd", "readOnly": True}
        paths = {item["path"]: (kind, source[kind]["name"], item["key"])
                 for source in config_volume(deployment) for kind in ("secret", "configMap")
                 if kind in source for item in source[kind]["items"]}
        assert paths["web/web.yml"] == ("secret", secret["metadata"]["name"], "web.yml")
        assert paths["web/tls/tls.crt"] == ("secret", "driftd-tls", "tls.crt")
        assert paths["web/tls/tls.key"] == ("secret", "driftd-tls", "tls.key")
        if mode == "mutual-tls":
            assert paths["web/tls/client-ca.crt"] == ("configMap", "scrapers-ca", "ca.crt")
        else:
            assert "web/tls/client-ca.crt" not in paths


def test_probes_use_https_or_tcp_when_a_kubelet_cannot_pass(
        case: tuple[str, list[str]]) -> None:
    """TLS: httpGet with scheme HTTPS (kubelet does not verify the certificate).
    RequireAndVerifyClientCert: tcpSocket, since a kubelet has no client certificate."""
    mode, args = case
    for deployment in of_kind(render(*args), "Deployment"):
        driftd = container(deployment)
        for probe in PROBES:
            if mode == "mutual-tls":
                assert driftd[probe]["tcpSocket"] == {"port": "metrics"}
                assert "httpGet" not in driftd[probe]
            else:
                assert driftd[probe]["httpGet"]["scheme"] == "HTTPS"
                assert driftd[probe]["httpGet"]["port"] == "metrics"
            assert driftd[probe]["periodSeconds"]  # the values' timings stay


def test_the_servicemonitor_scrapes_https_with_the_ca_and_secret_credentials(
        case: tuple[str, list[str]]) -> None:
    mode, args = case
    (monitor,) = of_kind(render(*args), "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["basicAuth"] == SCRAPE_SECRET
    tls = endpoint["tlsConfig"]
    assert tls["ca"] == CA
    assert tls["serverName"] == "rel-driftd.default.svc"  # pods are scraped by IP
    if mode == "mutual-tls":
        assert tls["cert"] == {"secret": {"name": "prometheus-client", "key": "tls.crt"}}
        assert tls["keySecret"] == {"name": "prometheus-client", "key": "tls.key"}
    else:
        assert set(tls) == {"ca", "serverName"}


def test_no_secret_in_an_environment_variable_or_a_configmap(
        case: tuple[str, list[str]]) -> None:
    """The web config (bcrypt hashes, maybe inline keys) is only in the chart's Secret."""
    manifests = render(*case[1])
    for deployment in of_kind(manifests, "Deployment"):
        driftd = container(deployment)
        assert "envFrom" not in driftd
        assert all("valueFrom" not in v and "web" not in v["name"].lower()
                   for v in driftd.get("env", []))
    for configmap in of_kind(manifests, "ConfigMap"):
        text = yaml.safe_dump(configmap)
        assert PASSWORD_HASH not in text and "basic_auth_users" not in text, \
            configmap["metadata"]["name"]
        assert PASSWORD not in text
    (secret,) = of_kind(manifests, "Secret")
    web = yaml.safe_load(base64.b64decode(secret["data"]["web.yml"]))
    assert web["basic_auth_users"] == {USER: PASSWORD_HASH}
    assert PASSWORD not in yaml.safe_dump(manifests)  # only the hash, never the password


# --- what a pod would see ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("helm-web-pki"))


def cluster_objects(pki: Pki, config: dict[str, Any]) -> dict[tuple[str, str], dict[str, bytes]]:
    """What the chart expects to find in the namespace: the TLS Secret, the client CA,
    the Kafka password and a reference profile of every model (built from seeded data)."""
    rng = np.random.default_rng(11)
    profiles = {}
    for model in parse_config(config, source="values", environ={}).models:
        numeric = {c.name: rng.normal(size=300) for c in model.columns if c.kind == "numeric"}
        categorical = {c.name: [str(v) for v in rng.integers(0, 4, size=300)]
                       for c in model.columns if c.kind != "numeric"}
        profile = build_profile(model.name, model.columns, numeric, categorical, rows=300,
                                metadata={"source": "tests"})
        path = pki.ca.parent / f"{model.name}.json"
        profile.save(path)
        profiles[f"{model.name}.json"] = path.read_bytes()
    return {
        ("secret", "driftd-tls"): {"tls.crt": pki.server.cert.read_bytes(),
                                   "tls.key": pki.server.key.read_bytes(),
                                   "ca.crt": pki.ca.read_bytes()},
        ("configMap", "scrapers-ca"): {"ca.crt": pki.client_ca.read_bytes()},
        ("secret", "driftd-kafka"): {"sasl-password": b"kafka-password"},
        ("configMap", "driftd-profiles"): profiles,
    }


def materialise(deployment: dict[str, Any], manifests: list[dict[str, Any]],
                cluster: dict[tuple[str, str], dict[str, bytes]], root: Path) -> None:
    """Write the projected /etc/driftd of ``deployment`` under ``root``, as the kubelet
    would: each item of each source, from the rendered ConfigMaps and Secrets or the
    cluster's."""
    objects = dict(cluster)
    for manifest in manifests:
        name = manifest["metadata"]["name"]
        if manifest["kind"] == "ConfigMap":
            objects["configMap", name] = {k: v.encode() for k, v in manifest["data"].items()}
        elif manifest["kind"] == "Secret":
            objects["secret", name] = {k: base64.b64decode(v)
                                       for k, v in manifest["data"].items()}
    for source in config_volume(deployment):
        ((kind, spec),) = source.items()
        data = objects[kind, spec["name"]]
        for item in spec["items"]:
            target = root / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[item["key"]])


def rerooted(path: str, root: Path) -> Path:
    assert path.startswith("/etc/driftd/"), path
    return root / path.removeprefix("/etc/driftd/")


def test_the_pods_files_pass_driftd_config_validate_and_the_web_config_loader(
        case: tuple[str, list[str]], pki: Pki, tmp_path: Path) -> None:
    """Steps: render; build each pod's /etc/driftd from its volume (in a directory
    standing for it, /var/lib/driftd likewise); run `driftd config validate` on its
    config and load the web config its --web.config.file names with load_web.

    Expected: valid; TLS on with the test server certificate, client certificates
    required in mutual TLS, the basic auth user accepted with its password only."""
    mode, args = case
    manifests = render(*args, "--set", "reload.enabled=true")
    deployments = of_kind(manifests, "Deployment")
    first = pod_config(deployment_configmap(deployments[0], manifests))
    assert first.http.enable_lifecycle is True
    for deployment in deployments:
        configmap = deployment_configmap(deployment, manifests)
        raw = yaml.safe_load(configmap["data"]["driftd.yaml"])
        root = tmp_path / deployment["metadata"]["name"] / "etc-driftd"
        state = tmp_path / deployment["metadata"]["name"] / "var-lib-driftd"
        state.mkdir(parents=True)
        materialise(deployment, manifests, cluster_objects(pki, raw), root)
        config_file = root / "driftd.yaml"
        text = config_file.read_text("utf-8").replace("/var/lib/driftd", str(state))
        config_file.write_text(text.replace("/etc/driftd", str(root)), encoding="utf-8")
        validated = run_driftd("config", "validate", str(config_file))
        assert validated.returncode == 0, validated.stderr

        driftd_args = container(deployment)["args"]
        web_file = driftd_args[driftd_args.index("--web.config.file") + 1]
        settings = load_web(rerooted(web_file, root))
        assert settings.tls is not None
        expected = ssl.CERT_REQUIRED if mode == "mutual-tls" else ssl.CERT_NONE
        assert settings.tls.context.verify_mode == expected
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        wrong = base64.b64encode(f"{USER}:not-it".encode()).decode()
        assert settings.auth.check(f"Basic {token}") is True
        assert settings.auth.check(f"Basic {wrong}") is False
        assert ("X-Content-Type-Options", "nosniff") in settings.headers


# --- reload -----------------------------------------------------------------------------


def checksums(*args: str) -> list[dict[str, str]]:
    return [{k: v for k, v in d["spec"]["template"]["metadata"]["annotations"].items()
             if k.startswith("checksum/")} for d in of_kind(render(*args), "Deployment")]


def edited(values: dict[str, Any], section: str) -> dict[str, Any]:
    """``values`` with ``section`` of its config changed."""
    changed = copy.deepcopy(values)
    config = changed["config"]
    if section == "models":
        config["models"][0]["version"] = "4"
    elif section == "logging.level":
        config["logging"] = {**config.get("logging", {}), "level": "DEBUG"}
    elif section == "evaluation":
        config["evaluation"] = {**config.get("evaluation", {}), "interval_seconds": 20}
    elif section == "alerts":
        config["alerts"] = {**config.get("alerts", {}), "job": "driftd-edited"}
    elif section == "sources":
        config["sources"][0]["group_id"] = "driftd-edited"
    elif section == "http":
        config["http"] = {**config.get("http", {}), "max_connections": 7}
    else:
        raise AssertionError(section)
    return changed


@pytest.fixture(scope="module")
def example_values() -> dict[str, Any]:
    example = yaml.safe_load((CHART / "files" / "driftd.example.yaml").read_text("utf-8"))
    return {"config": example, "prometheusRule": {"enabled": False}}


@pytest.mark.parametrize("section", [*sorted(RELOADABLE), "logging.level"])
def test_with_reload_a_change_a_reload_applies_does_not_roll_the_pod(
        section: str, example_values: dict[str, Any], values_dir: Path) -> None:
    """reload.enabled: the sections driftd.service.reload applies (models, evaluation,
    alerts, logging.level) leave the pod template as it was; without reload they roll it."""
    before = values_file(values_dir, "before", example_values)
    after = values_file(values_dir, f"after-{section}", edited(example_values, section))
    parse_config(edited(example_values, section)["config"], source=section, environ={})
    reload = ["--set", "reload.enabled=true"]
    assert checksums("-f", before, *reload) == checksums("-f", after, *reload)
    assert checksums("-f", before) != checksums("-f", after)


@pytest.mark.parametrize("section", ["sources", "http"])
def test_with_reload_a_change_only_a_restart_applies_still_rolls_the_pod(
        section: str, example_values: dict[str, Any], values_dir: Path) -> None:
    before = values_file(values_dir, "before", example_values)
    after = values_file(values_dir, f"after-{section}", edited(example_values, section))
    reload = ["--set", "reload.enabled=true"]
    assert checksums("-f", before, *reload) != checksums("-f", after, *reload)


def test_reload_turns_the_lifecycle_api_on_and_leaves_it_off_by_default(
        rules_dir: str) -> None:
    for args in ([], sharded_args(rules_dir)):
        for reload, expected in (("true", True), ("false", False)):
            manifests = render(*args, "--set", f"reload.enabled={reload}")
            for deployment in of_kind(manifests, "Deployment"):
                config = pod_config(deployment_configmap(deployment, manifests))
                assert config.http.enable_lifecycle is expected


def test_a_changed_web_config_rolls_the_pod_unless_reload_is_on(values_dir: Path) -> None:
    """Without reload, the web config's checksum is in the pod template; with reload
    it is not (driftd re-reads the web config file itself)."""
    values = tls_values()
    other = copy.deepcopy(values)
    other["web"]["config"]["http_server_config"]["headers"]["X-Frame-Options"] = "deny"
    one, two = values_file(values_dir, "web-1", values), values_file(values_dir, "web-2", other)
    assert "checksum/web-config" in checksums("-f", one)[0]
    assert checksums("-f", one) != checksums("-f", two)
    reload = ["--set", "reload.enabled=true"]
    assert "checksum/web-config" not in checksums("-f", one, *reload)[0]
    assert checksums("-f", one, *reload) == checksums("-f", two, *reload)


# --- other ways in, and refusals ----------------------------------------------------------


def test_without_web_values_nothing_changes() -> None:
    manifests = render()
    assert not of_kind(manifests, "Secret")
    (deployment,) = of_kind(manifests, "Deployment")
    driftd = container(deployment)
    assert driftd["args"] == ["run", "--config", "/etc/driftd/driftd.yaml"]
    assert all("scheme" not in driftd[p]["httpGet"] for p in PROBES)
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "http"
    assert "tlsConfig" not in endpoint and "basicAuth" not in endpoint


def test_an_existing_web_config_secret_is_mounted_with_the_scheme_given() -> None:
    manifests = render("--set", "web.existingSecret=my-web", "--set", "web.scheme=HTTPS",
                       "--set", "web.existingSecretKey=config.yml")
    assert not of_kind(manifests, "Secret")
    (deployment,) = of_kind(manifests, "Deployment")
    (source,) = [s for s in config_volume(deployment)
                 if s.get("secret", {}).get("name") == "my-web"]
    assert source["secret"]["items"] == [{"key": "config.yml", "path": "web/web.yml",
                                          "mode": 0o440}]
    driftd = container(deployment)
    assert driftd["args"][-2:] == ["--web.config.file", WEB_FILE]
    assert all(driftd[p]["httpGet"]["scheme"] == "HTTPS" for p in PROBES)


def test_a_tls_secret_alone_serves_https_without_auth() -> None:
    """Only web.tls.existingSecret: a web config naming the mounted files, no users."""
    manifests = render("--set", "web.tls.existingSecret=driftd-tls")
    (secret,) = of_kind(manifests, "Secret")
    web = yaml.safe_load(base64.b64decode(secret["data"]["web.yml"]))
    assert web == {"tls_server_config": {"cert_file": "tls/tls.crt", "key_file": "tls/tls.key"}}
    (deployment,) = of_kind(manifests, "Deployment")
    assert all(container(deployment)[p]["httpGet"]["scheme"] == "HTTPS" for p in PROBES)


def test_basic_auth_on_the_probes_gives_tcp_probes(values_dir: Path) -> None:
    """http.authenticate_probes with basic auth users: a kubelet's httpGet gets 401."""
    values = tls_values()
    values["config"] = {**yaml.safe_load(
        (CHART / "files" / "driftd.example.yaml").read_text("utf-8")),
        "http": {"authenticate_probes": True}}
    values["prometheusRule"] = {"enabled": False}
    (deployment,) = of_kind(render("-f", values_file(values_dir, "auth-probes", values)),
                            "Deployment")
    assert all("tcpSocket" in container(deployment)[p] for p in PROBES)
    (deployment,) = of_kind(render("-f", values_file(values_dir, "auth-probes", values),
                                   "--set", "web.probes=httpGet"), "Deployment")
    assert all("httpGet" in container(deployment)[p] for p in PROBES)


@pytest.mark.parametrize(("settings", "message"), [
    (["web.existingSecret=my-web"], "web.scheme: set HTTP or HTTPS with web.existingSecret"),
    (["web.existingSecret=my-web", "web.config.basic_auth_users.a=x"],
     "web.config, web.existingSecret: set one of them"),
    (["web.tls.existingSecret=t", "web.tls.clientCA.configMap=ca"],
     "web.tls.clientCA: set web.config.tls_server_config.client_auth_type"),
    (["serviceMonitor.tlsConfig.serverName=x"], "serviceMonitor.tlsConfig: driftd serves "
     "plain HTTP"),
    (["serviceMonitor.basicAuth.password=hunter2"], "schema"),
    (["serviceMonitor.tlsConfig.keySecret=-----BEGIN PRIVATE KEY-----"], "schema"),
    (["web.probes=exec"], "schema"),
], ids=["existing-without-scheme", "config-and-existing", "client-ca-without-auth-type",
        "tls-config-on-http", "inline-password", "inline-key", "unknown-probe"])
def test_inconsistent_web_values_are_refused_naming_the_value(
        settings: list[str], message: str) -> None:
    args = [a for s in settings for a in ("--set", s)]
    result = run_helm("template", "rel", CHART, *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


# --- the kustomize base's web-config component -------------------------------------------


def kustomize_with_web_config(overlay: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` of an overlay of deploy/kubernetes with the component."""
    overlay.mkdir(parents=True, exist_ok=True)
    base = os.path.relpath(KUBERNETES, overlay)
    component = os.path.relpath(KUBERNETES / "components" / "web-config", overlay)
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [base], "components": [component]}), encoding="utf-8")
    result = subprocess.run([tool("kubectl", "kubectl"), "kustomize", str(overlay)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_the_kustomize_component_serves_tls_and_basic_auth_as_the_chart_does(
        pki: Pki, tmp_path: Path) -> None:
    """Steps: kustomize the base with the component; validate the manifests; rebuild the
    pod's /etc/driftd with the Secrets it expects (driftd-web holding the shipped
    example web config with the test's user, driftd-tls).

    Expected: the chart's args, HTTPS probes and ServiceMonitor shape; the config passes
    `driftd config validate` and the web config load_web, with TLS and the user."""
    manifests = kustomize_with_web_config(tmp_path / "overlay")
    for manifest in manifests:
        if manifest["kind"] not in CRDS:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[0], strict=True)
    (deployment,) = of_kind(manifests, "Deployment")
    driftd = container(deployment)
    assert driftd["args"][-2:] == ["--web.config.file", WEB_FILE]
    assert all(driftd[p]["httpGet"]["scheme"] == "HTTPS" for p in PROBES)
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["basicAuth"] == SCRAPE_SECRET
    assert endpoint["tlsConfig"]["ca"] == CA

    example = yaml.safe_load((REPO / "config" / "web-config.example.yml").read_text("utf-8"))
    example["tls_server_config"] |= {"cert_file": "tls/tls.crt", "key_file": "tls/tls.key"}
    example["basic_auth_users"] = {USER: PASSWORD_HASH}
    configmap = deployment_configmap(deployment, manifests)
    cluster = cluster_objects(pki, yaml.safe_load(configmap["data"]["driftd.yaml"]))
    cluster["secret", "driftd-web"] = {"web.yml": yaml.safe_dump(example).encode()}
    root, state = tmp_path / "etc-driftd", tmp_path / "var-lib-driftd"
    state.mkdir()
    materialise(deployment, manifests, cluster, root)
    config_file = root / "driftd.yaml"
    text = config_file.read_text("utf-8").replace("/var/lib/driftd", str(state))
    config_file.write_text(text.replace("/etc/driftd", str(root)), encoding="utf-8")
    validated = run_driftd("config", "validate", str(config_file))
    assert validated.returncode == 0, validated.stderr
    settings = load_web(rerooted(WEB_FILE, root))
    assert settings.tls is not None
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert settings.auth.check(f"Basic {token}") is True
