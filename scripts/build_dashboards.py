#!/usr/bin/env python3
"""Generate driftd's Grafana dashboards (fleet, one model, one column) as JSON.

    python scripts/build_dashboards.py          # write grafana/dashboards/*.json
    python scripts/build_dashboards.py --check  # exit 1 if a committed file differs

Stdlib only. Every panel queries the ``$datasource`` variable, whose default is the
provisioned Prometheus (uid ``driftd-prometheus``). Queries use raw driftd metrics, so
the dashboards work before the recording rules are loaded; only the threshold and alpha
lines need ``driftd:test_threshold`` (``driftd rules generate``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import string
import sys
from pathlib import Path
from typing import Any

Json = dict[str, Any]

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "grafana" / "dashboards"
DATASOURCE_UID = "driftd-prometheus"  # grafana/provisioning/datasources/driftd.yaml
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
INTERVAL = "$__interval"
# Performance series by stage: the latest closed window (revised as labels arrive), or
# the latest matured one (label horizon passed: final).
LATEST, MATURED = 'stage="latest"', 'stage="matured"'
# Instances that served a model in the last hour, one series per (job, instance, model):
# joins instance-level values (up, lag, staleness) to models, and still lists a model
# whose instance is down (up = 0) after its own series have gone stale.
SERVED = ('group by (job, instance, model) '
          '(last_over_time(driftd_reference_info{model=~"$model"}[1h]))')
LIMIT_STYLE = [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
               {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]
GREEN_RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


# --- building blocks -----------------------------------------------------------------------

def query(expr: str, legend: str = "", *, instant: bool = False) -> Json:
    """A Prometheus target; refIds are assigned by the panel."""
    target: Json = {"datasource": DS, "editorMode": "code", "expr": expr,
                    "legendFormat": legend or "__auto", "range": not instant,
                    "instant": instant}
    if instant:
        target["format"] = "table"
    return target


def panel(kind: str, title: str, targets: list[Json], *, description: str, w: int, h: int,
          unit: str = "short", options: Json | None = None,
          overrides: list[Json] | None = None, **defaults: Any) -> Json:
    """A panel of ``kind`` sized w x h; positions and ids are set by ``lay_out``."""
    for ref, target in zip(string.ascii_uppercase, targets, strict=False):
        target["refId"] = ref
    field: Json = {"unit": unit, **defaults}
    return {"type": kind, "title": title, "description": description, "datasource": DS,
            "gridPos": {"h": h, "w": w}, "targets": targets,
            "fieldConfig": {"defaults": field, "overrides": overrides or []},
            "options": options or {}}


def timeseries(title: str, *targets: Json, description: str, unit: str = "short",
               limits: str = "", dashed: str = "", w: int = 12, h: int = 8,
               **defaults: Any) -> Json:
    """A time series; targets whose refIds are in ``limits`` (thresholds) draw dashed red
    lines, those in ``dashed`` (baselines, bounds) dashed lines of their own colour."""
    overrides = [{"matcher": {"id": "byFrameRefID", "options": ref},
                  "properties": LIMIT_STYLE if ref in limits else LIMIT_STYLE[:1]}
                 for ref in limits + dashed]
    return panel("timeseries", title, list(targets), description=description, w=w, h=h,
                 unit=unit, overrides=overrides,
                 options={"legend": {"displayMode": "list", "placement": "bottom",
                                     "showLegend": True},
                          "tooltip": {"mode": "multi", "sort": "desc"}}, **defaults)


def stat(title: str, target: Json, *, description: str, unit: str = "short",
         steps: list[Json] | None = None, text_mode: str = "value", w: int = 4,
         h: int = 4, **defaults: Any) -> Json:
    """The last value of one query, coloured by ``steps`` (thresholds)."""
    thresholds = {"mode": "absolute", "steps": steps or [{"color": "blue", "value": None}]}
    return panel("stat", title, [target], description=description, w=w, h=h, unit=unit,
                 thresholds=thresholds,
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                            "values": False},
                          "colorMode": "value", "graphMode": "none", "textMode": text_mode},
                 **defaults)


def state_timeline(title: str, target: Json, *, description: str, steps: list[Json],
                   mappings: list[Json] | None = None, unit: str = "short") -> Json:
    """One lane per series (column or test), coloured by value: a heatmap over time."""
    return panel("state-timeline", title, [target], description=description, w=24, h=8,
                 unit=unit, thresholds={"mode": "absolute", "steps": steps},
                 color={"mode": "thresholds"}, mappings=mappings or [],
                 options={"showValue": "never", "mergeValues": False, "rowHeight": 0.9,
                          "legend": {"displayMode": "list", "placement": "bottom",
                                     "showLegend": True}})


def table(title: str, columns: list[tuple[str, str, str]], *, description: str,
          links: list[Json] | None = None, hide: tuple[str, ...] = (), sort_by: str = "",
          w: int = 24, h: int = 8) -> Json:
    """Instant queries (header, expr, unit) merged into one row per label set."""
    targets = [query(expr, instant=True) for _, expr, _ in columns]
    many = len(columns) > 1
    values = {f"Value #{ref}" if many else "Value": header
              for ref, (header, _, _) in zip(string.ascii_uppercase, columns, strict=False)}
    excluded = {"Time": True} | {name: True for name, header in values.items()
                                 if header in hide}
    transformations = ([{"id": "merge", "options": {}}] if many else []) + [
        {"id": "organize", "options": {"excludeByName": excluded, "renameByName": values}}]
    overrides = [{"matcher": {"id": "byName", "options": header},
                  "properties": [{"id": "unit", "value": unit}]}
                 for header, _, unit in columns if header not in hide]
    overrides += [{"matcher": {"id": "byName", "options": link["field"]},
                   "properties": [{"id": "links", "value": [{"title": link["title"],
                                                             "url": link["url"]}]}]}
                  for link in links or []]
    result = panel("table", title, targets, description=description, w=w, h=h,
                   overrides=overrides,
                   options={"showHeader": True, "cellHeight": "sm",
                            "sortBy": [{"displayName": sort_by, "desc": True}] if sort_by
                            else []})
    result["transformations"] = transformations
    return result


def lay_out(sections: list[tuple[str, list[Json]]], collapsed: tuple[str, ...] = ()) -> list[Json]:
    """Rows of panels placed left to right, wrapping at 24 columns; ids from 1."""
    out: list[Json] = []
    ids, y = itertools.count(1), 0
    for title, panels in sections:
        row: Json = {"type": "row", "title": title, "id": next(ids), "panels": [],
                     "collapsed": title in collapsed, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}}
        out.append(row)
        x, y, height = 0, y + 1, 0
        for item in panels:
            pos = item["gridPos"]
            if x + pos["w"] > 24:
                x, y, height = 0, y + height, 0
            pos.update(x=x, y=y)
            item["id"] = next(ids)
            x, height = x + pos["w"], max(height, pos["h"])
            (row["panels"] if row["collapsed"] else out).append(item)
        y += height
    return out


def one_model_variables(*, columns_multi: bool) -> list[Json]:
    """$model and $window (single), then $column, of the model and column dashboards."""
    return [variable("model", "Model", "label_values(driftd_window_events, model)"),
            variable("window", "Window",
                     'label_values(driftd_window_events{model="$model"}, window)'),
            variable("column", "Column", 'label_values(driftd_psi{model="$model"}, column)',
                     multi=columns_multi)]


def variable(name: str, label: str, definition: str, *, multi: bool = False) -> Json:
    """A query variable filled by ``label_values(...)``, refreshed with the time range.
    A multi-value one defaults to All, sent as ``.*`` (its matchers are regexes)."""
    current = {"text": "All", "value": "$__all"} if multi else {}
    extra = {"allValue": ".*"} if multi else {}
    return {"name": name, "label": label, "type": "query", "datasource": DS, **extra,
            "definition": definition,
            "query": {"query": definition, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2, "sort": 1, "multi": multi, "includeAll": multi, "current": current,
            "options": [], "regex": "", "hide": 0}


def datasource_variable() -> Json:
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {"text": "Prometheus (driftd)",
                                               "value": DATASOURCE_UID},
            "options": [], "regex": "", "refresh": 1, "hide": 0}


def link(title: str, uid: str, *, include_vars: bool) -> Json:
    return {"title": title, "type": "link", "url": f"/d/{uid}/{uid}", "icon": "dashboard",
            "includeVars": include_vars, "keepTime": True, "targetBlank": False,
            "asDropdown": False, "tags": [], "tooltip": ""}


def dashboard(uid: str, title: str, description: str, variables: list[Json],
              panels: list[Json], links: list[Json]) -> Json:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["driftd"],
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1, "id": None,
        "time": {"from": "now-6h", "to": "now"}, "timepicker": {}, "timezone": "",
        "refresh": "1m", "fiscalYearStartMonth": 0, "weekStart": "", "liveNow": False,
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": links, "panels": panels,
        "templating": {"list": [datasource_variable(), *variables]},
    }


def per_interval(item: Json) -> Json:
    """``item`` drawn as bars, one per ``$__interval`` of at least a minute: for
    ``increase(...[$__interval])`` queries (counts per interval that tile the range)."""
    item["interval"] = "1m"
    item["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "bars", "fillOpacity": 60,
                                                 "stacking": {"mode": "none"}}
    return item


def or_zero(expr: str, like: str) -> str:
    """``expr``, or 0 for each series of ``like`` when ``expr`` has none (a counter that
    only appears after its first increment)."""
    return f"({expr} or 0 * {like})"


# --- fleet ---------------------------------------------------------------------------------

# Fleet selectors: $model and $window are multi-value there (regex matchers).
FLEET_M, FLEET_MW = 'model=~"$model"', 'model=~"$model", window=~"$window"'
FLEET_LATEST, FLEET_MATURED = f"{FLEET_MW}, {LATEST}", f"{FLEET_MW}, {MATURED}"
EVENTS_RATE = f"rate(driftd_events_total{{{FLEET_M}}}[{RATE}])"
ACCEPTED = f"sum by (job, instance) (rate(driftd_events_total[{RATE}]))"
INVALID = or_zero(f"sum by (job, instance) (rate(driftd_events_invalid_total[{RATE}]))",
                  ACCEPTED)
EVALUATION_AGE = "(time() - driftd_last_evaluation_timestamp_seconds)"


def per_model(instance_expr: str, how: str = "max") -> str:
    """An instance-level value (one series per job, instance) for each model it serves."""
    return f"{how} by (model) ({instance_expr} * on (job, instance) group_right {SERVED})"


def fleet_now() -> list[Json]:
    mw = FLEET_MW
    instances = "(up and on (job, instance) last_over_time(driftd_build_info[1h]))"
    return [
        stat("Models drifting", query(
            f"count(max by (model) (driftd_model_drift_columns{{{mw}}}) > 0) or vector(0)"),
            description="Models with at least one drifting column in a selected window.",
            steps=GREEN_RED),
        stat("Columns drifting", query(
            f"count(max by (model, column) (driftd_drift_detected{{{mw}}}) == 1) or vector(0)"),
            description="(model, column) pairs flagged by at least one test in a selected "
                        "window.", steps=GREEN_RED),
        stat("Performance decays", query(
            f"sum(driftd_performance_decay_detected{{{FLEET_MATURED}}}) or vector(0)"),
            description="(model, window, metric) whose latest matured window (all its "
                        "labels in) has its whole decay confidence interval beyond the "
                        "tolerated decay.", steps=GREEN_RED),
        stat("Events/s", query(f"sum({EVENTS_RATE})"), unit="cps",
             description="Events accepted per second by the selected models, all streams."),
        stat("Invalid events", query(
            f"sum({INVALID}) / (sum({ACCEPTED}) + sum({INVALID}))"), unit="percentunit",
            description="Share of the events read by driftd that failed validation "
                        "(see driftd_events_invalid_total by reason).",
            steps=[{"color": "green", "value": None}, {"color": "orange", "value": 0.01},
                   {"color": "red", "value": 0.05}]),
        stat("Instances down", query(f"count({instances} == 0) or vector(0)"),
             description="driftd instances seen in the last hour that Prometheus cannot "
                         "scrape now.", steps=GREEN_RED),
    ]


def fleet_models() -> Json:
    m, mw = FLEET_M, FLEET_MW
    to_model = "/d/driftd-model/driftd-model?var-model=${__value.raw}&${__url_time_range}"
    return table("Models", [
        ("Drifting columns", f"max by (model) (driftd_model_drift_columns{{{mw}}})", "short"),
        ("Firing decisions", f"sum by (model) (driftd_drift_detected{{{mw}}})", "short"),
        ("Events/s", f"sum by (model) ({EVENTS_RATE})", "cps"),
        ("Invalid ratio", per_model(f"({INVALID} / ({ACCEPTED} + {INVALID}))"),
         "percentunit"),
        ("Accuracy",
         f'min by (model) (driftd_performance{{{FLEET_LATEST}, metric="accuracy"}})',
         "percentunit"),
        ("Accuracy baseline",
         f'max by (model) (driftd_performance_baseline{{{FLEET_LATEST}, metric="accuracy"}})',
         "percentunit"),
        ("Last evaluation", per_model(EVALUATION_AGE), "s"),
        ("Consumer lag", per_model("sum by (job, instance) (driftd_consumer_lag)"), "short"),
        ("Up", per_model("up", "min"), "short"),
        ("Reference info", f"max by (model, reference) (driftd_reference_info{{{m}}})", ""),
    ], hide=("Reference info",), sort_by="Drifting columns", h=9,
        links=[{"field": "model", "title": "Model dashboard", "url": to_model}],
        description="One row per model: drift and performance in the selected windows (worst "
                    "window), and the health of the driftd instance serving it (invalid "
                    "ratio, seconds since the last evaluation, consumer lag, up). Reference "
                    "is the profile version the model is compared against.")


def fleet_trends() -> list[Json]:
    mw = FLEET_MW
    return [
        timeseries("Drifting columns by model", query(
            f"max by (model) (driftd_model_drift_columns{{{mw}}})", "{{model}}"),
            description="Columns flagged by at least one test (worst selected window)."),
        timeseries("Accuracy by model", query(
            f'min by (model) (driftd_performance{{{FLEET_LATEST}, metric="accuracy"}})',
            "{{model}}"),
            query(f'max by (model) (driftd_performance_baseline{{{FLEET_LATEST}, '
                  'metric="accuracy"})', "{{model}} baseline"), dashed="B",
            unit="percentunit",
            description="Accuracy on joined outcomes in the latest closed window (worst "
                        "selected time window; it fills in as labels arrive) and its "
                        "baseline (dashed)."),
        per_interval(timeseries("Windows evaluated and drifted by model and column", query(
            f"sum by (model) (increase(driftd_windows_evaluated_total{{{mw}}}[{INTERVAL}]))",
            "{{model}} evaluated"),
            query(f"sum by (model, column) (max without (test) (increase("
                  f"driftd_windows_drifted_total{{{mw}}}[{INTERVAL}])))",
                  "{{model}} {{column}} drifted"), w=24,
            description="Windows closed and evaluated in each interval (selected windows "
                        "summed), and in how many of them each column drifted (by the test "
                        "flagging it most). Every window counts once, also those that "
                        "closed between two scrapes, which the drift gauges (latest window "
                        "only) cannot show; the drift alerts use these counters.")),
        timeseries("Events/s by model and stream", query(
            f"sum by (model, stream) ({EVENTS_RATE})", "{{model}} {{stream}}"), unit="cps",
            description="Events accepted per second."),
        timeseries("Invalid events/s by reason", query(
            f"sum by (reason) (rate(driftd_events_invalid_total[{RATE}]))", "{{reason}}"),
            unit="cps", description="Events rejected by validation, by reason."),
        timeseries("Consumer lag by topic", query(
            "sum by (topic) (driftd_consumer_lag)", "{{topic}}"),
            description="Records not yet processed by driftd, summed over partitions."),
        timeseries("Evaluation and checkpoint age", query(
            f"max by (instance) {EVALUATION_AGE}", "evaluation {{instance}}"),
            query("max by (instance) (time() - driftd_checkpoint_timestamp_seconds)",
                  "checkpoint {{instance}}"), unit="s",
            description="Seconds since the last evaluation and the last checkpoint."),
    ]


def fleet() -> Json:
    return dashboard(
        "driftd-fleet", "driftd / Fleet",
        "Every monitored model at a glance: drift, performance and pipeline health.",
        [variable("model", "Model", "label_values(driftd_window_events, model)", multi=True),
         variable("window", "Window", 'label_values(driftd_window_events{model=~"$model"}, '
                  "window)", multi=True)],
        lay_out([("Now", fleet_now()), ("Models", [fleet_models()]),
                 ("Trends", fleet_trends())]),
        [link("Model", "driftd-model", include_vars=False),
         link("Column", "driftd-column", include_vars=False)])


# --- one model -----------------------------------------------------------------------------

M = 'model="$model"'
MW = f'{M}, window="$window"'
MW_LATEST, MW_MATURED = f"{MW}, {LATEST}", f"{MW}, {MATURED}"
MWC = f'{MW}, column=~"$column"'  # $column is multi-value on the model dashboard
# Instance-level series (invalid events, lag) of the instances serving the model.
SERVING = f"on (job, instance) driftd_reference_info{{{M}}}"
DRIFT_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "ok", "color": "green", "index": 0},
    "1": {"text": "drift", "color": "red", "index": 1}}}]
UNDECIDED_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "decided", "color": "green", "index": 0},
    "1": {"text": "undecided", "color": "orange", "index": 1}}}]


def model_now() -> list[Json]:
    return [
        stat("Columns drifting", query(f"max(driftd_model_drift_columns{{{MW}}})"),
             description="Columns flagged by at least one test in the window.",
             steps=GREEN_RED),
        stat("Firing decisions", query(f"sum(driftd_drift_detected{{{MW}}})"),
             description="(column, test) pairs flagging drift in the window.", steps=GREEN_RED),
        stat("Window events", query(f"max(driftd_window_events{{{MW}}})"),
             description="Events in the evaluated window."),
        stat("Events/s", query(f"sum(rate(driftd_events_total{{{M}}}[{RATE}]))"), unit="cps",
             description="Events of the model accepted per second, all streams."),
        stat("Accuracy", query(f'min(driftd_performance{{{MW_LATEST}, metric="accuracy"}})'),
             unit="percentunit",
             description="Accuracy on joined outcomes in the latest closed window (time "
                         "windows; it fills in as labels arrive)."),
        stat("Reference", query(f"max by (reference) (driftd_reference_info{{{M}}})",
                                "{{reference}}"), text_mode="name",
             description="Version (SHA-256) of the reference profile the model is compared "
                         "against."),
    ]


def model_drift() -> list[Json]:
    to_column = ("/d/driftd-column/driftd-column?var-model=$model&var-window=$window"
                 "&var-column=${__value.raw}&${__url_time_range}")

    def limit(test: str, decision: str, legend: str) -> Json:
        return query(f'driftd:test_threshold{{{M}, column=~"$column", test="{test}", '
                     f'decision="{decision}"}}', legend)

    return [
        state_timeline("Drift by column", query(
            f"max by (column) (driftd_drift_detected{{{MWC}}})", "{{column}}"),
            steps=GREEN_RED, mappings=DRIFT_MAPPINGS,
            description="Red while at least one test flags the column (the raw form of the "
                        "driftd:drift_detected:max recording rule)."),
        state_timeline("PSI by column", query(
            f"max by (column) (driftd_psi{{{MWC}}})", "{{column}}"),
            steps=[{"color": "green", "value": None}, {"color": "yellow", "value": 0.1},
                   {"color": "red", "value": 0.2}],
            description="Population stability index over time: green < 0.1, yellow < 0.2, "
                        "red above (rules of thumb; decisions use each column's configured "
                        "threshold)."),
        table("Top drifting columns", [(
            "PSI", f"topk(10, max by (column, role) (driftd_psi{{{MW}}}))", "short")],
            sort_by="PSI", w=8, h=8,
            links=[{"field": "column", "title": "Column dashboard", "url": to_column}],
            description="The 10 columns with the highest PSI in the window now."),
        timeseries("PSI", query(f"driftd_psi{{{MWC}}}", "{{column}}"),
                   limit("psi", "threshold", "{{column}} threshold"), limits="B", w=8,
                   description="PSI per column; dashed: the configured threshold "
                               "(driftd:test_threshold)."),
        timeseries("KS p-value", query(f"driftd_ks_pvalue{{{MWC}}}", "{{column}}"),
                   limit("ks", "pvalue", "{{column}} alpha"), limits="B", w=8, min=0, max=1,
                   description="Kolmogorov-Smirnov p-value per numeric column, before "
                               "correction; dashed: alpha. The KS statistic and the other "
                               "tests are on the column dashboard."),
        per_interval(timeseries("Windows evaluated and drifted", query(
            f"sum(increase(driftd_windows_evaluated_total{{{MW}}}[{INTERVAL}]))", "evaluated"),
            query(f"max by (column) (increase(driftd_windows_drifted_total{{{MWC}}}"
                  f"[{INTERVAL}]))", "{{column}} drifted"), w=24,
            description="Windows closed and evaluated in each interval, and in how many of "
                        "them each column drifted (by the test flagging it most). Every "
                        "window counts once, also those that closed between two scrapes, "
                        "which the panels above (latest window) cannot show; the drift "
                        "alerts use these counters.")),
    ]


def scores_or_errors(family: str, selector: str) -> str:
    """A performance family's unitless series or its regression-error twin in the label's
    units (``family`` has ``{}`` where ``_error`` goes): a model has one kind or the other.

    >>> scores_or_errors("driftd_performance{}_decay", 'stage="latest"')
    'driftd_performance_decay{stage="latest"} or driftd_performance_error_decay{stage="latest"}'
    """
    return (f"{family.format('')}{{{selector}}} or "
            f"{family.format('_error')}{{{selector}}}")


def model_performance() -> list[Json]:
    latest, matured = MW_LATEST, MW_MATURED
    coverage_axis = [{"matcher": {"id": "byFrameRefID", "options": "C"},
                      "properties": [{"id": "unit", "value": "percentunit"},
                                     {"id": "custom.axisPlacement", "value": "right"},
                                     {"id": "min", "value": 0}, {"id": "max", "value": 1}]}]
    final = timeseries("Matured performance", query(
        scores_or_errors("driftd_performance{}", matured), "{{metric}}"),
        query(scores_or_errors("driftd_performance{}_baseline", matured), "{{metric}} baseline"),
        query(f"driftd_label_coverage_ratio{{{matured}}}", "label coverage"), dashed="B",
        description="Final performance of the latest matured window (its label horizon "
                    "passed, so no outcome can still change it), its baselines (dashed) and "
                    "its label coverage (right axis). Decay alerts read this window, or the "
                    "latest closed one once enough of its labels are in.")
    final["fieldConfig"]["overrides"] += coverage_axis
    return [
        timeseries("Performance vs baseline", query(
            scores_or_errors("driftd_performance{}", latest), "{{metric}}"),
            query(scores_or_errors("driftd_performance{}_baseline", latest),
                  "{{metric}} baseline"),
            dashed="B", description="Metrics on joined outcomes in the latest closed window "
                                    "(time windows only; revised as its labels arrive) and "
                                    "the baselines (dashed)."),
        final,
        timeseries("Label-free estimate", query(
            f"driftd_performance_estimated{{{latest}}}", "{{metric}} estimated"),
            query(f"driftd_performance_baseline{{{latest}}} and driftd_performance_estimated"
                  f"{{{latest}}}", "{{metric}} baseline"), dashed="B",
            description="Performance estimated from the prediction scores alone (assumes "
                        "calibrated scores), before outcomes arrive; dashed: baseline."),
        timeseries("Decay with confidence interval", query(
            scores_or_errors("driftd_performance{}_decay", latest), "{{metric}} decay"),
            query(scores_or_errors("driftd_performance{}_decay_lower", latest),
                  "{{metric}} lower"),
            query(scores_or_errors("driftd_performance{}_decay_upper", latest),
                  "{{metric}} upper"),
            dashed="BC",
            description="How much worse than the baseline the latest closed window is "
                        "(positive = worse), with its confidence interval; decay is detected "
                        "when the whole interval exceeds the tolerance."),
        timeseries("Label coverage", query(f"driftd_label_coverage_ratio{{{latest}}}",
                                           "latest"),
                   query(f"driftd_label_coverage_ratio{{{matured}}}", "matured"),
                   unit="percentunit", min=0, max=1,
                   description="Share of the window's predictions whose outcome has joined: "
                               "the latest closed window, and the latest matured one."),
        timeseries("Matured window lag", query(
            f"time() - driftd_window_matured_end_timestamp_seconds{{{MW}}}", "matured"),
            query(f"time() - driftd_window_end_timestamp_seconds{{{MW}}}", "latest"),
            unit="s", description="Seconds from the end of the latest matured window, and of "
                                  "the latest closed one, to now: how far final performance "
                                  "lags (about the label horizon)."),
        timeseries("Label delay", *(query(
            f"histogram_quantile({q}, sum by (le) (rate(driftd_label_delay_seconds_bucket"
            f"{{{M}}}[{RATE}])))", f"p{round(q * 100)}") for q in (0.5, 0.9, 0.99)), unit="s",
            description="Time from a prediction's event time to its outcome's, for the "
                        "outcomes joined in each interval (no value while none join)."),
        timeseries("Labels joined and dropped/s", query(
            f"sum(rate(driftd_labels_matched_total{{{M}}}[{RATE}]))", "joined"),
            *(query(or_zero(f"sum(rate(driftd_{name}_total{{{M}}}[{RATE}]))",
                            f"sum(rate(driftd_labels_matched_total{{{M}}}[{RATE}]))"), legend)
              for name, legend in (("outcomes_late", "late (not joined)"),
                                   ("labels_after_horizon", "after the horizon"))),
            unit="cps",
            description="Outcomes joined to their prediction per second, and outcomes left "
                        "out: late for their partition's watermark, or further from their "
                        "prediction than label_ttl_seconds (after) or orphan_ttl_seconds "
                        "(before)."),
    ]


def model_pipeline() -> list[Json]:
    late = or_zero(f"sum by (window) (rate(driftd_events_late_total{{{M}}}[{RATE}]))",
                   f"sum by (window) (driftd_window_events{{{M}}})")
    return [
        timeseries("Events/s by stream", query(
            f"sum by (stream) (rate(driftd_events_total{{{M}}}[{RATE}]))", "{{stream}}"),
            unit="cps", w=8, description="Events of the model accepted per second."),
        timeseries("Invalid events/s by reason", query(
            f"sum by (reason) (rate(driftd_events_invalid_total[{RATE}]) and {SERVING})",
            "{{reason}}"), unit="cps", w=8,
            description="Rejected events of the driftd instances serving the model (invalid "
                        "events have no model)."),
        timeseries("Late events/s", query(late, "{{window}}"), unit="cps", w=8,
                   description="Events that arrived after their time window closed (counted, "
                               "not evaluated)."),
        timeseries("Window events", query(f"driftd_window_events{{{M}}}", "{{window}}"), w=8,
                   description="Events in each evaluated window."),
        timeseries("Consumer lag by topic", query(
            f"sum by (topic) (driftd_consumer_lag and {SERVING})", "{{topic}}"), w=8,
            description="Records not yet processed by the driftd instances serving the "
                        "model."),
        timeseries("Event time lag", query(
            f"time() - max by (stream) (driftd_last_event_timestamp_seconds{{{M}}})",
            "{{stream}}"), unit="s", w=8,
            description="Seconds between now and the event time of the newest accepted "
                        "event, per stream."),
    ]


def model() -> Json:
    return dashboard(
        "driftd-model", "driftd / Model",
        "One model: which columns drift, how much, and whether its performance decays.",
        one_model_variables(columns_multi=True),
        lay_out([("Now", model_now()), ("Drift", model_drift()),
                 ("Performance and labels", model_performance()),
                 ("Pipeline", model_pipeline())], collapsed=("Pipeline",)),
        [link("Fleet", "driftd-fleet", include_vars=False),
         link("Column", "driftd-column", include_vars=True)])


# --- one column ----------------------------------------------------------------------------

C = f'{MW}, column="$column"'


def limit(decision: str, legend: str, test: str = "") -> Json:
    """The column's thresholds or alphas (``driftd rules generate``), optionally one test."""
    tests = f'test=~"{test}", ' if test else ""
    return query(f'driftd:test_threshold{{{M}, column="$column", {tests}'
                 f'decision="{decision}"}}', legend)


def column_now() -> list[Json]:
    return [
        stat("Drift now", query(f"max(driftd_drift_detected{{{C}}})"), steps=GREEN_RED,
             mappings=DRIFT_MAPPINGS,
             description="Whether any test flags the column in the window."),
        stat("PSI", query(f"max(driftd_psi{{{C}}})"), description="PSI in the window now."),
        stat("Missing ratio", query(f"max(driftd_missing_ratio{{{C}}})"), unit="percentunit",
             description="Share of missing values in the window now."),
        stat("Window events", query(f"max(driftd_window_events{{{MW}}})"),
             description="Events in the evaluated window."),
        table("Decision limits", [(
            "Limit", f'max by (test, decision) (driftd:test_threshold{{{M}, column="$column"}})',
            "short")], w=8, h=4,
            description="Each test's threshold (decision: threshold) or alpha (decision: "
                        "pvalue) for this column, from driftd rules generate."),
        state_timeline("Decision per test", query(
            f"max by (test) (driftd_drift_detected{{{C}}})", "{{test}}"),
            steps=GREEN_RED, mappings=DRIFT_MAPPINGS,
            description="Each test's decision after thresholds and multiple-testing "
                        "correction. A threshold test the window was too small for has "
                        "no decision (see Undecided)."),
        state_timeline("Undecided per threshold test", query(
            f"max by (test) (driftd_drift_undecided{{{C}}})", "{{test}}"),
            steps=GREEN_RED, mappings=UNDECIDED_MAPPINGS,
            description="1: the window held too few values for the test's threshold to "
                        "mean anything at the model's false_alarm_rate; not the same as "
                        "no drift."),
        table("Values needed to decide", [(
            "Values", f"max by (test) (driftd_drift_decision_min_events{{{C}}})", "short")],
            w=8, h=4,
            description="How many values of the column a window needs for each threshold "
                        "test to decide (+Inf: the reference is too small for any)."),
    ]


def column_statistics() -> list[Json]:
    return [
        timeseries("PSI", query(f"driftd_psi{{{C}}}", "psi"),
                   limit("threshold", "threshold", "psi"), limits="B", w=8,
                   description="Population stability index; dashed: its threshold."),
        timeseries("Jensen-Shannon distance", query(f"driftd_js_distance{{{C}}}", "js"),
                   limit("threshold", "threshold", "js"), limits="B", w=8, min=0, max=1,
                   description="Jensen-Shannon distance (base 2); dashed: its threshold."),
        timeseries("KS or chi-square statistic", query(
            f"driftd_ks_statistic{{{C}}} or driftd_chi2_statistic{{{C}}}", "{{__name__}}"),
            limit("threshold", "{{test}} threshold", "ks|chi2"), limits="B", w=8,
            description="Kolmogorov-Smirnov statistic (numeric column) or chi-square "
                        "statistic (categorical); dashed: the threshold when the test decides "
                        "by threshold (by default they decide by p-value: next panel)."),
        timeseries("P-values", query(f"driftd_psi_pvalue{{{C}}}", "psi"),
                   query(f"driftd_ks_pvalue{{{C}}} or driftd_chi2_pvalue{{{C}}}",
                         "{{__name__}}"),
                   query(f"driftd_missing_pvalue{{{C}}}", "missing"),
                   limit("pvalue", "{{test}} alpha"), limits="D", w=8, min=0, max=1,
                   description="P-values before correction; dashed: alpha of the tests that "
                               "decide by p-value (decisions use the corrected p-values)."),
        timeseries("Wasserstein distance", query(
            f"driftd_wasserstein_distance{{{C}}}", "wasserstein"),
            limit("threshold", "threshold", "wasserstein"), limits="B", w=8,
            description="Wasserstein-1 distance in the column's units (numeric columns); "
                        "dashed: its threshold if one is configured (none by default)."),
        timeseries("Missing ratio vs reference", query(
            f"driftd_missing_ratio{{{C}}}", "window"),
            query(f"driftd_missing_ratio_reference{{{C}}}", "reference"), dashed="B", w=8,
            unit="percentunit", description="Share of missing values in the window and in "
                                            "the reference (dashed)."),
        timeseries("Missing-rate change", query(
            f"abs(driftd_missing_ratio{{{C}}} - driftd_missing_ratio_reference{{{C}}})",
            "|window - reference|"), limit("threshold", "threshold", "missing"), limits="B",
            unit="percentunit", description="Absolute change of the missing rate, which the "
                                            "missing test compares with its threshold."),
        timeseries("Window events", query(f"driftd_window_events{{{MW}}}", "events"),
                   description="Events in the evaluated window."),
    ]


def column() -> Json:
    return dashboard(
        "driftd-column", "driftd / Column",
        "One column of one model: every statistic against the reference, with its limits.",
        one_model_variables(columns_multi=False),
        lay_out([("Now", column_now()), ("Statistics", column_statistics())]),
        [link("Fleet", "driftd-fleet", include_vars=False),
         link("Model", "driftd-model", include_vars=True)])


# --- files ---------------------------------------------------------------------------------

def render() -> dict[Path, str]:
    """Every dashboard file and its text."""
    return {OUT / f"{board['uid']}.json": json.dumps(board, indent=2) + "\n"
            for board in (fleet(), model(), column())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a committed dashboard differs from the generator")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    for path in stale:
        print(f"{path.relative_to(REPO)} is out of date: run python scripts/build_dashboards.py",
              file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
