"""Dead letters with no producer yet (before ``connect``): bounded, and counted to the end.

The broker-facing paths (too large, missing topic, outages) are in tests/kafka_e2e.
"""

from __future__ import annotations

import logging
import time

import pytest

from driftd.config import KafkaSourceConfig
from driftd.events import Rejection
from driftd.sources.kafka import DEAD_LETTER_QUEUE_RECORDS, DeadLetters


def rejections(count: int, start: int = 0) -> list[Rejection]:
    return [Rejection("malformed_json", "Expecting value", f"predictions[0]@{start + i}",
                      b"{not json}") for i in range(count)]


def test_letters_before_connect_wait_in_a_bounded_queue_and_are_dropped_at_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Steps: a DeadLetters never connected; send DEAD_LETTER_QUEUE_RECORDS + 1
    rejections in one call, then 2 in another; flush; close; send 1 more.

    Expected: the second send and the flush return at once (nothing is retried without
    a producer); before close the 3 oldest letters are dropped (the queue holds 10,000);
    close drops the 10,000 queued with one warning naming the topic; the send after close
    is counted dropped: 10,004 dropped in all, nothing else counted.
    """
    letters = DeadLetters(KafkaSourceConfig(bootstrap_servers="localhost:1",
                                            topics=({"name": "predictions"},)), "dlq")
    letters.send(rejections(DEAD_LETTER_QUEUE_RECORDS + 1))
    started = time.monotonic()
    letters.send(rejections(2, start=DEAD_LETTER_QUEUE_RECORDS + 1))
    letters.flush()
    waited = time.monotonic() - started
    queued = letters.outcomes()
    with caplog.at_level(logging.WARNING, logger="driftd.sources.kafka"):
        letters.close()
    letters.send(rejections(1))

    assert waited < 0.5, waited
    assert queued == {"sent": 0, "truncated": 0, "failed": 0, "dropped": 3}
    assert letters.outcomes() == {"sent": 0, "truncated": 0, "failed": 0, "dropped": 10_004}
    assert [r.getMessage() for r in caplog.records] == [
        "dropped 10000 dead letters not sent to dlq by shutdown"]
