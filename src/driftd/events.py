"""Decoding and validation of events into columnar batches (the ingest hot path).

A batch of raw messages is parsed in one pass, grouped by model, and each configured
column is pulled out as one array: numbers as float64 (NaN = missing), categories as a
list of strings (None = missing). Every event that cannot be used is counted under one
reason from ``REASONS`` and reported with its origin; it never stops the batch.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from driftd.config import ColumnConfig, EventFields

REASONS = (
    "oversized",
    "malformed_json",
    "not_an_object",
    "missing_model",
    "unknown_model",
    "wrong_type",
    "invalid_timestamp",
    "non_finite",
)

_NUMBER_TYPES = frozenset({float, int, type(None)})
_CATEGORY_TYPES = frozenset({str, type(None)})


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event was rejected, where it came from, and its bytes (for dead letters)."""

    reason: str
    detail: str
    origin: str
    payload: bytes = b""


@dataclass(slots=True)
class ModelBatch:
    """The valid events of one model in a batch, column by column."""

    model: str
    timestamps: npt.NDArray[np.float64]
    ids: list[Any]
    numeric: dict[str, npt.NDArray[np.float64]]
    categorical: dict[str, list[str | None]]

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])


@dataclass(slots=True)
class DecodedBatch:
    """What one batch of messages yielded: per-model batches and rejections."""

    models: dict[str, ModelBatch] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)

    def invalid_counts(self) -> Counter[str]:
        return Counter(r.reason for r in self.rejections)


def parse_messages(
    messages: Sequence[bytes],
) -> tuple[list[Any], Sequence[int], list[tuple[int, str]]]:
    """Parse JSON messages; arrays are flattened into their events.

    Returns the parsed objects, the index of the message each came from, and for each
    message that is not JSON its index and the error. NaN and Infinity literals (as
    Python's json writes them) are accepted.
    """
    objects: list[Any] = []
    sources: list[int] = []
    errors: list[tuple[int, str]] = []
    try:  # fast path: the whole batch as one JSON array
        parsed = orjson.loads(b"[" + b",".join(messages) + b"]") if messages else []
        if len(parsed) == len(messages):
            if list not in set(map(type, parsed)):
                return parsed, range(len(parsed)), errors
            for index, value in enumerate(parsed):
                _flatten_into(objects, sources, index, value)
            return objects, sources, errors
    except orjson.JSONDecodeError:
        pass
    for index, message in enumerate(messages):
        try:
            value = orjson.loads(message)
        except orjson.JSONDecodeError:
            try:  # non-standard NaN/Infinity literals
                value = json.loads(message)
            except (ValueError, UnicodeDecodeError) as error:
                errors.append((index, str(error)[:200]))
                continue
        _flatten_into(objects, sources, index, value)
    return objects, sources, errors


def _flatten_into(objects: list[Any], sources: list[int], index: int, value: Any) -> None:
    if type(value) is list:
        objects.extend(value)
        sources.extend([index] * len(value))
    else:
        objects.append(value)
        sources.append(index)


class Decoder:
    """Turns raw messages into ``DecodedBatch`` for the configured models."""

    def __init__(
        self,
        columns: Mapping[str, Sequence[ColumnConfig]],
        *,
        fields: EventFields | None = None,
        strict_non_finite: Iterable[str] = (),
        default_model: str | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self._columns = {model: tuple(cols) for model, cols in columns.items()}
        self._fields = fields or EventFields()
        self._strict = frozenset(strict_non_finite)
        self._default_model = default_model
        self._max_bytes = max_message_bytes

    def decode(
        self, messages: Sequence[bytes], now: float, origins: Sequence[str] = ()
    ) -> DecodedBatch:
        batch = DecodedBatch()
        if self._max_bytes is not None and max(map(len, messages), default=0) > self._max_bytes:
            messages, origins = self._drop_oversized(messages, origins, batch)
        objects, sources, errors = parse_messages(messages)
        for index, error in errors:
            batch.rejections.append(Rejection("malformed_json", error, _origin(origins, index),
                                              messages[index]))
        if origins and (errors or len(objects) != len(messages)):
            origins = [_origin(origins, index) for index in sources]
        return self.decode_objects(objects, now, origins, batch)

    def _drop_oversized(
        self, messages: Sequence[bytes], origins: Sequence[str], batch: DecodedBatch
    ) -> tuple[list[bytes], list[str]]:
        kept: list[bytes] = []
        kept_origins: list[str] = []
        for index, message in enumerate(messages):
            if self._max_bytes is not None and len(message) > self._max_bytes:
                batch.rejections.append(Rejection(
                    "oversized", f"{len(message)} bytes > {self._max_bytes}",
                    _origin(origins, index), message))
            else:
                kept.append(message)
                kept_origins.append(_origin(origins, index))
        return kept, kept_origins if origins else []

    def decode_objects(
        self, objects: Sequence[Any], now: float, origins: Sequence[str] = (),
        batch: DecodedBatch | None = None,
    ) -> DecodedBatch:
        batch = batch if batch is not None else DecodedBatch()
        for model, indices in self._group(objects, origins, batch).items():
            rows = objects if len(indices) == len(objects) else [objects[i] for i in indices]
            reject = _Rejector(np.ones(len(rows), dtype=bool), origins, indices, rows,
                               batch.rejections)
            model_batch = self._columnar(model, rows, now, reject)
            if len(model_batch):
                batch.models[model] = model_batch
        return batch

    def _group(
        self, objects: Sequence[Any], origins: Sequence[str], batch: DecodedBatch
    ) -> dict[str, Sequence[int]]:
        key, count = self._fields.model, len(objects)
        if set(map(type, objects)) == {dict}:  # fast path: one configured model
            models = set(map(dict.get, objects, repeat(key, count),
                             repeat(self._default_model, count)))
            if len(models) == 1 and (only := models.pop()) in self._columns:
                return {only: range(count)}
        groups: dict[str, list[int]] = {}
        for index, obj in enumerate(objects):
            if type(obj) is not dict:
                batch.rejections.append(Rejection("not_an_object", type(obj).__name__,
                                                  _origin(origins, index), _payload(obj)))
                continue
            model = obj.get(key, self._default_model)
            if model in self._columns:
                groups.setdefault(model, []).append(index)
            else:
                reason = "missing_model" if model is None else "unknown_model"
                batch.rejections.append(Rejection(reason, str(model)[:100],
                                                  _origin(origins, index), _payload(obj)))
        return dict(groups)

    def _columnar(
        self, model: str, rows: Sequence[dict[str, Any]], now: float, reject: _Rejector
    ) -> ModelBatch:
        valid = reject.valid
        outer: dict[str, list[Any]] = {}  # e.g. each row's "features" object, fetched once
        timestamps = _timestamps(_extract(rows, (self._fields.ts,)), now, reject)
        numeric: dict[str, npt.NDArray[np.float64]] = {}
        categorical: dict[str, list[str | None]] = {}
        for column in self._columns[model]:
            values = _extract(rows, column.event_path, column.name, outer)
            if column.kind == "numeric":
                array = _numbers(values, column.name, reject)
                if model in self._strict:
                    _reject_non_finite(array, column.name, reject)
                numeric[column.name] = array
            else:
                categorical[column.name] = _categories(values, column.name, reject)
        ids = _extract(rows, (self._fields.id,))
        if valid.all():
            return ModelBatch(model, timestamps, ids, numeric, categorical)
        keep = np.flatnonzero(valid)
        return ModelBatch(
            model, timestamps[keep], [ids[i] for i in keep],
            {name: array[keep] for name, array in numeric.items()},
            {name: [values[i] for i in keep] for name, values in categorical.items()},
        )


@dataclass(slots=True)
class _Rejector:
    valid: npt.NDArray[np.bool_]
    origins: Sequence[str]
    indices: Sequence[int]  # row -> index in the batch (and in origins)
    rows: Sequence[Any]
    rejections: list[Rejection]

    def __call__(self, row: int, reason: str, detail: str) -> None:
        if self.valid[row]:  # one reason per event: the first problem found
            self.valid[row] = False
            origin = _origin(self.origins, self.indices[row])
            self.rejections.append(Rejection(reason, detail, origin, _payload(self.rows[row])))


def _payload(value: Any) -> bytes:
    """The event as JSON again, for the dead-letter topic."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return repr(value).encode()[:10_000]


def _origin(origins: Sequence[str], index: int) -> str:
    return origins[index] if index < len(origins) else f"#{index}"


def _extract(
    rows: Sequence[dict[str, Any]], path: tuple[str, ...], name: str = "",
    outer: dict[str, list[Any]] | None = None,
) -> list[Any]:
    """Values at ``path``; records without it (flat files) are read at the column name.

    ``outer`` caches the first level of two-part paths across the columns of a batch.
    """
    count = len(rows)
    if len(path) == 1:
        key = path[0]
        if key == name or not name:
            return list(map(dict.get, rows, repeat(key, count)))
        return [row[key] if key in row else row.get(name) for row in rows]
    if len(path) == 2:
        first, inner = path
        cache = {} if outer is None else outer
        if first not in cache:
            cache[first] = [row.get(first, row) for row in rows]
        try:
            return list(map(dict.get, cache[first], repeat(inner, count)))
        except TypeError:  # some row's first level is not an object
            pass
    return [_walk(row, path) for row in rows]


_BAD_PATH = object()


def _walk(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    if len(path) == 2 and path[0] not in row:
        return row.get(path[1])  # flat record: the column at top level
    node: Any = row
    for key in path:
        if node is None:
            return None
        if not isinstance(node, dict):
            return _BAD_PATH
        node = node.get(key)
    return node


def _numbers(values: list[Any], column: str, reject: _Rejector) -> npt.NDArray[np.float64]:
    if set(map(type, values)) <= _NUMBER_TYPES:
        try:
            return np.array(values, dtype=np.float64)
        except OverflowError:  # an integer beyond float range: handled below
            pass
    array = np.full(len(values), np.nan)
    for row, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, bool | int | float):
            try:
                array[row] = float(value)
            except OverflowError:
                array[row] = math.copysign(math.inf, value)
        else:
            reject(row, "wrong_type", f"{column}: expected a number, got {_kind(value)}")
    return array


def _reject_non_finite(array: npt.NDArray[np.float64], column: str, reject: _Rejector) -> None:
    for row in np.flatnonzero(np.isinf(array)):
        reject(int(row), "non_finite", f"{column}: {array[row]}")


def _categories(values: list[Any], column: str, reject: _Rejector) -> list[str | None]:
    if set(map(type, values)) <= _CATEGORY_TYPES:
        return values
    result: list[str | None] = []
    for row, value in enumerate(values):
        category = category_key(value)
        if category is None and value is not None and not _is_nan(value):
            reject(row, "wrong_type", f"{column}: expected a category, got {_kind(value)}")
        result.append(category)
    return result


def category_key(value: Any) -> str | None:
    """The category a JSON value stands for; None when missing or not a category.

    >>> [category_key(v) for v in ["DE", 7, 7.0, True, None, float("nan"), [1]]]
    ['DE', '7', '7', 'true', None, None, None]
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _kind(value: Any) -> str:
    return "a missing path" if value is _BAD_PATH else type(value).__name__


def _timestamps(values: list[Any], now: float, reject: _Rejector) -> npt.NDArray[np.float64]:
    """Epoch seconds from numbers or RFC 3339 strings; a missing ``ts`` means ``now``."""
    if set(map(type, values)) <= {float, int}:
        array = np.array(values, dtype=np.float64)
        if np.isfinite(array).all():
            return array
    array = np.full(len(values), now)
    for row, value in enumerate(values):
        parsed = _timestamp(value)
        if parsed is None and value is not None:
            reject(row, "invalid_timestamp", f"ts: {str(value)[:40]}")
        elif parsed is not None:
            array[row] = parsed
    return array


def _timestamp(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None  # RFC 3339 requires an offset; a naive time is ambiguous
        return parsed.timestamp()
    return None

