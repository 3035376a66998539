"""Kafka topics of Open Inference Protocol (KServe V2) requests and responses.

Seldon Core 2 writes a model's requests to ``<prefix>.<namespace>.model.<model>.inputs``
and its responses to ``...outputs``, with the request id in the ``x-request-id`` header.
A request topic is paired with one response topic (by default the Seldon naming:
``.inputs`` with ``.outputs``); the pairing settings belong to the request topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from driftd.config.base import _Frozen

if TYPE_CHECKING:
    from driftd.config.sources import KafkaTopicConfig

_PAIRING = ("pair_with", "pair_timeout_seconds", "max_pending", "unpaired_requests")


class OipTopicConfig(_Frozen):
    """How a ``format: oip`` topic's messages are read and paired."""

    role: Literal["request", "response"]
    model: str | None = Field(
        default=None, min_length=1,
        description="The driftd model of these rows; default: the payload's model_name "
        "(Seldon writes the internal name of a model version, e.g. iris_1, on responses).")
    id_header: str = Field(
        default="x-request-id", min_length=1,
        description="The Kafka header holding the request id (else the payload's id).")
    encoding: Literal["protobuf", "json", "auto"] = Field(
        default="auto",
        description="auto: Seldon's seldon-infer-type header when present, else JSON for "
        "a message starting with '{', else Protobuf.")
    pair_with: str | None = Field(
        default=None, min_length=1,
        description="Request topics: the topic of the responses (default: this name with "
        ".inputs replaced by .outputs).")
    pair_timeout_seconds: float = Field(
        default=60.0, gt=0, le=86_400,
        description="Request topics: how far apart in event time (record timestamps) a "
        "request and its response may be; a half left waiting longer is counted unpaired.")
    max_pending: int = Field(
        default=100_000, gt=0, le=10_000_000,
        description="Request topics: halves waiting at most; beyond, the oldest is "
        "counted unpaired.")
    unpaired_requests: Literal["drop", "inputs"] = Field(
        default="drop",
        description="Request topics: a request whose response never came is counted "
        "(drop), or its rows still count with their inputs only (inputs).")


def partner(topic: KafkaTopicConfig) -> str | None:
    """The response topic of a request topic (its ``pair_with``, or Seldon's naming)."""
    assert topic.oip is not None
    if topic.oip.pair_with is not None:
        return topic.oip.pair_with
    stem, dot, last = topic.name.rpartition(".")
    return f"{stem}.outputs" if dot and last == "inputs" else None


def check_topics(topics: Sequence[KafkaTopicConfig]) -> None:
    """Every OIP request topic has its response topic among ``topics`` and vice versa,
    with the same fields and model; raises ValueError naming the topic."""
    by_name = {t.name: t for t in topics}
    claimed: dict[str, str] = {}
    for topic in topics:
        if topic.oip is None or topic.oip.role != "request":
            continue
        other_name = partner(topic)
        if other_name is None:
            raise ValueError(f"topic {topic.name}: oip.pair_with must name the response "
                             "topic (the name does not end in .inputs)")
        other = by_name.get(other_name)
        if other is None or other.oip is None or other.oip.role != "response":
            raise ValueError(f"topic {topic.name}: its responses' topic {other_name} must be "
                             "configured too, with format oip and oip.role response")
        if other_name in claimed:
            raise ValueError(f"topic {other_name}: the responses of both {claimed[other_name]} "
                             f"and {topic.name}; each response topic pairs with one")
        claimed[other_name] = topic.name
        if other.fields != topic.fields:
            raise ValueError(f"topics {topic.name} and {other_name}: give both the same "
                             "fields (their rows are read alike)")
        if other.oip.model not in (None, topic.oip.model):
            raise ValueError(f"topics {topic.name} and {other_name}: oip.model differs")
    for topic in topics:
        if topic.oip is not None and topic.oip.role == "response":
            if topic.name not in claimed:
                raise ValueError(f"topic {topic.name}: no request topic pairs with it (set "
                                 "oip.pair_with on the request topic)")
            extra = sorted(set(_PAIRING) & topic.oip.model_fields_set)
            if extra:
                raise ValueError(f"topic {topic.name}: {', '.join(extra)} belong on the "
                                 f"request topic {claimed[topic.name]}")
