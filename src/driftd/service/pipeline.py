"""The ingest path of the daemon: decode a raw batch, count, log rejects, monitor."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol

from driftd.config import Config, FileSourceConfig, JsonlSourceConfig, KafkaSourceConfig
from driftd.config.http import HttpSourceConfig
from driftd.events import Decoder, Rejection, TimeBounds
from driftd.logs import origin_fields
from driftd.messages import MessageLimits
from driftd.monitor.monitor import Monitor
from driftd.service.labels import LabelJoin
from driftd.sources.base import RawBatch
from driftd.telemetry import Telemetry
from driftd.timezones import parse_timezone

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
                               sum(self._suppressed.values()), dict(self._suppressed),
                               extra={"suppressed": dict(self._suppressed)})
            self._window_start, self._logged = now, 0
            self._suppressed.clear()
        for rejection in rejections:
            if self._logged < self._limit:
                self._logged += 1
                logger.warning("invalid event at %s: %s: %s", rejection.origin,
                               rejection.reason, rejection.detail,
                               extra=origin_fields(rejection.origin)
                               | {"reason": rejection.reason})
            else:
                self._suppressed[rejection.reason] += 1


class DeadLetterSink(Protocol):
    """Where rejected events are copied (see ``sources.kafka.DeadLetters``)."""

    def connect(self, timeout_seconds: float) -> None:
        """Reach the dead-letter topic's cluster (its sources are reachable by then)."""
        ...

    def send(self, rejections: Sequence[Rejection]) -> None:
        """Queue copies; never raises and never blocks for long."""
        ...

    def flush(self) -> None:
        """Wait a short, bounded time for what was queued."""
        ...

    def outcomes(self) -> Mapping[str, int]:
        """Records so far by outcome (sent, truncated, failed, dropped)."""
        ...

    def close(self) -> None: ...


def build_decoders(config: Config) -> dict[str, Decoder]:
    """A decoder per raw-batch key: "" by default, one per file and Kafka topic, each
    within the ``ingest`` bounds (a Kafka source may set its own message size) and
    reading naive times in ``ingest.timezone`` (a file source may set its own)."""
    ingest = config.ingest
    decoder = partial(
        Decoder, {m.name: m.columns for m in config.models},
        strict_non_finite=[m.name for m in config.models if m.non_finite == "invalid"],
        time_bounds=TimeBounds(ingest.max_future_seconds, ingest.max_age_seconds))
    limits = MessageLimits(ingest.max_message_bytes, ingest.max_nesting_depth,
                           ingest.max_events_per_message)
    zone = parse_timezone(ingest.timezone) if ingest.timezone is not None else None
    decoders = {"": decoder(limits=limits, timezone=zone)}
    for source in config.sources:
        if isinstance(source, JsonlSourceConfig):
            decoders[f"jsonl:{source.path}"] = decoder(fields=source.fields, limits=limits,
                                                       timezone=zone)
        elif isinstance(source, FileSourceConfig):
            own = parse_timezone(source.timezone) if source.timezone is not None else zone
            decoders[source.source_name] = decoder(fields=source.fields, limits=limits,
                                                   timezone=own)
        elif isinstance(source, HttpSourceConfig):
            decoders[source.source_name] = decoder(fields=source.fields, limits=limits,
                                                   timezone=zone)
        elif isinstance(source, KafkaSourceConfig):
            own_limits = replace(limits, max_bytes=source.max_message_bytes or limits.max_bytes)
            for topic in source.topics:
                decoders[topic.name] = decoder(fields=topic.fields, limits=own_limits,
                                               timezone=zone)
    return decoders


@dataclass(slots=True)
class Translated:
    """What a translator made of a raw batch: event objects (as parsed JSON would be) with
    their origins, and the messages it could not use."""

    objects: list[Any] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # The input whose stream time the events advance, when not the batch's own (OIP: a
    # pair's rows count on its request partition, whichever half completed it).
    key: str | None = None
    # Messages are held back (halves waiting for their pair): a batch without events is
    # no sign that its input carries none, so it excuses no model's watermark.
    holds: bool = False


class Translator(Protocol):
    """Turns the messages of one key (a topic, an HTTP receiver) that are not driftd's own
    JSON events into event objects: a wire format (Avro, Protobuf), or model-server
    payloads (Open Inference Protocol requests and responses, paired into rows)."""

    def translate(self, raw: RawBatch, now: float) -> Translated:
        """Never raises for what a message holds: a bad one becomes a rejection."""
        ...


class Pipeline:
    """Translator and decoder -> telemetry, rejection log and dead letters -> monitor,
    per raw batch."""

    def __init__(self, decoders: Mapping[str, Decoder], monitor: Monitor, telemetry: Telemetry,
                 rejection_log: RejectionLog, dead_letters: DeadLetterSink | None = None,
                 labels: LabelJoin | None = None,
                 translators: Mapping[str, Translator] | None = None) -> None:
        self._decoders, self._monitor = dict(decoders), monitor
        self._translators = dict(translators or {})
        self._telemetry, self._log = telemetry, rejection_log
        self._dead_letters = dead_letters
        self._labels = labels if labels else None

    def reconfigure(self, decoders: Mapping[str, Decoder], labels: LabelJoin | None) -> None:
        """Decode for the models of a reloaded config (translators stay: they follow the
        sources, which a reload does not change)."""
        self._decoders, self._labels = dict(decoders), labels if labels else None

    def ingest(self, raw: RawBatch, now: float) -> int:
        """Process one raw batch; returns the number of valid events."""
        if not raw.messages:
            return 0
        decoder = self._decoders.get(raw.key) or self._decoders[""]
        translator = self._translators.get(raw.key)
        translated = None
        if translator is None:
            decoded = decoder.decode(raw.messages, now, raw.origins)
        else:
            translated = translator.translate(raw, now)
            decoded = decoder.decode_objects(translated.objects, now, translated.origins)
            decoded.rejections[:0] = translated.rejections
        if decoded.rejections:
            for reason, count in decoded.invalid_counts().items():
                self._telemetry.count_invalid(reason, count)
            self._log(decoded.rejections)
            if self._dead_letters is not None:
                self._dead_letters.send(decoded.rejections)
        for model, batch in decoded.models.items():
            if batch.versions:
                self._telemetry.count_versions(model, raw.stream, batch.versions)
        key = raw.partition or raw.key or raw.stream  # each input its own stream time
        if translated is not None:
            if translated.holds and not decoded.models:
                return 0  # nothing to add, and no excuse: what waits may count later
            key = translated.key or key
        on_time = self._monitor.ingest(raw.stream, decoded.models, key, now)
        if self._labels is not None:
            if raw.stream == "outcomes":
                self._labels.outcomes(decoded.models, on_time)
            elif raw.stream == "predictions":
                self._labels.predictions(decoded.models, on_time)
        return sum(len(batch) for batch in decoded.models.values())
