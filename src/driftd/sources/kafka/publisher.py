"""The publisher: raw messages sent to topics (the demo stream), topics created if missing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from driftd.config import KafkaSecurityConfig
from driftd.sources.kafka.options import client_options, describe_error

logger = logging.getLogger("driftd.sources.kafka")  # the package's name, as before the split

PUBLISH_LINGER_MS = 20


class PublishError(Exception):
    """Records the broker did not take in time (unreachable, or refusing them)."""


class KafkaPublisher:
    """Sends raw messages to topics; kafka-python buffers and retries for ``timeout_seconds``.

    kafka-python 3 has no ``buffer_memory``: a record waits in its buffer until it is
    acknowledged or ``delivery_timeout_ms`` (here the timeout) expires. The first record
    that fails, and more than ``max_unacknowledged`` records waiting, end publishing
    with a ``PublishError`` that says what to check.
    """

    def __init__(self, bootstrap: str, *, client_id: str = "driftd-publisher",
                 security: KafkaSecurityConfig | None = None, timeout_seconds: float = 60.0,
                 max_unacknowledged: int = 200_000) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._bootstrap, self._timeout = bootstrap, timeout_seconds
        self._options = client_options(bootstrap, client_id, security or KafkaSecurityConfig())
        self._max_unacknowledged = max_unacknowledged
        self._lock = threading.Lock()
        self._unacknowledged = 0
        self._failure: str | None = None
        self._timeout_ms = timeout_ms = max(1, round(timeout_seconds * 1000))
        request_ms = min(30_000, timeout_ms)
        try:
            self._producer = KafkaProducer(
                acks="all", linger_ms=PUBLISH_LINGER_MS, bootstrap_timeout_ms=timeout_ms,
                max_block_ms=timeout_ms, request_timeout_ms=request_ms,
                # at least linger + request time, which kafka-python checks
                delivery_timeout_ms=max(timeout_ms, request_ms + PUBLISH_LINGER_MS),
                **self._options)
        except (KafkaError, OSError, ValueError) as error:
            raise PublishError(self._unreachable(error, "answer")) from error

    def ensure_topics(self, topics: Sequence[str], partitions: int) -> list[str]:
        """Create the missing ``topics`` with ``partitions`` each; return those created."""
        created: list[str] = []
        try:
            admin = KafkaAdminClient(bootstrap_timeout_ms=self._timeout_ms,
                                     request_timeout_ms=min(30_000, self._timeout_ms),
                                     **self._options)
        except (KafkaError, OSError, ValueError) as error:
            raise PublishError(self._unreachable(error, "answer")) from error
        try:
            existing = set(admin.list_topics())
            for topic in (t for t in topics if t not in existing):
                try:
                    admin.create_topics({topic: {"num_partitions": partitions}})
                    created.append(topic)
                except TopicAlreadyExistsError:
                    pass  # created meanwhile by another client
            admin.wait_for_topics(list(topics), timeout_ms=self._timeout_ms)
        except KafkaError as error:
            raise PublishError(f"cannot create the topics {', '.join(topics)} on "
                               f"{self._bootstrap}: {describe_error(error)}") from error
        finally:
            admin.close()
        return created

    def send(self, topic: str, messages: Sequence[bytes]) -> None:
        """Queue ``messages`` for ``topic``; raise if earlier records failed or pile up."""
        self._check()
        try:
            for message in messages:
                future = self._producer.send(topic, value=message)
                with self._lock:
                    self._unacknowledged += 1
                future.add_both(self._done)
        except KafkaError as error:  # no metadata or buffer within max_block_ms
            raise PublishError(self._unreachable(error)) from error

    def flush(self) -> None:
        """Wait until every queued record is acknowledged (or failed)."""
        try:
            self._producer.flush(timeout=self._timeout)
        except KafkaError as error:
            raise PublishError(self._unreachable(error)) from error
        self._check()

    def close(self) -> None:
        """Close the producer; after a failure without waiting for what is left."""
        try:
            self._producer.close(timeout=0 if self._failure else 10)
        except KafkaError as error:  # kafka-python raises if its final flush times out
            logger.warning("the Kafka producer closed with records unsent: %s",
                           describe_error(error))

    def _done(self, result: object) -> None:
        # Runs on kafka-python's sender thread: a RecordMetadata, or the record's error.
        with self._lock:
            self._unacknowledged -= 1
            if isinstance(result, Exception) and self._failure is None:
                self._failure = describe_error(result)

    def _check(self) -> None:
        with self._lock:
            failure, waiting = self._failure, self._unacknowledged
        if failure is not None:
            raise PublishError(self._unreachable(failure))
        if waiting > self._max_unacknowledged:
            raise PublishError(f"Kafka at {self._bootstrap} has not acknowledged {waiting} "
                               "records: it is too slow or unreachable. Check the broker.")

    def _unreachable(self, error: object, doing: str = "take the records") -> str:
        return (f"Kafka at {self._bootstrap} did not {doing} within {self._timeout:g} s "
                f"({describe_error(error)}). Check that the broker is up and that the "
                "address, network and credentials are right.")
