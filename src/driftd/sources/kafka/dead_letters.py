"""The dead-letter producer: rejected events copied to a topic, cut and retried within bounds."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from driftd.config import KafkaSourceConfig
from driftd.events import Rejection
from driftd.sources.kafka.delivery import Delivery, Limits, Outgoing, Texts

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
DEAD_LETTER_CLOSE_SECONDS = 2.0  # what close waits after a flush's worth
DEAD_LETTER_OUTCOMES = ("sent", "truncated", "failed", "dropped")
_LIMITS = Limits(DEAD_LETTER_MAX_BYTES, DEAD_LETTER_HEADROOM, DEAD_LETTER_ATTEMPTS,
                 DEAD_LETTER_QUEUE_BYTES, DEAD_LETTER_QUEUE_RECORDS,
                 DEAD_LETTER_MAX_BLOCK_MS, DEAD_LETTER_BACKOFF_SECONDS)
_TEXTS = Texts(producer="dead-letter", records="dead letters", client_suffix="dlq",
               failed="could not send a dead letter of %s to %s (%s); retrying it within "
                      "bounds, counted in driftd_dead_letters_total")
_ORIGIN = re.compile(r"^(?P<topic>.+)\[(?P<partition>\d+)\]@(?P<offset>\d+)$")


@dataclass(slots=True, kw_only=True)
class _Letter(Outgoing):
    rejection: Rejection
    reference: bool = False  # a reference to the message instead of its bytes


class DeadLetters:
    """Copies rejected events, with the error in headers, to a dead-letter topic.

    Never fatal and never slow: failures are counted (``outcomes``), retried within the
    bounds above and finally dropped, and no call waits long for the broker.
    """

    def __init__(self, config: KafkaSourceConfig, topic: str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.topic = topic
        self._delivery: Delivery[_Letter] = Delivery(
            config, topic, _LIMITS, _TEXTS, outcomes=DEAD_LETTER_OUTCOMES,
            too_large=self._too_large, clock=clock)

    def connect(self, timeout_seconds: float) -> None:
        """Create the producer (which bootstraps); until then letters wait in the queue."""
        self._delivery.connect(timeout_seconds)

    def outcomes(self) -> dict[str, int]:
        """Dead-letter records so far by outcome (all four, from 0)."""
        return self._delivery.outcomes()

    def send(self, rejections: Sequence[Rejection]) -> None:
        self._delivery.send([_letter(rejection) for rejection in rejections])

    def flush(self) -> None:
        """Wait up to DEAD_LETTER_FLUSH_SECONDS for what was sent (not while failing)."""
        self._delivery.flush(DEAD_LETTER_FLUSH_SECONDS)

    def close(self) -> None:
        """Wait up to DEAD_LETTER_FLUSH_SECONDS + DEAD_LETTER_CLOSE_SECONDS for what was
        sent, then close the producer at once; what is still unsent is counted dropped."""
        self._delivery.close(DEAD_LETTER_FLUSH_SECONDS + DEAD_LETTER_CLOSE_SECONDS)

    def _too_large(self, letter: _Letter) -> _Letter | None:
        """A reference instead of a letter the topic refuses as too large; none instead
        of a refused reference."""
        if letter.reference:
            self._delivery.warn("reference too large", "dropped the dead letter of %s: %s "
                                "refuses even its reference of %d bytes as too large; "
                                "counted in driftd_dead_letters_total", letter.about,
                                self.topic, len(letter.value))
            return None
        self._delivery.warn("too large", "the dead-letter topic %s refused a record of %d "
                            "bytes as too large (its max.message.bytes is lower than "
                            "driftd's %d): sending references instead", self.topic,
                            len(letter.value), DEAD_LETTER_MAX_BYTES)
        return _reference(letter.rejection)


def _headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    return [("driftd-reason", rejection.reason.encode()),
            ("driftd-error", rejection.detail.encode()[:1000]),
            ("driftd-origin", rejection.origin.encode())]


def _letter(rejection: Rejection) -> _Letter:
    """The record for ``rejection``: its payload, cut to DEAD_LETTER_MAX_BYTES if larger."""
    payload, limit = rejection.payload, DEAD_LETTER_MAX_BYTES - DEAD_LETTER_HEADROOM
    if len(payload) <= limit:
        return _Letter(payload, _headers(rejection), rejection.origin, rejection=rejection)
    headers = [*_headers(rejection), ("driftd-truncated", b"true"),
               ("driftd-original-bytes", str(len(payload)).encode())]
    return _Letter(payload[:limit], headers, rejection.origin, outcome="truncated",
                   rejection=rejection)


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
    return _Letter(json.dumps(where).encode(), headers, rejection.origin, outcome="truncated",
                   rejection=rejection, reference=True)
