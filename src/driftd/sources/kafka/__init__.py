"""Kafka: the consumer source, the dead-letter and results producers, the probe, the publisher.

The `driftd.sources.kafka` package is the only one that imports kafka-python. The
consumer is used by the main thread only (kafka-python clients are not thread-safe); the
probe owns its own client.
Offsets are never auto-committed: the daemon commits the offsets a checkpoint reflects,
right after writing it, asynchronously (the checkpoint is the source of truth; the commit
only informs lag tools), so a broker outage never blocks the main loop on it.

One module per concept: ``options`` (client options, error texts), ``bootstrap`` (SASL and
TLS failures at bootstrap said clearly), ``consumer``, ``delivery`` (bounded, at-least-once
sending to a topic), ``dead_letters`` and ``results`` (the results-history topic), both
sent by ``delivery``, ``probe`` and ``publisher``.
"""

from __future__ import annotations

from driftd.sources.kafka.bootstrap import bootstrapped
from driftd.sources.kafka.consumer import CLOSE_TIMEOUT_MS, COMMIT_TIMEOUT_MS, KafkaSource
from driftd.sources.kafka.dead_letters import (
    DEAD_LETTER_ATTEMPTS,
    DEAD_LETTER_BACKOFF_SECONDS,
    DEAD_LETTER_CLOSE_SECONDS,
    DEAD_LETTER_FLUSH_SECONDS,
    DEAD_LETTER_HEADROOM,
    DEAD_LETTER_MAX_BLOCK_MS,
    DEAD_LETTER_MAX_BYTES,
    DEAD_LETTER_OUTCOMES,
    DEAD_LETTER_QUEUE_BYTES,
    DEAD_LETTER_QUEUE_RECORDS,
    DeadLetters,
)
from driftd.sources.kafka.options import (
    KafkaSetupError,
    KafkaUnreachable,
    client_options,
    describe_error,
)
from driftd.sources.kafka.probe import BrokerProbe
from driftd.sources.kafka.publisher import PUBLISH_LINGER_MS, KafkaPublisher, PublishError
from driftd.sources.kafka.results import (
    RESULTS_ATTEMPTS,
    RESULTS_BACKOFF_SECONDS,
    RESULTS_CLOSE_SECONDS,
    RESULTS_HEADROOM,
    RESULTS_MAX_BLOCK_MS,
    RESULTS_MAX_BYTES,
    RESULTS_OUTCOMES,
    RESULTS_QUEUE_BYTES,
    RESULTS_QUEUE_RECORDS,
    ResultsTopic,
)

__all__ = [
    "CLOSE_TIMEOUT_MS",
    "COMMIT_TIMEOUT_MS",
    "DEAD_LETTER_ATTEMPTS",
    "DEAD_LETTER_BACKOFF_SECONDS",
    "DEAD_LETTER_CLOSE_SECONDS",
    "DEAD_LETTER_FLUSH_SECONDS",
    "DEAD_LETTER_HEADROOM",
    "DEAD_LETTER_MAX_BLOCK_MS",
    "DEAD_LETTER_MAX_BYTES",
    "DEAD_LETTER_OUTCOMES",
    "DEAD_LETTER_QUEUE_BYTES",
    "DEAD_LETTER_QUEUE_RECORDS",
    "PUBLISH_LINGER_MS",
    "RESULTS_ATTEMPTS",
    "RESULTS_BACKOFF_SECONDS",
    "RESULTS_CLOSE_SECONDS",
    "RESULTS_HEADROOM",
    "RESULTS_MAX_BLOCK_MS",
    "RESULTS_MAX_BYTES",
    "RESULTS_OUTCOMES",
    "RESULTS_QUEUE_BYTES",
    "RESULTS_QUEUE_RECORDS",
    "BrokerProbe",
    "DeadLetters",
    "KafkaPublisher",
    "KafkaSetupError",
    "KafkaUnreachable",
    "KafkaSource",
    "PublishError",
    "ResultsTopic",
    "bootstrapped",
    "client_options",
    "describe_error",
]
