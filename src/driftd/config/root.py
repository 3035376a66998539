"""The whole configuration document and its cross-section checks."""

from __future__ import annotations

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from driftd.config.alerts import AlertsConfig
from driftd.config.base import _Frozen, _require_unique
from driftd.config.models import ModelConfig
from driftd.config.service import (
    CheckpointConfig,
    EvaluationConfig,
    HttpConfig,
    IngestConfig,
    LoggingConfig,
    ResultsConfig,
)
from driftd.config.sources import HttpSourceConfig, KafkaSourceConfig, SourceConfig


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
    results: ResultsConfig = ResultsConfig()
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

    @model_validator(mode="after")
    def _results_topic_has_a_kafka_source(self) -> Config:
        # The results producer connects with the first Kafka source's settings.
        if self.results.kafka_topic is not None and not any(
                isinstance(source, KafkaSourceConfig) for source in self.sources):
            raise ValidationError.from_exception_data("Config", [InitErrorDetails(
                type=PydanticCustomError(
                    "kafka_source_needed", "needs a kafka source to publish through (its "
                    "bootstrap_servers and security are used)"),
                loc=("results", "kafka_topic"), input=self.results.kafka_topic)])
        return self

    @model_validator(mode="after")
    def _http_ingest_has_a_checkpoint(self) -> Config:
        # The spool position acknowledged bodies are read from lives in the checkpoint:
        # without one, a restart would count the spool again (or lose what was deleted).
        listens = [s.listen for s in self.sources if isinstance(s, HttpSourceConfig)]
        problems = []
        if listens and self.checkpoint.path is None:
            problems.append(InitErrorDetails(type=PydanticCustomError(
                "checkpoint_needed", "an http source needs checkpoint.path: the spool's "
                "read position is kept in the checkpoint"),
                loc=("checkpoint", "path"), input=None))
        if len(set(listens)) < len(listens):
            problems.append(InitErrorDetails(type=PydanticCustomError(
                "duplicate_listen", "two http sources listen on the same address"),
                loc=("sources",), input=listens))
        if problems:
            raise ValidationError.from_exception_data("Config", problems)
        return self

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)
