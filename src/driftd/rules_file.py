"""Rule groups (``driftd.rules``) rendered as a Prometheus rules file or a
prometheus-operator ``PrometheusRule`` manifest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from driftd.rules import Group


class _Dumper(yaml.SafeDumper):
    """Block style, no line folding, keys in insertion order."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1_000_000,
                     allow_unicode=True)


def render_rules(groups: Sequence[Group], *, header: str) -> str:
    """A Prometheus rules file (``rule_files:``) with ``header`` as its comment."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + _dump({"groups": list(groups)})


def render_prometheus_rule(groups: Sequence[Group], *, name: str, header: str,
                           labels: dict[str, str] | None = None) -> str:
    """The same groups as a prometheus-operator ``PrometheusRule`` manifest."""
    metadata: dict[str, Any] = {"name": name,
                                "labels": {"app.kubernetes.io/name": "driftd",
                                           **(labels or {})}}
    document = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": metadata, "spec": {"groups": list(groups)}}
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + _dump(document)
