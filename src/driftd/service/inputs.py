"""Which inputs each model's event time waits for.

A model's time windows close once every input of its windowed streams (predictions,
features) has passed them, and its label clock moves once those and its outcome inputs
have: a Kafka partition, or a file read as one stream. Topics that list their models
(``models``) are waited for by those only; other topics by every model, until they have
sent a batch without that model's events (``Monitor.ingest`` excuses them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from driftd.config import Config, KafkaSourceConfig
from driftd.monitor.monitor import Monitor
from driftd.sources.base import FileInput, Source


class Inputs:
    """Tells the monitor which inputs to wait for, from the config's topics; remembers
    them, so that models a reload starts anew wait for the same inputs."""

    def __init__(self, config: Config, monitor: Monitor) -> None:
        self._monitor = monitor
        self._partitions: dict[tuple[str, int], None] = {}  # assigned, in order
        self._files: dict[str, FileInput] = {}  # not yet exhausted
        self._configure(config)

    def _configure(self, config: Config) -> None:
        self._models = [m.name for m in config.models]
        topics = [t for s in config.sources if isinstance(s, KafkaSourceConfig) for t in s.topics]
        self._streams = {t.name: t.stream for t in topics}
        self._carriers = {t.name: t.models for t in topics}
        # OIP responses: their rows count on the request topic's partitions (oip_topics).
        self._keyless = {t.name for t in topics if t.oip is not None and t.oip.role == "response"}

    def expect_partitions(self, partitions: Iterable[tuple[str, int]], now: float,
                          models: Collection[str] | None = None) -> None:
        """Assigned (or to be assigned) partitions, as ``(topic, partition)``, waited for
        by every model (or by ``models``)."""
        partitions = list(partitions)
        self._partitions.update(dict.fromkeys(partitions))
        for outcomes, stream in ((False, "predictions"), (True, "outcomes")):
            keys = self._keys(partitions, outcomes=outcomes)
            self._monitor.expect(_only(keys, models), now, stream)

    def expect_files(self, sources: Iterable[Source], now: float,
                     models: Collection[str] | None = None) -> None:
        """A file is one input of its stream, waited for as a partition is: a predictions
        file read ahead of its outcomes file does not make the outcomes late."""
        for source in sources:
            if isinstance(source, FileInput):
                self._files[source.name] = source
                self._expect_file(source, now, models)

    def _expect_file(self, source: FileInput, now: float,
                     models: Collection[str] | None) -> None:
        keys = {m: [source.name] for m in self._models}
        self._monitor.expect(_only(keys, models), now, source.stream)

    def forget(self, keys: list[str]) -> None:
        """Inputs that will not send again (revoked partitions, exhausted files)."""
        gone = set(keys)
        self._partitions = {p: None for p in self._partitions if f"{p[0]}[{p[1]}]" not in gone}
        self._files = {name: f for name, f in self._files.items() if name not in gone}
        self._monitor.forget(keys)

    def reconfigure(self, config: Config, models: Collection[str], now: float) -> None:
        """Take a reloaded config; ``models`` (started anew) wait for every input known."""
        self._configure(config)
        if models:
            self.expect_partitions(list(self._partitions), now, models)
            for source in self._files.values():
                self._expect_file(source, now, models)

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


def _only(keys: dict[str, list[str]], models: Collection[str] | None) -> dict[str, list[str]]:
    return keys if models is None else {m: k for m, k in keys.items() if m in models}
