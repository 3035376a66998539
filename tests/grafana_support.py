"""Reading driftd's Grafana dashboards in tests: their queries, variables and substitution.

>>> substitute('rate(x{model="$model"}[$__rate_interval])', {"model": "fraud"})
'rate(x{model="fraud"}[1m])'
>>> substitute("max_over_time(x{window=~'${window}'}[$__range])", {"window": "1h", "__range": "2h"})
"max_over_time(x{window=~'1h'}[2h])"
>>> parse_label_values('label_values(driftd_psi{model="$model"}, column)')
('driftd_psi{model="$model"}', 'column')
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# Values of Grafana's built-in variables unless the caller gives its own (key without $).
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
# $name, ${name} and ${name:format} (the format is ignored: values are used as given).
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),\s*)?(\w+)\)\s*$", re.DOTALL)


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """``expr`` with dashboard variables replaced, as Grafana would for single values.

    ``variables`` maps names without ``$`` (``{"model": "fraud", "window": "1h"}``) and may
    override the built-ins (``{"__rate_interval": "30s"}``). An unknown variable raises
    ``KeyError``, so a query can never reach Prometheus with a ``$`` left in it.
    """
    values = {**BUILTINS, **variables}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for dashboard variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def dashboard_queries(path: str | Path) -> list[tuple[str, str]]:
    """(panel title, expr) of every target of every panel, rows' nested panels included."""
    return [(panel.get("title", ""), target.get("expr", ""))
            for panel in _panels(_load(path)["panels"])
            for target in panel.get("targets", [])]


def variable_queries(path: str | Path) -> list[tuple[str, str]]:
    """(variable name, query) of every query variable, e.g. ``label_values(m, model)``."""
    result = []
    for variable in _load(path)["templating"]["list"]:
        if variable.get("type") == "query":
            query = variable["query"]
            result.append((variable["name"],
                           query["query"] if isinstance(query, dict) else query))
    return result


def parse_label_values(query: str) -> tuple[str, str]:
    """(series selector, label) of ``label_values(selector, label)``; the selector is ""
    for ``label_values(label)``."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        raise ValueError(f"not a label_values(...) query: {query!r}")
    return (match.group(1) or "").strip(), match.group(2)


def _load(path: str | Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return document


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        if panel.get("type") != "row":
            yield panel
        # A collapsed row keeps its panels inside it.
        yield from _panels(panel.get("panels", []))
