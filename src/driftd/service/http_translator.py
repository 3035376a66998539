"""What the HTTP ingest source's spooled bodies hold, as event objects for the decoder.

A body posted to ``/v1/events`` (headers without ``ce-type``) is one event, an array of
events, or JSON lines (by its content type). A CloudEvent whose type is not an
inference request or response carries driftd events as its data, read the same way.
A KServe inference request or response (``ce-type`` ending ``.inference.request`` or
``.inference.response``) is one half of an inference: it goes to ``pairs``, which turns
the two halves of one CE id into one event per row.

>>> raw = RawBatch("predictions", [b'{"model": "m", "id": "1"}\\n[{"model": "m"}]\\n{'],
...                ["http@0"], headers=[{"content-type": b"application/x-ndjson"}])
>>> found = HttpTranslator(MessageLimits()).translate(raw, now=0.0)
>>> found.objects, found.origins, [r.reason for r in found.rejections]
([{'model': 'm', 'id': '1'}, {'model': 'm'}], ['http@0:1', 'http@0:2'], ['malformed_json'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from driftd.config import Config
from driftd.config.http import HttpSourceConfig
from driftd.events import Rejection
from driftd.messages import MessageLimits, parse_messages
from driftd.oip.pairing import HalfStore
from driftd.service.kserve_pairs import KServePairs, Settings
from driftd.service.pipeline import Translated
from driftd.sources import cloudevents, event_bodies
from driftd.sources.base import RawBatch


class HttpTranslator:
    """A ``pipeline.Translator`` for the bodies of one HTTP ingest source."""

    def __init__(self, limits: MessageLimits, pairs: KServePairs | None = None) -> None:
        self._limits, self._pairs = limits, pairs

    def translate(self, raw: RawBatch, now: float) -> Translated:
        found = Translated()
        for index, body in enumerate(raw.messages):
            headers = raw.headers[index] if index < len(raw.headers) else {}
            origin = raw.origins[index] if index < len(raw.origins) else raw.key
            event_type = headers.get("ce-type")
            kind = cloudevents.kind_of(event_type.decode()) if event_type else "events"
            if kind == "events":
                self._events(found, headers, body, origin)
            elif self._pairs is None:
                found.rejections.append(Rejection(
                    "oip_undecodable", "a KServe inference payload, and this translator "
                    "pairs none", origin, body))
            else:
                found.holds = True  # a half may wait: no sign the source carries nothing
                self._pairs.add(found, "request" if kind == "request" else "response",
                                headers, body,
                                raw.times[index] if index < len(raw.times) else now, origin)
        return found

    def _events(self, found: Translated, headers: Mapping[str, bytes], body: bytes,
                origin: str) -> None:
        content_type = headers.get("content-type", b"").decode("latin-1")
        ndjson = cloudevents.media_type(content_type) in event_bodies.NDJSON_TYPES
        messages = event_bodies.split_events(body, ndjson=ndjson)
        origins = ([f"{origin}:{n}" for n in range(1, len(messages) + 1)] if ndjson
                   else [origin])
        parsed = parse_messages(messages, self._limits)
        for error in parsed.errors:
            found.rejections.append(Rejection(error.reason, error.detail,
                                              origins[error.index], messages[error.index]))
        found.objects += parsed.objects
        found.origins += _at(origins, parsed.sources)


def http_translator(config: Config, source: HttpSourceConfig,
                    halves: HalfStore) -> HttpTranslator:
    """The translator of an HTTP ingest source: its bodies within the ``ingest`` bounds
    (a body may hold up to ``max_body_bytes``); KServe halves wait in ``halves``."""
    ingest = config.ingest
    settings = Settings(source.pair_timeout_seconds, source.max_pending_pairs, source.model,
                        source.unpaired_requests == "inputs",
                        None if source.logger_mode == "all" else source.logger_mode)
    return HttpTranslator(MessageLimits(source.max_body_bytes, ingest.max_nesting_depth,
                                        ingest.max_events_per_message),
                          KServePairs(source.source_name, halves, settings))


def _at(origins: Sequence[str], indices: Sequence[int]) -> list[str]:
    return [origins[i] for i in indices]
