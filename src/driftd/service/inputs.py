"""Which inputs each model's event time waits for.

A model's time windows close once every input of its windowed streams (predictions,
features) has passed them, and its label clock moves once those and its outcome inputs
have: a Kafka partition, or a file read as one stream. Topics that list their models
(``models``) are waited for by those only; other topics by every model, until they have
sent a batch without that model's events (``Monitor.ingest`` excuses them).
"""

from __future__ import annotations

from collections.abc import Iterable

from driftd.config import Config, KafkaSourceConfig
from driftd.monitor.monitor import Monitor
from driftd.sources.base import FileInput, Source


class Inputs:
    """Tells the monitor which inputs to wait for, from the config's topics."""

    def __init__(self, config: Config, monitor: Monitor) -> None:
        self._monitor = monitor
        self._models = [m.name for m in config.models]
        topics = [t for s in config.sources if isinstance(s, KafkaSourceConfig) for t in s.topics]
        self._streams = {t.name: t.stream for t in topics}
        self._carriers = {t.name: t.models for t in topics}
        # OIP responses: their rows count on the request topic's partitions (oip_topics).
        self._keyless = {t.name for t in topics if t.oip is not None and t.oip.role == "response"}

    def expect_partitions(self, partitions: Iterable[tuple[str, int]], now: float) -> None:
        """Assigned (or to be assigned) partitions, as ``(topic, partition)``."""
        partitions = list(partitions)
        self._monitor.expect(self._keys(partitions, outcomes=False), now)
        self._monitor.expect(self._keys(partitions, outcomes=True), now, "outcomes")

    def expect_files(self, sources: Iterable[Source], now: float) -> None:
        """A file is one input of its stream, waited for as a partition is: a predictions
        file read ahead of its outcomes file does not make the outcomes late."""
        for source in sources:
            if isinstance(source, FileInput):
                self._monitor.expect({m: [source.name] for m in self._models}, now,
                                     source.stream)

    def _keys(self, partitions: list[tuple[str, int]], *,
              outcomes: bool) -> dict[str, list[str]]:
        """Watermark keys (``topic[p]``) of the partitions of windowed streams (or,
        ``outcomes``, of outcome streams), by model."""
        keys: dict[str, list[str]] = {m: [] for m in self._models}
        for topic, p in partitions:
            if topic in self._keyless:
                continue
            if (self._streams.get(topic) == "outcomes") == outcomes:
                for model in self._carriers.get(topic) or keys:
                    keys[model].append(f"{topic}[{p}]")
        return keys
