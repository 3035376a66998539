"""The results topic: every window result published to Kafka, keyed by model.

Delivery is at least once, never exactly once: a crash sends the records written since
the last checkpoint again (the events after it are read again and produce them again),
and kafka-python's idempotent producer cannot be used (see ``Delivery.connect``), so a
retry after a lost acknowledgement may duplicate one too. Each record carries the header
``driftd-key`` = ``model/window/end-or-sequence/revision``: consumers keep the first
record of each key. The key (the model) keeps each model's records on one partition, in
the order they were sent (one request in flight); a record retried after a failure may
come after later ones, which ``revision`` orders.

Never fatal and never slow, as the dead-letter producer: failures are counted
(``outcomes``), retried within bounds and finally dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from driftd.config import KafkaSourceConfig
from driftd.sinks.records import record_json, record_key
from driftd.sources.kafka.delivery import Delivery, Limits, Outgoing, Texts

# A record over RESULTS_MAX_BYTES (under the brokers' default limit of 1 MiB; with its key
# and headers, RESULTS_HEADROOM more) or one the topic refuses as too large is dropped.
# Any other failure is retried RESULTS_ATTEMPTS times in all, from a queue bounded by
# RESULTS_QUEUE_BYTES and RESULTS_QUEUE_RECORDS (the oldest dropped when full). ``send``
# waits at most RESULTS_MAX_BLOCK_MS for metadata, then sends nothing for a backoff that
# doubles up to 30 s; ``close`` waits RESULTS_CLOSE_SECONDS at most.
RESULTS_MAX_BYTES = 1_000_000
RESULTS_HEADROOM = 4096
RESULTS_ATTEMPTS = 3
RESULTS_QUEUE_BYTES = 16 * 1024 * 1024
RESULTS_QUEUE_RECORDS = 10_000
RESULTS_MAX_BLOCK_MS = 200
RESULTS_BACKOFF_SECONDS = (1.0, 30.0)
RESULTS_CLOSE_SECONDS = 2.0
RESULTS_OUTCOMES = ("sent", "failed", "dropped")  # failed: attempts; dropped: given up
_LIMITS = Limits(RESULTS_MAX_BYTES, RESULTS_HEADROOM, RESULTS_ATTEMPTS, RESULTS_QUEUE_BYTES,
                 RESULTS_QUEUE_RECORDS, RESULTS_MAX_BLOCK_MS, RESULTS_BACKOFF_SECONDS)
_TEXTS = Texts(producer="results", records="results records", client_suffix="results",
               failed="could not send the result %s to %s (%s); retrying it within bounds")


class ResultsTopic:
    """Publishes results records to ``topic`` through a Kafka source's connection.

    ``send``, ``flush`` and ``close`` are called from one thread; ``outcomes`` from any.
    """

    def __init__(self, config: KafkaSourceConfig, topic: str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.topic = topic
        self._delivery: Delivery[Outgoing] = Delivery(
            config, topic, _LIMITS, _TEXTS, outcomes=RESULTS_OUTCOMES,
            too_large=self._too_large, in_order=True,  # a model's records in order
            clock=clock)

    def connect(self, timeout_seconds: float) -> None:
        """Create the producer (which bootstraps); until then records wait in the queue."""
        self._delivery.connect(timeout_seconds)

    def outcomes(self) -> dict[str, int]:
        """Results records so far by outcome (all three, from 0)."""
        return self._delivery.outcomes()

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Queue ``records`` for the topic; returns within RESULTS_MAX_BLOCK_MS or so."""
        self._delivery.send([_result(record) for record in records])

    def flush(self, timeout_seconds: float) -> bool:
        """Wait up to ``timeout_seconds`` for what was sent (not while failing); True
        when every record sent so far was answered."""
        return self._delivery.flush(timeout_seconds)

    def close(self) -> None:
        """Wait up to RESULTS_CLOSE_SECONDS for what was sent, then close the producer;
        what is still unsent is counted dropped (so is anything sent after)."""
        self._delivery.close(RESULTS_CLOSE_SECONDS)

    def _too_large(self, result: Outgoing) -> None:
        """Nothing instead of a record the topic (or driftd) refuses as too large."""
        self._delivery.warn("too large", "dropped the result %s of %d bytes: %s refuses it "
                            "as too large (driftd sends up to %d bytes; check the topic's "
                            "max.message.bytes)", result.about, len(result.value),
                            self.topic, RESULTS_MAX_BYTES)


def _result(record: Mapping[str, Any]) -> Outgoing:
    """The topic's record for ``record``: keyed by model, with its driftd-key header."""
    key = record_key(record)
    return Outgoing(record_json(record), [("driftd-key", key.encode())], key,
                    key=str(record["model"]).encode())
