"""The daemon's own settings: ingest bounds, HTTP server, checkpoint, evaluation, logging."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from driftd.config.base import TimeZoneName, _Frozen


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
    timezone: TimeZoneName | None = Field(
        default=None,
        description="Where event times without a UTC offset were written: an IANA name "
        "(Europe/Berlin) or an offset (+02:00). Unset: such times are rejected (reason "
        "invalid_timestamp).")


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
    web_config_file: Path | None = Field(
        default=None,
        description="TLS, basic auth and response headers of these endpoints, in the "
        "format of Prometheus exporter-toolkit (docs/web-config.md); "
        "`driftd run --web.config.file` overrides it. Re-read when it changes.")
    authenticate_probes: bool = Field(
        default=False,
        description="Whether /healthz and /readyz need basic auth too. Off: kubelet "
        "httpGet probes send no credentials (unless written into the pod spec), and "
        "the probes tell nothing secret; TLS applies to them either way.")

    enable_lifecycle: bool = Field(
        default=False,
        description="Serve POST /-/reload (as Prometheus' --web.enable-lifecycle): it "
        "reloads the config as SIGHUP does and answers 200, or 500 with the reason the "
        "running config stays. Off, it answers 403.")

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


class ResultsConfig(_Frozen):
    """The results history: every window result and each revision of it, appended.

    Off unless ``path`` or ``kafka_topic`` is set (``--dump-results`` is separate).
    """

    path: Path | None = Field(
        default=None,
        description="JSON lines file the results are appended to (directories created); "
        "rotated to path.1, path.2...")
    max_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0,
        description="A file holding this much is rotated at the next checkpoint (on the "
        "next write without a checkpoint path).")
    backups: int = Field(default=5, ge=0, description="Rotated files kept; the oldest "
                         "is deleted. 0 keeps only the current file.")
    kafka_topic: str | None = Field(
        default=None, min_length=1, max_length=249,
        description="Also publish each result to this topic, keyed by model, through the "
        "first Kafka source's connection (at least once: header driftd-key de-duplicates).")


class EvaluationConfig(_Frozen):
    interval_seconds: float = Field(default=10.0, gt=0)


class LoggingConfig(_Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per line (ts, level, "
        "logger, msg, exception, and fields such as an event's origin); driftd run "
        "--log-format overrides it.")
