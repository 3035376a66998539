"""Avro in the Confluent wire format, from schema files: records become the JSON-like
objects the field paths read, every logical type a number or a string, and a message
that cannot be used is rejected under its reason with its bytes."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftd.config import ColumnConfig, EventFields, KafkaSourceConfig
from driftd.events import Decoder
from driftd.sources.base import RawBatch
from driftd.wire.translator import WireTranslator, wire_translators
from wire.support import avro_encoder, frame

NESTED = {
    "type": "record", "name": "Request", "namespace": "shop",
    "fields": [
        {"name": "data", "type": {"type": "record", "name": "Data", "fields": [
            {"name": "model", "type": "string"},
            {"name": "request_id", "type": {"type": "string", "logicalType": "uuid"}}]}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "clock", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal",
                                   "precision": 9, "scale": 2}},
        {"name": "features", "type": {"type": "map", "values": ["null", "double", "string"]}},
        {"name": "items", "type": {"type": "array", "items": "long"}},
        {"name": "tier", "type": {"type": "enum", "name": "Tier", "symbols": ["FREE", "PRO"]}},
        {"name": "raw", "type": "bytes"},
        {"name": "big", "type": "long"},
    ],
}


def translator(tmp_path: Path, schema: dict[str, Any], schema_id: int = 3) -> WireTranslator:
    path = tmp_path / "request.avsc"
    path.write_text(json.dumps(schema))
    source = KafkaSourceConfig(bootstrap_servers="localhost:9092",
                               topics=[{"name": "requests", "format": "avro"}],
                               schema_files={schema_id: str(path)})
    return wire_translators(source)["requests"]


def batch(*messages: bytes) -> RawBatch:
    return RawBatch("predictions", list(messages),
                    [f"requests[0]@{i}" for i in range(len(messages))], key="requests")


RECORD = {
    "data": {"model": "fraud", "request_id": uuid.UUID(int=7)},
    "at": dt.datetime(2026, 11, 26, 12, 0, 0, 250_000, tzinfo=dt.UTC),
    "at_ms": 1_764_158_400_123,
    "day": dt.date(2026, 11, 26),
    "clock": dt.time(1, 2, 3, 500_000),
    "price": Decimal("12.34"),
    "features": {"age": 41.5, "country": "DE", "income": None},
    "items": [2**40, 3],
    "tier": "PRO",
    "raw": b"\x00\x01\xfe",
    "big": 2**62 + 1,
}


def test_a_nested_record_becomes_the_object_the_field_paths_read(tmp_path: Path) -> None:
    """A record with nested records, a map, an array, an enum and every common logical
    type decodes to plain values: timestamps and dates as epoch seconds, time as
    seconds since midnight, decimal a float, uuid and enum strings, bytes base64,
    longs exact ints."""
    encode = avro_encoder(NESTED)
    out = translator(tmp_path, NESTED).translate(batch(frame(3, encode(RECORD))), 0.0)
    assert out.rejections == []
    assert out.objects == [{
        "data": {"model": "fraud", "request_id": "00000000-0000-0000-0000-000000000007"},
        "at": 1_795_694_400.25, "at_ms": 1_764_158_400.123,
        "day": 1_795_651_200.0, "clock": 3723.5, "price": 12.34,
        "features": {"age": 41.5, "country": "DE", "income": None},
        "items": [2**40, 3], "tier": "PRO", "raw": "AAH+", "big": 2**62 + 1,
    }]
    assert out.origins == ["requests[0]@0"]
    assert type(out.objects[0]["big"]) is int


def test_the_decoder_reads_avro_objects_at_their_field_paths(tmp_path: Path) -> None:
    """Through the Decoder: model at data.model, id at data.request_id, time at at, a
    map value and an array item as numeric columns, the enum as a categorical one."""
    encode = avro_encoder(NESTED)
    records = [RECORD | {"features": {"age": float(age), "country": "FR"}, "tier": tier}
               for age, tier in ((30, "FREE"), (50, "PRO"))]
    out = translator(tmp_path, NESTED).translate(
        batch(*(frame(3, encode(r)) for r in records)), 0.0)
    columns = {"fraud": [ColumnConfig(name="age", kind="numeric", path="features.age"),
                         ColumnConfig(name="first", kind="numeric", path="items[0]"),
                         ColumnConfig(name="tier", kind="categorical", path="tier")]}
    decoder = Decoder(columns, fields=EventFields(model="data.model", id="data.request_id",
                                                  ts="at"))
    decoded = decoder.decode_objects(out.objects, 2e9, out.origins)
    assert decoded.rejections == []
    model = decoded.models["fraud"]
    assert model.numeric["age"].tolist() == [30.0, 50.0]
    assert model.numeric["first"].tolist() == [2.0**40] * 2
    assert model.categorical["tier"] == ["FREE", "PRO"]
    np.testing.assert_array_equal(model.timestamps, [1_795_694_400.25] * 2)


def test_records_without_logical_types_are_not_walked(tmp_path: Path) -> None:
    """A schema of plain types decodes straight to fastavro's dicts (same values)."""
    schema = {"type": "record", "name": "P", "fields": [
        {"name": "model", "type": "string"}, {"name": "x", "type": ["null", "double"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}}]}
    encode = avro_encoder(schema)
    out = translator(tmp_path, schema).translate(
        batch(frame(3, encode({"model": "m", "x": None, "tags": ["a"]}))), 0.0)
    assert out.objects == [{"model": "m", "x": None, "tags": ["a"]}]


@pytest.mark.parametrize(("message", "reason", "detail"), [
    (b'{"model": "fraud"}', "bad_frame", "no magic byte 0"),
    (b"\x00\x00\x00", "bad_frame", "truncated frame"),
    (frame(4, b"\x02a"), "unknown_schema", "schema id 4 is not in schema_files"),
    (frame(3, b"\x04a"), "bad_payload", "schema id 3: truncated Avro payload"),
    (frame(3, b"\x02a\x04x"), "bad_payload", "2 bytes left after the record"),
    (frame(3, b"\x03"), "bad_payload", "schema id 3"),  # a negative string length
])
def test_a_message_that_cannot_be_used_is_rejected_with_its_bytes(
        tmp_path: Path, message: bytes, reason: str, detail: str) -> None:
    """Each bad message is one rejection under its reason, with its origin and its
    original bytes; the good message beside it still comes through."""
    schema = {"type": "record", "name": "P", "fields": [{"name": "model", "type": "string"}]}
    good = frame(3, avro_encoder(schema)({"model": "m"}))
    out = translator(tmp_path, schema).translate(batch(good, message, good), 0.0)
    assert out.objects == [{"model": "m"}, {"model": "m"}]
    assert out.origins == ["requests[0]@0", "requests[0]@2"]
    (rejection,) = out.rejections
    assert (rejection.reason, rejection.origin, rejection.payload) == (
        reason, "requests[0]@1", message)
    assert detail in rejection.detail
