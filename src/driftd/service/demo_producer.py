"""The demo producer: the synthetic demo stream published in real time, a topic per stream.

The stream (``sources.demo.DemoSource``) paces itself; this loop only routes its batches
to the publisher until the duration is up or a stop is requested. Clock, stream, stop
flag and publisher are passed in, so tests drive it with fakes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from driftd.service.demo import DemoTopics
from driftd.sources.base import RawBatch

logger = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 0.1  # bounds how long a stop request waits
MAX_BATCH = 1000


class DemoStream(Protocol):
    """A paced demo stream (see ``sources.demo.DemoSource``)."""

    drift_starts_at: float

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None: ...


class Publisher(Protocol):
    """Where the batches go (see ``sources.kafka.KafkaPublisher``)."""

    def send(self, topic: str, messages: Sequence[bytes]) -> None: ...


@dataclass(frozen=True, slots=True)
class Published:
    """What a run published, and why it ended."""

    predictions: int
    outcomes: int
    reason: str


def publish_demo(
    stream: DemoStream, publisher: Publisher, topics: DemoTopics, *,
    clock: Callable[[], float], should_stop: Callable[[], bool],
    duration_seconds: float | None = None,
) -> Published:
    """Publish ``stream`` until ``duration_seconds`` have passed or ``should_stop()``.

    Publisher errors propagate: the caller decides how to end.
    """
    started = clock()
    deadline = math.inf if duration_seconds is None else started + duration_seconds
    logger.info("publishing the demo stream: predictions to %s, outcomes to %s; drift "
                "starts in %.0f s; %s", topics.predictions, topics.outcomes,
                max(0.0, stream.drift_starts_at - started),
                "until stopped" if duration_seconds is None else f"for {duration_seconds:g} s")
    counts = {"predictions": 0, "outcomes": 0}
    drift_logged = False
    while not should_stop() and clock() < deadline:
        if not drift_logged and clock() >= stream.drift_starts_at:
            logger.info("drift starts at %s", iso_time(stream.drift_starts_at))
            drift_logged = True
        batch = stream.poll(MAX_BATCH, POLL_TIMEOUT_SECONDS)
        if batch is not None and batch.messages:
            publisher.send(topics.for_stream(batch.stream), batch.messages)
            counts[batch.stream] += len(batch.messages)
    reason = "stop requested" if should_stop() else "duration reached"
    return Published(counts["predictions"], counts["outcomes"], reason)


def iso_time(epoch_seconds: float) -> str:
    """UTC RFC 3339 time with milliseconds.

    >>> iso_time(1_700_000_000.25)
    '2023-11-14T22:13:20.250Z'
    """
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
