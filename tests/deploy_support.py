"""Readers for the deployment files: the Dockerfile, the manifests, the compose stack.

Everything here is static: no Docker engine and no cluster are needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from driftd.config import Config, parse_config

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose"
ALERTMANAGER = DEPLOY / "alertmanager"
DOCKERFILE = DEPLOY / "Dockerfile"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- Dockerfile ------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ...
    args: str


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions in order, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#") or (not line.strip() and not pending):
            continue  # comments may sit inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(args.split())))
        pending = ""
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions of the last build stage, from its FROM on."""
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1]:]


def exec_form(args: str) -> list[str]:
    """A JSON-array argument (``["driftd"]``); fails on the shell form."""
    value = json.loads(args)
    assert isinstance(value, list), f"expected the exec (JSON array) form, got {args!r}"
    return [str(item) for item in value]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    """The ENV variables a stage sets (``ENV A=1 B=2`` form)."""
    env: dict[str, str] = {}
    for ins in stage:
        if ins.keyword == "ENV":
            for item in ins.args.split():
                name, _, value = item.partition("=")
                env[name] = value
    return env


def dockerignore_excludes(relative: str, path: Path = REPO / ".dockerignore") -> bool:
    """Whether ``.dockerignore`` keeps ``relative`` out of the build context.

    Docker's rules: the last pattern matching the path or one of its parent directories
    decides; ``!`` re-includes; ``**`` spans directories.
    """
    excluded = False
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for raw in path.read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        include = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not include
    return excluded


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


# --- Kubernetes ------------------------------------------------------------------------


def manifest_files() -> list[Path]:
    """Every manifest in deploy/kubernetes (kustomization.yaml is not one)."""
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def manifest(name: str) -> dict[str, Any]:
    document = load_yaml(KUBERNETES / name)
    assert isinstance(document, dict), name
    return document


def driftd_container() -> dict[str, Any]:
    containers = manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "driftd")


def configmap_config_text() -> str:
    text = manifest("configmap.yaml")["data"]["driftd.yaml"]
    assert isinstance(text, str)
    return text


def pod_environ() -> dict[str, str]:
    """The environment driftd sees in the pod: the image's ENV, then the container's.

    A value from a Secret is unknown here and stands in as ``<secret>``.
    """
    environ = {name: value for name, value in env_of(final_stage(dockerfile_instructions()))
               .items() if name.startswith("DRIFTD_")}
    for variable in driftd_container().get("env", []):
        environ[variable["name"]] = variable.get("value", "<secret>")
    return environ


def pod_config() -> Config:
    """The ConfigMap's config as driftd in the pod validates it (env overrides applied)."""
    raw = yaml.safe_load(configmap_config_text())
    return parse_config(raw, source="configmap.yaml:driftd.yaml", environ=pod_environ())


def container_port(name_or_number: str | int) -> int:
    """A port of the driftd container, by its name or number."""
    for port in driftd_container()["ports"]:
        if name_or_number in (port["name"], port["containerPort"]):
            return int(port["containerPort"])
    raise AssertionError(f"the driftd container has no port {name_or_number!r}")


# --- compose -----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document = load_yaml(COMPOSE / "compose.yaml")
    assert isinstance(document, dict)
    return document


def compose_service(name: str) -> dict[str, Any]:
    service = compose()["services"][name]
    assert isinstance(service, dict), name
    return service


def option(command: list[str], flag: str) -> str:
    """The value following ``flag`` in an argument list."""
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


# --- external tools ------------------------------------------------------------------------


def tool(name: str, package: str) -> str:
    """The path of a command-line tool the tests call; fails saying how to install it."""
    found = shutil.which(name)
    assert found is not None, (
        f"{name} is not installed; the deployment tests need it: "
        f"apt-get install {package}")
    return found


def run_driftd(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m driftd ARGS`` with no DRIFTD_* variable of this shell leaking in."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTD_")}
    return subprocess.run([sys.executable, "-m", "driftd", *args], capture_output=True, text=True,
                          cwd=REPO, env=environ, timeout=120, check=False)


def without_header(text: str) -> str:
    """``text`` without its leading comment lines (the generator's header)."""
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)
