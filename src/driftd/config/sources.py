"""Event sources: files (JSONL, CSV, Parquet), the built-in demo stream, or Kafka topics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from driftd.config.base import FieldPathText, TimeZoneName, _Frozen, _require_unique
from driftd.config.oip import OipTopicConfig
from driftd.config.oip import check_topics as check_oip_topics
from driftd.config.wire import SchemaFiles, SchemaRegistryConfig, check_wire_topics
from driftd.datafile import FORMATS

Stream = Literal["features", "predictions", "outcomes"]


class EventFields(_Frozen):
    """Where the envelope fields sit in an event: field paths (``data.model``,
    ``inputs[0].id``, or a JSON Pointer ``/data/model``; see ``driftd.paths``)."""

    model: FieldPathText = "model"
    id: FieldPathText = "id"
    ts: FieldPathText = "ts"
    model_version: FieldPathText | None = Field(
        default=None,
        description="Where the serving model's version sits (e.g. model_version, or "
        "parameters.version): events are counted by version, so a rollout shows next to "
        "the drift it brings. Not read when unset.")


class JsonlSourceConfig(_Frozen):
    """JSON lines from a file, or stdin when ``path`` is ``-``, ingested as they come."""

    type: Literal["jsonl"] = "jsonl"
    path: str
    stream: Stream = "predictions"
    batch_size: int = Field(
        default=5000, gt=0, le=1_000_000,
        description="At most this many lines per batch; a poll never waits for a full one.")
    fields: EventFields = EventFields()
    follow: bool = Field(
        default=False,
        description="Read on as the file grows, like tail -F (a truncated file is read "
        "again from its start, a replaced one from the new file's start); a restart "
        "resumes after the last line ingested. Files only, not stdin.")

    @model_validator(mode="after")
    def _follows_a_file(self) -> JsonlSourceConfig:
        if self.follow and self.path == "-":
            raise ValueError("follow reads a file as it grows; stdin (path \"-\") is "
                             "always read as it comes")
        return self


class FileSourceConfig(_Frozen):
    """A backtest input: one JSONL, CSV or Parquet file read to its end as one stream."""

    type: Literal["file"] = "file"
    path: str = Field(min_length=1)
    stream: Stream = "predictions"
    format: Literal["auto", "jsonl", "csv", "parquet"] = Field(
        default="auto", validate_default=True,
        description="auto: from the suffix (.jsonl .ndjson .json .csv .parquet .pq).")
    fields: EventFields = EventFields()
    batch_size: int = Field(default=5000, gt=0, le=1_000_000)
    timezone: TimeZoneName | None = Field(
        default=None, description="Overrides ingest.timezone for this file's naive times.")

    @field_validator("path")
    @classmethod
    def _not_stdin(cls, path: str) -> str:
        if path == "-":
            raise ValueError('stdin is read by a jsonl source (type: jsonl, path: "-")')
        return path

    @field_validator("format")
    @classmethod
    def _format_is_known(cls, value: str, info: ValidationInfo) -> str:
        path = info.data.get("path")
        if value == "auto" and path is not None and Path(path).suffix.lower() not in FORMATS:
            raise ValueError(f"cannot tell the format of {path} from its suffix; set format "
                             "to jsonl, csv or parquet")
        return value

    @property
    def file_format(self) -> str:
        """jsonl, csv or parquet: as configured, or from the suffix."""
        return FORMATS[Path(self.path).suffix.lower()] if self.format == "auto" else self.format

    @property
    def source_name(self) -> str:
        """How this source is named in logs and checkpoints; also its decoder's key. The
        stream is part of it: one labelled file may be read as predictions and outcomes."""
        return f"file:{self.path}[{self.stream}]"


class DemoSourceConfig(_Frozen):
    """The built-in synthetic model stream."""

    type: Literal["demo"] = "demo"
    model: str = "demo"
    events_per_second: float = Field(default=2000.0, gt=0, le=1_000_000)
    drift_after_seconds: float = Field(default=120.0, ge=0)
    label_delay_seconds: float = Field(default=30.0, ge=0)
    seed: int = 0



class KafkaTopicConfig(_Frozen):
    """One consumed topic: which stream it carries and where its fields sit."""

    name: str = Field(min_length=1, max_length=249)
    stream: Stream = "predictions"
    fields: EventFields = EventFields()
    format: Literal["json", "avro", "protobuf", "oip"] = Field(
        default="json",
        description="How the messages are written: JSON events, Avro or Protobuf in the "
        "Confluent wire format, or Open Inference Protocol requests or responses.")
    models: tuple[str, ...] | None = Field(
        default=None, min_length=1,
        description="The models whose events this topic carries: only their time windows "
        "wait for its partitions. Default: every model waits for a partition until it has "
        "sent a batch without that model's events.")
    oip: OipTopicConfig | None = Field(
        default=None, description="format oip: the topic's role (request or response), "
        "its request-id header, encoding and pairing (see docs/model-servers.md).")

    @model_validator(mode="after")
    def _oip_settings_match_the_format(self) -> KafkaTopicConfig:
        if (self.format == "oip") != (self.oip is not None):
            raise ValueError("format oip needs oip settings (oip: {role: request or "
                             "response}), and oip settings need format oip")
        if self.oip is not None and self.stream == "outcomes":
            raise ValueError("an oip topic carries predictions (or features), not outcomes")
        return self


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
    schema_registry: SchemaRegistryConfig | None = Field(
        default=None, description="Where avro and protobuf topics find their schemas by id.")
    schema_files: SchemaFiles = Field(
        default_factory=dict,
        description="Schema id -> .avsc or .proto file (or {path, message}); used before "
        "the registry, or without one.")

    @field_validator("topics")
    @classmethod
    def _topic_names_are_unique(
        cls, topics: tuple[KafkaTopicConfig, ...]
    ) -> tuple[KafkaTopicConfig, ...]:
        _require_unique("topic", [t.name for t in topics])
        return topics

    @field_validator("topics")
    @classmethod
    def _oip_topics_pair_up(
        cls, topics: tuple[KafkaTopicConfig, ...]
    ) -> tuple[KafkaTopicConfig, ...]:
        check_oip_topics(topics)
        return topics

    @model_validator(mode="after")
    def _wire_topics_have_schemas(self) -> KafkaSourceConfig:
        check_wire_topics([(t.name, t.format) for t in self.topics], self.schema_registry,
                          self.schema_files)
        return self


# Last, as it builds on EventFields and Stream above.
from driftd.config.http import HttpSourceConfig as HttpSourceConfig  # noqa: E402

SourceConfig = Annotated[
    JsonlSourceConfig | FileSourceConfig | DemoSourceConfig | KafkaSourceConfig
    | HttpSourceConfig,
    Field(discriminator="type"),
]
