"""Seldon Core 2 topics on the real broker: Protobuf OIP requests and responses give the
windows of the same rows written as flat driftd JSON events."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from kafka_clients import close_kafka_client
from kafka_e2e.support import (
    Driftd,
    assert_same_history,
    consume_all,
    create_topic,
    free_port,
    load_results,
)
from oip.seldon import Exchange, columns, exchanges, write_profile

pytestmark = pytest.mark.kafka

WINDOWS = [{"name": "10s", "type": "time", "duration_seconds": 10, "slide_seconds": 2,
            "allowed_lateness_seconds": 30},
           {"name": "4s", "type": "time", "duration_seconds": 4, "slide_seconds": 4,
            "allowed_lateness_seconds": 30}]
GARBAGE = b"\x0a\xff\xff\xff not a ModelInferRequest"


def send(producer: KafkaProducer, topic: str, partition: int, value: bytes, *,
         request_id: str | None, time_ms: int) -> None:
    headers = [("x-request-id", request_id.encode())] if request_id is not None else []
    producer.send(topic, value=value, partition=partition, headers=headers,
                  timestamp_ms=time_ms)


def produce_seldon(bootstrap: str, requests: str, responses: str, items: list[Exchange],
                   lone: list[Exchange]) -> None:
    """Responses of the first quarter first, then every request (and the lone ones, and
    garbage), then the other responses; exchange i on partition i % 2 of both topics."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    try:
        early = len(items) // 4
        for i, x in enumerate(items[:early]):
            send(producer, responses, i % 2, x.response, request_id=x.request_id,
                 time_ms=x.time_ms + 30)
        producer.flush(timeout=30)
        for x in lone:
            send(producer, requests, 0, x.request, request_id=x.request_id, time_ms=x.time_ms)
        send(producer, requests, 0, GARBAGE, request_id="garbage", time_ms=items[0].time_ms)
        for i, x in enumerate(items):
            send(producer, requests, i % 2, x.request, request_id=x.request_id,
                 time_ms=x.time_ms)
        producer.flush(timeout=30)
        for i, x in enumerate(items[early:], start=early):
            send(producer, responses, i % 2, x.response, request_id=x.request_id,
                 time_ms=x.time_ms + 30)
        producer.flush(timeout=30)
    finally:
        close_kafka_client(producer, timeout=10)


def produce_flat(bootstrap: str, topic: str, items: list[Exchange]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    try:
        for i, x in enumerate(items):
            producer.send(topic, value=orjson.dumps(x.flat), partition=i % 2)
        producer.flush(timeout=30)
    finally:
        close_kafka_client(producer, timeout=10)


def run(directory: Path, bootstrap: str, topics: list[dict[str, Any]], *,
        dead_letters: str | None = None) -> dict[str, Any]:
    """``driftd run --exit-when-drained --dump-results`` on ``topics``; the dump."""
    directory.mkdir()
    profile = directory.parent / "iris.json"
    source: dict[str, Any] = {"type": "kafka", "bootstrap_servers": bootstrap,
                              "group_id": f"g-{directory.name}", "topics": topics,
                              "poll_timeout_ms": 100, "session_timeout_ms": 6000}
    if dead_letters is not None:
        source["dead_letter_topic"] = dead_letters
    flat = not any(t.get("format") == "oip" for t in topics)
    config = {
        "models": [{"name": "iris", "reference": str(profile), "columns": columns(flat),
                    "windows": WINDOWS}],
        "sources": [source],
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "evaluation": {"interval_seconds": 0.5},
        "checkpoint": {"path": str(directory / "state.sqlite"), "interval_seconds": 0.3},
        "logging": {"level": "INFO"},
    }
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(config))
    dump = directory / "results.json"
    driftd = Driftd(path, drain=True, dump=dump, log=directory / "driftd.log")
    assert driftd.wait(timeout=180) == 0, (directory / "driftd.log").read_text()[-3000:]
    return load_results(dump)


def test_seldon_protobuf_topics_give_the_windows_of_the_same_flat_events(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """Scenario: 400 Seldon-shaped exchanges of 1 to 8 rows (FP32 [n, 4], INT64 [n],
    BYTES [n] inputs, typed and raw contents; INT64 [n] output), 50 ms apart with a
    drift after the first half, on seldon.<ns>.model.iris.inputs/outputs (2 partitions
    each, x-request-id headers, record timestamps as event time); a quarter of the
    responses produced before any request; 3 requests never answered; one garbage
    message on the request topic. The same rows as flat JSON events on a 2-partition
    topic. Both replayed by driftd to the end of the data.

    Expected: the same windows in the same order with the same event counts and
    statistics (equal to 1e-9); the same events counted; the OIP run counts 3
    unpaired_request and 1 oip_undecodable, and the garbage is on the dead-letter
    topic byte for byte; no late events in either.
    """
    namespace = f"t{uuid.uuid4().hex[:10]}"
    requests = f"seldon.{namespace}.model.iris.inputs"
    responses = f"seldon.{namespace}.model.iris.outputs"
    flat_topic, dead = f"{namespace}-flat", f"{namespace}-dead"
    for topic in (requests, responses, flat_topic):
        create_topic(kafka_bootstrap, topic, 2)
    create_topic(kafka_bootstrap, dead, 1)
    start_ms = 1_764_000_000_000
    items = exchanges(400, seed=11, start_ms=start_ms + 2_000, every_ms=50, drift_after=200)
    lone = exchanges(3, seed=12, start_ms=start_ms, every_ms=10)
    write_profile(tmp_path / "iris.json")
    produce_seldon(kafka_bootstrap, requests, responses, items, lone)
    produce_flat(kafka_bootstrap, flat_topic, items)

    oip = run(tmp_path / "oip", kafka_bootstrap, [
        {"name": requests, "format": "oip", "models": ["iris"],
         "oip": {"role": "request", "model": "iris", "encoding": "protobuf",
                 "pair_timeout_seconds": 5}},
        {"name": responses, "format": "oip", "models": ["iris"], "oip": {"role": "response"}},
    ], dead_letters=dead)
    flat = run(tmp_path / "flat", kafka_bootstrap, [{"name": flat_topic}])

    rows = sum(x.rows for x in items)
    assert flat["events"] == oip["events"] == {"predictions/iris": rows}
    assert flat["invalid"] == {}
    assert oip["invalid"] == {"unpaired_request": 3, "oip_undecodable": 1}
    assert oip["late"] == flat["late"] == {}
    for record in oip["history"] + flat["history"]:
        record.pop("evaluated_at")
    assert len(oip["history"]) > 10
    assert_same_history(oip["history"], flat["history"])
    assert any(c["drift"] for r in oip["history"] for c in r["columns"])
    letters = consume_all(kafka_bootstrap, dead, expected=4, timeout=60)
    assert GARBAGE in [letter.value for letter in letters]
