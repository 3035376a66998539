"""At-least-once delivery to one topic within bounds: what the dead-letter and results
producers share.

A record goes to kafka-python's producer at once, unless the topic is failing (after each
failure nothing is sent for a backoff that doubles up to a ceiling) or too many bytes are
in flight; otherwise it waits in a queue bounded in bytes and in records (the oldest
dropped when full). A failed record is retried up to ``Limits.attempts`` times in all.
One refused as too large would fail again, so it is never retried: the owner's
``too_large`` may give a smaller record to send instead, or none, and it is dropped.
Every record is counted: under its ``outcome`` once acknowledged, ``failed`` per failed
attempt, ``dropped`` when given up (at shutdown too).

Never slow: ``send`` waits at most ``Limits.max_block_ms`` (for metadata), ``flush`` and
``close`` as long as they are told. ``send``, ``flush`` and ``close`` are called from one
thread; kafka-python's sender thread answers through ``_delivered`` and ``_undelivered``;
``outcomes`` may be read from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError

from driftd.config import KafkaSourceConfig
from driftd.sources.kafka.options import KafkaSetupError, client_options, describe_error

logger = logging.getLogger("driftd.sources.kafka")  # the package's name, as before the split

_SENDER_EXIT_SECONDS = 1.0  # for kafka-python's sender thread to fail what it holds
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)


@dataclass(slots=True)
class Outgoing:
    """One record as it goes out; ``about`` names it in warnings."""

    value: bytes
    headers: list[tuple[str, bytes]]
    about: str
    key: bytes | None = None
    outcome: str = "sent"  # what its acknowledgement is counted as
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one topic's producer holds, sends and retries."""

    max_bytes: int  # the largest value driftd sends
    headroom: int  # on top of max_bytes, for the key, headers and record overhead
    attempts: int  # sends of one record in all
    queue_bytes: int  # in flight, and queued, each
    queue_records: int  # queued
    max_block_ms: int  # the longest ``send`` waits for metadata (a missing topic)
    backoff_seconds: tuple[float, float]  # after a failure: the first, the ceiling


@dataclass(frozen=True, slots=True)
class Texts:
    """What one topic's producer is called in its client id, errors and warnings."""

    producer: str  # "cannot create the <producer> producer"
    records: str  # "dropped 3 <records> not sent to <topic> by shutdown"
    client_suffix: str  # the client id is the source's, "-" and this
    failed: str  # a failed attempt; %s: the record's ``about``, the topic, the error


R = TypeVar("R", bound=Outgoing)


class Delivery(Generic[R]):
    """Sends ``R`` records to ``topic`` at least once, within ``limits``."""

    def __init__(self, config: KafkaSourceConfig, topic: str, limits: Limits, texts: Texts,
                 *, outcomes: tuple[str, ...], too_large: Callable[[R], R | None],
                 in_order: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.topic, self._config, self._clock = topic, config, clock
        self._limits, self._texts, self._in_order = limits, texts, in_order
        self._too_large = too_large  # says why (``warn``) and returns what to send instead
        self._lock = threading.Condition()
        self._outcomes: Counter[str] = Counter(dict.fromkeys(outcomes, 0))
        self._in_flight: dict[int, R] = {}  # sent to the producer, not yet answered
        self._in_flight_bytes = 0
        self._returned: deque[tuple[R, Exception]] = deque()  # from the sender thread
        self._queue: deque[R] = deque()  # waiting for a (re)try, on the caller's thread
        self._queued_bytes = 0
        self._paused_until = 0.0
        self._backoff = limits.backoff_seconds[0]
        self._warned: set[str] = set()
        self._producer: KafkaProducer | None = None  # created by connect()
        self._closed = False

    def connect(self, timeout_seconds: float) -> None:
        """Create the producer (which bootstraps); until then records wait in the queue."""
        if self._producer is not None:
            return
        config, limits = self._config, self._limits
        try:
            # Not idempotent: kafka-python's idempotent producer takes a record refused as
            # too large for a fatal error and fails every later record (a duplicate record
            # is harmless; a dead producer is not).
            self._producer = KafkaProducer(
                acks="all", linger_ms=20, max_block_ms=limits.max_block_ms,
                enable_idempotence=False,
                # 1: records in the order sent (5 is kafka-python's default)
                max_in_flight_requests_per_connection=1 if self._in_order else 5,
                max_request_size=limits.max_bytes + limits.headroom,
                request_timeout_ms=10_000, delivery_timeout_ms=30_000,
                bootstrap_timeout_ms=max(1000, round(timeout_seconds * 1000)),
                **client_options(config.bootstrap_servers,
                                 f"{config.client_id}-{self._texts.client_suffix}",
                                 config.security))
        except (KafkaError, OSError, ValueError) as error:
            raise KafkaSetupError(
                f"cannot create the {self._texts.producer} producer: {error}") from error

    def outcomes(self) -> dict[str, int]:
        """Records so far by outcome (every one, from 0)."""
        with self._lock:
            return dict(self._outcomes)

    def send(self, records: Sequence[R]) -> None:
        """Queue ``records``; returns within ``Limits.max_block_ms`` or so."""
        if self._closed:
            with self._lock:
                self._outcomes["dropped"] += len(records)
            return
        self._retry()
        for record in records:
            self._submit(record)

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

    def close(self, timeout_seconds: float) -> None:
        """Wait up to ``timeout_seconds`` for what was sent, then close the producer at
        once; what is still unsent is counted dropped (so is anything sent after)."""
        if self._closed:
            return
        self._closed = True
        self.flush(timeout_seconds)
        if self._producer is not None:
            self._close_producer(self._producer)
        with self._lock:
            left = len(self._queue) + len(self._returned) + len(self._in_flight)
            self._outcomes["dropped"] += left
            self._queue.clear()
            self._returned.clear()
            self._in_flight.clear()
        if left:
            logger.warning("dropped %d %s not sent to %s by shutdown", left,
                           self._texts.records, self.topic)

    def warn(self, kind: str, message: str, *args: object) -> None:
        """Log ``message`` the first time a failure of ``kind`` happens (the outcomes
        tell how many followed); on the caller's thread."""
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(message, *args)

    # -- on the caller's thread -----------------------------------------------------------

    def _submit(self, record: R) -> None:
        with self._lock:
            hold = (self._paused()
                    or self._in_flight_bytes + len(record.value) > self._limits.queue_bytes)
        if hold or self._producer is None:
            self._enqueue(record)
            return
        record.attempts += 1
        try:
            future = self._producer.send(self.topic, key=record.key, value=record.value,
                                         headers=record.headers)
        except KafkaError as error:  # too large, no metadata within max_block_ms...
            self._failed(record, error)
            return
        with self._lock:
            self._in_flight[id(record)] = record
            self._in_flight_bytes += len(record.value)
        future.add_callback(self._delivered, record)
        future.add_errback(self._undelivered, record)

    def _retry(self) -> None:
        """Handle the records the broker refused, then resend the queue if not paused."""
        with self._lock:
            returned = list(self._returned)
            self._returned.clear()
        for record, error in returned:
            self._failed(record, error)
        while True:
            with self._lock:
                if not self._queue or self._paused() or self._producer is None:
                    return
                record = self._queue.popleft()
                self._queued_bytes -= len(record.value)
            self._submit(record)

    def _failed(self, record: R, error: Exception) -> None:
        if isinstance(error, _TOO_LARGE):  # it would fail again: not retried
            self._refused(record)
            return
        give_up = record.attempts >= self._limits.attempts
        with self._lock:
            self._outcomes["failed"] += 1
            self._outcomes["dropped"] += give_up
            # The topic or the broker is failing: back off.
            self._paused_until = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, self._limits.backoff_seconds[1])
        self.warn(type(error).__name__, self._texts.failed, record.about, self.topic,
                  describe_error(error))
        if not give_up:
            self._enqueue(record)

    def _refused(self, record: R) -> None:
        """A record refused as too large: the smaller one ``too_large`` gives is sent
        instead, or the record is dropped (with no backoff: the topic is not failing)."""
        smaller = self._too_large(record)
        if smaller is not None:
            self._submit(smaller)
            return
        with self._lock:
            self._outcomes["failed"] += 1
            self._outcomes["dropped"] += 1

    def _enqueue(self, record: R) -> None:
        with self._lock:
            self._queue.append(record)
            self._queued_bytes += len(record.value)
            while (self._queued_bytes > self._limits.queue_bytes
                   or len(self._queue) > self._limits.queue_records):
                oldest = self._queue.popleft()
                self._queued_bytes -= len(oldest.value)
                self._outcomes["dropped"] += 1

    def _paused(self) -> bool:
        return self._clock() < self._paused_until  # with the lock held

    def _close_producer(self, producer: KafkaProducer) -> None:
        """Close ``producer`` at once, failing the records it still holds.

        kafka-python 3.0.12's ``close`` flushes first: while a record waits it raises and
        leaves the producer open (its thread, its sockets, and a ``__del__`` that tries
        again whenever it is collected). So its sender thread is stopped without sending
        first (the records it fails are then counted dropped by ``close``).
        """
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
            sender.join(_SENDER_EXIT_SECONDS)
        try:
            producer.close(timeout=0)
        except KafkaError as error:
            logger.warning("the %s producer closed with records unsent: %s",
                           self._texts.producer, describe_error(error))

    # -- on kafka-python's sender thread ------------------------------------------------

    def _delivered(self, record: R, metadata: object) -> None:
        del metadata
        with self._lock:
            if self._in_flight.pop(id(record), None) is not None:
                self._in_flight_bytes -= len(record.value)
                self._outcomes[record.outcome] += 1
            self._backoff = self._limits.backoff_seconds[0]
            self._lock.notify_all()

    def _undelivered(self, record: R, error: Exception) -> None:
        with self._lock:
            if self._in_flight.pop(id(record), None) is not None:
                self._in_flight_bytes -= len(record.value)
                self._returned.append((record, error))
            self._lock.notify_all()
