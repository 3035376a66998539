"""Schemas from a Confluent-compatible registry (a real HTTP server on a free port,
tests/wire/registry_server.py): references, Protobuf descriptors served serialized or
as text, the cache, unknown ids remembered, an outage and a slow registry bounded."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from driftd.sources.base import RawBatch
from driftd.wire import avro, protobuf
from driftd.wire.registry import SchemaRegistry
from driftd.wire.schemas import CacheLimits, Schemas
from driftd.wire.translator import WireTranslator
from wire.registry_server import RegistryState, registry_server
from wire.support import avro_encoder, frame, proto_classes

MONEY = {"type": "record", "name": "Money", "namespace": "shop",
         "fields": [{"name": "amount", "type": "double"}]}
ORDER = {"type": "record", "name": "Order", "namespace": "shop",
         "fields": [{"name": "model", "type": "string"}, {"name": "price", "type": "shop.Money"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def translator(url: str, format: str = "avro", clock: Clock | None = None,
               **limits: Any) -> WireTranslator:
    compile = avro.compile_registered if format == "avro" else protobuf.compile_registered
    schemas: Schemas[Any] = Schemas(compile, {}, SchemaRegistry(url), CacheLimits(**limits),
                                    clock=clock or time.monotonic)
    return WireTranslator(schemas, protobuf=format == "protobuf")


def batch(*messages: bytes) -> RawBatch:
    return RawBatch("predictions", list(messages),
                    [f"t[0]@{i}" for i in range(len(messages))], key="t")


def register_order(state: RegistryState) -> int:
    state.register("money-value", json.dumps(MONEY))
    return state.register("orders-value", json.dumps(ORDER), references=[
        {"name": "shop.Money", "subject": "money-value", "version": 1}])


def test_an_avro_schema_with_references_is_fetched_once(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    """The schema and the one it references are fetched on first sight of the id; the
    next batches with that id ask the registry nothing."""
    with registry_server() as (url, state):
        order = register_order(state)
        encode = avro_encoder({**ORDER, "fields": [ORDER["fields"][0], {
            "name": "price", "type": MONEY}]})
        message = frame(order, encode({"model": "m", "price": {"amount": 2.5}}))
        wire = translator(url)
        for _ in range(3):
            out = wire.translate(batch(message, message), 0.0)
            assert out.objects == [{"model": "m", "price": {"amount": 2.5}}] * 2
        assert state.requests == [f"GET /schemas/ids/{order}",
                                  "GET /subjects/money-value/versions/1"]


def test_protobuf_descriptors_come_serialized_when_the_registry_gives_them() -> None:
    """format=serialized: one request, no protoc; a registry that refuses the format
    (501) is asked for the text, which protoc compiles; one that ignores it sends the
    text at once. All three decode the same."""
    text = 'syntax = "proto3"; package p; message A { int64 n = 1; string s = 2; }'
    classes, serialized = proto_classes(text, "a.proto")
    payload = classes["p.A"](n=2**60, s="x").SerializeToString()
    for serves, stored, requests in (
            (True, serialized, ["GET /schemas/ids/1?format=serialized"]),
            (False, serialized, ["GET /schemas/ids/1?format=serialized", "GET /schemas/ids/1"]),
            (True, None, ["GET /schemas/ids/1?format=serialized"])):
        with registry_server(RegistryState(serves_serialized=serves)) as (url, state):
            state.register("a-value", text, "PROTOBUF", serialized=stored)
            out = translator(url, "protobuf").translate(batch(frame(1, payload, (0,))), 0.0)
            assert out.objects == [{"n": 2**60, "s": "x"}], (serves, stored)
            assert state.requests == requests


def test_protobuf_references_are_compiled_with_the_schema() -> None:
    """A .proto importing another registered one (a reference by import name)."""
    common = 'syntax = "proto3"; package c; enum Tier { FREE = 0; PRO = 1; }'
    main = ('syntax = "proto3"; package p; import "c/common.proto"; '
            "message A { c.Tier tier = 1; map<string, double> f = 2; }")
    with registry_server(RegistryState(serves_serialized=False)) as (url, state):
        state.register("common", common, "PROTOBUF")
        schema_id = state.register("a-value", main, "PROTOBUF", references=[
            {"name": "c/common.proto", "subject": "common", "version": 1}])
        out = translator(url, "protobuf").translate(
            batch(frame(schema_id, b"\x08\x01\x12\x0c\x0a\x01x\x11" + b"\x00" * 6 + b"\xf0\x3f",
                        (0,))), 0.0)
        assert out.rejections == []
        assert out.objects == [{"tier": "PRO", "f": {"x": 1.0}}]


def test_an_unknown_id_is_remembered_for_a_while() -> None:
    """Unknown ids are rejected as unknown_schema; the registry is asked once per id
    until failed_ttl_seconds have passed, then again. A schema of the other format is
    unusable_schema."""
    clock = Clock()
    with registry_server() as (url, state):
        proto_id = state.register("p", 'syntax = "proto3"; message A {}', "PROTOBUF")
        wire = translator(url, clock=clock, failed_ttl_seconds=30.0)
        messages = [frame(99, b""), frame(98, b""), frame(proto_id, b"")] * 20
        out = wire.translate(batch(*messages), 0.0)
        assert [r.reason for r in out.rejections] == \
            ["unknown_schema", "unknown_schema", "unusable_schema"] * 20
        assert out.rejections[0].detail.startswith("schema id 99 is not registered")
        assert out.rejections[2].detail == "schema id 1: a PROTOBUF schema, the topic's format " \
            "is avro"
        assert out.rejections[0].payload == messages[0]
        clock.now += 29
        wire.translate(batch(*messages), 0.0)
        assert len(state.requests) == 3
        clock.now += 2
        wire.translate(batch(*messages), 0.0)
        assert len(state.requests) == 6


def test_an_outage_rejects_new_ids_without_asking_and_keeps_cached_ones(
        caplog: pytest.LogCaptureFixture) -> None:
    """While the registry answers 503: a cached id still decodes, a new id is
    schema_registry_unavailable, and the registry is asked again only after
    retry_seconds; one warning for the outage, one line when it answers again."""
    clock = Clock()
    schema = {"type": "record", "name": "E", "fields": [{"name": "model", "type": "string"}]}
    good = avro_encoder(schema)({"model": "m"})
    with registry_server() as (url, state):
        first = state.register("e", json.dumps(schema))
        second = state.register("e", json.dumps(schema))
        wire = translator(url, clock=clock, retry_seconds=5.0)
        assert wire.translate(batch(frame(first, good)), 0.0).objects == [{"model": "m"}]
        state.failing = True
        with caplog.at_level(logging.INFO, logger="driftd.wire.schemas"):
            for _ in range(3):
                out = wire.translate(batch(frame(first, good), frame(second, good)), 0.0)
                assert out.objects == [{"model": "m"}]
                assert [r.reason for r in out.rejections] == ["schema_registry_unavailable"]
            assert len(state.requests) == 2  # the first fetch, then one failed attempt
            clock.now += 6
            state.failing = False
            out = wire.translate(batch(frame(second, good)), 0.0)
            assert out.objects == [{"model": "m"}]
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 2 and "is not answering" in messages[0] \
            and "answers again" in messages[1]


def test_a_slow_registry_holds_a_batch_at_most_its_timeout() -> None:
    """A registry taking 0.4 s per request, a 1 s budget, 20 new ids in one batch: the
    batch takes about a second, the ids not fetched in time are rejected as
    schema_registry_unavailable (and asked for again in the next batch)."""
    schema = {"type": "record", "name": "E", "fields": [{"name": "model", "type": "string"}]}
    good = avro_encoder(schema)({"model": "m"})
    with registry_server(RegistryState(delay_seconds=0.4)) as (url, state):
        ids = [state.register(f"s{i}", json.dumps(schema)) for i in range(20)]
        wire = translator(url, timeout_seconds=1.0)
        started = time.monotonic()
        out = wire.translate(batch(*(frame(i, good) for i in ids)), 0.0)
        took = time.monotonic() - started
        assert took < 1.6, took
        assert 1 <= len(out.objects) <= 3
        reasons = {r.reason for r in out.rejections}
        assert reasons == {"schema_registry_unavailable"}
        assert len(out.objects) + len(out.rejections) == 20


def test_basic_auth_is_sent_and_a_refusal_is_an_outage() -> None:
    """With the right user and password the schema comes; with a wrong one (401) the
    messages are schema_registry_unavailable, saying to check the credentials."""
    schema = {"type": "record", "name": "E", "fields": [{"name": "model", "type": "string"}]}
    good = frame(1, avro_encoder(schema)({"model": "m"}))
    with registry_server(RegistryState(auth=("driftd", "s3cret"))) as (url, state):
        state.register("e", json.dumps(schema))
        for password, expected in (("s3cret", 1), ("wrong", 0)):
            schemas: Schemas[Any] = Schemas(
                avro.compile_registered, {},
                SchemaRegistry(url, username="driftd", password=password), CacheLimits())
            out = WireTranslator(schemas, protobuf=False).translate(batch(good), 0.0)
            assert len(out.objects) == expected
        assert out.rejections[0].reason == "schema_registry_unavailable"
        assert "HTTP 401" in out.rejections[0].detail
        assert "check username and password_file" in out.rejections[0].detail
