"""A broker going away in the middle of a poll is an outage, not a crash."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaConnectionError, UnsupportedVersionError

from driftd.config import KafkaSourceConfig
from driftd.sources.kafka import KafkaSource


class Refusing:
    """A consumer whose poll raises what kafka-python raises when a broker is gone."""

    def __init__(self, error: Exception) -> None:
        self.error, self.polls = error, 0

    def poll(self, **_: Any) -> dict[Any, Any]:
        self.polls += 1
        raise self.error


def source_with(consumer: Refusing) -> KafkaSource:
    source = KafkaSource(KafkaSourceConfig(bootstrap_servers="127.0.0.1:9",
                                           topics=({"name": "t"},)))
    source._consumer = consumer  # type: ignore[assignment]
    return source


def test_a_refused_connection_mid_poll_gives_an_empty_batch_and_the_next_poll_retries() -> None:
    """kafka-python 3 raises KafkaConnectionError (ECONNREFUSED) out of poll() when the
    coordinator's broker has just gone; the daemon's main loop used to die of it (exit 1)
    instead of riding out the outage until broker_timeout_seconds (exit 3)."""
    consumer = Refusing(KafkaConnectionError("111 ECONNREFUSED"))
    source = source_with(consumer)
    for _ in range(3):
        batch = source.poll(100, 0.01)
        assert batch is not None and batch.messages == []
    assert consumer.polls == 3


def test_an_error_no_retry_mends_still_stops_the_loop() -> None:
    source = source_with(Refusing(UnsupportedVersionError("the broker is too old")))
    with pytest.raises(UnsupportedVersionError):
        source.poll(100, 0.01)
