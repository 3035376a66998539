"""The translators of a config: which raw-batch keys carry payloads that are not driftd's
own JSON events, and what turns them into event objects (see ``pipeline.Translator``)."""

from __future__ import annotations

from driftd.config import Config, KafkaSourceConfig
from driftd.config.http import HttpSourceConfig
from driftd.oip.pairing import HalfStore, MemoryHalves
from driftd.service.http_translator import http_translator
from driftd.service.oip_topics import oip_translators
from driftd.service.pipeline import Translator
from driftd.wire.translator import wire_translators


def build_translators(config: Config, halves: HalfStore | None = None,
                      ) -> dict[str, Translator]:
    """A translator per raw-batch key whose messages need one (a topic whose ``format``
    is not ``json``); keys without one are decoded as JSON events. OIP topics pair
    requests with responses in ``halves`` (the checkpoint database's; else in memory)."""
    translators: dict[str, Translator] = {}
    for source in config.sources:
        if isinstance(source, KafkaSourceConfig):
            translators.update(oip_translators(
                source.topics, halves if halves is not None else MemoryHalves(),
                source.max_message_bytes or config.ingest.max_message_bytes))
            translators.update(wire_translators(  # avro and protobuf topics
                source, config.ingest.max_message_bytes))
            for topic in source.topics:
                if topic.format != "json" and topic.name not in translators:
                    raise NotImplementedError(f"topic format {topic.format}")
        elif isinstance(source, HttpSourceConfig):
            translators[source.source_name] = http_translator(
                config, source, halves if halves is not None else MemoryHalves())
    return translators
