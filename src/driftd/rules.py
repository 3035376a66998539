"""Prometheus recording and alert rules derived from a config.

The rules follow the config they are generated from: one group of alerts per model
(drift in most windows evaluated over ``drift_for_seconds``, accuracy decay of matured
or well-labelled windows, no events), thresholds of every configured test as
``driftd:test_threshold`` series for dashboards, and daemon alerts whose staleness
limits follow the evaluation and checkpoint intervals. ``driftd rules generate``
renders them (``driftd.rules_file``) as a rules file or a Kubernetes ``PrometheusRule``.

>>> from driftd.service.demo import demo_config
>>> groups = rule_groups(demo_config())
>>> [group["name"] for group in groups]
['driftd.recording', 'driftd.thresholds.demo', 'driftd.alerts.demo', 'driftd.alerts']
>>> alert = next(r for r in groups[2]["rules"] if r.get("alert") == "DriftdFeatureDrift")
>>> "for" in alert, alert["labels"]
(False, {'severity': 'ticket', 'category': 'drift'})
>>> format_duration(90), format_duration(3600), format_duration(0.25)
('90s', '1h', '250ms')
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from driftd.config import (
    AlertsConfig,
    ColumnKind,
    Config,
    KafkaSourceConfig,
    ModelConfig,
    TimeWindowConfig,
)

Rule = dict[str, Any]
Group = dict[str, Any]

# Tests computed for each kind of column (see monitor/evaluate.py).
TESTS_BY_KIND: dict[ColumnKind, tuple[str, ...]] = {
    "numeric": ("psi", "ks", "js", "wasserstein", "missing"),
    "categorical": ("psi", "chi2", "js", "missing"),
}
# Label-free estimates alerted on, by task (regression has none).
ESTIMATED_METRICS = {"binary": ("accuracy", "f1"), "multiclass": ("accuracy", "macro_f1")}
RECORDING_WINDOW = "5m"


def format_duration(seconds: float) -> str:
    """A Prometheus duration for ``seconds`` (whole hours, minutes, seconds or ms)."""
    millis = math.ceil(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis >= size and millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms"


def _quote(value: str) -> str:
    """A PromQL string literal (JSON escaping is a subset PromQL accepts)."""
    return json.dumps(value)


def _selector(name: str, /, **labels: str) -> str:
    inner = ",".join(f"{label}={_quote(value)}" for label, value in labels.items())
    return f"{name}{{{inner}}}"


def rule_groups(config: Config) -> list[Group]:
    """Every rule group for ``config``: recording rules, then per model, then daemon."""
    groups = [_recording_group()]
    for model in config.models:
        thresholds = _threshold_rules(model)
        if thresholds:
            groups.append({"name": f"driftd.thresholds.{model.name}", "rules": thresholds})
        groups.append({"name": f"driftd.alerts.{model.name}",
                       "rules": _model_alerts(model, config.alerts)})
    groups.append({"name": "driftd.alerts", "rules": _daemon_alerts(config)})
    return groups


def _invalid_ratio(matchers: str = "") -> str:
    """Share of rejected events among all events read over 5m, per driftd instance."""
    invalid = f"sum by (job, instance) (rate(driftd_events_invalid_total{matchers}[5m]))"
    accepted = f"sum by (job, instance) (rate(driftd_events_total{matchers}[5m]))"
    return f"{invalid} / ({accepted} + {invalid})"


def _lag(matchers: str = "") -> str:
    return f"sum by (job, instance, topic) (driftd_consumer_lag{matchers})"


def _recording_group() -> Group:
    # For dashboards. Alerts use their own expressions, so that they never read a value
    # of another group's previous evaluation.
    return {"name": "driftd.recording", "rules": [
        {"record": "driftd:drift_detected:max",
         "expr": "max without (test) (driftd_drift_detected)"},
        {"record": f"driftd:events:rate{RECORDING_WINDOW}",
         "expr": "sum by (job, instance, model, stream) (rate(driftd_events_total[5m]))"},
        {"record": f"driftd:events_invalid:rate{RECORDING_WINDOW}",
         "expr": "sum by (job, instance, reason) (rate(driftd_events_invalid_total[5m]))"},
        {"record": f"driftd:events_invalid:ratio_rate{RECORDING_WINDOW}",
         "expr": _invalid_ratio()},
        {"record": "driftd:consumer_lag:sum", "expr": _lag()},
    ]}


def _threshold_rules(model: ModelConfig) -> list[Rule]:
    rules = []
    for column in model.monitored_columns:
        for test in TESTS_BY_KIND[column.kind]:
            settings = model.test_for(column, test)
            if not settings.enabled or settings.decision == "none":
                continue
            value = settings.threshold if settings.decision == "threshold" else settings.alpha
            if value is None:
                continue
            rules.append({"record": "driftd:test_threshold", "expr": f"vector({value!r})",
                          "labels": {"model": model.name, "column": column.name,
                                     "test": test, "decision": settings.decision}})
    return rules


def _alert(name: str, expr: str, *, for_seconds: float, severity: str, category: str,
           summary: str, description: str, runbook_url: str) -> Rule:
    rule: Rule = {"alert": name, "expr": expr}
    if for_seconds > 0:
        rule["for"] = format_duration(for_seconds)
    rule["labels"] = {"severity": severity, "category": category}
    rule["annotations"] = {"summary": summary, "description": description,
                           "runbook_url": f"{runbook_url}#{name.lower()}"}
    return rule


_WHERE = ("in window {{ $labels.window }} against reference {{ $labels.reference }} "
          "(model version {{ $labels.model_version }})")


def _model_alerts(model: ModelConfig, alerts: AlertsConfig) -> list[Rule]:
    overrides = model.alerts
    drift_for = _first(overrides.drift_for_seconds, alerts.drift_for_seconds)
    decay_for = _first(overrides.decay_for_seconds, alerts.decay_for_seconds)
    no_events = _first(overrides.no_events_seconds, alerts.no_events_seconds)
    rules = _drift_alerts(model, alerts, "input", drift_for)
    if any(c.role == "prediction" for c in model.columns):
        rules += _drift_alerts(model, alerts, "prediction", drift_for)
    if model.performance is not None:
        rules += _performance_alerts(model, alerts, decay_for)
    rules.append(_no_events_alert(model, alerts, no_events))
    return rules


_DRIFT = {  # role -> alert name, summary
    "input": ("DriftdFeatureDrift",
              "Input {{ $labels.column }} of model {{ $labels.model }} drifted "
              "({{ $labels.window }})"),
    "prediction": ("DriftdPredictionDrift",
                   "Predictions of model {{ $labels.model }} drifted ({{ $labels.window }})"),
}


def _drift_alerts(model: ModelConfig, alerts: AlertsConfig, role: Literal["input", "prediction"],
                  drift_for: float) -> list[Rule]:
    """Drift held for ``drift_for``, counted in windows rather than scrapes.

    The share of the windows evaluated over the range that drifted, from counters that
    count every window once: windows that closed between two scrapes, or a backlog of
    them closed in one batch, all count (the driftd_drift_detected gauge shows only the
    latest, so it is not alerted on). The range is the hold, so there is no ``for:``: a
    ``for:`` goes by processing time and would keep a backlog of drifted windows, whose
    increase holds for one range only, from ever firing.
    """
    name, summary = _DRIFT[role]
    severity = (alerts.severity.feature_drift if role == "input"
                else alerts.severity.prediction_drift)
    share = alerts.drift_window_share
    rules = []
    for seconds, window in _drift_ranges(model, drift_for):
        span = format_duration(seconds)
        rules.append(_alert(
            name, _drifted_share(model.name, role, span, window) + f" >= {share!r}",
            for_seconds=0, severity=severity, category="drift", summary=summary,
            description=f"The {role} column {{{{ $labels.column }}}} of model "
                        "{{ $labels.model }} drifted in {{ $value | humanizePercentage }} of "
                        f"the windows driftd evaluated over the last {span} (alerting from "
                        f"{share:.0%}), {_WHERE}. Every closed window counts once, also those "
                        "that closed between two scrapes or together after a backlog; the "
                        "driftd_drift_detected gauge shows only the latest window.",
            runbook_url=alerts.runbook_url,
        ))
    return rules


def _drift_ranges(model: ModelConfig, drift_for: float) -> list[tuple[float, str | None]]:
    """(range, window) of the drift alerts: ``drift_for`` (60 s when 0), at least two
    slides of a time window so that the range always holds a window; one rule for all
    windows (window None) when their ranges agree."""
    held = drift_for or 60.0
    ranges = {window.name: max(held, 2 * window.slide_seconds)
              if isinstance(window, TimeWindowConfig) else held for window in model.windows}
    distinct = set(ranges.values())
    if len(distinct) == 1:
        return [(distinct.pop(), None)]
    return [(seconds, window) for window, seconds in ranges.items()]


def _drifted_share(model: str, role: str, span: str, window: str | None) -> str:
    """Per column: windows drifted (by the test flagging most) / windows evaluated over
    ``span``, with the labels of the latest window (model_version, reference, role)."""
    where = {"model": model} | ({"window": window} if window is not None else {})
    drifted = _selector("driftd_windows_drifted_total", **where)
    evaluated = _selector("driftd_windows_evaluated_total", **where)
    latest = _selector("driftd_drift_detected", **where, role=role)
    return (f"(max without (test) (increase({drifted}[{span}])) / on (job, instance, model, "
            f"window) group_left increase({evaluated}[{span}])) * on (job, instance, model, "
            "window, column) group_left (model_version, reference, role) group by (job, "
            f"instance, model, model_version, window, reference, column, role) ({latest})")


def _performance_alerts(model: ModelConfig, alerts: AlertsConfig,
                        decay_for: float) -> list[Rule]:
    performance = model.performance
    assert performance is not None
    name, held = model.name, format_duration(decay_for)
    coverage = alerts.decay_min_coverage
    rules = [_alert(
        "DriftdAccuracyDecay", _decay(name, coverage, regression=performance.task == "regression"),
        for_seconds=decay_for, severity=alerts.severity.accuracy_decay, category="performance",
        summary="{{ $labels.metric }} of model {{ $labels.model }} decayed "
                "({{ $labels.window }})",
        description="The {{ $labels.metric }} of model {{ $labels.model }}, measured on "
                    "joined outcomes, has been worse than its baseline by more than the "
                    f"tolerance (with confidence) for {held} {_WHERE}, in the latest matured "
                    "window (label horizon passed) or in the latest closed one once "
                    f"{coverage:.0%} of its outcomes had joined. "
                    "Current decay: {{ $value | printf \"%.4f\" }}.",
        runbook_url=alerts.runbook_url,
    )]
    if performance.task in ESTIMATED_METRICS:
        parts = []
        for metric in ESTIMATED_METRICS[performance.task]:
            if metric != "accuracy" and metric not in performance.tolerance:
                continue
            tolerance = performance.tolerance.get(metric, alerts.estimated_decay_tolerance)
            baseline = _selector("driftd_performance_baseline", model=name, stage="latest",
                                 metric=metric)
            estimate = _selector("driftd_performance_estimated", model=name, stage="latest",
                                 metric=metric)
            parts.append(f"({baseline} - {estimate}) > {tolerance!r}")
        rules.append(_alert(
            "DriftdEstimatedAccuracyDecay", " or ".join(parts),
            for_seconds=decay_for, severity=alerts.severity.estimated_accuracy_decay,
            category="performance",
            summary="Estimated {{ $labels.metric }} of model {{ $labels.model }} decayed "
                    "({{ $labels.window }})",
            description="The label-free estimate of {{ $labels.metric }} of model "
                        "{{ $labels.model }} has been below its baseline by more than the "
                        f"tolerance for {held} {_WHERE}. Estimated decay: "
                        "{{ $value | printf \"%.4f\" }}. Outcomes may not have arrived yet; "
                        "the estimate assumes calibrated scores.",
            runbook_url=alerts.runbook_url,
        ))
    return rules


def _decay(model: str, coverage: float, *, regression: bool) -> str:
    """Significant decay of the matured window, or of the latest closed one once enough of
    its outcomes joined (early labels can be a biased subset); one series either way.
    A regression model's decay (of mae, rmse) is in the label's units, in its own family."""
    decay = "driftd_performance_error_decay" if regression else "driftd_performance_decay"

    def significant(stage: str) -> str:
        return (f"{_selector(decay, model=model, stage=stage)} and "
                f"{_selector('driftd_performance_decay_detected', model=model, stage=stage)}"
                " == 1")

    covered = _selector("driftd_label_coverage_ratio", model=model, stage="latest")
    return (f"max without (stage) ({significant('matured')} or {significant('latest')} and "
            f"ignoring (metric) {covered} >= {coverage!r})")


def _no_events_alert(model: ModelConfig, alerts: AlertsConfig, silence: float) -> Rule:
    # No increase over `window`, held for the rest of the silence: the alert fires about
    # `silence` after the last prediction (driftd exports the counter at 0 from start).
    window = min(300.0, silence / 2)
    events = _selector("driftd_events_total", model=model.name, stream="predictions")
    return _alert(
        "DriftdNoEvents",
        f"sum by (job, instance, model) (increase({events}[{format_duration(window)}])) == 0",
        for_seconds=silence - window, severity=alerts.severity.no_events, category="pipeline",
        summary="No predictions of model {{ $labels.model }} for "
                f"{format_duration(silence)}",
        description="driftd on {{ $labels.instance }} has accepted no prediction event of "
                    f"model {{{{ $labels.model }}}} for {format_duration(silence)}, so its "
                    "drift statistics are not moving.",
        runbook_url=alerts.runbook_url,
    )


def _daemon_alerts(config: Config) -> list[Rule]:
    alerts = config.alerts
    job = _quote(alerts.job)
    rules = [_stale_alert(
        "DriftdEvaluationStale", "driftd_last_evaluation_timestamp_seconds", job,
        stale=_first(alerts.evaluation_stale_seconds,
                     max(120.0, 5 * config.evaluation.interval_seconds)),
        interval=config.evaluation.interval_seconds, alerts=alerts,
        severity=alerts.severity.evaluation_stale, did="evaluated",
        last="The last drift evaluation of driftd on {{ $labels.instance }} finished",
        impact="every drift metric it exports is stale.",
    )]
    if config.checkpoint.path is not None:
        rules.append(_stale_alert(
            "DriftdCheckpointStale", "driftd_checkpoint_timestamp_seconds", job,
            stale=_first(alerts.checkpoint_stale_seconds,
                         max(300.0, 5 * config.checkpoint.interval_seconds)),
            interval=config.checkpoint.interval_seconds, alerts=alerts,
            severity=alerts.severity.checkpoint_stale, did="checkpointed",
            last="The last checkpoint of driftd on {{ $labels.instance }} was written",
            impact="a restart now would replay more events, and Kafka offsets are not "
                   "being committed.",
        ))
    if any(isinstance(source, KafkaSourceConfig) for source in config.sources):
        lag = _lag(f"{{job={job}}}")
        rules.append(_alert(
            "DriftdConsumerLagGrowing",
            f"{lag} > {alerts.consumer_lag_records} and deriv(({lag})[10m:1m]) > 0",
            for_seconds=alerts.consumer_lag_for_seconds, severity=alerts.severity.consumer_lag,
            category="pipeline",
            summary="driftd falls behind on topic {{ $labels.topic }}",
            description="driftd on {{ $labels.instance }} is {{ $value }} records behind on "
                        f"topic {{{{ $labels.topic }}}}, above {alerts.consumer_lag_records}, "
                        "and the lag has kept growing for "
                        f"{format_duration(alerts.consumer_lag_for_seconds)}.",
            runbook_url=alerts.runbook_url,
        ))
    rules.append(_alert(
        "DriftdInvalidEventsHigh",
        f"{_invalid_ratio(f'{{job={job}}}')} > {alerts.invalid_ratio!r}",
        for_seconds=alerts.invalid_for_seconds, severity=alerts.severity.invalid_events,
        category="pipeline",
        summary="driftd on {{ $labels.instance }} rejects {{ $value | humanizePercentage }} "
                "of events",
        description="Over the last 5m, {{ $value | humanizePercentage }} of the events read "
                    "by driftd on {{ $labels.instance }} were rejected (above "
                    f"{alerts.invalid_ratio:.2%}); see driftd_events_invalid_total by "
                    "reason and the dead-letter topic.",
        runbook_url=alerts.runbook_url,
    ))
    rules.append(_alert(
        "DriftdConfigReloadFailed",
        f"driftd_config_last_reload_successful{{job={job}}} == 0",
        for_seconds=alerts.reload_failed_for_seconds,
        severity=alerts.severity.config_reload_failed, category="pipeline",
        summary="driftd on {{ $labels.instance }} failed to reload its config",
        description="The last config reload of driftd on {{ $labels.instance }} (SIGHUP or "
                    "POST /-/reload) failed: it still runs the config it had before, and "
                    "the change is not applied. Its log names each problem.",
        runbook_url=alerts.runbook_url,
    ))
    rules.append(_alert(
        "DriftdDown",
        f"up{{job={job}}} == 0 or absent(up{{job={job}}})",
        for_seconds=alerts.down_for_seconds, severity=alerts.severity.driftd_down,
        category="availability",
        summary="driftd is down ({{ $labels.instance }})",
        description="Prometheus cannot scrape driftd (job {{ $labels.job }}, instance "
                    "{{ $labels.instance }}): no drift, decay or pipeline alert can fire "
                    "while it is down.",
        runbook_url=alerts.runbook_url,
    ))
    return rules


def _stale_alert(name: str, metric: str, job: str, *, stale: float, interval: float,
                 alerts: AlertsConfig, severity: str, did: str, last: str,
                 impact: str) -> Rule:
    """An alert on a timestamp gauge that stopped moving for ``stale`` seconds."""
    return _alert(
        name, f"time() - {metric}{{job={job}}} > {stale:g}",
        for_seconds=0, severity=severity, category="pipeline",
        summary=f"driftd on {{{{ $labels.instance }}}} has not {did} for "
                f"{format_duration(stale)}",
        description=f"{last} {{{{ $value | humanizeDuration }}}} ago (interval "
                    f"{format_duration(interval)}): {impact}",
        runbook_url=alerts.runbook_url,
    )


def _first(value: float | None, default: float) -> float:
    return default if value is None else value
