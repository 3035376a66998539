"""Kafka: the consumer source, the dead-letter producer, the broker probe and the publisher.

This is the only module that imports kafka-python. The consumer is used by the main
thread only (kafka-python clients are not thread-safe); the probe owns its own client.
Offsets are never auto-committed: the daemon commits the offsets a checkpoint reflects,
right after writing it, asynchronously (the checkpoint is the source of truth; the commit
only informs lag tools), so a broker outage never blocks the main loop on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    SaslAuthenticationFailedError,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)
from kafka.structs import OffsetAndMetadata

from driftd.config import KafkaSecurityConfig, KafkaSourceConfig
from driftd.events import Rejection
from driftd.sources.base import Offsets, PartitionListener, RawBatch

logger = logging.getLogger(__name__)

PUBLISH_LINGER_MS = 20
# Bounds of the calls that wait for the broker outside the main loop's steady state: the
# final commit and closing the consumer at shutdown (only a LeaveGroup round trip).
COMMIT_TIMEOUT_MS = 2000
CLOSE_TIMEOUT_MS = 2000


class KafkaSetupError(Exception):
    """A Kafka client that could not be created (bad settings, no broker at start-up)."""


class _BootstrapWatch(logging.Handler):
    """Reads the bootstrap failures kafka-python logs (``kafka.net.manager``) and retries.

    A rejected password or an unverifiable certificate is retried until the bootstrap
    timeout and then raised as "Unable to bootstrap", which sends the operator to the
    network; once every bootstrap server failed so, ``fatal`` says why and ``done`` is set.
    """

    def __init__(self, bootstrap: str, security: KafkaSecurityConfig,
                 done: threading.Event) -> None:
        super().__init__(logging.WARNING)
        self._bootstrap, self._security, self._done = bootstrap, security, done
        self._servers = len(bootstrap.split(","))
        self._failed: dict[str, str] = {}  # bootstrap node id -> why
        self.last: str | None = None  # the last failure of any kind, for a timeout
        self.fatal: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        nodes = [a for a in args if isinstance(a, str) and a.startswith("bootstrap-")]
        errors = [a for a in args if isinstance(a, Exception)]
        if not nodes or not errors:
            return
        self.last = describe_error(errors[0])
        why = self._cause(errors[0])
        if why is None:
            self._failed.pop(nodes[0], None)
            return
        self._failed[nodes[0]] = why
        if len(self._failed) >= self._servers:
            self.fatal = why
            self._done.set()

    def _cause(self, error: Exception) -> str | None:
        """What to tell the operator about a failure that no retry can mend, or None."""
        security, text = self._security, str(error)
        if isinstance(error, SaslAuthenticationFailedError):
            detail = re.sub(r"^(\[Error \d+\] )?(SaslAuthenticationFailedError: )*", "", text)
            return (f"Kafka at {self._bootstrap} rejected the credentials: SASL "
                    f"authentication failed for user {security.sasl_username!r}, mechanism "
                    f"{security.sasl_mechanism} ({detail}). Check security.sasl_username and "
                    "the password (sasl_password, sasl_password_file or "
                    "DRIFTD_KAFKA_SASL_PASSWORD).")
        if isinstance(error, UnsupportedSaslMechanismError):
            return f"Kafka at {self._bootstrap} refused security.sasl_mechanism: {text}"
        verify = re.search(r"certificate verify failed: ([^(]+)", text)
        if verify:
            cafile = security.ssl_cafile or "not set, so the system's CAs"
            return (f"the TLS certificate of Kafka at {self._bootstrap} could not be "
                    f"verified: {verify.group(1).strip()}. Check security.ssl_cafile "
                    f"({cafile}): it must hold the CA that signed the broker's certificate, "
                    "and the certificate must name the host in bootstrap_servers "
                    "(security.ssl_check_hostname).")
        handshake = re.search(r"Handshake failed: (\[SSL[^\]]*\][^(]*)", text)
        if handshake:
            return (f"the TLS handshake with Kafka at {self._bootstrap} failed: "
                    f"{handshake.group(1).strip()}. Check security.protocol against the "
                    "listener on that port, and ssl_certfile/ssl_keyfile if the broker "
                    "asks for a client certificate.")
        return None


class _Closable(Protocol):
    def close(self) -> None: ...


_Client = TypeVar("_Client", bound=_Closable)


def bootstrapped(build: Callable[[], _Client], bootstrap: str,
                 security: KafkaSecurityConfig) -> _Client:
    """``build()`` a kafka-python client (which bootstraps), but raise KafkaSetupError as
    soon as kafka-python logs that the broker rejects the credentials or the TLS setup.

    ``build`` runs on a helper thread so that such a failure can end the wait at once;
    an abandoned build finishes (or times out) on its own and is closed.
    """
    done, lock = threading.Event(), threading.Lock()
    watch = _BootstrapWatch(bootstrap, security, done)
    outcome: list[_Client | Exception] = []
    abandoned = False

    def run() -> None:
        try:
            result: _Client | Exception = build()
        except Exception as error:  # handed to the caller's thread
            result = error
        with lock:
            outcome.append(result)
            if abandoned and not isinstance(result, Exception):
                result.close()
        done.set()

    with _listening(watch):
        threading.Thread(target=run, name="kafka-bootstrap", daemon=True).start()
        done.wait()
    with lock:
        if watch.fatal is not None:
            abandoned = True
            if outcome and not isinstance(outcome[0], Exception):
                outcome[0].close()
            raise KafkaSetupError(watch.fatal)
        result = outcome[0]
    if isinstance(result, Exception):
        if watch.last is not None and watch.last not in str(result):
            raise KafkaSetupError(f"cannot connect to Kafka at {bootstrap}: "
                                  f"{describe_error(result)} (last connection error: "
                                  f"{watch.last})") from result
        raise result
    return result


@contextlib.contextmanager
def _listening(handler: logging.Handler) -> Iterator[None]:
    """``handler`` on kafka-python's network loggers; silenced ones stay silent."""
    net = logging.getLogger("kafka.net")
    level, propagate = net.level, net.propagate
    if net.getEffectiveLevel() > logging.WARNING:  # setup_logging silences reconnect noise
        net.setLevel(logging.WARNING)
        net.propagate = False
    net.addHandler(handler)
    try:
        yield
    finally:
        net.removeHandler(handler)
        net.setLevel(level)
        net.propagate = propagate


def client_options(bootstrap: str, client_id: str, security: KafkaSecurityConfig) -> dict[str, Any]:
    """kafka-python keyword arguments for the connection and security settings."""
    options: dict[str, Any] = {"bootstrap_servers": bootstrap.split(","), "client_id": client_id,
                               "security_protocol": security.protocol}
    if security.sasl_mechanism is not None:
        options |= {"sasl_mechanism": security.sasl_mechanism,
                    "sasl_plain_username": security.sasl_username,
                    "sasl_plain_password": security.password()}
    if security.protocol.endswith("SSL"):
        options |= {"ssl_check_hostname": security.ssl_check_hostname}
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(security, name)
            if value is not None:
                options[name] = str(value)
    return options


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: KafkaSource, listener: PartitionListener) -> None:
        self._source, self._listener = source, listener

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self._listener.revoked([(tp.topic, tp.partition) for tp in revoked])
        for tp in revoked:
            self._source.forget(tp.topic, tp.partition)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        partitions = [(tp.topic, tp.partition) for tp in assigned]
        logger.info("assigned partitions: %s", ", ".join(f"{t}[{p}]" for t, p in partitions))
        self._source.seek_assigned(assigned)
        self._listener.assigned(partitions)


class KafkaSource:
    """A consumer group over the configured topics, handing out one topic-partition's
    records at a time; positions advance only with the batches the caller acknowledges."""

    def __init__(self, config: KafkaSourceConfig) -> None:
        self.name = f"kafka:{config.bootstrap_servers}"
        self.config = config
        self._streams = {t.name: t.stream for t in config.topics}
        self._start_offsets: dict[tuple[str, int], int] = {}
        self._positions: dict[tuple[str, int], int] = {}
        self._pending: deque[tuple[RawBatch, tuple[str, int]]] = deque()
        self._commit_failing = False
        try:
            options = client_options(config.bootstrap_servers, config.client_id,
                                     config.security)
            self._consumer = bootstrapped(lambda: KafkaConsumer(
                group_id=config.group_id, enable_auto_commit=False,
                auto_offset_reset=config.auto_offset_reset,
                max_poll_records=config.max_poll_records,
                session_timeout_ms=config.session_timeout_ms,
                heartbeat_interval_ms=max(100, config.session_timeout_ms // 3),
                **options), config.bootstrap_servers, config.security)
        except (KafkaError, OSError, ValueError) as error:
            raise KafkaSetupError(f"cannot create the Kafka consumer: {error}") from error

    def subscribe(self, listener: PartitionListener) -> None:
        self._consumer.subscribe(topics=list(self._streams), listener=_Rebalance(self, listener))

    def partitions(self) -> list[tuple[str, int]]:
        """Every partition of the subscribed topics, from cluster metadata (main thread
        only: it may wait for a metadata request)."""
        try:
            return [(topic, p) for topic in self._streams
                    for p in sorted(self._consumer.partitions_for_topic(topic))]
        except KafkaError as error:
            logger.warning("could not list the topics' partitions: %s", error)
            return []

    def start_from(self, offsets: Offsets) -> None:
        """Offsets (from a checkpoint) to seek to when their partitions are assigned."""
        self._start_offsets = dict(offsets)

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        if not self._pending:
            self._fetch(max_messages, timeout_seconds)
        if not self._pending:
            return RawBatch("predictions", [])
        return self._pending.popleft()[0]

    def acknowledge(self, batch: RawBatch) -> None:
        """``batch`` is ingested: the next checkpoint may resume after it."""
        if batch.position is not None:
            topic, partition, next_offset = batch.position
            self._positions[(topic, partition)] = next_offset

    def _fetch(self, max_messages: int, timeout_seconds: float) -> None:
        records = self._consumer.poll(timeout_ms=int(timeout_seconds * 1000),
                                      max_records=max_messages)
        for tp, batch in records.items():
            if not batch:
                continue
            stream = self._streams.get(tp.topic, "predictions")
            messages = [r.value if r.value is not None else b"" for r in batch]
            origins = [f"{tp.topic}[{tp.partition}]@{r.offset}" for r in batch]
            raw = RawBatch(stream, messages, origins, key=tp.topic,
                           partition=f"{tp.topic}[{tp.partition}]",
                           position=(tp.topic, tp.partition, batch[-1].offset + 1))
            self._pending.append((raw, (tp.topic, tp.partition)))

    def positions(self) -> dict[tuple[str, int], int]:
        """Next offset to read per partition, counting only acknowledged batches."""
        return dict(self._positions)

    def forget(self, topic: str, partition: int) -> None:
        """A revoked partition: remember where we were, drop what was not handed out.

        If it comes back (a rebalance after a broker outage, say), reading resumes from
        that position rather than from whatever offset Kafka has committed.
        """
        position = self._positions.pop((topic, partition), None)
        if position is not None:
            self._start_offsets[(topic, partition)] = position
        self._pending = deque(p for p in self._pending if p[1] != (topic, partition))

    def seek_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        for tp in assigned:
            offset = self._start_offsets.get((tp.topic, tp.partition))
            if offset is not None:
                self._consumer.seek(tp, offset)
                self._positions[(tp.topic, tp.partition)] = offset
                logger.info("resuming %s[%d] at checkpointed offset %d",
                            tp.topic, tp.partition, offset)

    def commit(self, offsets: Offsets, *, wait: bool = False) -> bool:
        """Commit offsets of currently assigned partitions so lag tools see progress.

        Asynchronous by default: kafka-python's ``commit_async`` never blocks (with the
        coordinator unknown it chains the commit to a lookup), and a failure is logged
        when reported on a later poll. ``wait=True`` (the final commit at shutdown) waits
        at most ``COMMIT_TIMEOUT_MS``. Never wait inside a rebalance callback.
        """
        assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        to_commit = {TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                     for (t, p), o in offsets.items() if (t, p) in assigned}
        if not to_commit:
            return True
        try:
            if wait:
                self._consumer.commit(offsets=to_commit, timeout_ms=COMMIT_TIMEOUT_MS)
            else:
                self._consumer.commit_async(offsets=to_commit, callback=self._committed)
        except KafkaError as error:
            self._commit_failed(error)
            return False
        return True

    def _committed(self, offsets: object, result: object) -> None:
        # kafka-python calls this from a later poll or commit, on the main thread.
        del offsets
        if isinstance(result, Exception):
            self._commit_failed(result)
        elif self._commit_failing:
            self._commit_failing = False
            logger.info("offset commits to Kafka succeed again")

    def _commit_failed(self, error: object) -> None:
        if not self._commit_failing:  # once per failing spell, not once per checkpoint
            logger.warning("could not commit offsets to Kafka (the checkpoint has them; "
                           "external lag tools lag behind until a commit succeeds): %s",
                           describe_error(error))
        self._commit_failing = True

    def lag(self) -> dict[tuple[str, int], int]:
        """Records not yet handed out, per assigned partition whose end is known."""
        lags = {}
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)
            position = self._positions.get((tp.topic, tp.partition))
            if end is not None and position is not None:
                lags[(tp.topic, tp.partition)] = max(0, end - position)
        return lags

    def drained(self) -> bool:
        """Every assigned partition read to its last known end (and something assigned)."""
        assignment = self._consumer.assignment()
        lags = self.lag()
        return bool(assignment) and len(lags) == len(assignment) and not any(
            lags.values()) and not self._pending

    def close(self) -> None:
        # Bounded: with the broker gone, leaving the group must not hold up the exit.
        self._consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)


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
        try:
            # Not idempotent: kafka-python's idempotent producer takes a record refused as
            # too large for a fatal error and fails every later record (a duplicate dead
            # letter is harmless; a dead dead-letter producer is not).
            self._producer = KafkaProducer(
                acks="all", linger_ms=20, max_block_ms=DEAD_LETTER_MAX_BLOCK_MS,
                enable_idempotence=False,
                max_request_size=DEAD_LETTER_MAX_BYTES + DEAD_LETTER_HEADROOM,
                request_timeout_ms=10_000, delivery_timeout_ms=30_000,
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
        try:  # kafka-python raises if its final flush times out
            self._producer.close(timeout=0 if failing else DEAD_LETTER_CLOSE_SECONDS)
        except KafkaError as error:
            logger.warning("the dead-letter producer closed with records unsent: %s",
                           describe_error(error))

    # -- on the main thread ---------------------------------------------------------------

    def _submit(self, letter: _Letter) -> None:
        with self._lock:
            hold = self._paused() or self._in_flight + len(letter.value) > DEAD_LETTER_QUEUE_BYTES
        if hold:
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


class BrokerProbe:
    """Asks the cluster for its metadata every ``interval`` seconds on its own thread.

    Reachable means the last check answered and the one in flight, if any, has not taken
    longer than ``check_timeout``: a check that hangs counts as down without waiting for
    kafka-python to give up. Seconds unreachable count from the last successful answer
    (from construction until the first one).
    """

    def __init__(self, config: KafkaSourceConfig, *, interval: float = 1.0,
                 check_timeout: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval <= 0 or check_timeout <= 0:
            raise ValueError("interval and check_timeout must be positive")
        self._options = client_options(config.bootstrap_servers, f"{config.client_id}-probe",
                                       config.security)
        self._interval, self._check_timeout, self._clock = interval, check_timeout, clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._answered = False  # whether the last finished check got an answer
        self._last_answer = clock()
        self._check_started: float | None = None
        self._error = "not checked yet"
        self._admin: KafkaAdminClient | None = None
        self._thread = threading.Thread(target=self._run, name="kafka-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def status(self) -> tuple[bool, float, str]:
        """(reachable, seconds unreachable, last error)."""
        with self._lock:
            now = self._clock()
            waited = 0.0 if self._check_started is None else now - self._check_started
            if self._answered and waited <= self._check_timeout:
                return True, 0.0, ""
            error = (self._error if not self._answered
                     else f"no answer to a metadata request for {waited:.1f} s")
            return False, now - self._last_answer, error

    def _run(self) -> None:
        while not self._stop.is_set():
            self._check()
            self._stop.wait(self._interval)

    def _check(self) -> None:
        timeout_ms = round(self._check_timeout * 1000)
        with self._lock:
            self._check_started = self._clock()
        try:
            if self._admin is None:
                self._admin = KafkaAdminClient(request_timeout_ms=timeout_ms,
                                               bootstrap_timeout_ms=timeout_ms, **self._options)
            self._admin.describe_cluster()
        except (KafkaError, OSError, ValueError) as error:
            self._close_admin()
            with self._lock:
                self._answered, self._check_started = False, None
                self._error = describe_error(error)
            return
        with self._lock:
            self._answered, self._check_started = True, None
            self._last_answer = self._clock()
            self._error = ""

    def _close_admin(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except (KafkaError, OSError):
                pass
            self._admin = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._check_timeout + 1.0)
        if self._thread.is_alive():  # a check still hanging: its client is the thread's
            logger.info("the broker probe is still waiting for an answer; not waiting more")
            return
        self._close_admin()


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


def describe_error(error: object) -> str:
    """``Type: message`` for an exception (kafka-python's messages often start with it)."""
    text = str(error)
    if not isinstance(error, Exception) or text.startswith(type(error).__name__):
        return text
    return f"{type(error).__name__}: {text}"
