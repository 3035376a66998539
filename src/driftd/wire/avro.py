"""Avro payloads (fastavro, imported only here): schemas from the registry or a file,
records decoded into JSON-like objects.

What becomes what: records and maps are dicts, arrays lists, enums their symbol, unions
the branch's value; numbers stay numbers (long is an int); timestamp-millis/-micros
(and local-) are epoch seconds as a float, date the epoch seconds of its midnight UTC,
time-millis/-micros seconds since midnight, decimal a float, uuid its string; bytes and
fixed are base64 text.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
from fastavro.types import Schema

from driftd.wire.registry import Reference
from driftd.wire.schemas import Fetch, UnusableSchema

MAX_REFERENCES = 100
_EPOCH_DATE = dt.date(1970, 1, 1)
_PLAIN_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "string",
                               "enum", "record", "array", "map"})


class AvroDecoder:
    """Decodes the payloads of one writer schema."""

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._convert = _converter(schema)

    def decoder(self, indexes: tuple[int, ...]) -> AvroDecoder:
        """Itself (an Avro schema holds one record type; a frame has no indexes)."""
        return self

    def decode(self, payload: bytes) -> Any:
        """The record of ``payload``; raises ValueError when it does not decode."""
        stream = io.BytesIO(payload)
        try:
            record = fastavro.schemaless_reader(stream, self._schema, None)
        except (EOFError, StopIteration) as error:
            raise ValueError(f"truncated Avro payload ({len(payload)} bytes)") from error
        except Exception as error:  # fastavro raises what the bytes happen to trip
            raise ValueError(f"not Avro of this schema: {type(error).__name__}: "
                             f"{str(error)[:120]}") from error
        if stream.tell() != len(payload):
            raise ValueError(f"{len(payload) - stream.tell()} bytes left after the record "
                             "(written with another schema?)")
        return record if self._convert is None else self._convert(record)


def compile_registered(schema_id: int, fetch: Fetch) -> AvroDecoder:
    """The decoder of a registered schema, with the named types of its references."""
    registered = fetch.by_id(schema_id)
    if registered.schema_type != "AVRO":
        raise UnusableSchema(f"a {registered.schema_type} schema, the topic's format is avro")
    named: dict[str, Any] = {}
    _load_references(registered.references, fetch, named, set())
    return AvroDecoder(_parse(registered.text, named, f"schema id {schema_id}"))


def _load_references(references: tuple[Reference, ...], fetch: Fetch,
                     named: dict[str, Any], seen: set[tuple[str, int]]) -> None:
    for reference in references:
        key = (reference.subject, reference.version)
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > MAX_REFERENCES:
            raise UnusableSchema(f"more than {MAX_REFERENCES} referenced schemas")
        registered = fetch.by_reference(reference)
        _load_references(registered.references, fetch, named, seen)  # theirs first
        _parse(registered.text, named, f"reference {reference.name}")


def load_file(path: Path) -> AvroDecoder:
    """The decoder of an ``.avsc`` file; raises UnusableSchema naming the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UnusableSchema(f"cannot read {path}: {error}") from None
    return AvroDecoder(_parse(text, {}, str(path)))


def _parse(text: str, named: dict[str, Any], where: str) -> Schema:
    try:
        return fastavro.parse_schema(json.loads(text), named_schemas=named)
    except ValueError as error:  # JSON errors too
        raise UnusableSchema(f"{where}: not an Avro schema: {str(error)[:200]}") from None
    except Exception as error:  # fastavro's SchemaParseError and friends
        raise UnusableSchema(f"{where}: not an Avro schema: {type(error).__name__}: "
                             f"{str(error)[:200]}") from None


def _needs_conversion(schema: Any) -> bool:
    """Whether decoded records can hold a value that is not plain JSON (a logical type,
    bytes or fixed): only then are they walked."""
    if isinstance(schema, list):
        return any(_needs_conversion(branch) for branch in schema)
    if isinstance(schema, str):  # a primitive, or a named type defined elsewhere
        return schema not in _PLAIN_PRIMITIVES
    if not isinstance(schema, dict):
        return False
    if "logicalType" in schema or schema.get("type") in ("bytes", "fixed"):
        return True
    kind = schema.get("type")
    if kind == "record" or kind == "error":
        return any(_needs_conversion(f["type"]) for f in schema.get("fields", ()))
    if kind == "array":
        return _needs_conversion(schema.get("items"))
    if kind == "map":
        return _needs_conversion(schema.get("values"))
    return isinstance(kind, dict | list) and _needs_conversion(kind)


def _converter(schema: Any) -> Callable[[Any], Any] | None:
    """What turns a decoded value of ``schema`` into plain JSON (None: it already is).
    A record only touches its fields that need it (a workload's one timestamp among
    24 numbers), in place: the dicts are fastavro's fresh ones."""
    if not _needs_conversion(schema):
        return None
    if not isinstance(schema, dict) or schema.get("type") not in ("record", "error") \
            or "logicalType" in schema:
        return plain
    fields = [(f["name"], _converter(f["type"])) for f in schema.get("fields", ())]
    touched = [(name, convert) for name, convert in fields if convert is not None]

    def convert(record: Any) -> Any:
        if type(record) is not dict:
            return plain(record)
        for name, field in touched:
            if name in record:
                record[name] = field(record[name])
        return record
    return convert


def plain(value: Any) -> Any:
    """``value`` with what fastavro makes of logical types, bytes and fixed turned into
    numbers and strings.

    >>> plain({"at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "d": dt.date(1970, 1, 2),
    ...        "price": Decimal("1.25"), "raw": b"\\x00\\xff", "tags": [uuid.UUID(int=1)]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'at': 1767225600.0, 'd': 86400.0, 'price': 1.25, 'raw': 'AP8=',
     'tags': ['00000000-0000-0000-0000-000000000001']}
    """
    kind = type(value)
    if kind is dict:
        return {key: plain(item) for key, item in value.items()}
    if kind is list:
        return [plain(item) for item in value]
    convert = _CONVERT.get(kind)
    return convert(value) if convert is not None else value


def _datetime(value: dt.datetime) -> float:
    if value.tzinfo is None:  # local-timestamp-*: a wall time without a zone, read as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _time(value: dt.time) -> float:
    return value.hour * 3600.0 + value.minute * 60 + value.second + value.microsecond / 1e6


_CONVERT: dict[type, Callable[[Any], Any]] = {
    dt.datetime: _datetime,
    dt.date: lambda value: (value - _EPOCH_DATE).days * 86400.0,
    dt.time: _time,
    Decimal: float,
    uuid.UUID: str,
    bytes: lambda value: base64.b64encode(value).decode("ascii"),
}
