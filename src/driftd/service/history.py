"""The results history: where every window result goes once it is evaluated.

A result (a window that closed, or a later revision of its performance) updates what
Prometheus shows (the board), the counters that lose nothing between scrapes, and is
appended to every results sink. A sink that keeps a position (the results file) is
checkpointed with the window state: after a crash it is cut back to the checkpoint,
and the events read again write the same records again, so no window is missing or
repeated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from driftd.monitor.results import ResultBoard, WindowResult, window_record
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)


class ResultsSink(Protocol):
    """Appends results-history records (see ``sinks.results_file``)."""

    def write(self, records: Sequence[Mapping[str, Any]]) -> None: ...

    def checkpoint(self) -> Mapping[str, float]:
        """Make what was written durable; the position to resume from."""
        ...

    def restore(self, position: Mapping[str, float]) -> None:
        """Go back to a checkpointed position."""
        ...

    def close(self) -> None: ...


class ResultsPublisher(Protocol):
    """A results topic (see ``sources.kafka.ResultsTopic``): at least once, bounded."""

    def connect(self, timeout_seconds: float) -> None: ...

    def send(self, records: Sequence[Mapping[str, Any]]) -> None: ...

    def flush(self, timeout_seconds: float) -> bool: ...

    def close(self) -> None: ...


class TopicSink:
    """A ``ResultsPublisher`` as a results sink: a checkpoint waits a bounded time for
    what was sent, and keeps no position (after a crash the records since the last
    checkpoint are sent again; consumers de-duplicate by the ``driftd-key`` header)."""

    FLUSH_SECONDS = 1.0

    def __init__(self, publisher: ResultsPublisher) -> None:
        self.publisher = publisher

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.publisher.send(records)

    def checkpoint(self) -> Mapping[str, float]:
        self.publisher.flush(self.FLUSH_SECONDS)
        return {}

    def restore(self, position: Mapping[str, float]) -> None:
        del position  # nothing to go back to: a topic is appended to at least once

    def close(self) -> None:
        self.publisher.close()


class History:
    """Publishes results to the board, the counters, the sinks and (``keep``) memory."""

    def __init__(self, board: ResultBoard, telemetry: Telemetry,
                 sinks: Mapping[str, ResultsSink] | None = None, *, keep: bool = False) -> None:
        self.board, self._telemetry = board, telemetry
        self._sinks = dict(sinks or {})
        self.records: list[dict[str, Any]] | None = [] if keep else None

    def publish(self, results: Sequence[WindowResult], now: float) -> None:
        self.board.update(results, now)
        if not results:
            return
        for result in results:
            if result.revision == 0:
                self._telemetry.count_window(
                    result.model, result.window,
                    [(c.column, test) for c in result.columns
                     for test, flagged in c.drift.items() if flagged])
            if result.matured:
                decay = result.performance.decay if result.performance else {}
                self._telemetry.count_matured(
                    result.model, result.window,
                    [metric for metric, d in decay.items() if d.significant])
        records = [window_record(result) for result in results]
        for sink in self._sinks.values():
            sink.write(records)
        if self.records is not None:
            self.records.extend(records)

    def positions(self) -> dict[str, Mapping[str, float]]:
        """Each sink's durable position, for the checkpoint."""
        return {name: sink.checkpoint() for name, sink in self._sinks.items()}

    def restore(self, positions: Mapping[str, Mapping[str, float]]) -> None:
        for name, sink in self._sinks.items():
            if name in positions:
                sink.restore(positions[name])

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
