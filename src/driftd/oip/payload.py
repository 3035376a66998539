"""Model-server payloads (one inference request or response) as values per row.

Three shapes are read: the Open Inference Protocol (KServe V2) in Protobuf
(``protobuf.py``) or JSON (the V2 REST body: ``{"inputs": [tensor...]}`` /
``{"outputs": [...]}``), and KServe V1 JSON (``{"instances": [...]}`` /
``{"predictions": [...]}``, what KServe's payload logger sends by default). A payload
knows its rows and, per place in the row object (``("inputs", "age")``, ``("instance",)``),
the value of each row. Every tensor of a payload must have the same number of rows.

>>> p = parse(b'{"id": "r1", "inputs": [{"name": "age", "shape": [2], "datatype": "INT64",'
...           b' "data": [31, 45]}]}', "json", "request")
>>> p.rows, p.id, p.values
(2, 'r1', {('inputs', 'age'): [31, 45]})
>>> parse(b'{"predictions": [0.2, 0.9]}', "auto", "response").values
{('prediction',): [0.2, 0.9]}
>>> try:
...     parse(b'{"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},'
...           b' {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]}',
...           "json", "request")
... except PayloadError as error:
...     print(error)
inputs hold different numbers of rows: a 2, b 3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from driftd.oip.tensors import Tensor, TensorError, from_json, row_values

Role = Literal["request", "response"]
ENCODINGS = ("protobuf", "json", "auto")
_SECTIONS = {"request": ("inputs", "instances", "instance"),
             "response": ("outputs", "predictions", "prediction")}


class PayloadError(ValueError):
    """A payload that cannot be read as the request or response it should be."""


@dataclass(frozen=True, slots=True)
class Payload:
    """One request's or response's envelope, and each row's value at each place."""

    role: Role
    rows: int
    values: dict[tuple[str, ...], list[Any]]
    model: str | None = None
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def from_tensors(role: str, tensors: Sequence[Tensor], *, model: str | None = None,
                 model_version: str | None = None, id: str | None = None,
                 parameters: Mapping[str, Any] | None = None) -> Payload:
    """A V2 payload of these tensors (inputs of a request, outputs of a response)."""
    section = _SECTIONS[role][0]
    if not tensors:
        raise PayloadError(f"a {role} without {section}")
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise PayloadError(f"{section} repeat a name: {sorted(names)}")
    counts = {t.rows for t in tensors}
    if len(counts) > 1:
        sizes = ", ".join(f"{t.name} {t.rows}" for t in tensors)
        raise PayloadError(f"{section} hold different numbers of rows: {sizes}")
    return Payload(role, counts.pop(), {(section, t.name): row_values(t) for t in tensors},  # type: ignore[arg-type]
                   model, model_version, id, dict(parameters or {}))


def parse(raw: bytes, encoding: str, role: str) -> Payload:
    """The payload of one message; ``auto`` tells JSON (``{``) from Protobuf."""
    if encoding == "auto":
        encoding = "json" if raw.lstrip()[:1] == b"{" else "protobuf"
    if encoding == "json":
        return parse_json(raw, role)
    if encoding == "protobuf":
        from driftd.oip import protobuf  # the oip extra: needed only for Protobuf payloads

        return protobuf.parse_request(raw) if role == "request" else protobuf.parse_response(raw)
    raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")


def parse_json(raw: bytes, role: str) -> Payload:
    """A V2 REST body, or a KServe V1 body (``instances`` / ``predictions``)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise PayloadError(f"malformed JSON: {error}") from None
    if not isinstance(body, dict):
        raise PayloadError(f"a {role} must be a JSON object, got {type(body).__name__}")
    tensors_key, list_key, row_key = _SECTIONS[role]
    envelope = {"model": _text(body, "model_name"), "model_version": _text(body, "model_version"),
                "id": _text(body, "id")}
    if tensors_key in body:
        tensors = body[tensors_key]
        if not isinstance(tensors, list):
            raise PayloadError(f"{tensors_key} must be a list of tensors")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise PayloadError("parameters must be an object")
        try:
            decoded = [from_json(t) for t in tensors]
        except TensorError as error:
            raise PayloadError(str(error)) from None
        return from_tensors(role, decoded, parameters=parameters, **envelope)
    if list_key in body:
        rows = body[list_key]
        if not isinstance(rows, list):
            raise PayloadError(f"{list_key} must be a list")
        return Payload(role, len(rows), {(row_key,): rows}, **envelope)  # type: ignore[arg-type]
    raise PayloadError(f"a {role} needs {tensors_key} (V2) or {list_key} (V1)")


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str | int):
        return str(value)
    raise PayloadError(f"{key} must be a string")
