"""The local Kafka broker (scripts/kafka_local.py) works with kafka-python end to end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from kafka_clients import close_kafka_client

pytestmark = pytest.mark.kafka

Message = tuple[bytes, bytes]


def produce(bootstrap: str, topic: str, messages: list[Message]) -> set[int]:
    """Send keyed messages, wait for every ack; return the partitions they went to."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush(timeout=20)
        return {future.get(timeout=10).partition for future in futures}
    finally:
        close_kafka_client(producer, timeout=10)


def consume(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[Message]:
    """Read ``count`` messages from the start of ``topic`` in a new group, within ``timeout``."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"driftd-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(received) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend((record.key, record.value) for record in records)
    finally:
        close_kafka_client(consumer)
    return received


def keyed_messages(count: int) -> list[Message]:
    return [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(count)]


def test_round_trip_over_three_partitions(kafka_topic: Callable[..., str], kafka_bootstrap: str):
    """A 3-partition topic; 100 keyed messages in; all 100 out, each exactly once.

    Steps: create the topic, produce 100 messages with distinct keys (they hash onto all
    three partitions), consume from the earliest offset in a fresh consumer group.
    Expected: exactly the produced (key, value) pairs, no duplicates.
    """
    topic = kafka_topic(partitions=3)
    messages = keyed_messages(100)

    partitions = produce(kafka_bootstrap, topic, messages)
    received = consume(kafka_bootstrap, topic, count=100)

    assert partitions == {0, 1, 2}
    assert len(received) == 100
    assert set(received) == set(messages)


def test_restarted_broker_keeps_its_data(kafka_broker_factory: Callable[..., Any]):
    """A dedicated broker stopped and started again serves what it stored before.

    Steps: start a broker, create a topic, produce 20 messages, stop the broker (SIGTERM),
    start it again on the same data dir.
    Expected: same address; a new consumer group reads back exactly the 20 messages.
    """
    broker = kafka_broker_factory()
    bootstrap = broker.bootstrap
    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        admin.create_topics({"events": {"num_partitions": 1}}, wait_for_metadata=True)
    messages = keyed_messages(20)
    produce(bootstrap, "events", messages)

    broker.stop()
    assert not broker.running
    broker.start()

    assert broker.running
    assert broker.bootstrap == bootstrap
    assert consume(bootstrap, "events", count=20) == messages
