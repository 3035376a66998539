"""Configuration: frozen pydantic models, validated once at start-up.

A config file is YAML. Relative paths (reference profiles, JSONL files, the checkpoint)
are resolved against the file's directory. Environment variables override addresses and
secrets (see ``ENV_OVERRIDES``); they are applied before validation so a bad value is
reported like any other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

ColumnKind = Literal["numeric", "categorical"]
Role = Literal["input", "prediction", "label"]
Decision = Literal["threshold", "pvalue", "none"]
Correction = Literal["none", "bonferroni", "holm"]

TEST_NAMES = ("psi", "ks", "chi2", "js", "wasserstein", "missing")

# Environment variable -> dotted config path it overrides.
ENV_OVERRIDES: Mapping[str, str] = {
    "DRIFTD_HTTP_ADDRESS": "http.address",
    "DRIFTD_CHECKPOINT_PATH": "checkpoint.path",
    "DRIFTD_LOG_LEVEL": "logging.level",
    "DRIFTD_KAFKA_BOOTSTRAP_SERVERS": "sources.kafka.bootstrap_servers",
    "DRIFTD_KAFKA_SASL_USERNAME": "sources.kafka.security.sasl_username",
    "DRIFTD_KAFKA_SASL_PASSWORD": "sources.kafka.security.sasl_password",
}


class _Frozen(BaseModel):
    # No setting means infinity or NaN (a `.inf` duration would never end, or crash).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class TestConfig(_Frozen):
    """How one statistic turns into a drift decision.

    ``decision: threshold`` flags drift when the statistic exceeds ``threshold``
    (for ``missing``: when the absolute change of the missing rate does);
    ``decision: pvalue`` when the test's p-value, corrected across the model's
    columns, is below ``alpha``; ``none`` exports the statistic without deciding.
    """

    __test__ = False  # not a pytest class; collecting it warns, and warnings are errors

    enabled: bool = True
    decision: Decision = "threshold"
    threshold: float | None = Field(default=None, ge=0)
    alpha: float | None = Field(default=None, gt=0, lt=1)
    null_distribution: Literal["asymptotic", "bootstrap"] = Field(
        default="asymptotic",
        description="PSI p-value from its asymptotic chi-square null or a bootstrap "
        "from the reference.",
    )
    bootstrap_resamples: int = Field(default=1000, ge=100, le=100_000)

    @model_validator(mode="after")
    def _decision_has_its_parameter(self) -> TestConfig:
        if not self.enabled:
            return self
        if self.decision == "threshold" and self.threshold is None:
            raise ValueError("decision 'threshold' needs a threshold")
        if self.decision == "pvalue" and self.alpha is None:
            raise ValueError("decision 'pvalue' needs an alpha")
        return self


class TestsConfig(_Frozen):
    """Per-statistic decision settings; defaults are the common industry ones."""

    __test__ = False

    psi: TestConfig = TestConfig(decision="threshold", threshold=0.2)
    ks: TestConfig = TestConfig(decision="pvalue", alpha=0.01)
    chi2: TestConfig = TestConfig(decision="pvalue", alpha=0.01)
    js: TestConfig = TestConfig(decision="threshold", threshold=0.1)
    wasserstein: TestConfig = TestConfig(decision="none")
    missing: TestConfig = TestConfig(decision="threshold", threshold=0.05)

    def get(self, name: str) -> TestConfig:
        test: TestConfig = getattr(self, name)
        return test


class TestsOverride(_Frozen):
    """Per-column replacement of some tests' settings."""

    __test__ = False

    psi: TestConfig | None = None
    ks: TestConfig | None = None
    chi2: TestConfig | None = None
    js: TestConfig | None = None
    wasserstein: TestConfig | None = None
    missing: TestConfig | None = None


class ColumnConfig(_Frozen):
    """A monitored column: its kind, its role and where it sits in an event."""

    name: str = Field(min_length=1, max_length=200)
    kind: ColumnKind
    role: Role = "input"
    path: str | None = Field(
        default=None,
        description="Dotted path in the event; default features.<name> for inputs, "
        "'prediction' for the prediction and 'label' for the label.",
    )
    tests: TestsOverride = TestsOverride()

    @property
    def event_path(self) -> tuple[str, ...]:
        if self.path is not None:
            return tuple(self.path.split("."))
        if self.role == "prediction":
            return ("prediction",)
        if self.role == "label":
            return ("label",)
        return ("features", self.name)

    @field_validator("path")
    @classmethod
    def _path_has_no_empty_parts(cls, value: str | None) -> str | None:
        if value is not None and any(part == "" for part in value.split(".")):
            raise ValueError("path must be dot-separated names, e.g. features.amount")
        return value


class CountWindowConfig(_Frozen):
    """The last ``size`` events, advanced every ``step`` events (tumbling when equal)."""

    name: str = Field(min_length=1, max_length=100)
    type: Literal["count"] = "count"
    size: int = Field(gt=0, le=100_000_000)
    step: int = Field(gt=0)

    @field_validator("step")
    @classmethod
    def _step_divides_size(cls, step: int, info: ValidationInfo) -> int:
        size = info.data.get("size")  # absent when size itself is invalid
        if size is not None and (step > size or size % step):
            raise ValueError("step must divide size (size = whole number of steps)")
        return step


class TimeWindowConfig(_Frozen):
    """Event-time window of ``duration_seconds`` advanced every ``slide_seconds``."""

    name: str = Field(min_length=1, max_length=100)
    type: Literal["time"] = "time"
    duration_seconds: float = Field(gt=0)
    slide_seconds: float = Field(gt=0)
    allowed_lateness_seconds: float = Field(default=0.0, ge=0)
    idle_timeout_seconds: float = Field(
        default=60.0, gt=0,
        description="A partition silent this long (processing time) stops holding back "
        "the watermark of the others.")

    @field_validator("slide_seconds")
    @classmethod
    def _slide_divides_duration(cls, slide: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration_seconds")  # absent when itself invalid
        if duration is None:
            return slide
        panes = duration / slide
        if slide > duration or abs(panes - round(panes)) > 1e-9:
            raise ValueError("slide_seconds must divide duration_seconds")
        if round(panes) > 10_000:
            raise ValueError("duration_seconds / slide_seconds must be at most 10000 panes")
        return slide

    @property
    def panes(self) -> int:
        return round(self.duration_seconds / self.slide_seconds)


WindowConfig = Annotated[CountWindowConfig | TimeWindowConfig, Field(discriminator="type")]


PERFORMANCE_METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "auc", "log_loss"),
    "regression": ("mae", "rmse", "mape"),
}


class PerformanceConfig(_Frozen):
    """Model performance from delayed outcomes joined to predictions by id.

    ``binary``: the prediction column is the positive-class score in [0, 1], predicted
    positive when ``>= threshold``; the label is positive when it equals
    ``positive_label`` (labels are read as categories: 1, "1" and 1.0 are all "1").
    ``regression``: prediction and label are numbers.
    """

    task: Literal["binary", "regression"]
    prediction: str = Field(min_length=1, description="name of the role-prediction column")
    label: str = Field(min_length=1, description="name of the role-label column")
    positive_label: str = "1"
    threshold: float = Field(default=0.5, ge=0, le=1)
    label_ttl_seconds: float = Field(
        default=86_400.0, gt=0, description="How long a prediction waits for its outcome.")
    orphan_ttl_seconds: float = Field(
        default=300.0, gt=0, description="How long an outcome waits for its prediction.")
    max_pending: int = Field(default=5_000_000, ge=1)
    score_bins: int = Field(default=100, ge=10, le=10_000)
    baseline: dict[str, float] = Field(default_factory=dict)
    tolerance: dict[str, float] = Field(default_factory=dict)
    confidence: float = Field(default=0.95, gt=0, lt=1)

    @model_validator(mode="after")
    def _metrics_are_known(self) -> PerformanceConfig:
        known = PERFORMANCE_METRICS[self.task]
        for field_name in ("baseline", "tolerance"):
            unknown = sorted(set(getattr(self, field_name)) - set(known))
            if unknown:
                raise ValueError(f"{field_name} has metrics {unknown} unknown for task "
                                 f"{self.task!r} (known: {', '.join(known)})")
        return self


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
        default=900.0, ge=0, description="How long a drift decision must hold to alert.")
    decay_for_seconds: float = Field(
        default=1800.0, ge=0, description="How long an accuracy decay must hold to alert.")
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
    severity: AlertSeverities = AlertSeverities()


class ModelConfig(_Frozen):
    """One monitored model: its reference profile, columns, windows and tests."""

    name: str = Field(min_length=1, max_length=100)
    version: str = Field(default="", max_length=100)
    reference: Path
    columns: tuple[ColumnConfig, ...] = Field(min_length=1)
    windows: tuple[WindowConfig, ...] = Field(min_length=1)
    tests: TestsConfig = TestsConfig()
    correction: Correction = "holm"
    non_finite: Literal["missing", "invalid"] = Field(
        default="missing",
        description="Non-finite numbers count as missing values (default) or make the "
        "event invalid (reason non_finite).",
    )
    min_window_events: int = Field(
        default=1000, ge=0,
        description="Threshold decisions (drift when a statistic exceeds its threshold) "
        "need a window of at least this many events: PSI and JS of a small sample are "
        "mostly noise. Smaller windows are still evaluated and exported; p-value "
        "decisions are calibrated for any size and always apply. 0 turns this off.")
    performance: PerformanceConfig | None = None
    alerts: ModelAlertsConfig = ModelAlertsConfig()

    @field_validator("columns")
    @classmethod
    def _column_names_are_unique(
        cls, columns: tuple[ColumnConfig, ...]
    ) -> tuple[ColumnConfig, ...]:
        _require_unique("column", [c.name for c in columns])
        if sum(1 for c in columns if c.role == "label") > 1:
            raise ValueError("at most one column may have role 'label'")
        return columns

    @field_validator("windows")
    @classmethod
    def _window_names_are_unique(
        cls, windows: tuple[CountWindowConfig | TimeWindowConfig, ...]
    ) -> tuple[CountWindowConfig | TimeWindowConfig, ...]:
        _require_unique("window", [w.name for w in windows])
        return windows

    @model_validator(mode="after")
    def _performance_columns_exist(self) -> ModelConfig:
        perf = self.performance
        if perf is None:
            return self
        columns = {c.name: c for c in self.columns}
        prediction, label = columns.get(perf.prediction), columns.get(perf.label)
        if prediction is None or prediction.role != "prediction" or prediction.kind != "numeric":
            raise ValueError(f"performance.prediction: {perf.prediction!r} must be a numeric "
                             "column with role prediction")
        wanted = "categorical" if perf.task == "binary" else "numeric"
        if label is None or label.role != "label" or label.kind != wanted:
            raise ValueError(f"performance.label: {perf.label!r} must be a {wanted} column "
                             f"with role label for task {perf.task!r}")
        return self

    @property
    def monitored_columns(self) -> tuple[ColumnConfig, ...]:
        """Columns compared against the reference (inputs and prediction)."""
        return tuple(c for c in self.columns if c.role != "label")

    def test_for(self, column: ColumnConfig, test: str) -> TestConfig:
        override: TestConfig | None = getattr(column.tests, test)
        return override if override is not None else self.tests.get(test)


class EventFields(_Frozen):
    """Where the envelope fields sit in an event (dotted paths)."""

    model: str = "model"
    id: str = "id"
    ts: str = "ts"


class JsonlSourceConfig(_Frozen):
    """Replay of JSON lines from a file, or stdin when ``path`` is ``-``."""

    type: Literal["jsonl"] = "jsonl"
    path: str
    batch_size: int = Field(default=5000, gt=0, le=1_000_000)
    fields: EventFields = EventFields()


class DemoSourceConfig(_Frozen):
    """The built-in synthetic model stream."""

    type: Literal["demo"] = "demo"
    model: str = "demo"
    events_per_second: float = Field(default=2000.0, gt=0, le=1_000_000)
    drift_after_seconds: float = Field(default=120.0, ge=0)
    label_delay_seconds: float = Field(default=30.0, ge=0)
    seed: int = 0


Stream = Literal["features", "predictions", "outcomes"]


class KafkaTopicConfig(_Frozen):
    """One consumed topic: which stream it carries and where its fields sit."""

    name: str = Field(min_length=1, max_length=249)
    stream: Stream = "predictions"
    fields: EventFields = EventFields()
    models: tuple[str, ...] | None = Field(
        default=None, min_length=1,
        description="The models whose events this topic carries: only their time windows "
        "wait for its partitions. Default: every model waits for a partition until it has "
        "sent a batch without that model's events.")


class KafkaSecurityConfig(_Frozen):
    """Passed through to kafka-python; secrets come from the environment or files."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: str | None = Field(
        default=None, description="Prefer DRIFTD_KAFKA_SASL_PASSWORD or sasl_password_file.")
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> KafkaSecurityConfig:
        if self.protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ValueError("protocol SASL_* needs sasl_mechanism")
        if self.sasl_password is not None and self.sasl_password_file is not None:
            raise ValueError("give sasl_password or sasl_password_file, not both")
        return self

    def password(self) -> str | None:
        """The SASL password, read from its file when one is configured."""
        if self.sasl_password_file is not None:
            return self.sasl_password_file.read_text(encoding="utf-8").strip()
        return self.sasl_password


class KafkaSourceConfig(_Frozen):
    """A Kafka consumer group reading the prediction, feature and outcome topics."""

    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str = Field(min_length=1, description="host:port[,host:port...]")
    group_id: str = Field(default="driftd", min_length=1)
    topics: tuple[KafkaTopicConfig, ...] = Field(min_length=1)
    security: KafkaSecurityConfig = KafkaSecurityConfig()
    dead_letter_topic: str | None = None
    max_message_bytes: int | None = Field(
        default=None, gt=0, description="Overrides ingest.max_message_bytes for this source.")
    max_poll_records: int = Field(default=5000, gt=0, le=100_000)
    poll_timeout_ms: int = Field(default=200, gt=0, le=10_000)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, le=300_000,
        description="How long the group waits for a silent member (e.g. a killed driftd) "
        "before reassigning its partitions.")
    broker_timeout_seconds: float = Field(
        default=300.0, gt=0,
        description="Exit (non-zero) when no broker has answered for this long.")
    client_id: str = "driftd"

    @field_validator("topics")
    @classmethod
    def _topic_names_are_unique(
        cls, topics: tuple[KafkaTopicConfig, ...]
    ) -> tuple[KafkaTopicConfig, ...]:
        _require_unique("topic", [t.name for t in topics])
        return topics


SourceConfig = Annotated[
    JsonlSourceConfig | DemoSourceConfig | KafkaSourceConfig, Field(discriminator="type")
]


class IngestConfig(_Frozen):
    """Bounds on what one message may hold; a message beyond them is rejected by reason.

    Every bound is checked per message, before parsing where possible, so one message
    can never stop the daemon or cost the other events of its batch.
    """

    max_message_bytes: int = Field(
        default=1_048_576, gt=0, le=1_073_741_824,
        description="Larger messages are rejected (reason oversized) without being parsed.")
    max_nesting_depth: int = Field(
        default=64, ge=2, le=1000,
        description="Deeper JSON is rejected (reason too_deep) without being parsed.")
    max_events_per_message: int = Field(
        default=10_000, ge=1, le=10_000_000,
        description="A JSON array with more events is rejected (reason too_many_events).")
    max_future_seconds: float | None = Field(
        default=300.0, ge=0,
        description="Events more than this ahead of the clock are rejected (reason "
        "timestamp_in_future): a producer with a wrong clock must not move the watermark. "
        "null turns the check off (replays of synthetic, future-dated data).")
    max_age_seconds: float | None = Field(
        default=None, gt=0,
        description="Events older than this (against the clock) are rejected (reason "
        "timestamp_too_old); off by default, so that replays of old data work.")


class HttpConfig(_Frozen):
    """The /metrics, /healthz and /readyz server and its bounds.

    At ``max_connections`` a new connection closes the oldest idle one, so scrapes are
    answered however many clients hold connections open.
    """

    address: str = "127.0.0.1:9108"
    max_connections: int = Field(default=64, gt=0, le=10_000)
    read_timeout_seconds: float = Field(
        default=10.0, gt=0, le=3600,
        description="A request head must be complete this long after its first byte "
                    "(after the accept for a connection's first request).")
    idle_timeout_seconds: float = Field(
        default=120.0, gt=0, le=86_400,
        description="How long a keep-alive connection may wait for its next request; "
                    "above a 60 s scrape interval so Prometheus reuses its connection.")
    write_timeout_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="How long a client may take to read a response.")
    max_request_head_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("address must be host:port, e.g. 127.0.0.1:9108")
        return value

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])


class CheckpointConfig(_Frozen):
    path: Path | None = None
    interval_seconds: float = Field(default=30.0, gt=0)


class EvaluationConfig(_Frozen):
    interval_seconds: float = Field(default=10.0, gt=0)


class LoggingConfig(_Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Frozen):
    """The whole driftd configuration."""

    models: tuple[ModelConfig, ...] = Field(min_length=1)
    sources: tuple[SourceConfig, ...] = Field(min_length=1)
    http: HttpConfig = HttpConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    logging: LoggingConfig = LoggingConfig()
    alerts: AlertsConfig = AlertsConfig()
    ingest: IngestConfig = IngestConfig()
    shutdown_grace_seconds: float = Field(default=30.0, gt=0)

    @field_validator("models")
    @classmethod
    def _model_names_are_unique(cls, models: tuple[ModelConfig, ...]) -> tuple[ModelConfig, ...]:
        _require_unique("model", [m.name for m in models])
        return models

    @model_validator(mode="after")
    def _topic_models_are_configured(self) -> Config:
        names = [m.name for m in self.models]
        unknown = [
            InitErrorDetails(type=PydanticCustomError(
                "unknown_model", "{model} is not a configured model (models: {known})",
                {"model": repr(model), "known": ", ".join(names)}),
                loc=("sources", s, "topics", t, "models", m), input=model)
            for s, source in enumerate(self.sources) if isinstance(source, KafkaSourceConfig)
            for t, topic in enumerate(source.topics)
            for m, model in enumerate(topic.models or ()) if model not in names
        ]
        if unknown:  # raised with their field paths, one line each
            raise ValidationError.from_exception_data("Config", unknown)
        return self

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _require_unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} names must be unique, {name!r} appears twice")
        seen.add(name)


def format_validation_error(error: ValidationError, raw: Any = None) -> list[str]:
    """One ``field.path: message`` line per problem.

    With the validated document ``raw``, union tags pydantic puts in the location
    (``windows.0.count.step``) are dropped, so the path is the one written in the file.
    """
    problems = error.errors()
    locs = [tuple(problem["loc"]) for problem in problems]
    lines = []
    for problem, loc in zip(problems, locs, strict=True):
        # A tuple with min_length also reports "too short" when its items failed:
        # it counts the items that validated. The item errors say what is wrong.
        if problem["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue
        path = ".".join(str(part) for part in _file_path(loc, raw)) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return lines


def _file_path(loc: tuple[int | str, ...], raw: Any) -> list[int | str]:
    """``loc`` without the discriminator tags of tagged unions (all keyed on ``type``)."""
    path: list[int | str] = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue  # the tag of a WindowConfig / SourceConfig union member
        path.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return path


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return ``raw`` with the values of the set ``ENV_OVERRIDES`` variables put in.

    ``sources.<type>.field`` applies to every source of that type in the list.
    """
    result = dict(raw)
    for variable, dotted in ENV_OVERRIDES.items():
        if variable not in environ:
            continue
        parts = dotted.split(".")
        if parts[0] == "sources":
            sources = result.get("sources")
            if isinstance(sources, list):
                result["sources"] = [
                    _set_path(s, parts[2:], environ[variable])
                    if isinstance(s, dict) and s.get("type") == parts[1] else s
                    for s in sources
                ]
        else:
            result = _set_path(result, parts, environ[variable])
    return result


def _set_path(raw: dict[str, Any], parts: list[str], value: str) -> dict[str, Any]:
    """A copy of ``raw`` with ``value`` at ``parts``; a wrongly typed section is left alone."""
    result = dict(raw)
    node = result
    *parents, leaf = parts
    for part in parents:
        child = node.get(part)
        if child is not None and not isinstance(child, dict):
            return result  # a wrongly typed section: leave it for validation to report
        node[part] = dict(child) if child is not None else {}
        node = node[part]
    node[leaf] = value
    return result


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make relative file paths relative to the config file's directory."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value != "-" and not Path(value).is_absolute():
            return str(base / value)
        return value

    result = dict(raw)
    if isinstance(result.get("models"), list):
        result["models"] = [
            {**m, "reference": resolve(m["reference"])}
            if isinstance(m, dict) and "reference" in m
            else m
            for m in result["models"]
        ]
    if isinstance(result.get("sources"), list):
        result["sources"] = [
            {**s, "path": resolve(s["path"])} if isinstance(s, dict) and "path" in s else s
            for s in result["sources"]
        ]
    checkpoint = result.get("checkpoint")
    if isinstance(checkpoint, dict) and checkpoint.get("path"):
        result["checkpoint"] = {**checkpoint, "path": resolve(checkpoint["path"])}
    return result


def parse_config(
    raw: Any, *, source: str = "<config>", base: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate an already-parsed YAML document; raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(source, ["(top level): expected a mapping of settings"])
    environ = os.environ if environ is None else environ
    raw = apply_env_overrides(raw, environ)
    if base is not None:
        raw = _resolve_paths(raw, base)
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        problems = format_validation_error(error, raw)
        raise ConfigError(source, [_blame_env(line, environ) for line in problems]) from None


def _blame_env(problem: str, environ: Mapping[str, str]) -> str:
    for variable, dotted in ENV_OVERRIDES.items():
        if variable in environ and problem.startswith(f"{dotted}: "):
            return f"{problem} (from environment variable {variable})"
    return problem


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment, and validate a YAML config file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read file: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        line = error.object.count(b"\n", 0, error.start) + 1
        raise ConfigError(str(path), [
            f"(top level): {path} is not UTF-8 text: byte 0x{error.object[error.start]:02x} "
            f"at offset {error.start} (line {line})"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"(top level): not valid YAML: {error}"]) from None
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(str(path), ["(top level): YAML nested too deep"]) from None
    return parse_config(raw, source=str(path), base=path.parent, environ=environ)


# A field whose name contains one of these is masked wherever the config is shown.
SECRET_MARKERS = ("password", "secret", "token", "key")
MASK = "***"


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with every set field named like a secret replaced by ``***``.

    >>> mask_secrets({"sasl": {"password": "hunter2", "user": "me"}, "api_key": None})
    {'sasl': {'password': '***', 'user': 'me'}, 'api_key': None}
    """
    if isinstance(value, Mapping):
        return {
            key: MASK if _is_secret(key) and item is not None else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    return value


def _is_secret(name: object) -> bool:
    lowered = str(name).lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the config file."""
    return Config.model_json_schema()
