"""Protobuf in the Confluent wire format, from schema files: the frame's message indexes
pick the message type, numbers stay numbers (int64 too), enums become names, presence
decides what is missing, and well-known types become numbers and JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pool, message_factory

from driftd.config import KafkaSourceConfig
from driftd.config.wire import SchemaFileConfig
from driftd.sources.base import RawBatch
from driftd.wire.protobuf import compile_proto
from driftd.wire.schemas import UnusableSchema
from driftd.wire.translator import WireTranslator, load_schema_file, wire_translators
from wire.support import frame

COMMON = """
syntax = "proto3";
package shop.common;
enum Country { COUNTRY_UNSPECIFIED = 0; DE = 1; FR = 2; }
message Money { int64 units = 1; int32 nanos = 2; }
"""

REQUEST = """
syntax = "proto3";
package shop;
import "common.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";

message Other { string note = 1; }

message Request {
  message Data { string model = 1; string id = 2; }
  message Features {
    double age = 1;
    shop.common.Country country = 2;
    optional double income = 3;
    float ratio = 4;
  }
  Data data = 1;
  google.protobuf.Timestamp at = 2;
  Features features = 3;
  repeated int64 items = 4;
  map<string, double> scores = 5;
  map<int32, Features> by_slot = 6;
  int64 big = 7;
  uint64 huge = 8;
  bytes raw = 9;
  google.protobuf.DoubleValue wrapped = 10;
  google.protobuf.Struct extra = 11;
  shop.common.Money price = 12;
  oneof choice { string label = 13; double score = 14; }
  repeated shop.common.Country seen = 15;
}
"""


def write(directory: Path) -> Path:
    (directory / "common.proto").write_text(COMMON)
    path = directory / "request.proto"
    path.write_text(REQUEST)
    return path


def translator(path: Path, message: str | None = None) -> WireTranslator:
    entry: dict[str, Any] = {"path": str(path)} | ({"message": message} if message else {})
    source = KafkaSourceConfig(bootstrap_servers="localhost:9092",
                               topics=[{"name": "requests", "format": "protobuf"}],
                               schema_files={5: entry})
    return wire_translators(source)["requests"]


def batch(*messages: bytes) -> RawBatch:
    return RawBatch("predictions", list(messages),
                    [f"requests[1]@{i}" for i in range(len(messages))], key="requests")


def request_class() -> Any:
    """The producer's class of shop.Request (built with google.protobuf directly)."""
    files = compile_proto({"common.proto": COMMON, "request.proto": REQUEST}, "request.proto")
    pool = descriptor_pool.DescriptorPool()
    for file in files:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Request"))


def test_a_nested_message_becomes_the_object_the_field_paths_read(tmp_path: Path) -> None:
    """Nested messages are dicts, maps dicts with string keys, repeated fields lists,
    enums names, int64 and uint64 exact ints, bytes base64, Timestamp epoch seconds,
    a wrapper its value, Struct its JSON; an unset field with presence is absent, an
    unset proto3 scalar is its default (0 is a value, not missing)."""
    path = write(tmp_path)
    Request = request_class()  # noqa: N806
    message = Request(items=[2**40, -3], scores={"a": 0.25}, big=-(2**62), huge=2**64 - 1,
                      raw=b"\x00\xff", seen=[1, 2, 7], label="yes")
    message.data.model, message.data.id = "fraud", "r-1"
    message.at.seconds, message.at.nanos = 1_795_694_400, 250_000_000
    message.features.age, message.features.country = 0.0, 2
    message.by_slot[3].age = 7.5
    message.wrapped.value = 1.5
    message.extra.update({"k": [1, "x", None], "n": {"deep": True}})
    message.price.units = 12
    out = translator(path).translate(
        batch(frame(5, message.SerializeToString(), (1,))), 0.0)
    assert out.rejections == []
    assert out.objects == [{
        "data": {"model": "fraud", "id": "r-1"},
        "at": 1_795_694_400.25,
        "features": {"age": 0.0, "country": "FR", "ratio": 0.0},
        "items": [2**40, -3], "scores": {"a": 0.25},
        "by_slot": {"3": {"age": 7.5, "country": "COUNTRY_UNSPECIFIED", "ratio": 0.0}},
        "big": -(2**62), "huge": 2**64 - 1, "raw": "AP8=", "wrapped": 1.5,
        "extra": {"k": [1.0, "x", None], "n": {"deep": True}},
        "price": {"units": 12, "nanos": 0},
        "label": "yes", "seen": ["DE", "FR", 7],
    }]
    assert type(out.objects[0]["big"]) is int and type(out.objects[0]["huge"]) is int


def test_the_message_indexes_pick_the_type(tmp_path: Path) -> None:
    """Index [0] (the short form) is the file's first message, [1, 1] the second
    message's second nested type; an index the file does not have is a bad frame."""
    path = write(tmp_path)
    wire = translator(path)
    out = wire.translate(batch(frame(5, b"\x0a\x02hi", (0,)),
                               frame(5, b"\x09\x00\x00\x00\x00\x00\x00\xf8\x3f", (1, 1)),
                               frame(5, b"", (2,)), frame(5, b"", (1, 9))), 0.0)
    assert out.objects == [{"note": "hi"},
                           {"age": 1.5, "country": "COUNTRY_UNSPECIFIED", "ratio": 0.0}]
    assert [(r.reason, r.detail) for r in out.rejections] == [
        ("bad_frame", "message index [2]: the file has 2 messages"),
        ("bad_frame", "message index [1, 9]: shop.Request has 4 messages")]


def test_a_named_message_type_decodes_every_message_of_its_id(tmp_path: Path) -> None:
    """With ``message: Request`` in schema_files, the frame's indexes are not used."""
    path = write(tmp_path)
    out = translator(path, message="Request").translate(
        batch(frame(5, b"\x38\x05", (0,))), 0.0)  # big = 5
    assert out.objects[0]["big"] == 5 and "data" not in out.objects[0]


def test_a_payload_that_does_not_parse_is_a_bad_payload(tmp_path: Path) -> None:
    """Bytes that are no message of the type are rejected with their bytes, the other
    messages of the batch come through."""
    path = write(tmp_path)
    bad = frame(5, b"\x0a\x09short", (0,))  # a string field announcing 9 bytes, 5 there
    out = translator(path).translate(batch(bad, frame(5, b"\x0a\x01x", (0,))), 0.0)
    assert out.objects == [{"note": "x"}]
    (rejection,) = out.rejections
    assert (rejection.reason, rejection.payload) == ("bad_payload", bad)
    assert rejection.detail.startswith("schema id 5: not a Protobuf message of this type")


@pytest.mark.parametrize(("text", "message", "problem"), [
    ("syntax = 'proto3'; message A { int32 x = 1 }", None, "protoc: "),
    ('syntax = "proto3"; import "missing.proto"; message A {}', None, "missing.proto"),
    ('syntax = "proto3"; message A {}', "B", "no message B in a.proto (it defines A)"),
    ("", None, "is empty"),
])
def test_a_schema_file_that_does_not_load_says_why(tmp_path: Path, text: str,
                                                   message: str | None, problem: str) -> None:
    """A .proto that protoc rejects, that imports a file not there, or that lacks the
    named message is an UnusableSchema naming the problem."""
    path = tmp_path / "a.proto"
    path.write_text(text)
    with pytest.raises(UnusableSchema, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_schema_file(SchemaFileConfig(path=path, message=message))
