"""The dead-letter producer: rejected events copied to a topic, cut and retried within bounds."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError

from driftd.config import KafkaSourceConfig
from driftd.events import Rejection
from driftd.sources.kafka.options import KafkaSetupError, client_options, describe_error

logger = logging.getLogger("driftd.sources.kafka")  # the package's name, as before the split

# Dead letters: records above DEAD_LETTER_MAX_BYTES (under the brokers' default limit of
# 1 MiB with room for headers) are cut to it; one the topic still refuses as too large is
# replaced by a reference to its topic, partition and offset. A failed record is retried
# DEAD_LETTER_ATTEMPTS times in all, from a queue bounded by DEAD_LETTER_QUEUE_BYTES (the
# oldest dropped when full). ``send`` waits at most DEAD_LETTER_MAX_BLOCK_MS for metadata
# (a missing topic), then sends nothing for a backoff that doubles up to 30 s.
DEAD_LETTER_MAX_BYTES = 1_000_000
DEAD_LETTER_HEADROOM = 4096  # headers and record overhead
DEAD_LETTER_ATTEMPTS = 3
DEAD_LETTER_QUEUE_BYTES = 16 * 1024 * 1024
DEAD_LETTER_QUEUE_RECORDS = 10_000
DEAD_LETTER_MAX_BLOCK_MS = 200
DEAD_LETTER_BACKOFF_SECONDS = (1.0, 30.0)
# The checkpoint waits this long for unacknowledged dead letters. Trade-off: a record not
# acknowledged by then stays queued and is retried, but the offsets of its message move
# on with the checkpoint, so a crash right after loses that copy (its rejection is still
# counted); waiting longer would stall ingestion whenever the dead-letter topic does.
DEAD_LETTER_FLUSH_SECONDS = 1.0
DEAD_LETTER_CLOSE_SECONDS = 2.0
DEAD_LETTER_OUTCOMES = ("sent", "truncated", "failed", "dropped")
_ORIGIN = re.compile(r"^(?P<topic>.+)\[(?P<partition>\d+)\]@(?P<offset>\d+)$")
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)


@dataclass(slots=True)
class _Letter:
    value: bytes
    headers: list[tuple[str, bytes]]
    rejection: Rejection
    form: str = "sent"  # as it goes out: "sent" (whole), "truncated" or "reference"
    attempts: int = 0


class DeadLetters:
    """Copies rejected events, with the error in headers, to a dead-letter topic.

    Never fatal and never slow: failures are counted (``outcomes``), retried within the
    bounds above and finally dropped, and no call waits long for the broker.
    """

    def __init__(self, config: KafkaSourceConfig, topic: str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.topic, self._clock = topic, clock
        self._lock = threading.Condition()
        self._outcomes: Counter[str] = Counter(dict.fromkeys(DEAD_LETTER_OUTCOMES, 0))
        self._in_flight = 0  # bytes sent to the producer and not yet answered
        self._returned: deque[tuple[_Letter, Exception]] = deque()  # from the sender thread
        self._queue: deque[_Letter] = deque()  # waiting for a retry, on the main thread
        self._queued_bytes = 0
        self._paused_until = 0.0
        self._backoff = DEAD_LETTER_BACKOFF_SECONDS[0]
        self._warned: set[str] = set()
        self._config = config
        self._producer: KafkaProducer | None = None  # created by connect()

    def connect(self, timeout_seconds: float) -> None:
        """Create the producer (which bootstraps); until then letters wait in the queue."""
        if self._producer is not None:
            return
        config = self._config
        try:
            # Not idempotent: kafka-python's idempotent producer takes a record refused as
            # too large for a fatal error and fails every later record (a duplicate dead
            # letter is harmless; a dead dead-letter producer is not).
            self._producer = KafkaProducer(
                acks="all", linger_ms=20, max_block_ms=DEAD_LETTER_MAX_BLOCK_MS,
                enable_idempotence=False,
                max_request_size=DEAD_LETTER_MAX_BYTES + DEAD_LETTER_HEADROOM,
                request_timeout_ms=10_000, delivery_timeout_ms=30_000,
                bootstrap_timeout_ms=max(1000, round(timeout_seconds * 1000)),
                **client_options(config.bootstrap_servers, f"{config.client_id}-dlq",
                                 config.security))
        except (KafkaError, OSError, ValueError) as error:
            raise KafkaSetupError(f"cannot create the dead-letter producer: {error}") from error

    def outcomes(self) -> dict[str, int]:
        """Dead-letter records so far by outcome (all four, from 0)."""
        with self._lock:
            return dict(self._outcomes)

    def send(self, rejections: Sequence[Rejection]) -> None:
        self._retry()
        for rejection in rejections:
            self._submit(_letter(rejection))

    def flush(self) -> None:
        """Wait up to DEAD_LETTER_FLUSH_SECONDS for what was sent (not while failing)."""
        self._retry()
        deadline = self._clock() + DEAD_LETTER_FLUSH_SECONDS
        with self._lock:
            while self._in_flight and not self._paused():
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._lock.wait(min(remaining, 0.05))
        self._retry()

    def close(self) -> None:
        self.flush()
        with self._lock:
            failing, left = self._paused(), len(self._queue)
            self._outcomes["dropped"] += left
            self._queue.clear()
        if left:
            logger.warning("dropped %d dead letters still waiting for a retry at shutdown", left)
        if self._producer is None:
            return
        try:  # kafka-python raises if its final flush times out
            self._producer.close(timeout=0 if failing else DEAD_LETTER_CLOSE_SECONDS)
        except KafkaError as error:
            logger.warning("the dead-letter producer closed with records unsent: %s",
                           describe_error(error))

    # -- on the main thread ---------------------------------------------------------------

    def _submit(self, letter: _Letter) -> None:
        with self._lock:
            hold = self._paused() or self._in_flight + len(letter.value) > DEAD_LETTER_QUEUE_BYTES
        if hold or self._producer is None:
            self._enqueue(letter)
            return
        letter.attempts += 1
        try:
            future = self._producer.send(self.topic, value=letter.value, headers=letter.headers)
        except KafkaError as error:  # no metadata within max_block_ms, not authorized...
            self._failed(letter, error)
            return
        with self._lock:
            self._in_flight += len(letter.value)
        future.add_callback(self._delivered, letter)
        future.add_errback(self._undelivered, letter)

    def _retry(self) -> None:
        """Handle the records the broker refused, then resend the queue if not paused."""
        with self._lock:
            returned = list(self._returned)
            self._returned.clear()
        for letter, error in returned:
            if isinstance(error, _TOO_LARGE) and letter.form != "reference":
                self._warn("too large", "the dead-letter topic %s refused a record of %d "
                           "bytes as too large (its max.message.bytes is lower than "
                           "driftd's %d): sending references instead", self.topic,
                           len(letter.value), DEAD_LETTER_MAX_BYTES)
                letter = _reference(letter.rejection)
                self._submit(letter)
            else:
                self._failed(letter, error)
        while True:
            with self._lock:
                if not self._queue or self._paused():
                    return
                letter = self._queue.popleft()
                self._queued_bytes -= len(letter.value)
            self._submit(letter)

    def _failed(self, letter: _Letter, error: Exception) -> None:
        with self._lock:
            self._outcomes["failed"] += 1
            self._paused_until = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, DEAD_LETTER_BACKOFF_SECONDS[1])
        self._warn(type(error).__name__, "could not send a dead letter of %s to %s "
                   "(%s); retrying it within bounds, counted in driftd_dead_letters_total",
                   letter.rejection.origin, self.topic, describe_error(error))
        if letter.attempts < DEAD_LETTER_ATTEMPTS and not isinstance(error, _TOO_LARGE):
            self._enqueue(letter)
        else:
            with self._lock:
                self._outcomes["dropped"] += 1

    def _enqueue(self, letter: _Letter) -> None:
        with self._lock:
            self._queue.append(letter)
            self._queued_bytes += len(letter.value)
            while (self._queued_bytes > DEAD_LETTER_QUEUE_BYTES
                   or len(self._queue) > DEAD_LETTER_QUEUE_RECORDS):
                oldest = self._queue.popleft()
                self._queued_bytes -= len(oldest.value)
                self._outcomes["dropped"] += 1

    def _paused(self) -> bool:
        return self._clock() < self._paused_until  # with the lock held

    def _warn(self, kind: str, message: str, *args: object) -> None:
        # Once per kind of failure and process: the counter tells how many followed.
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(message, *args)

    # -- on kafka-python's sender thread ------------------------------------------------

    def _delivered(self, letter: _Letter, metadata: object) -> None:
        del metadata
        with self._lock:
            self._in_flight -= len(letter.value)
            self._outcomes["sent" if letter.form == "sent" else "truncated"] += 1
            self._backoff = DEAD_LETTER_BACKOFF_SECONDS[0]
            self._lock.notify_all()

    def _undelivered(self, letter: _Letter, error: Exception) -> None:
        with self._lock:
            self._in_flight -= len(letter.value)
            self._returned.append((letter, error))
            self._lock.notify_all()


def _headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    return [("driftd-reason", rejection.reason.encode()),
            ("driftd-error", rejection.detail.encode()[:1000]),
            ("driftd-origin", rejection.origin.encode())]


def _letter(rejection: Rejection) -> _Letter:
    """The record for ``rejection``: its payload, cut to DEAD_LETTER_MAX_BYTES if larger."""
    payload, limit = rejection.payload, DEAD_LETTER_MAX_BYTES - DEAD_LETTER_HEADROOM
    if len(payload) <= limit:
        return _Letter(payload, _headers(rejection), rejection)
    headers = [*_headers(rejection), ("driftd-truncated", b"true"),
               ("driftd-original-bytes", str(len(payload)).encode())]
    return _Letter(payload[:limit], headers, rejection, form="truncated")


def _reference(rejection: Rejection) -> _Letter:
    """A small record naming where the rejected message is, instead of its bytes."""
    where: dict[str, object] = {"origin": rejection.origin}
    match = _ORIGIN.match(rejection.origin)
    if match:
        where |= {"topic": match["topic"], "partition": int(match["partition"]),
                  "offset": int(match["offset"])}
    where["original_bytes"] = len(rejection.payload)
    headers = [*_headers(rejection), ("driftd-truncated", b"reference"),
               ("driftd-original-bytes", str(len(rejection.payload)).encode())]
    return _Letter(json.dumps(where).encode(), headers, rejection, form="reference")
