"""The ingest path of the daemon: decode a raw batch, count, log rejects, monitor."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from driftd.events import Decoder, Rejection
from driftd.monitor.monitor import Monitor
from driftd.sources.base import RawBatch
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)


class RejectionLog:
    """Logs rejected events with their origin, at most ``limit`` per ``period`` seconds."""

    def __init__(self, clock: Callable[[], float], *, limit: int = 10,
                 period: float = 10.0) -> None:
        self._clock, self._limit, self._period = clock, limit, period
        self._window_start = -float("inf")
        self._logged = 0
        self._suppressed: Counter[str] = Counter()

    def __call__(self, rejections: list[Rejection]) -> None:
        now = self._clock()
        if now - self._window_start >= self._period:
            if self._suppressed:
                logger.warning("suppressed %d more invalid-event messages (%s)",
                               sum(self._suppressed.values()), dict(self._suppressed))
            self._window_start, self._logged = now, 0
            self._suppressed.clear()
        for rejection in rejections:
            if self._logged < self._limit:
                self._logged += 1
                logger.warning("invalid event at %s: %s: %s", rejection.origin,
                               rejection.reason, rejection.detail)
            else:
                self._suppressed[rejection.reason] += 1


class Pipeline:
    """Decoder -> telemetry and rejection log -> monitor, for every raw batch."""

    def __init__(self, decoder: Decoder, monitor: Monitor, telemetry: Telemetry,
                 rejection_log: RejectionLog) -> None:
        self._decoder, self._monitor = decoder, monitor
        self._telemetry, self._log = telemetry, rejection_log

    def ingest(self, raw: RawBatch, now: float) -> int:
        """Process one raw batch; returns the number of valid events."""
        if not raw.messages:
            return 0
        decoded = self._decoder.decode(raw.messages, now, raw.origins)
        if decoded.rejections:
            for reason, count in decoded.invalid_counts().items():
                self._telemetry.count_invalid(reason, count)
            self._log(decoded.rejections)
        self._monitor.ingest(raw.stream, decoded.models)
        return sum(len(batch) for batch in decoded.models.values())
