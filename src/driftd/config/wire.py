"""Where the schemas of Avro and Protobuf topics (Confluent wire format) come from: a
schema registry, and schema files by id for shops without one (files win)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from driftd.config.base import _Frozen

SCHEMA_SUFFIXES = {".avsc": "avro", ".proto": "protobuf"}
# format -> (extra, modules it needs)
EXTRAS = {"avro": ("avro", ("fastavro",)), "protobuf": ("protobuf", ("google.protobuf",
                                                                     "grpc_tools"))}


class SchemaRegistryConfig(_Frozen):
    """A Confluent-compatible schema registry (Confluent, Apicurio's ccompat API,
    Redpanda, Karapace)."""

    url: str = Field(min_length=1, description="e.g. http://registry:8081 (for Apicurio: "
                     "http://apicurio:8080/apis/ccompat/v7)")
    timeout_seconds: float = Field(
        default=5.0, gt=0, le=60,
        description="The most a batch waits for the registry, all its requests together.")
    username: str | None = Field(default=None, description="Basic auth user.")
    password_file: Path | None = Field(default=None, description="Basic auth password.")
    ca_file: Path | None = Field(default=None, description="PEM CA bundle for https.")
    cache_size: int = Field(default=1000, gt=0, le=100_000,
                            description="Schemas kept, by id (least recently used go).")
    failed_ttl_seconds: float = Field(
        default=30.0, ge=0,
        description="How long an unknown or unusable schema id is remembered (its "
        "messages are rejected without asking the registry again).")
    retry_seconds: float = Field(
        default=5.0, gt=0,
        description="After the registry did not answer, how long ids not cached are "
        "rejected without asking it.")

    @field_validator("url")
    @classmethod
    def _is_http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _auth_is_complete(self) -> SchemaRegistryConfig:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("basic auth needs both username and password_file")
        return self

    def password(self) -> str | None:
        """The basic-auth password, read from its file."""
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").strip()


def _file_entry(value: Any) -> Any:
    return {"path": value} if isinstance(value, str | Path) else value


class SchemaFileConfig(_Frozen):
    """A schema file for one schema id: ``.avsc`` (Avro) or ``.proto`` (Protobuf)."""

    path: Path
    message: str | None = Field(
        default=None, min_length=1,
        description="Protobuf: decode every message of this id as this message type "
        "(name or full name), whatever the frame's message indexes say. Default: the "
        "frame's indexes pick it (0: the file's first message).")

    @model_validator(mode="after")
    def _known_kind(self) -> SchemaFileConfig:
        kind = SCHEMA_SUFFIXES.get(self.path.suffix.lower())
        if kind is None:
            raise ValueError(f"{self.path}: a schema file ends in .avsc (Avro) or .proto "
                             "(Protobuf)")
        if self.message is not None and kind != "protobuf":
            raise ValueError("message names a Protobuf message type; this is an Avro file")
        return self

    @property
    def format(self) -> str:
        return SCHEMA_SUFFIXES[self.path.suffix.lower()]


SchemaFile = Annotated[SchemaFileConfig, BeforeValidator(_file_entry)]
SchemaFiles = dict[Annotated[int, Field(ge=0, lt=2**32)], SchemaFile]


def check_wire_topics(topics: Sequence[tuple[str, str]], registry: SchemaRegistryConfig | None,
                      files: Mapping[int, SchemaFileConfig]) -> None:
    """Raise ValueError naming the first topic (name, format) whose schemas have no
    source, or whose format needs an extra that is not installed."""
    formats = {f.format for f in files.values()}
    for name, format in topics:
        if format not in EXTRAS:
            continue
        extra, modules = EXTRAS[format]
        if any(not _importable(module) for module in modules):
            raise ValueError(f"topic {name!r}: format {format} needs the {extra} extra: "
                             f"pip install 'driftd[{extra}]'")
        if registry is None and format not in formats:
            suffix = next(s for s, f in SCHEMA_SUFFIXES.items() if f == format)
            raise ValueError(f"topic {name!r} has format {format} but there is no "
                             f"schema_registry and no {suffix} file in schema_files")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing
        return False


def resolve_wire_paths(source: Any, resolve: Callable[[Any], Any]) -> Any:
    """A raw source section with its schema files and registry files made relative to
    the config file's directory (``resolve``)."""
    if not isinstance(source, dict):
        return source
    result = dict(source)
    files = result.get("schema_files")
    if isinstance(files, dict):
        result["schema_files"] = {
            key: {**entry, "path": resolve(entry["path"])}
            if isinstance(entry, dict) and "path" in entry else resolve(entry)
            for key, entry in files.items()}
    registry = result.get("schema_registry")
    if isinstance(registry, dict):
        result["schema_registry"] = {key: resolve(value) if key in ("password_file", "ca_file")
                                     else value for key, value in registry.items()}
    return result
