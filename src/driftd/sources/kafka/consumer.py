"""The consumer source: a consumer group handing out one topic-partition's records at a time."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from driftd.config import KafkaSourceConfig
from driftd.sources.base import Offsets, PartitionListener, RawBatch
from driftd.sources.kafka.bootstrap import bootstrapped
from driftd.sources.kafka.options import KafkaSetupError, client_options, describe_error

logger = logging.getLogger("driftd.sources.kafka")  # the package's name, as before the split

# Bounds of the calls that wait for the broker outside the main loop's steady state: the
# final commit and closing the consumer at shutdown (only a LeaveGroup round trip).
COMMIT_TIMEOUT_MS = 2000
CLOSE_TIMEOUT_MS = 2000


def _headers_and_times(
    records: Sequence[ConsumerRecord],
) -> tuple[list[Mapping[str, bytes]], list[float]]:
    """Each record's headers (names lower-cased; a repeated name keeps its last value)
    and its timestamp in seconds."""
    headers: list[Mapping[str, bytes]] = [
        {name.lower(): value or b"" for name, value in r.headers} if r.headers else {}
        for r in records]
    return headers, [r.timestamp / 1000.0 for r in records]


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
        # Topics whose payload needs its record's headers and time (not plain JSON events).
        self._with_headers = {t.name for t in config.topics if t.format != "json"}
        self._start_offsets: dict[tuple[str, int], int] = {}
        self._positions: dict[tuple[str, int], int] = {}
        self._pending: deque[tuple[RawBatch, tuple[str, int]]] = deque()
        self._commit_failing = False
        self._consumer: KafkaConsumer | None = None  # created by connect()

    def connect(self, timeout_seconds: float) -> None:
        """Create the consumer, which bootstraps within ``timeout_seconds``: raises
        KafkaUnreachable when no broker answered, KafkaSetupError for bad settings."""
        if self._consumer is not None:
            return
        config = self.config
        options = client_options(config.bootstrap_servers, config.client_id, config.security)
        try:
            self._consumer = bootstrapped(lambda: KafkaConsumer(
                group_id=config.group_id, enable_auto_commit=False,
                auto_offset_reset=config.auto_offset_reset,
                max_poll_records=config.max_poll_records,
                session_timeout_ms=config.session_timeout_ms,
                heartbeat_interval_ms=max(100, config.session_timeout_ms // 3),
                bootstrap_timeout_ms=max(1000, round(timeout_seconds * 1000)),
                **options), config.bootstrap_servers, config.security)
        except (KafkaError, OSError, ValueError) as error:
            raise KafkaSetupError(f"cannot create the Kafka consumer: {error}") from error

    @property
    def consumer(self) -> KafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("KafkaSource used before connect()")
        return self._consumer

    def subscribe(self, listener: PartitionListener) -> None:
        self.consumer.subscribe(topics=list(self._streams), listener=_Rebalance(self, listener))

    def partitions(self) -> list[tuple[str, int]]:
        """Every partition of the subscribed topics, from cluster metadata (main thread
        only: it may wait for a metadata request)."""
        try:
            return [(topic, p) for topic in self._streams
                    for p in sorted(self.consumer.partitions_for_topic(topic))]
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
        try:
            records = self.consumer.poll(timeout_ms=int(timeout_seconds * 1000),
                                          max_records=max_messages)
        except KafkaError as error:
            if not error.retriable:
                raise
            # A broker going away mid-poll (connection refused, no coordinator): the
            # client reconnects by itself, and the probe reports the outage and ends
            # driftd past broker_timeout_seconds. Nothing was handed out.
            logger.debug("poll failed, retrying: %s", describe_error(error))
            return
        for tp, batch in records.items():
            if not batch:
                continue
            stream = self._streams.get(tp.topic, "predictions")
            messages = [r.value if r.value is not None else b"" for r in batch]
            origins = [f"{tp.topic}[{tp.partition}]@{r.offset}" for r in batch]
            headers, times = _headers_and_times(batch) if tp.topic in self._with_headers \
                else ([], [])
            raw = RawBatch(stream, messages, origins, key=tp.topic,
                           partition=f"{tp.topic}[{tp.partition}]",
                           position=(tp.topic, tp.partition, batch[-1].offset + 1),
                           headers=headers, times=times)
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
                self.consumer.seek(tp, offset)
                self._positions[(tp.topic, tp.partition)] = offset
                logger.info("resuming %s[%d] at checkpointed offset %d",
                            tp.topic, tp.partition, offset,
                            extra={"topic": tp.topic, "partition": tp.partition,
                                   "offset": offset})

    def commit(self, offsets: Offsets, *, wait: bool = False) -> bool:
        """Commit offsets of currently assigned partitions so lag tools see progress.

        Asynchronous by default: kafka-python's ``commit_async`` never blocks (with the
        coordinator unknown it chains the commit to a lookup), and a failure is logged
        when reported on a later poll. ``wait=True`` (the final commit at shutdown) waits
        at most ``COMMIT_TIMEOUT_MS``. Never wait inside a rebalance callback.
        """
        if self._consumer is None:  # never connected: nothing was read
            return True
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
        lags: dict[tuple[str, int], int] = {}
        if self._consumer is None:
            return lags
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)
            position = self._positions.get((tp.topic, tp.partition))
            if end is not None and position is not None:
                lags[(tp.topic, tp.partition)] = max(0, end - position)
        return lags

    def drained(self) -> bool:
        """Every assigned partition read to its last known end (and something assigned)."""
        if self._consumer is None:
            return False
        assignment = self._consumer.assignment()
        lags = self.lag()
        return bool(assignment) and len(lags) == len(assignment) and not any(
            lags.values()) and not self._pending

    def close(self) -> None:
        # Bounded: with the broker gone, leaving the group must not hold up the exit.
        if self._consumer is not None:
            self._consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)
