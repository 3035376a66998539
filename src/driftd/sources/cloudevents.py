"""CloudEvents received over HTTP (binary, structured and batched mode), as header maps.

The CloudEvents HTTP binding carries an event in one of three ways: *binary* mode puts
the attributes in ``ce-*`` headers and the data in the body (its ``Content-Type`` is the
data's content type), as KServe's payload logger sends them; *structured* mode sends the
whole event as JSON (``Content-Type: application/cloudevents+json``) with the data in
``data`` or, base64-encoded, ``data_base64``; *batched* mode a JSON array of those
(``application/cloudevents-batch+json``). Each event is brought to its binary form: a
map of lower-cased header names to values (``ce-id``, ``ce-type``, ``ce-source``,
``ce-specversion``, extensions as ``ce-<name>``, and ``content-type``) and the data.

>>> event = from_binary({"ce-id": "r1", "ce-type": "org.kubeflow.serving.inference.request",
...                      "ce-source": "http://localhost:9081/", "ce-specversion": "1.0",
...                      "content-type": "application/json"}, b'{"instances": [[1, 2]]}')
>>> event.id, event.kind, event.data
('r1', 'request', b'{"instances": [[1, 2]]}')
>>> [e.headers["ce-id"] for e in from_structured(
...     b'{"specversion": "1.0", "id": "e1", "type": "com.example.events", "source": "/x",'
...     b' "data": {"model": "m", "id": "1"}}', batch=False)]
['e1']
>>> from_binary({"ce-id": "r1", "ce-specversion": "1.0"}, b"{}")
Traceback (most recent call last):
driftd.sources.cloudevents.CloudEventError: missing CloudEvents attribute: ce-type, ce-source
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

REQUIRED = ("id", "type", "source", "specversion")
SPEC_VERSIONS = ("1.0", "0.3")
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
# KServe's payload logger (pkg/logger): the two halves of one inference share the CE id.
REQUEST_SUFFIX = ".inference.request"
RESPONSE_SUFFIX = ".inference.response"


class CloudEventError(ValueError):
    """Not a CloudEvent: a required attribute is missing or malformed."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One event in binary form: lower-cased headers and the data."""

    headers: dict[str, str]
    data: bytes

    @property
    def id(self) -> str:
        return self.headers["ce-id"]

    @property
    def kind(self) -> str:
        """``request`` or ``response`` for an inference payload (by the type's suffix),
        else ``events``: data holding driftd's own JSON events."""
        return kind_of(self.headers["ce-type"])


def kind_of(event_type: str) -> str:
    """What an event of this type carries, by KServe's type names.

    >>> kind_of("org.kubeflow.serving.inference.response"), kind_of("com.acme.scored")
    ('response', 'events')
    """
    if event_type.endswith(REQUEST_SUFFIX):
        return "request"
    if event_type.endswith(RESPONSE_SUFFIX):
        return "response"
    return "events"


def media_type(content_type: str) -> str:
    """The media type of a Content-Type, lower-cased, without parameters."""
    return content_type.partition(";")[0].strip().lower()


def from_binary(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """The event of a binary-mode request (``headers`` lower-cased)."""
    kept = {name: value for name, value in headers.items() if name.startswith("ce-")}
    if "content-type" in headers:
        kept["content-type"] = headers["content-type"]
    missing = [f"ce-{a}" for a in REQUIRED if not kept.get(f"ce-{a}")]
    if missing:
        raise CloudEventError(f"missing CloudEvents attribute: {', '.join(missing)}")
    _check_version(kept["ce-specversion"])
    return CloudEvent(kept, body)


def from_structured(body: bytes, *, batch: bool) -> list[CloudEvent]:
    """The event of a structured-mode body, or the events of a batch (a JSON array)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise CloudEventError(f"not JSON: {str(error)[:200]}") from error
    if batch:
        if not isinstance(parsed, list):
            raise CloudEventError("a CloudEvents batch must be a JSON array")
        return [_structured(item) for item in parsed]
    return [_structured(parsed)]


def _structured(event: Any) -> CloudEvent:
    if not isinstance(event, dict):
        raise CloudEventError("a structured CloudEvent must be a JSON object")
    missing = [a for a in REQUIRED if not isinstance(event.get(a), str) or not event[a]]
    if missing:
        raise CloudEventError(f"missing CloudEvents attribute: {', '.join(missing)}")
    _check_version(event["specversion"])
    headers = {f"ce-{name}": _text(value) for name, value in event.items()
               if name not in ("data", "data_base64", "datacontenttype") and value is not None}
    content_type = event.get("datacontenttype")
    if isinstance(content_type, str):
        headers["content-type"] = content_type
    return CloudEvent(headers, _data(event, content_type))


def _data(event: dict[str, Any], content_type: Any) -> bytes:
    if "data_base64" in event:
        encoded = event["data_base64"]
        if not isinstance(encoded, str):
            raise CloudEventError("data_base64 must be a string")
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise CloudEventError(f"data_base64 is not base64: {error}") from error
    data = event.get("data")
    if data is None:
        return b""
    json_data = not isinstance(content_type, str) or media_type(content_type).endswith(
        ("/json", "+json"))
    if isinstance(data, str) and not json_data:
        return data.encode("utf-8")
    return orjson.dumps(data)


def _check_version(version: str) -> None:
    if version not in SPEC_VERSIONS:
        raise CloudEventError(f"unsupported CloudEvents specversion {version!r} "
                              f"(read: {', '.join(SPEC_VERSIONS)})")


def _text(value: Any) -> str:
    """An attribute's value as its header would carry it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()
