"""The HTTP ingest source: driftd events and CloudEvents posted to a listener of driftd."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from driftd.config.base import _Frozen
from driftd.config.sources import EventFields, Stream

DEFAULT_LISTEN = "127.0.0.1:9110"


class HttpSourceConfig(_Frozen):
    """``POST /v1/events`` (driftd events) and ``POST /`` or ``/cloudevents``
    (CloudEvents, e.g. KServe's payload logger); a 202 means the body is on disk."""

    type: Literal["http"] = "http"
    listen: str = Field(default=DEFAULT_LISTEN, description="host:port to listen on.")
    stream: Stream = "predictions"
    fields: EventFields = EventFields()
    spool_dir: Path = Field(
        description="Where accepted bodies are appended (and fsync'd) before the 202; "
        "read in order and deleted once a checkpoint has passed them. Required: "
        "without it an acknowledged event could be lost.")
    max_body_bytes: int = Field(
        default=4 * 1_048_576, gt=0, le=1_073_741_824,
        description="A larger body is refused with 413 (reason oversized).")
    max_queue_bytes: int = Field(
        default=256 * 1_048_576, gt=0,
        description="Bytes accepted but not yet ingested, at most; beyond, 429 with "
        "Retry-After.")
    segment_bytes: int = Field(
        default=64 * 1_048_576, ge=4096,
        description="A spool segment this large is closed and a new one started.")
    bearer_token_file: Path | None = Field(
        default=None,
        description="A file holding the token every request must bear (Authorization: "
        "Bearer ...); unset: no authentication.")
    batch_size: int = Field(default=1000, gt=0, le=100_000,
                            description="At most this many bodies per batch.")
    retry_after_seconds: int = Field(default=1, ge=1, le=3600,
                                     description="Retry-After of a 429 or 503.")
    pair_timeout_seconds: float = Field(
        default=60.0, gt=0, le=86_400,
        description="How far apart (by the times driftd received them) a KServe request "
        "and its response may be; a half left waiting longer is counted unpaired.")
    max_pending_pairs: int = Field(
        default=100_000, gt=0, le=10_000_000,
        description="Unpaired halves kept at most; beyond, the oldest is dropped.")
    logger_mode: Literal["all", "request", "response"] = Field(
        default="all",
        description="What the KServe logger sends (its mode): all pairs requests with "
        "responses; request (or response) makes rows of each half on its own at once.")
    unpaired_requests: Literal["drop", "inputs"] = Field(
        default="drop",
        description="logger_mode all: a KServe request whose response never came is "
        "counted as unpaired_request (drop), or its rows count with their inputs only.")
    model: str | None = Field(
        default=None, min_length=1,
        description="The driftd model of KServe rows; default: the CE extension "
        "inferenceservicename, else the payload's model_name.")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen must be host:port, e.g. {DEFAULT_LISTEN}")
        return value

    @model_validator(mode="after")
    def _a_body_fits_the_queue(self) -> HttpSourceConfig:
        if self.max_body_bytes > self.max_queue_bytes:
            raise ValueError(f"max_body_bytes ({self.max_body_bytes}) must not exceed "
                             f"max_queue_bytes ({self.max_queue_bytes}): such a body could "
                             "never be accepted")
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def source_name(self) -> str:
        """How this source is named in logs and checkpoints; also its decoder's key."""
        return f"http:{self.listen}"
