"""Kafka: the consumer source, the dead-letter producer, the broker probe and the publisher.

This is the only module that imports kafka-python. The consumer is used by the main
thread only (kafka-python clients are not thread-safe); the probe owns its own client.
Offsets are never auto-committed: the daemon commits the offsets a checkpoint reflects,
right after writing it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from driftd.config import KafkaSecurityConfig, KafkaSourceConfig
from driftd.events import Rejection
from driftd.sources.base import Offsets, PartitionListener, RawBatch

logger = logging.getLogger(__name__)

PUBLISH_LINGER_MS = 20


class KafkaSetupError(Exception):
    """A Kafka client that could not be created (bad settings, no broker at start-up)."""


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
    records at a time so that positions advance only with what the caller received."""

    def __init__(self, config: KafkaSourceConfig) -> None:
        self.name = f"kafka:{config.bootstrap_servers}"
        self.config = config
        self._streams = {t.name: t.stream for t in config.topics}
        self._start_offsets: dict[tuple[str, int], int] = {}
        self._positions: dict[tuple[str, int], int] = {}
        self._pending: deque[tuple[RawBatch, tuple[str, int], int]] = deque()
        try:
            self._consumer = KafkaConsumer(
                group_id=config.group_id, enable_auto_commit=False,
                auto_offset_reset=config.auto_offset_reset,
                max_poll_records=config.max_poll_records,
                session_timeout_ms=config.session_timeout_ms,
                heartbeat_interval_ms=max(100, config.session_timeout_ms // 3),
                **client_options(config.bootstrap_servers, config.client_id, config.security))
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
        batch, partition, next_offset = self._pending.popleft()
        self._positions[partition] = next_offset
        return batch

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
                           partition=f"{tp.topic}[{tp.partition}]")
            self._pending.append((raw, (tp.topic, tp.partition), batch[-1].offset + 1))

    def positions(self) -> dict[tuple[str, int], int]:
        """Next offset to read per partition, counting only records handed out."""
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

    def commit(self, offsets: Offsets, *, wait: bool = True) -> bool:
        """Commit offsets of currently assigned partitions so lag tools see progress.

        Inside a rebalance callback (kafka-python runs those on its IO thread, which must
        not block on itself) pass ``wait=False``: the commit is then sent asynchronously.
        """
        assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        to_commit = {TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                     for (t, p), o in offsets.items() if (t, p) in assigned}
        if not to_commit:
            return True
        try:
            if wait:
                self._consumer.commit(offsets=to_commit, timeout_ms=10_000)
            else:
                self._consumer.commit_async(offsets=to_commit)
        except KafkaError as error:
            logger.warning("could not commit offsets to Kafka (the checkpoint has them; "
                           "external lag tools lag behind until the next commit): %s", error)
            return False
        return True

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
        self._consumer.close(autocommit=False, timeout_ms=5_000)


class DeadLetters:
    """Copies rejected events, with the error in headers, to a dead-letter topic."""

    def __init__(self, config: KafkaSourceConfig, topic: str) -> None:
        self.topic = topic
        try:
            self._producer = KafkaProducer(
                acks="all", linger_ms=20,
                **client_options(config.bootstrap_servers, f"{config.client_id}-dlq",
                                 config.security))
        except (KafkaError, OSError, ValueError) as error:
            raise KafkaSetupError(f"cannot create the dead-letter producer: {error}") from error

    def send(self, rejections: Sequence[Rejection]) -> None:
        for rejection in rejections:
            headers = [("driftd-reason", rejection.reason.encode()),
                       ("driftd-error", rejection.detail.encode()[:1000]),
                       ("driftd-origin", rejection.origin.encode())]
            self._producer.send(self.topic, value=rejection.payload, headers=headers)

    def flush(self, timeout_seconds: float = 30.0) -> None:
        self._producer.flush(timeout=timeout_seconds)

    def close(self) -> None:
        self._producer.close(timeout=10)


class BrokerProbe:
    """Asks the cluster for its metadata every ``interval`` seconds on its own thread."""

    def __init__(self, config: KafkaSourceConfig, *, interval: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._options = client_options(config.bootstrap_servers, f"{config.client_id}-probe",
                                       config.security)
        self._interval, self._clock = interval, clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._down_since: float | None = clock()  # unknown until the first answer
        self._error = "not checked yet"
        self._admin: KafkaAdminClient | None = None
        self._thread = threading.Thread(target=self._run, name="kafka-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def status(self) -> tuple[bool, float, str]:
        """(reachable, seconds unreachable, last error)."""
        with self._lock:
            if self._down_since is None:
                return True, 0.0, ""
            return False, self._clock() - self._down_since, self._error

    def _run(self) -> None:
        while not self._stop.is_set():
            self._check()
            self._stop.wait(self._interval)

    def _check(self) -> None:
        try:
            if self._admin is None:
                self._admin = KafkaAdminClient(request_timeout_ms=3000, **self._options)
            self._admin.describe_cluster()
        except (KafkaError, OSError, ValueError) as error:
            self._close_admin()
            with self._lock:
                if self._down_since is None:
                    self._down_since = self._clock()
                self._error = f"{type(error).__name__}: {error}"
            return
        with self._lock:
            self._down_since = None
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
        self._thread.join(timeout=10)
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
