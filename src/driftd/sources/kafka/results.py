"""The results topic: every window result published to Kafka, keyed by model.

Delivery is at least once, never exactly once: a crash sends the records written since
the last checkpoint again (the events after it are read again and produce them again),
and kafka-python's idempotent producer cannot be used (see ``DeadLetters.connect``), so a
retry after a lost acknowledgement may duplicate one too. Each record carries the header
``driftd-key`` = ``model/window/end-or-sequence/revision``: consumers keep the first
record of each key. The key (the model) keeps each model's records on one partition, in
the order they were sent (one request in flight); a record retried after a failure may
come after later ones, which ``revision`` orders.

Never fatal and never slow, as the dead-letter producer: failures are counted
(``outcomes``), retried within bounds and finally dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError

from driftd.config import KafkaSourceConfig
from driftd.sinks.records import record_json, record_key
from driftd.sources.kafka.options import KafkaSetupError, client_options, describe_error

logger = logging.getLogger("driftd.sources.kafka")  # the package's name

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
_SENDER_EXIT_SECONDS = 1.0  # for kafka-python's sender thread to fail what it holds
RESULTS_OUTCOMES = ("sent", "failed", "dropped")  # failed: attempts; dropped: given up
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)


@dataclass(slots=True)
class _Result:
    key: str
    model: bytes
    value: bytes
    attempts: int = 0


class ResultsTopic:
    """Publishes results records to ``topic`` through a Kafka source's connection.

    ``send``, ``flush`` and ``close`` are called from one thread; ``outcomes`` from any.
    """

    def __init__(self, config: KafkaSourceConfig, topic: str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.topic, self._config, self._clock = topic, config, clock
        self._lock = threading.Condition()
        self._outcomes: Counter[str] = Counter(dict.fromkeys(RESULTS_OUTCOMES, 0))
        self._in_flight: dict[int, _Result] = {}  # sent to the producer, not yet answered
        self._in_flight_bytes = 0
        self._returned: deque[tuple[_Result, Exception]] = deque()  # from the sender thread
        self._queue: deque[_Result] = deque()  # waiting for a (re)try, on the caller's thread
        self._queued_bytes = 0
        self._paused_until = 0.0
        self._backoff = RESULTS_BACKOFF_SECONDS[0]
        self._warned: set[str] = set()
        self._producer: KafkaProducer | None = None  # created by connect()
        self._closed = False

    def connect(self, timeout_seconds: float) -> None:
        """Create the producer (which bootstraps); until then records wait in the queue."""
        if self._producer is not None:
            return
        config = self._config
        try:
            self._producer = KafkaProducer(
                acks="all", linger_ms=20, max_block_ms=RESULTS_MAX_BLOCK_MS,
                enable_idempotence=False,  # see DeadLetters.connect
                max_in_flight_requests_per_connection=1,  # a model's records in order
                max_request_size=RESULTS_MAX_BYTES + RESULTS_HEADROOM,
                request_timeout_ms=10_000, delivery_timeout_ms=30_000,
                bootstrap_timeout_ms=max(1000, round(timeout_seconds * 1000)),
                **client_options(config.bootstrap_servers, f"{config.client_id}-results",
                                 config.security))
        except (KafkaError, OSError, ValueError) as error:
            raise KafkaSetupError(f"cannot create the results producer: {error}") from error

    def outcomes(self) -> dict[str, int]:
        """Results records so far by outcome (all three, from 0)."""
        with self._lock:
            return dict(self._outcomes)

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Queue ``records`` for the topic; returns within RESULTS_MAX_BLOCK_MS or so."""
        if self._closed:
            with self._lock:
                self._outcomes["dropped"] += len(records)
            return
        self._retry()
        for record in records:
            self._submit(_Result(record_key(record), str(record["model"]).encode(),
                                 record_json(record)))

    def flush(self, timeout_seconds: float) -> bool:
        """Wait up to ``timeout_seconds`` for what was sent (not while failing); True
        when every record sent so far was answered."""
        self._retry()
        deadline = self._clock() + timeout_seconds
        with self._lock:
            while self._in_flight and not self._paused():
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._lock.wait(min(remaining, 0.05))
        self._retry()
        with self._lock:
            return not self._in_flight and not self._queue

    def close(self) -> None:
        """Wait up to RESULTS_CLOSE_SECONDS for what was sent, then close the producer;
        what is still unsent is counted dropped (so is anything sent after)."""
        if self._closed:
            return
        self._closed = True
        self.flush(RESULTS_CLOSE_SECONDS)
        if self._producer is not None:
            _close_now(self._producer)
        with self._lock:
            left = len(self._queue) + len(self._returned) + len(self._in_flight)
            self._outcomes["dropped"] += left
            self._queue.clear()
            self._returned.clear()
            self._in_flight.clear()
        if left:
            logger.warning("dropped %d results records not sent to %s by shutdown", left,
                           self.topic)

    # -- on the caller's thread -----------------------------------------------------------

    def _submit(self, result: _Result) -> None:
        with self._lock:
            hold = self._paused() or self._in_flight_bytes + len(result.value) > RESULTS_QUEUE_BYTES
        if hold or self._producer is None:
            self._enqueue(result)
            return
        result.attempts += 1
        try:
            future = self._producer.send(self.topic, key=result.model, value=result.value,
                                         headers=[("driftd-key", result.key.encode())])
        except KafkaError as error:  # too large, no metadata within max_block_ms...
            self._failed(result, error)
            return
        with self._lock:
            self._in_flight[id(result)] = result
            self._in_flight_bytes += len(result.value)
        future.add_callback(self._delivered, result)
        future.add_errback(self._undelivered, result)

    def _retry(self) -> None:
        """Count the records the broker refused, then resend the queue if not paused."""
        with self._lock:
            returned = list(self._returned)
            self._returned.clear()
        for result, error in returned:
            self._failed(result, error)
        while True:
            with self._lock:
                if not self._queue or self._paused() or self._producer is None:
                    return
                result = self._queue.popleft()
                self._queued_bytes -= len(result.value)
            self._submit(result)

    def _failed(self, result: _Result, error: Exception) -> None:
        too_large = isinstance(error, _TOO_LARGE)  # it would fail again: not retried
        give_up = too_large or result.attempts >= RESULTS_ATTEMPTS
        with self._lock:
            self._outcomes["failed"] += 1
            self._outcomes["dropped"] += give_up
            if not too_large:  # the topic or the broker is failing: back off
                self._paused_until = self._clock() + self._backoff
                self._backoff = min(self._backoff * 2, RESULTS_BACKOFF_SECONDS[1])
        if too_large:
            self._warn("too large", "dropped the result %s of %d bytes: %s refuses it as "
                       "too large (driftd sends up to %d bytes; check the topic's "
                       "max.message.bytes)", result.key, len(result.value), self.topic,
                       RESULTS_MAX_BYTES)
        else:
            self._warn(type(error).__name__, "could not send the result %s to %s (%s); "
                       "retrying it within bounds", result.key, self.topic,
                       describe_error(error))
        if not give_up:
            self._enqueue(result)

    def _enqueue(self, result: _Result) -> None:
        with self._lock:
            self._queue.append(result)
            self._queued_bytes += len(result.value)
            while (self._queued_bytes > RESULTS_QUEUE_BYTES
                   or len(self._queue) > RESULTS_QUEUE_RECORDS):
                oldest = self._queue.popleft()
                self._queued_bytes -= len(oldest.value)
                self._outcomes["dropped"] += 1

    def _paused(self) -> bool:
        return self._clock() < self._paused_until  # with the lock held

    def _warn(self, kind: str, message: str, *args: object) -> None:
        # Once per kind of failure and process: the counts tell how many followed.
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(message, *args)

    # -- on kafka-python's sender thread ------------------------------------------------

    def _delivered(self, result: _Result, metadata: object) -> None:
        del metadata
        with self._lock:
            if self._in_flight.pop(id(result), None) is not None:
                self._in_flight_bytes -= len(result.value)
                self._outcomes["sent"] += 1
            self._backoff = RESULTS_BACKOFF_SECONDS[0]
            self._lock.notify_all()

    def _undelivered(self, result: _Result, error: Exception) -> None:
        with self._lock:
            if self._in_flight.pop(id(result), None) is not None:
                self._in_flight_bytes -= len(result.value)
                self._returned.append((result, error))
            self._lock.notify_all()


def _close_now(producer: KafkaProducer) -> None:
    """Close ``producer`` at once, failing the records it still holds.

    kafka-python 3.0.12's ``close`` flushes first: while a record waits it raises and
    leaves the producer open (its thread, its sockets, and a ``__del__`` that tries again
    whenever it is collected). So its sender thread is stopped without sending first.
    """
    sender = getattr(producer, "_sender", None)
    if sender is not None:
        sender.force_close()
        sender.join(_SENDER_EXIT_SECONDS)
    try:
        producer.close(timeout=0)
    except KafkaError as error:
        logger.warning("the results producer closed with records unsent: %s",
                       describe_error(error))
