"""Kafka topics of Open Inference Protocol requests and responses, paired into rows.

Each ``format: oip`` request topic and its response topic share one ``Pairing`` (kept in
the checkpoint database); each topic has a translator that reads its messages into
halves (id from the ``id_header`` header, else the payload's id; event time: the record
timestamp) and turns completed pairs into row objects (``driftd.oip.rows``), which the
topic's decoder reads like driftd's own JSON events. A row's time is its request's;
``fields.ts`` may name another path in the row object (e.g. a request parameter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from driftd.config import KafkaTopicConfig
from driftd.config.oip import OipTopicConfig, partner
from driftd.events import Rejection
from driftd.oip.pairing import Half, HalfStore, Pairing
from driftd.oip.payload import PayloadError, Role, parse
from driftd.service.paired_rows import add_paired
from driftd.service.pipeline import Translated
from driftd.sources.base import RawBatch
from driftd.values import clip

MAX_ID_CHARS = 512
# Seldon Core 2 says which message a record holds in this header (its Kafka gateway).
_SELDON_TYPE = "seldon-infer-type"
REASONS = ("oip_undecodable", "missing_request_id", "unpaired_request", "unpaired_response",
           "duplicate_request", "duplicate_response", "oip_rows_mismatch")


class OipTranslator:
    """Reads one topic's requests (or responses) into halves and pairs them."""

    def __init__(self, role: Role, settings: OipTopicConfig, pairing: Pairing, *,
                 model: str | None, unpaired_inputs: bool, max_bytes: int,
                 request_topic: str) -> None:
        self._role, self._settings, self._pairing = role, settings, pairing
        self._request_topic = request_topic
        self._model, self._unpaired_inputs = model, unpaired_inputs
        self._max_bytes = max_bytes

    def translate(self, raw: RawBatch, now: float) -> Translated:
        """Never raises for what a message holds: a bad one becomes a rejection."""
        out = Translated()
        halves = []
        # The lane of the pairing clock: the partition number (Seldon answers a request
        # on the partition number it came from).
        lane = raw.partition.rpartition("[")[2].rstrip("]") if raw.partition else ""
        for index, message in enumerate(raw.messages):
            origin = raw.origins[index] if index < len(raw.origins) else f"#{index}"
            headers = raw.headers[index] if index < len(raw.headers) else {}
            time = raw.times[index] if index < len(raw.times) else now
            half = self._half(bytes(message), headers, time, origin, lane, out.rejections)
            if half is not None:
                halves.append(half)
        add_paired(self._pairing.add(halves), out, model=self._model,
                   lone_requests_count=self._unpaired_inputs)
        out.holds = True
        if self._role == "response" and raw.partition:  # topic[p] -> request topic[p]
            out.key = f"{self._request_topic}[{raw.partition.rpartition('[')[2]}"
        return out

    def _half(self, message: bytes, headers: Mapping[str, bytes], time: float, origin: str,
              lane: str, rejections: list[Rejection]) -> Half | None:
        def reject(reason: str, detail: str) -> None:
            rejections.append(Rejection(reason, detail, origin, message))

        if len(message) > self._max_bytes:
            reject("oversized", f"{len(message)} bytes (max {self._max_bytes})")
            return None
        encoding = self._encoding(headers)
        try:
            payload = parse(message, encoding, self._role)
        except (PayloadError, RecursionError) as error:
            reject("oip_undecodable", f"{self._role}: {clip(str(error), 200)}")
            return None
        header = headers.get(self._settings.id_header.lower())
        request_id = header.decode("utf-8", errors="replace") if header else payload.id
        if not request_id:
            reject("missing_request_id", f"no {self._settings.id_header} header and no id "
                   f"in the {self._role}")
            return None
        if len(request_id) > MAX_ID_CHARS:
            reject("missing_request_id", f"request id of {len(request_id)} characters "
                   f"(max {MAX_ID_CHARS})")
            return None
        return Half(request_id, self._role, payload, time, origin, message, encoding, lane)

    def _encoding(self, headers: Mapping[str, bytes]) -> str:
        if self._settings.encoding != "auto":
            return self._settings.encoding
        kind = headers.get(_SELDON_TYPE, b"")
        return "protobuf" if kind.startswith(b"proto/") else \
            "json" if kind.startswith(b"json/") else "auto"


def oip_translators(topics: Sequence[KafkaTopicConfig], store: HalfStore,
                    max_bytes: int) -> dict[str, OipTranslator]:
    """A translator per ``format: oip`` topic; a request topic and its response topic
    share one pairing, in ``store``, named after the request topic."""
    by_name = {t.name: t for t in topics}
    translators: dict[str, OipTranslator] = {}
    for topic in topics:
        if topic.oip is None or topic.oip.role != "request":
            continue
        response = by_name[partner(topic) or ""]
        assert response.oip is not None
        settings = topic.oip
        pairing = Pairing(topic.name, store,
                          timeout_seconds=settings.pair_timeout_seconds,
                          max_pending=settings.max_pending)
        model = settings.model or response.oip.model
        inputs = settings.unpaired_requests == "inputs"
        for role, name, own in (("request", topic.name, settings),
                                ("response", response.name, response.oip)):
            translators[name] = OipTranslator(role, own, pairing, model=model,  # type: ignore[arg-type]
                                              unpaired_inputs=inputs, max_bytes=max_bytes,
                                              request_topic=topic.name)
    return translators
