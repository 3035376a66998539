"""Configuration: frozen pydantic models, validated once at start-up.

A config file is YAML. Relative paths (reference profiles, data files, the checkpoint)
are resolved against the file's directory. Environment variables override addresses and
secrets (see ``ENV_OVERRIDES``); they are applied before validation so a bad value is
reported like any other.
"""

from __future__ import annotations

from driftd.config.alerts import AlertsConfig, AlertSeverities, ModelAlertsConfig, Severity
from driftd.config.loading import (
    ENV_OVERRIDES,
    MASK,
    SECRET_MARKERS,
    ConfigError,
    apply_env_overrides,
    format_validation_error,
    json_schema,
    load_config,
    mask_secrets,
    parse_config,
)
from driftd.config.models import (
    CLASS_METRICS,
    PERFORMANCE_METRICS,
    TEST_NAMES,
    ColumnConfig,
    ColumnKind,
    Correction,
    Decision,
    ModelConfig,
    PerformanceConfig,
    Role,
    TestConfig,
    TestsConfig,
    TestsOverride,
)
from driftd.config.root import Config
from driftd.config.service import (
    CheckpointConfig,
    EvaluationConfig,
    HttpConfig,
    IngestConfig,
    LoggingConfig,
    ResultsConfig,
)
from driftd.config.sources import (
    DemoSourceConfig,
    EventFields,
    FileSourceConfig,
    JsonlSourceConfig,
    KafkaSecurityConfig,
    KafkaSourceConfig,
    KafkaTopicConfig,
    SourceConfig,
    Stream,
)
from driftd.config.windows import CountWindowConfig, TimeWindowConfig, WindowConfig

__all__ = [
    "CLASS_METRICS",
    "ENV_OVERRIDES",
    "MASK",
    "PERFORMANCE_METRICS",
    "SECRET_MARKERS",
    "TEST_NAMES",
    "AlertSeverities",
    "AlertsConfig",
    "CheckpointConfig",
    "ColumnConfig",
    "ColumnKind",
    "Config",
    "ConfigError",
    "Correction",
    "CountWindowConfig",
    "Decision",
    "DemoSourceConfig",
    "EvaluationConfig",
    "EventFields",
    "FileSourceConfig",
    "HttpConfig",
    "IngestConfig",
    "JsonlSourceConfig",
    "KafkaSecurityConfig",
    "KafkaSourceConfig",
    "KafkaTopicConfig",
    "LoggingConfig",
    "ModelAlertsConfig",
    "ModelConfig",
    "PerformanceConfig",
    "ResultsConfig",
    "Role",
    "Severity",
    "SourceConfig",
    "Stream",
    "TestConfig",
    "TestsConfig",
    "TestsOverride",
    "TimeWindowConfig",
    "WindowConfig",
    "apply_env_overrides",
    "format_validation_error",
    "json_schema",
    "load_config",
    "mask_secrets",
    "parse_config",
]
