"""The Grafana dashboards, checked statically: generated, complete, and querying only
series that driftd or its recording rules produce.

The queries themselves run against a real Prometheus in the end-to-end tests; these
checks need no server.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import promql_names
from grafana_support import (
    dashboard_queries,
    parse_label_values,
    substitute,
    variable_queries,
)
from promql_names import metric_names

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DASHBOARDS = {"driftd-fleet": ("model", "window"),
              "driftd-model": ("model", "window", "column"),
              "driftd-column": ("model", "window", "column")}
PATHS = [GRAFANA / "dashboards" / f"{uid}.json" for uid in DASHBOARDS]
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
VALUES = {"model": "fraud", "window": "1h", "column": "amount"}


def _load_generator() -> ModuleType:
    # scripts/ is not a package: load the generator by path.
    path = REPO / "scripts" / "build_dashboards.py"
    spec = importlib.util.spec_from_file_location("build_dashboards", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_dashboards", module)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, with the nested panels of collapsed rows, rows included."""
    found = []
    for panel in dashboard["panels"]:
        found += [panel, *panel.get("panels", [])]
    return found


@pytest.fixture(scope="module")
def known_metrics() -> set[str]:
    return promql_names.known_metrics()


def test_committed_dashboards_equal_the_generator_output() -> None:
    """Steps: render every dashboard with scripts/build_dashboards.py.
    Expected: exactly the three committed files, byte for byte; --check agrees."""
    rendered = generator.render()
    assert sorted(rendered) == sorted(PATHS)
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run python scripts/build_dashboards.py")
    assert generator.main(["--check"]) == 0


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_dashboard_has_its_uid_variables_and_datasource(path: Path) -> None:
    """Expected: the uid is the file's name; $datasource (Prometheus, default the
    provisioned uid) comes first, then the dashboard's label_values variables, each on a
    metric driftd exports and the datasource variable."""
    dashboard = load(path)
    assert dashboard["uid"] == path.stem and dashboard["schemaVersion"] >= 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert list(variables) == ["datasource", *DASHBOARDS[path.stem]]
    datasource = variables["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    assert datasource["current"]["value"] == generator.DATASOURCE_UID
    for name, query in variable_queries(path):
        selector, label = parse_label_values(query)
        assert label == name and variables[name]["datasource"] == DATASOURCE
        assert metric_names(selector) <= promql_names.exported_metrics(), (name, query)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_every_panel_queries_the_datasource_variable(path: Path) -> None:
    """Expected: every panel (rows aside) has at least one target, each with a non-empty
    expr, a refId unique in the panel and the $datasource datasource; ids are unique and
    panels fit the 24-column grid."""
    dashboard = load(path)
    found = panels(dashboard)
    assert len({p["id"] for p in found}) == len(found)
    for panel in (p for p in found if p["type"] != "row"):
        targets = panel["targets"]
        assert targets, panel["title"]
        assert all(t["expr"].strip() for t in targets), panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]
        assert panel["datasource"] == DATASOURCE
        assert all(t["datasource"] == DATASOURCE for t in targets), panel["title"]
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_every_query_names_only_series_driftd_or_its_rules_produce(
        path: Path, known_metrics: set[str]) -> None:
    """Expected: each metric an expr selects is exported by driftd, recorded by the rules
    of `driftd rules generate`, or Prometheus' `up`; no variable is left unreplaced."""
    queries = dashboard_queries(path)
    assert len(queries) >= 10
    for title, expr in queries:
        names = metric_names(expr)
        assert names, (title, expr)
        assert names <= known_metrics, (title, sorted(names - known_metrics))
        assert "$" not in substitute(expr, VALUES), (title, expr)


def test_dashboards_link_to_each_other() -> None:
    """Expected: each dashboard links to the two others by uid."""
    for path in PATHS:
        urls = [link["url"] for link in load(path)["links"]]
        others = sorted(uid for uid in DASHBOARDS if uid != path.stem)
        assert sorted(re.sub(r"^/d/([\w-]+)/.*$", r"\1", url) for url in urls) == others


def test_provisioning_matches_the_dashboards() -> None:
    """Expected: the provisioned Prometheus has the uid the dashboards default to; the
    file provider reads the directory the README tells to mount grafana/dashboards at."""
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "driftd.yaml").read_text())
    (prometheus,) = datasources["datasources"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["uid"] == generator.DATASOURCE_UID
    assert prometheus["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "driftd.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/driftd"
    readme = (GRAFANA / "README.md").read_text()
    for text in ("provisioning/datasources/driftd.yaml", "provisioning/dashboards/driftd.yaml",
                 "/var/lib/grafana/dashboards/driftd", "python scripts/build_dashboards.py"):
        assert text in readme


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (model) (rate(driftd_events_total{model=~"$model"}[$__rate_interval]))',
     {"driftd_events_total"}),
    ("histogram_quantile(0.9, sum by (le) (rate(driftd_label_delay_seconds_bucket[5m])))",
     {"driftd_label_delay_seconds_bucket"}),
    ("max by (model) (up * on (job, instance) group_right group by (job, model) "
     "(last_over_time(driftd_reference_info[1h])))", {"up", "driftd_reference_info"}),
    ("count(a > bool 0) or vector(1e-3) unless ignoring (column) b offset 5m",
     {"a", "b"}),
    ("max without (test) (driftd:drift_detected:max) and on (job) c{x='by (y)'}",
     {"driftd:drift_detected:max", "c"}),
    ("time() - max(d) / inf", {"d"}),
])
def test_metric_names_skip_functions_labels_keywords_and_durations(
        expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_queries_include_the_panels_of_collapsed_rows(tmp_path: Path) -> None:
    """Steps: a dashboard with a panel, and a collapsed row holding another.
    Expected: both panels' queries, in order, with their titles."""
    dashboard = {"panels": [
        {"type": "stat", "title": "top", "targets": [{"refId": "A", "expr": "a"}]},
        {"type": "row", "title": "row", "collapsed": True, "panels": [
            {"type": "timeseries", "title": "inside",
             "targets": [{"refId": "A", "expr": "b"}, {"refId": "B", "expr": "c"}]}]},
    ], "templating": {"list": []}}
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(dashboard))
    assert dashboard_queries(path) == [("top", "a"), ("inside", "b"), ("inside", "c")]


def test_substitute_replaces_variables_and_builtins() -> None:
    expr = 'rate(x{model="${model}", window="$window"}[$__rate_interval]) and y[$__range]'
    assert substitute(expr, {"model": "m", "window": "1h", "__rate_interval": "30s"}) == (
        'rate(x{model="m", window="1h"}[30s]) and y[1h]')
    with pytest.raises(KeyError, match=r"\$column"):
        substitute('x{column="$column"}', {})
