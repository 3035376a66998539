"""The files driftd ships beside its code: dashboards, alert rules, example configs.

They live at the top of the repository (``grafana/``, ``deploy/prometheus/``,
``config/``), which stays their one source. A wheel carries a copy made at build time
(``setup.py``) under ``driftd/_assets/``, with the same relative paths; an editable
install (or a checkout on ``sys.path``) reads them from the repository itself.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

# What the wheel and the sdist carry, as globs relative to the repository root. setup.py
# reads this tuple (by path, without importing driftd) to make the wheel's copy.
BUNDLED = (
    "grafana/dashboards/*.json",
    "grafana/provisioning/*/*.yaml",
    "deploy/prometheus/*.rules.yml",
    "config/*.yaml",
    "config/*.yml",
)

DASHBOARDS = "grafana/dashboards"
PROVISIONING = "grafana/provisioning"
RULES = "deploy/prometheus/driftd.rules.yml"
EXAMPLE_CONFIGS = {"driftd": "config/driftd.example.yaml",
                   "backtest": "config/backtest.example.yaml",
                   "web": "config/web-config.example.yml"}


class AssetsNotFound(RuntimeError):
    """Neither an installed copy nor a repository checkout holds driftd's files."""


def root() -> Traversable:
    """Where the shipped files are: the installed copy, else the checkout driftd runs from."""
    installed = files("driftd") / "_assets"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parents[2]  # src/driftd/assets.py -> repository
    if (checkout / "pyproject.toml").is_file() and (checkout / DASHBOARDS).is_dir():
        return checkout
    raise AssetsNotFound(
        f"driftd's dashboards, rules and example configs are neither installed "
        f"({installed}) nor in a checkout at {checkout}: reinstall driftd")


def asset(relative: str) -> Traversable:
    """One shipped file or folder by its path in the repository (``config/...``)."""
    node = root()
    for part in relative.split("/"):
        node = node / part
    return node


def dashboards() -> list[Traversable]:
    """The Grafana dashboards (JSON), sorted by file name."""
    return sorted((f for f in asset(DASHBOARDS).iterdir() if f.name.endswith(".json")),
                  key=lambda f: f.name)


def provisioning() -> dict[str, Traversable]:
    """Grafana's provisioning files by their path under ``provisioning/``."""
    found: dict[str, Traversable] = {}
    for kind in asset(PROVISIONING).iterdir():
        if kind.is_dir():
            for item in kind.iterdir():
                if item.name.endswith(".yaml"):
                    found[f"{kind.name}/{item.name}"] = item
    return dict(sorted(found.items()))


def export(items: dict[str, Traversable], directory: Path) -> list[Path]:
    """Copy ``items`` (relative name -> file) into ``directory`` byte for byte."""
    written = []
    for name, item in items.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.read_bytes())
        written.append(target)
    return written
