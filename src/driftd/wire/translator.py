"""Avro and Protobuf topics in the Confluent wire format, translated into event objects.

Every message that cannot be used is rejected with its original bytes under one reason:
``bad_frame`` (no magic byte, a truncated frame, message indexes the schema does not
have), ``unknown_schema``, ``unusable_schema``, ``schema_registry_unavailable`` or
``bad_payload`` (the payload does not decode with its schema). The schema formats are
imported only when a topic uses them (the ``avro`` and ``protobuf`` extras).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from driftd.config import KafkaSourceConfig
from driftd.config.wire import SchemaFileConfig
from driftd.events import Rejection
from driftd.service.pipeline import Translated
from driftd.sources.base import RawBatch
from driftd.wire.framing import FrameError, parse_frame
from driftd.wire.registry import SchemaRegistry
from driftd.wire.schemas import CacheLimits, Compile, SchemaProblem, Schemas, UnusableSchema


class PayloadDecoder(Protocol):
    def decode(self, payload: bytes) -> Any:
        """The payload as a JSON-like object; raises ValueError when it does not decode."""
        ...


class Schema(Protocol):
    """A schema ready to decode: the decoder of the message at a frame's indexes."""

    def decoder(self, indexes: tuple[int, ...]) -> PayloadDecoder: ...


class WireTranslator:
    """Framed Avro or Protobuf messages of one topic -> event objects."""

    def __init__(self, schemas: Schemas[Schema], *, protobuf: bool,
                 max_bytes: int | None = None) -> None:
        self._schemas, self._protobuf, self._max_bytes = schemas, protobuf, max_bytes

    def translate(self, raw: RawBatch, now: float) -> Translated:
        out = Translated()
        deadline = self._schemas.budget()
        for index, message in enumerate(raw.messages):
            origin = raw.origins[index] if index < len(raw.origins) else f"#{index}"
            schema_id: int | None = None
            if self._max_bytes is not None and len(message) > self._max_bytes:
                out.rejections.append(Rejection(
                    "oversized", f"{len(message)} bytes (max_message_bytes {self._max_bytes})",
                    origin, bytes(message)))
                continue
            try:
                frame = parse_frame(message, protobuf=self._protobuf)
                schema_id = frame.schema_id
                decoder = self._schemas.get(schema_id, deadline).decoder(frame.indexes)
                event = decoder.decode(frame.payload(message))
            except FrameError as error:
                out.rejections.append(Rejection("bad_frame", str(error), origin,
                                                bytes(message)))
                continue
            except SchemaProblem as error:
                out.rejections.append(Rejection(error.reason, error.detail, origin,
                                                bytes(message)))
                continue
            except (ValueError, RecursionError) as error:
                out.rejections.append(Rejection("bad_payload", f"schema id {schema_id}: "
                                                f"{str(error)[:200]}", origin, bytes(message)))
                continue
            out.objects.append(event)
            out.origins.append(origin)
        return out


def wire_translators(source: KafkaSourceConfig, max_bytes: int | None = None
                     ) -> dict[str, WireTranslator]:
    """A translator per avro or protobuf topic of ``source`` (messages over the
    source's ``max_message_bytes``, else ``max_bytes``, are oversized); one schema cache
    per format, shared by its topics. Raises UnusableSchema for a schema file that does not
    load (checked at start-up by ``preflight``)."""
    wire = [t for t in source.topics if t.format in ("avro", "protobuf")]
    if not wire:
        return {}
    settings = source.schema_registry
    registry = limits = None
    if settings is not None:
        registry = SchemaRegistry(settings.url, username=settings.username,
                                  password=settings.password(), ca_file=settings.ca_file)
        limits = CacheLimits(settings.cache_size, settings.failed_ttl_seconds,
                             settings.retry_seconds, settings.timeout_seconds)
    translators: dict[str, WireTranslator] = {}
    by_format: dict[str, Schemas[Schema]] = {}
    for topic in wire:
        schemas = by_format.get(topic.format)
        if schemas is None:
            compile, load = _format(topic.format)
            files = {schema_id: load(entry) for schema_id, entry in source.schema_files.items()
                     if entry.format == topic.format}
            schemas = by_format[topic.format] = Schemas(compile, files, registry, limits)
        translators[topic.name] = WireTranslator(schemas, protobuf=topic.format == "protobuf",
                                                 max_bytes=source.max_message_bytes or max_bytes)
    return translators


def load_schema_file(entry: SchemaFileConfig) -> Schema:
    """The schema in a schema file; raises UnusableSchema naming the problem."""
    return _format(entry.format)[1](entry)


def _format(format: str) -> tuple[Compile[Schema], Callable[[SchemaFileConfig], Schema]]:
    module: Any = importlib.import_module(f"driftd.wire.{format}")
    if format == "avro":
        return module.compile_registered, lambda entry: module.load_file(Path(entry.path))
    if format == "protobuf":
        return module.compile_registered, lambda entry: module.load_file(Path(entry.path),
                                                                         entry.message)
    raise UnusableSchema(f"no schema format {format}")
