"""Avro and Protobuf topics on the real broker, driftd as a process: the same events
written as JSON, as Avro and as Protobuf give the same windows with the same statistics,
with schemas from a registry (a Confluent-compatible server on a free port, schemas
registered through its API) or from schema files; a message with an unknown schema id
or no frame is counted and dead-lettered byte for byte, and the rest of its batch
counts."""

from __future__ import annotations

import json
import random
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from kafka_e2e.support import (
    Driftd,
    assert_same_history,
    consume_all,
    load_results,
    produce,
    workload,
    write_config,
)
from wire.registry_server import registry_server
from wire.support import (
    AVRO_EVENT,
    PROTO_EVENT,
    avro_encoder,
    avro_event,
    frame,
    proto_classes,
    proto_event,
    write_schema_files,
)

pytestmark = pytest.mark.kafka

ROWS = 12_000
WINDOWS = [
    {"name": "count", "type": "count", "size": 4000, "step": 2000},
    {"name": "time", "type": "time", "duration_seconds": 4, "slide_seconds": 2,
     "allowed_lateness_seconds": 0},
]


def register(url: str, subject: str, schema: str, schema_type: str,
             references: list[dict[str, Any]] | None = None) -> int:
    """POST /subjects/{subject}/versions, as a producer's serializer registers."""
    body = json.dumps({"schema": schema, "schemaType": schema_type,
                       "references": references or []}).encode()
    request = urllib.request.Request(f"{url}/subjects/{subject}/versions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.loads(response.read())["id"])


def events() -> list[dict[str, Any]]:
    """The workload with event times on whole milliseconds (as Avro's timestamp-millis
    and a Timestamp carry them) and c3 as the enum's symbol."""
    found = list(workload.events(ROWS, drift_after=ROWS // 2))
    for event in found:
        event["ts"] = round(event["ts"] * 1000) / 1000
    return found


def run(tmp_path: Path, bootstrap: str, name: str, topic: str,
        source: dict[str, Any]) -> dict[str, Any]:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "bench.json").symlink_to(tmp_path / "bench.json")
    config = write_config(directory, bootstrap=bootstrap, topic=topic, group=f"wire-{name}",
                          windows=WINDOWS, extra_source=source)
    dump = directory / "results.json"
    driftd = Driftd(config, drain=True, dump=dump, log=directory / "driftd.log")
    assert driftd.wait(timeout=180) == 0, (directory / "driftd.log").read_text()[-3000:]
    return load_results(dump)


def in_order(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By window, then time: how count and time windows interleave depends on where
    the batches were cut, not on the events."""
    return sorted(history, key=lambda r: (r["window"], r["end"], r["revision"]))


@pytest.fixture
def profile(tmp_path: Path) -> None:
    from kafka_e2e.support import write_profile

    write_profile(tmp_path / "bench.json", workload.columns())


def test_json_avro_and_protobuf_give_the_same_windows(
        kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
        profile: None) -> None:
    """12,000 workload events (drifting half-way) produced three times, to a topic
    each: as JSON, as Avro (schema id from the registry) and as Protobuf
    (registered .proto text, compiled with protoc at run time; message index [0]).
    driftd reads each topic to its end: Avro and Protobuf from the registry, and the
    Protobuf topic again with its schema from a schema file instead. Expected: every
    run counts all 12,000 events, rejects none, and publishes the same count and time
    windows as the JSON run with equal statistics and decisions."""
    rows = events()
    # One partition each: count windows follow arrival order, the same in every run.
    json_topic, avro_topic, proto_topic = (kafka_topic(partitions=1) for _ in range(3))
    with registry_server() as (url, state):
        avro_id = register(url, f"{avro_topic}-value", json.dumps(AVRO_EVENT), "AVRO")
        proto_id = register(url, f"{proto_topic}-value", PROTO_EVENT, "PROTOBUF")
        encode = avro_encoder(AVRO_EVENT)
        event_class = proto_classes(PROTO_EVENT)[0]["bench.Event"]
        produce(kafka_bootstrap, json_topic, (orjson.dumps(e) for e in rows), partitions=1)
        produce(kafka_bootstrap, avro_topic,
                (frame(avro_id, encode(avro_event(e))) for e in rows), partitions=1)
        produce(kafka_bootstrap, proto_topic,
                (frame(proto_id, proto_event(event_class, e), (0,)) for e in rows),
                partitions=1)
        registry = {"schema_registry": {"url": url, "timeout_seconds": 5}}
        want = run(tmp_path, kafka_bootstrap, "json", json_topic, {})
        got = {
            "avro": run(tmp_path, kafka_bootstrap, "avro", avro_topic,
                        {"topics": [{"name": avro_topic, "format": "avro"}]} | registry),
            "protobuf": run(tmp_path, kafka_bootstrap, "protobuf", proto_topic,
                            {"topics": [{"name": proto_topic, "format": "protobuf"}]}
                            | registry),
        }
        fetched = list(state.requests)
    _, proto_file = write_schema_files(tmp_path)
    got["protobuf file"] = run(tmp_path, kafka_bootstrap, "protobuf-file", proto_topic, {
        "topics": [{"name": proto_topic, "format": "protobuf"}],
        "schema_files": {proto_id: str(proto_file)}})
    assert want["events"] == {"predictions/bench": ROWS} and want["invalid"] == {}
    assert len(want["history"]) > 10
    for name, results in got.items():
        assert results["events"] == want["events"], name
        assert results["invalid"] == {}, name
        assert_same_history(in_order(results["history"]), in_order(want["history"]))
    # Each schema fetched once by its daemon (the Protobuf one tries the serialized
    # descriptor first: this registry sends the text for it, which is used as such).
    assert fetched == [f"POST /subjects/{avro_topic}-value/versions",
                       f"POST /subjects/{proto_topic}-value/versions",
                       f"GET /schemas/ids/{avro_id}",
                       f"GET /schemas/ids/{proto_id}?format=serialized"]


PROTO_COMMON = """
syntax = "proto3";
package bench.common;
enum C3 { c3_0 = 0; c3_1 = 1; c3_2 = 2; }
"""


def test_a_real_registry_gives_the_json_windows(
        kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
        profile: None, schema_registry_url: str) -> None:
    """The same as above with a real registry (Apicurio, its Confluent-compatible API):
    the Avro schema, and the Protobuf schema importing its enum from another registered
    .proto (a reference by import name, subject and version). Expected: both runs count
    every event, reject none, and publish the JSON run's windows and statistics."""
    rows = events()
    json_topic, avro_topic, proto_topic = (kafka_topic(partitions=1) for _ in range(3))
    url = schema_registry_url
    avro_id = register(url, f"{avro_topic}-value", json.dumps(AVRO_EVENT), "AVRO")
    common = f"{proto_topic}-common.proto"
    register(url, common, PROTO_COMMON, "PROTOBUF")
    with_import = PROTO_EVENT.replace(
        'import "google/protobuf/timestamp.proto";',
        'import "google/protobuf/timestamp.proto";\nimport "bench/common.proto";').replace(
        "enum C3 { c3_0 = 0; c3_1 = 1; c3_2 = 2; }", "").replace(
        "  C3 c3 = 24;", "  bench.common.C3 c3 = 24;")
    proto_id = register(url, f"{proto_topic}-value", with_import, "PROTOBUF", references=[
        {"name": "bench/common.proto", "subject": common, "version": 1}])
    encode = avro_encoder(AVRO_EVENT)
    event_class = proto_classes(PROTO_EVENT)[0]["bench.Event"]  # the same bytes
    produce(kafka_bootstrap, json_topic, (orjson.dumps(e) for e in rows), partitions=1)
    produce(kafka_bootstrap, avro_topic,
            (frame(avro_id, encode(avro_event(e))) for e in rows), partitions=1)
    produce(kafka_bootstrap, proto_topic,
            (frame(proto_id, proto_event(event_class, e), (0,)) for e in rows), partitions=1)
    registry = {"schema_registry": {"url": url}}
    want = run(tmp_path, kafka_bootstrap, "json", json_topic, {})
    for name, topic in (("avro", avro_topic), ("protobuf", proto_topic)):
        got = run(tmp_path, kafka_bootstrap, name, topic,
                  {"topics": [{"name": topic, "format": name}]} | registry)
        assert got["events"] == {"predictions/bench": ROWS} and got["invalid"] == {}, name
        assert_same_history(in_order(got["history"]), in_order(want["history"]))


def test_unknown_schema_ids_and_bad_frames_are_counted_and_dead_lettered(
        kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
        profile: None) -> None:
    """3,000 good Avro events (schema from a file) with, scattered among them, 5
    messages of an unknown schema id, 2 plain JSON events (no magic byte), one
    truncated frame and one payload that is not of its schema. Expected: all 3,000
    good events count; the 9 bad ones are counted under unknown_schema, bad_frame and
    bad_payload and land in the dead-letter topic with their original bytes and
    reasons."""
    topic, dead = kafka_topic(partitions=3), kafka_topic(partitions=1)
    avsc, _ = write_schema_files(tmp_path)
    encode = avro_encoder(AVRO_EVENT)
    rows = events()[:3000]
    good = [frame(7, encode(avro_event(e))) for e in rows]
    bad = {"unknown_schema": [frame(999, encode(avro_event(e))) for e in rows[:5]],
           "bad_frame": [orjson.dumps(rows[0]), orjson.dumps(rows[1]), b"\x00\x00\x07"],
           "bad_payload": [frame(7, b"\x02")]}
    messages = list(good)
    rng = random.Random(11)
    for payloads in bad.values():
        for payload in payloads:
            messages.insert(rng.randrange(len(messages)), payload)
    produce(kafka_bootstrap, topic, messages, partitions=3)
    results = run(tmp_path, kafka_bootstrap, "dlq", topic, {
        "topics": [{"name": topic, "format": "avro"}], "schema_files": {7: str(avsc)},
        "dead_letter_topic": dead})
    assert results["events"] == {"predictions/bench": 3000}
    assert results["invalid"] == {"unknown_schema": 5, "bad_frame": 3, "bad_payload": 1}
    letters = consume_all(kafka_bootstrap, dead, expected=9)
    assert sorted((dict(r.headers)["driftd-reason"].decode(), r.value) for r in letters) == \
        sorted((reason, payload) for reason, payloads in bad.items() for payload in payloads)
