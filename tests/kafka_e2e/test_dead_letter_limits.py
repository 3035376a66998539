"""Dead letters that cannot kill the daemon: a topic too small for them, a missing topic.

driftd runs as a real process against the session's real broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from kafka_e2e.support import (
    Driftd,
    close_kafka_client,
    consume_all,
    metric_value,
    wait_for,
    workload,
    write_config,
)

pytestmark = pytest.mark.kafka

GOOD = 600
WINDOWS = [{"name": "all", "type": "count", "size": 300, "step": 300}]



def produce_large(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             max_request_size=64 * 1024 * 1024)
    try:
        for message in messages:
            producer.send(topic, value=message, partition=0)
        producer.flush(timeout=60)
    finally:
        close_kafka_client(producer, timeout=10)


def good_events() -> list[bytes]:
    return [orjson.dumps(e) for e in workload.events(GOOD, drift_after=10**9)]


def dead_letter_counts(driftd: Driftd) -> dict[str, float | None]:
    text = driftd.metrics()
    return {outcome: metric_value(text, "driftd_dead_letters_total", outcome=outcome)
            for outcome in ("sent", "truncated", "failed", "dropped")}


def test_poison_too_large_for_the_dead_letter_topic_is_sent_as_a_reference(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """A 10 MB message and a 35 MB JSON array of 1M events among 600 good events; the
    dead-letter topic takes at most 10,000 bytes per record.

    Expected: driftd keeps consuming (every good event counted); each poison message
    is counted oversized and present in the dead-letter topic as a reference to its
    topic, partition and offset, with the reason, the error and the original size in
    headers; driftd_dead_letters_total{outcome="truncated"} is 2, nothing dropped.
    """
    source = kafka_topic(1, max_message_bytes=str(48 * 1024 * 1024))
    dead = kafka_topic(1, max_message_bytes="10000")
    one_event = b'{"model":"bench","ts":1,"features":{}}'
    big = b'{"model": "bench", "padding": "' + b"x" * 10_000_000 + b'"}'
    array = b"[" + b",".join([one_event] * 1_000_000) + b"]"
    assert len(array) > 35_000_000
    good = good_events()
    produce_large(kafka_bootstrap, source, good[:200] + [big] + good[200:400] + [array]
                  + good[400:])
    config = write_config(tmp_path, bootstrap=kafka_bootstrap, topic=source, group="big",
                          windows=WINDOWS, extra_source={"dead_letter_topic": dead})
    driftd = Driftd(config, log=tmp_path / "driftd.log")
    try:
        driftd.wait_ready()
        wait_for(lambda: metric_value(driftd.metrics(), "driftd_events_total",
                                      stream="predictions") == GOOD, "every good event")
        wait_for(lambda: dead_letter_counts(driftd)["truncated"] == 2, "two references")
        counts = dead_letter_counts(driftd)
        assert counts == {"sent": 0, "truncated": 2, "failed": 0, "dropped": 0}
        assert driftd.process.poll() is None
    finally:
        code = driftd.terminate()
    assert code == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    letters = consume_all(kafka_bootstrap, dead, expected=2)
    assert len(letters) == 2
    for letter, offset, size in zip(letters, (200, 401), (len(big), len(array)), strict=True):
        headers = dict(letter.headers)
        assert headers["driftd-reason"] == b"oversized"
        assert headers["driftd-error"]
        assert headers["driftd-origin"] == f"{source}[0]@{offset}".encode()
        assert headers["driftd-truncated"] == b"reference"
        assert headers["driftd-original-bytes"] == str(size).encode()
        assert orjson.loads(letter.value) == {
            "origin": f"{source}[0]@{offset}", "topic": source, "partition": 0,
            "offset": offset, "original_bytes": size}


def test_a_missing_dead_letter_topic_is_counted_as_failed_and_never_stalls_driftd(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """20 malformed messages among 600 good ones; the dead-letter topic does not exist
    (the broker does not create topics on demand).

    Expected: every good event and every rejection is counted, dead letters are counted
    as failed (none sent), /readyz stays 200, and SIGTERM still exits 0 promptly.
    """
    source = kafka_topic(1)
    messages = good_events()
    for index in range(20):
        messages.insert(index * 30, b"{not json %d" % index)
    produce_large(kafka_bootstrap, source, messages)
    config = write_config(tmp_path, bootstrap=kafka_bootstrap, topic=source, group="gone",
                          windows=WINDOWS,
                          extra_source={"dead_letter_topic": f"missing-{uuid.uuid4().hex}"})
    driftd = Driftd(config, log=tmp_path / "driftd.log")
    try:
        driftd.wait_ready()
        wait_for(lambda: metric_value(driftd.metrics(), "driftd_events_total",
                                      stream="predictions") == GOOD, "every good event",
                 timeout=30)
        text = driftd.metrics()
        assert metric_value(text, "driftd_events_invalid_total", reason="malformed_json") == 20
        wait_for(lambda: (dead_letter_counts(driftd)["failed"] or 0) >= 1, "a failure counted")
        assert dead_letter_counts(driftd)["sent"] == 0
        assert driftd.ready()[0] == 200
    finally:
        code = driftd.terminate(timeout=20)
    assert code == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    assert "could not send a dead letter" in (tmp_path / "driftd.log").read_text()
