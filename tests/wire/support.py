"""Schemas and encoders of the wire-format scenarios: the standard workload's events
(tests/kafka_e2e, benchmarks/workload.py) as Avro and as Protobuf, framed as a
Confluent serializer frames them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from driftd.wire.framing import frame
from driftd.wire.protobuf import compile_proto

NUMERIC = [f"x{i:02d}" for i in range(20)]
CATEGORICAL = ["c0", "c1", "c2"]  # strings; c3 is an enum
C3 = ["c3_0", "c3_1", "c3_2"]

AVRO_EVENT: dict[str, Any] = {
    "type": "record", "name": "Event", "namespace": "bench",
    "fields": [
        {"name": "model", "type": "string"},
        {"name": "id", "type": "string"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "features", "type": {
            "type": "record", "name": "Features",
            "fields": [{"name": n, "type": ["null", "double"], "default": None}
                       for n in NUMERIC]
            + [{"name": n, "type": "string"} for n in CATEGORICAL]
            + [{"name": "c3", "type": {"type": "enum", "name": "C3", "symbols": C3}}]}},
    ],
}

_FEATURES = "\n".join(
    [f"  optional double {n} = {i + 1};" for i, n in enumerate(NUMERIC)]
    + [f"  string {n} = {21 + i};" for i, n in enumerate(CATEGORICAL)] + ["  C3 c3 = 24;"])
PROTO_EVENT = f"""
syntax = "proto3";
package bench;
import "google/protobuf/timestamp.proto";

enum C3 {{ c3_0 = 0; c3_1 = 1; c3_2 = 2; }}

message Event {{
  string model = 1;
  string id = 2;
  google.protobuf.Timestamp ts = 3;
  Features features = 4;
}}

message Features {{
{_FEATURES}
}}
"""


def avro_encoder(schema: dict[str, Any]) -> Any:
    parsed = fastavro.parse_schema(schema)

    def encode(record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, record)
        return out.getvalue()
    return encode


def proto_classes(text: str, name: str = "event.proto") -> tuple[dict[str, Any], bytes]:
    """The message classes of a .proto text by full name, and its serialized
    FileDescriptorProto (what a registry gives for format=serialized)."""
    files = compile_proto({name: text}, name)
    pool = descriptor_pool.DescriptorPool()
    for file in files:
        pool.Add(file)
    main = next(f for f in files if f.name == name)
    classes = {}
    for message in main.message_type:
        full = f"{main.package}.{message.name}" if main.package else message.name
        classes[full] = message_factory.GetMessageClass(pool.FindMessageTypeByName(full))
    return classes, main.SerializeToString()


def avro_event(event: dict[str, Any]) -> dict[str, Any]:
    """A workload event as the Avro record (ts in milliseconds)."""
    return {"model": event["model"], "id": event["id"], "ts": round(event["ts"] * 1000),
            "features": event["features"]}


def proto_event(event_class: Any, event: dict[str, Any]) -> bytes:
    message = event_class(model=event["model"], id=event["id"])
    millis = round(event["ts"] * 1000)
    message.ts.seconds, message.ts.nanos = divmod(millis, 1000)
    message.ts.nanos *= 1_000_000
    for name, value in event["features"].items():
        if value is None:
            continue
        setattr(message.features, name, value)
    return bytes(message.SerializeToString())


def write_schema_files(directory: Path) -> tuple[Path, Path]:
    avsc, proto = directory / "event.avsc", directory / "event.proto"
    avsc.write_text(json.dumps(AVRO_EVENT))
    proto.write_text(PROTO_EVENT)
    return avsc, proto


__all__ = ["AVRO_EVENT", "PROTO_EVENT", "avro_encoder", "avro_event", "descriptor_pb2",
           "frame", "proto_classes", "proto_event", "write_schema_files"]
