"""The image and the generated files of deploy/: checked statically, without Docker.

Kubernetes, compose and Alertmanager have their own test modules next to this one.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from deploy_support import (
    COMPOSE,
    DEPLOY,
    KUBERNETES,
    REPO,
    configmap_config_text,
    dockerfile_instructions,
    dockerignore_excludes,
    env_of,
    exec_form,
    final_stage,
    run_driftd,
    without_header,
)

# Helm templates are not YAML until rendered: tests/deploy/test_helm.py renders them.
YAML_FILES = sorted(p for p in [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]
                    if not p.is_relative_to(DEPLOY / "helm" / "driftd" / "templates"))


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_deploy_yaml_file_parses(path: Path) -> None:
    """Every YAML file under deploy/ is well-formed and holds at least one document."""
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert documents and all(d is not None for d in documents)


def test_image_is_built_in_stages_and_runs_as_a_numeric_non_root_user() -> None:
    """Scenario: the build tools stay in the builder; the runtime user is numeric.

    Kubernetes' runAsNonRoot can only verify a numeric USER, and it must not be 0.
    """
    instructions = dockerfile_instructions()
    stages = [ins for ins in instructions if ins.keyword == "FROM"]
    assert len(stages) >= 2
    assert stages[-1].args.startswith("python:3.11-slim")
    users = [ins.args for ins in final_stage(instructions) if ins.keyword == "USER"]
    assert users, "the runtime stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_image_serves_and_checks_health_on_port_9108() -> None:
    """EXPOSE, the HEALTHCHECK URL and DRIFTD_HTTP_ADDRESS all name port 9108.

    The healthcheck asks /healthz on loopback with Python (slim has no curl), which
    works because the image makes driftd listen on 0.0.0.0.
    """
    stage = final_stage(dockerfile_instructions())
    exposed = [ins.args for ins in stage if ins.keyword == "EXPOSE"]
    assert exposed == ["9108"]
    healthchecks = [ins.args for ins in stage if ins.keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    command = exec_form(healthchecks[0].partition(" CMD ")[2])
    assert command[0] == "python"
    found = re.search(r"https?://[^\s'\"]+", " ".join(command))
    assert found, f"no URL in the healthcheck {command}"
    url = urlsplit(found.group())
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", 9108, "/healthz")
    assert env_of(stage)["DRIFTD_HTTP_ADDRESS"] == "0.0.0.0:9108"


def test_image_runs_the_daemon_on_the_mounted_config_and_never_writes_bytecode() -> None:
    """ENTRYPOINT driftd, CMD run --config /etc/driftd/driftd.yaml, state as a volume."""
    stage = final_stage(dockerfile_instructions())
    last = {ins.keyword: ins.args for ins in stage}
    assert exec_form(last["ENTRYPOINT"]) == ["driftd"]
    assert exec_form(last["CMD"]) == ["run", "--config", "/etc/driftd/driftd.yaml"]
    assert exec_form(last["VOLUME"]) == ["/var/lib/driftd"]
    assert env_of(stage)["PYTHONDONTWRITEBYTECODE"] == "1"


def test_build_context_holds_what_the_dockerfile_copies_and_little_else() -> None:
    """Every COPY source survives .dockerignore; the venv, tests and state do not."""
    copies = [ins.args.split() for ins in dockerfile_instructions() if ins.keyword == "COPY"]
    sources = [src for args in copies if not args[0].startswith("--from")
               for src in args[:-1] if not src.startswith("--")]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not dockerignore_excludes(source), f"{source} is left out by .dockerignore"
    assert not dockerignore_excludes("src/driftd/__init__.py")
    for outside in (".venv/bin/python", ".git/HEAD", "tests/conftest.py", "var/state.sqlite",
                    "src/driftd/__pycache__/cli.cpython-311.pyc"):
        assert dockerignore_excludes(outside), outside


def test_the_image_build_gets_every_file_the_wheel_bundles() -> None:
    """setup.py bundles driftd.assets.BUNDLED into the wheel: each such file is copied
    into the builder by a COPY and survives .dockerignore, or the image's
    `driftd dashboards export` would have nothing to export."""
    from driftd.assets import BUNDLED

    copied = [src.rstrip("/") for ins in dockerfile_instructions() if ins.keyword == "COPY"
              and not ins.args.startswith("--from") for src in ins.args.split()[:-1]]
    assert "setup.py" in copied
    bundled = sorted({p.relative_to(REPO).as_posix() for pattern in BUNDLED
                      for p in REPO.glob(pattern)})
    assert bundled
    for name in bundled:
        assert any(name == src or name.startswith(src + "/") for src in copied), name
        assert not dockerignore_excludes(name), f"{name} is left out by .dockerignore"


def test_kubernetes_prometheusrule_is_generated_from_the_configmap_config(
    tmp_path: Path,
) -> None:
    """Scenario: prometheusrule.yaml is what the generator writes for the ConfigMap config.

    Steps: write the ConfigMap's driftd.yaml to a file, run `driftd rules generate
    --format prometheusrule --name driftd` on it. Expected: the committed file, except
    for the header comment (which names the config path it was generated from).
    """
    config = tmp_path / "driftd.yaml"
    config.write_text(configmap_config_text(), encoding="utf-8")
    result = run_driftd("rules", "generate", "--config", str(config),
                        "--format", "prometheusrule", "--name", "driftd")
    assert result.returncode == 0, result.stderr
    committed = (KUBERNETES / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert without_header(committed) == without_header(result.stdout), (
        "deploy/kubernetes/prometheusrule.yaml is out of date: regenerate it "
        "(deploy/README.md, 'Alert rules')")


def test_compose_rules_are_generated_for_the_demo() -> None:
    """demo.rules.yml is exactly `driftd rules generate --demo`, header included."""
    result = run_driftd("rules", "generate", "--demo")
    assert result.returncode == 0, result.stderr
    committed = (COMPOSE / "demo.rules.yml").read_text(encoding="utf-8")
    assert committed == result.stdout, (
        "deploy/compose/demo.rules.yml is out of date: run "
        "driftd rules generate --demo --out deploy/compose/demo.rules.yml")
