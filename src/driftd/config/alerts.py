"""Alert settings: severities and durations of the generated Prometheus rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from driftd.config.base import _Frozen

Severity = Literal["page", "ticket"]


class AlertSeverities(_Frozen):
    """Which alerts page on-call (``page``) and which open a ticket (``ticket``)."""

    feature_drift: Severity = "ticket"
    prediction_drift: Severity = "page"
    accuracy_decay: Severity = "page"
    estimated_accuracy_decay: Severity = "ticket"
    no_events: Severity = "page"
    evaluation_stale: Severity = "page"
    checkpoint_stale: Severity = "ticket"
    consumer_lag: Severity = "ticket"
    invalid_events: Severity = "ticket"
    driftd_down: Severity = "page"
    config_reload_failed: Severity = "ticket"


class ModelAlertsConfig(_Frozen):
    """Per-model overrides of the ``alerts`` durations; unset fields use the global ones."""

    drift_for_seconds: float | None = Field(default=None, ge=0)
    decay_for_seconds: float | None = Field(default=None, ge=0)
    no_events_seconds: float | None = Field(default=None, ge=60)


class AlertsConfig(_Frozen):
    """Parameters of the Prometheus rules ``driftd rules generate`` writes.

    driftd itself never reads these while running: they shape the alert rules, so the
    rules stay consistent with the thresholds and intervals of this config.
    """

    job: str = Field(default="driftd", min_length=1,
                     description="Prometheus job label of driftd's scrape target.")
    runbook_url: str = Field(
        default="https://github.com/driftd/driftd/blob/main/docs/runbooks.md", min_length=1,
        description="Base URL of the runbooks; each alert links to <url>#<alert name>.")
    drift_for_seconds: float = Field(
        default=900.0, ge=0,
        description="How long a drift decision must hold to alert: drift alerts count the "
        "windows evaluated over this long (at least two slides of a time window; 60 s "
        "when 0).")
    drift_window_share: float = Field(
        default=0.8, gt=0, le=1,
        description="Share of the windows evaluated over drift_for_seconds in which a "
        "column must have drifted to alert (0 to 1).")
    decay_for_seconds: float = Field(
        default=1800.0, ge=0, description="How long an accuracy decay must hold to alert.")
    decay_min_coverage: float = Field(
        default=0.8, ge=0, le=1,
        description="Decay alerts read the latest matured window, and the latest closed "
        "window once this share of its predictions has its outcome (0 to 1).")
    estimated_decay_tolerance: float = Field(
        default=0.05, gt=0,
        description="Estimated decay that alerts, for metrics without a "
        "performance.tolerance entry.")
    no_events_seconds: float = Field(
        default=900.0, ge=60, description="Alert when a model gets no predictions this long.")
    evaluation_stale_seconds: float | None = Field(
        default=None, gt=0,
        description="Alert when no evaluation finished this long; default: 5 evaluation "
        "intervals, at least 120 s.")
    checkpoint_stale_seconds: float | None = Field(
        default=None, gt=0,
        description="Alert when no checkpoint was written this long; default: 5 checkpoint "
        "intervals, at least 300 s.")
    consumer_lag_records: int = Field(
        default=100_000, ge=0, description="Lag of a topic above which growth alerts.")
    consumer_lag_for_seconds: float = Field(default=900.0, ge=0)
    invalid_ratio: float = Field(
        default=0.01, gt=0, lt=1, description="Share of rejected events that alerts.")
    invalid_for_seconds: float = Field(default=900.0, ge=0)
    down_for_seconds: float = Field(default=120.0, ge=0)
    reload_failed_for_seconds: float = Field(
        default=600.0, ge=0, description="Alert when the last config reload has failed "
        "for this long (the daemon runs the config it had before).")
    severity: AlertSeverities = AlertSeverities()
