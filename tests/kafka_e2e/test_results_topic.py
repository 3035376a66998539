"""The results topic against a real broker: keys and headers, too-large records, outages.

``ResultsTopic`` publishes through the session's broker (a dedicated one when a test
kills it); the records are read back with a plain consumer, within bounded waits.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient

from driftd.config import KafkaSourceConfig
from driftd.sinks.records import record_json
from driftd.sources.kafka import (
    RESULTS_MAX_BYTES,
    KafkaSetupError,
    ResultsTopic,
)
from kafka_e2e.support import close_kafka_client, consume_all

pytestmark = pytest.mark.kafka


def record(model: str, index: int, revision: int = 0, **extra: Any) -> dict[str, Any]:
    """A results record of ``model``'s window ending at index hours."""
    return {"model": model, "model_version": "3", "window": "1h", "start": 3600.0 * index,
            "end": 3600.0 * (index + 1), "revision": revision, "events": 100 + index,
            "columns": [{"column": "amount", "statistics": {"psi": None}}], **extra}


def source(bootstrap: str) -> KafkaSourceConfig:
    return KafkaSourceConfig(bootstrap_servers=bootstrap, topics=({"name": "predictions"},))


@pytest.fixture
def results_topic() -> Iterator[Callable[[str, str], ResultsTopic]]:
    """``make(bootstrap, topic)``: a connected ResultsTopic, closed when the test ends."""
    made: list[ResultsTopic] = []

    def make(bootstrap: str, topic: str) -> ResultsTopic:
        results = ResultsTopic(source(bootstrap), topic)
        made.append(results)
        results.connect(10.0)
        return results

    yield make
    for results in made:
        close_kafka_client(results)  # and collect the sockets kafka-python leaves behind



def timed(action: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """What ``action(*args)`` returns, and how many seconds it took."""
    started = time.monotonic()
    value = action(*args)
    return value, time.monotonic() - started


def test_records_arrive_keyed_by_model_with_a_key_to_deduplicate_by(
    kafka_bootstrap: str, kafka_topic: Callable[..., str],
    results_topic: Callable[[str, str], ResultsTopic],
) -> None:
    """Steps: on a topic of 3 partitions, send 4 records of "fraud" (windows 0-2, then
    a revision 1 of window 0) and 3 of "churn" in one call, interleaved; flush.

    Expected: flush says every record was answered; outcomes sent 7, none failed or
    dropped. Read back: 7 records; each one's key is its model and its value the
    record's JSON line; header driftd-key is model/window/end/revision; all records of
    a model are on one partition, in the order sent.
    """
    topic = kafka_topic(3)
    results = results_topic(kafka_bootstrap, topic)
    sent = [record("fraud", 0), record("churn", 0), record("fraud", 1),
            record("churn", 1), record("fraud", 2), record("fraud", 0, revision=1),
            record("churn", 2)]

    results.send(sent)
    answered = results.flush(10.0)

    assert answered and results.outcomes() == {"sent": 7, "failed": 0, "dropped": 0}
    received = consume_all(kafka_bootstrap, topic, expected=7)
    assert len(received) == 7
    for model in ("fraud", "churn"):
        mine = sorted((r for r in received if r.key == model.encode()),
                      key=lambda r: r.offset)
        assert len({r.partition for r in mine}) == 1
        assert [r.value for r in mine] == [record_json(s) for s in sent if s["model"] == model]
    fraud = sorted((r for r in received if r.key == b"fraud"), key=lambda r: r.offset)
    assert [dict(r.headers)["driftd-key"] for r in fraud] == [
        b"fraud/1h/3600.0/0", b"fraud/1h/7200.0/0", b"fraud/1h/10800.0/0",
        b"fraud/1h/3600.0/1"]


def test_a_count_window_record_is_keyed_by_its_sequence(
    kafka_bootstrap: str, kafka_topic: Callable[..., str],
    results_topic: Callable[[str, str], ResultsTopic],
) -> None:
    """A count window's record (sequence 41, no end) gets driftd-key fraud/last-1000/41/2."""
    topic = kafka_topic(1)
    results = results_topic(kafka_bootstrap, topic)

    results.send([{"model": "fraud", "window": "last-1000", "sequence": 41, "end": None,
                   "revision": 2}])

    assert results.flush(10.0)
    (received,) = consume_all(kafka_bootstrap, topic, expected=1)
    assert dict(received.headers)["driftd-key"] == b"fraud/last-1000/41/2"


def test_records_too_large_for_the_topic_or_for_driftd_are_dropped_without_blocking(
    kafka_bootstrap: str, kafka_topic: Callable[..., str],
    results_topic: Callable[[str, str], ResultsTopic],
) -> None:
    """The topic takes at most 10,000 bytes per record. Steps: send a small record, one
    of 50 KB (under driftd's limit, over the topic's), another small one, then one over
    driftd's own limit (RESULTS_MAX_BYTES); flush.

    Expected: each send returns within 0.5 s and flush within 10 s; the topic holds the
    two small records; outcomes: sent 2, failed 2 and dropped 2 (a too-large record is
    never retried).
    """
    topic = kafka_topic(1, max_message_bytes="10000")
    results = results_topic(kafka_bootstrap, topic)
    small = [record("fraud", 0), record("fraud", 2)]
    big = record("fraud", 1, padding="x" * 50_000)
    huge = record("fraud", 3, padding="x" * (RESULTS_MAX_BYTES + 10_000))

    sends = [timed(results.send, [r])[1] for r in (small[0], big, small[1], huge)]
    answered, flushed = timed(results.flush, 10.0)

    assert max(sends) < 0.5 and flushed < 10.0, (sends, flushed)
    assert answered
    assert results.outcomes() == {"sent": 2, "failed": 2, "dropped": 2}
    received = consume_all(kafka_bootstrap, topic, expected=2, timeout=10)
    assert [r.value for r in received] == [record_json(r) for r in small]


def test_nothing_waits_long_when_the_broker_is_gone(
    kafka_broker_factory: Callable[..., Any],
) -> None:
    """A dedicated broker: 5 records sent and acknowledged, then the broker is killed.
    Steps: send 20 more, one call each; flush(1 s); close.

    Expected: every send returns within 0.3 s, flush returns False within 1.5 s, close
    (which waits up to 2 s) within 4 s; outcomes: sent 5, and the 20 records never
    acknowledged are dropped, so every record is either sent or dropped; the closed
    producer is really closed (collecting it runs no second close that raises). Then
    connecting a new ResultsTopic to the dead broker raises KafkaSetupError within its
    2 s timeout and a few seconds.
    """
    broker = kafka_broker_factory()
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        admin.create_topics({"results": {"num_partitions": 1}})
        admin.wait_for_topics(["results"], timeout_ms=20_000)
    finally:
        close_kafka_client(admin)
    results = ResultsTopic(source(broker.bootstrap), "results")
    results.connect(10.0)
    results.send([record("fraud", i) for i in range(5)])
    assert results.flush(10.0) and results.outcomes()["sent"] == 5

    broker.kill()
    sends = [timed(results.send, [record("fraud", 5 + i)])[1] for i in range(20)]
    answered, flushed = timed(results.flush, 1.0)
    _, closed = timed(close_kafka_client, results)

    outcomes = results.outcomes()
    print(f"\nbroker killed: slowest send {max(sends):.3f} s, flush {flushed:.2f} s, "
          f"close {closed:.2f} s, outcomes {outcomes}")
    assert max(sends) < 0.3 and flushed < 1.5 and closed < 4.0, (sends, flushed, closed)
    assert not answered
    assert (outcomes["sent"], outcomes["dropped"]) == (5, 20), outcomes
    del results
    gc.collect()  # the closed producer goes without a word (no __del__ retrying close)

    late = ResultsTopic(source(broker.bootstrap), "results")
    started = time.monotonic()
    with pytest.raises(KafkaSetupError, match="cannot create the results producer"):
        late.connect(2.0)
    connecting = time.monotonic() - started
    close_kafka_client(late)
    assert connecting < 6.0, connecting


def test_a_missing_topic_costs_one_short_wait_then_records_queue_and_are_dropped(
    kafka_bootstrap: str, results_topic: Callable[[str, str], ResultsTopic],
) -> None:
    """The topic does not exist (the broker does not create topics on demand). Steps:
    send 10 records, one call each; flush(5 s); close.

    Expected: the 10 sends take under 1 s together (one metadata wait of at most
    RESULTS_MAX_BLOCK_MS, then a backoff during which records only queue); flush
    returns False at once (failing); after close every record is counted dropped, the
    one attempt as failed.
    """
    results = results_topic(kafka_bootstrap, f"missing-{uuid.uuid4().hex}")

    sending = sum(timed(results.send, [record("fraud", i)])[1] for i in range(10))
    answered, flushed = timed(results.flush, 5.0)
    results.close()

    assert sending < 1.0 and flushed < 0.5, (sending, flushed)
    assert not answered
    assert results.outcomes() == {"sent": 0, "failed": 1, "dropped": 10}
