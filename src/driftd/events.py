"""Decoding and validation of events into columnar batches (the ingest hot path).

A batch of raw messages is parsed message by message within bounds (``messages.py``),
grouped by model, and each configured column is pulled out at its field path
(``paths.py``, parsed once when the decoder is made) as one array (``values.py``):
numbers as float64 (NaN = missing), categories as a list of strings (None = missing).
Every event that cannot be used is counted under one reason from ``REASONS`` and
reported with its origin; nothing a message holds stops the batch or costs the other
events in it.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from driftd import values
from driftd.config import ColumnConfig, EventFields
from driftd.messages import MessageLimits, parse_messages
from driftd.paths import BROKEN, Cache, FieldPath, parse_path

# Reasons of events read from any source, in any format.
GENERAL_REASONS = (
    "oversized",
    "too_deep",
    "too_many_events",
    "malformed_json",
    "not_an_object",
    "missing_model",
    "unknown_model",
    "wrong_type",
    "invalid_timestamp",
    "timestamp_in_future",
    "timestamp_too_old",
    "non_finite",
    "undecodable",
)
# Avro and Protobuf in the Confluent wire format (driftd.wire)
WIRE_REASONS = ("bad_frame", "unknown_schema", "unusable_schema",
                "schema_registry_unavailable", "bad_payload")
# CloudEvents received over HTTP (driftd.sources.http_endpoints)
HTTP_REASONS = ("missing_attribute",)
REASONS = (*GENERAL_REASONS, *WIRE_REASONS, *HTTP_REASONS)


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
    versions: Counter[str] = field(default_factory=Counter)  # model version -> events

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    def extend(self, other: ModelBatch) -> ModelBatch:
        """This batch followed by ``other`` (same model and columns)."""
        return ModelBatch(
            self.model, np.concatenate([self.timestamps, other.timestamps]),
            self.ids + other.ids,
            {name: np.concatenate([array, other.numeric[name]])
             for name, array in self.numeric.items()},
            {name: items + other.categorical[name] for name, items in self.categorical.items()},
            self.versions + other.versions)


@dataclass(slots=True)
class DecodedBatch:
    """What one batch of messages yielded: per-model batches and rejections."""

    models: dict[str, ModelBatch] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)

    def invalid_counts(self) -> Counter[str]:
        return Counter(r.reason for r in self.rejections)

    def merge(self, other: DecodedBatch) -> None:
        """Append ``other``'s events and rejections (it came after this batch)."""
        for model, batch in other.models.items():
            mine = self.models.get(model)
            self.models[model] = batch if mine is None else mine.extend(batch)
        self.rejections.extend(other.rejections)


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """How far from the clock an event's time may be (None: unbounded); events beyond
    are rejected, so a producer with a wrong clock cannot move the watermark.

    >>> TimeBounds(max_future_seconds=-1)
    Traceback (most recent call last):
    ValueError: max_future_seconds must be >= 0 or None
    """

    max_future_seconds: float | None = 300.0
    max_age_seconds: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_future_seconds", "max_age_seconds"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be >= 0 or None")


class Decoder:
    """Turns raw messages into ``DecodedBatch`` for the configured models."""

    def __init__(
        self,
        columns: Mapping[str, Sequence[ColumnConfig]],
        *,
        fields: EventFields | None = None,
        strict_non_finite: Iterable[str] = (),
        default_model: str | None = None,
        limits: MessageLimits | None = None,
        time_bounds: TimeBounds | None = None,
        timezone: tzinfo | None = None,
    ) -> None:
        self._columns = {model: tuple((column, column.field_path()) for column in cols)
                         for model, cols in columns.items()}
        envelope = fields or EventFields()
        self._model, self._id, self._ts = (FieldPath(parse_path(text)) for text in
                                           (envelope.model, envelope.id, envelope.ts))
        self._version = (FieldPath(parse_path(envelope.model_version))
                         if envelope.model_version is not None else None)
        self._strict = frozenset(strict_non_finite)
        self._default_model = default_model
        self._limits = limits or MessageLimits()
        self._bounds = time_bounds or TimeBounds(max_future_seconds=None)
        self._zone = timezone  # where times without a UTC offset were written (None: reject)

    def decode(
        self, messages: Sequence[bytes], now: float, origins: Sequence[str] = ()
    ) -> DecodedBatch:
        """Decode a batch; never raises, whatever the messages hold."""
        try:
            return self._decode(messages, now, origins)
        except Exception:  # a message that trips a bug here: find it, keep the others
            return self._decode_each(messages, now, origins)

    def _decode(
        self, messages: Sequence[bytes], now: float, origins: Sequence[str]
    ) -> DecodedBatch:
        batch = DecodedBatch()
        parsed = parse_messages(messages, self._limits)
        for error in parsed.errors:
            batch.rejections.append(Rejection(error.reason, error.detail,
                                              _origin(origins, error.index),
                                              bytes(messages[error.index])))
        if origins and not parsed.one_each:
            origins = [_origin(origins, index) for index in parsed.sources]
        payloads = _Payloads(messages, parsed.sources)
        return self.decode_objects(parsed.objects, now, origins, batch, payloads)

    def _decode_each(
        self, messages: Sequence[bytes], now: float, origins: Sequence[str]
    ) -> DecodedBatch:
        batch = DecodedBatch()
        for index, message in enumerate(messages):
            origin = _origin(origins, index)
            try:
                batch.merge(self._decode([message], now, [origin]))
            except Exception as error:
                where = traceback.extract_tb(error.__traceback__)[-1]
                detail = (f"{type(error).__name__}: {values.clip(str(error), 120)} "
                          f"({where.name}:{where.lineno})")
                batch.rejections.append(Rejection("undecodable", detail, origin,
                                                  bytes(message)))
        return batch

    def decode_objects(
        self, objects: Sequence[Any], now: float, origins: Sequence[str] = (),
        batch: DecodedBatch | None = None, payloads: _Payloads | None = None,
    ) -> DecodedBatch:
        batch = batch if batch is not None else DecodedBatch()
        for model, indices in self._group(objects, origins, batch).items():
            rows = objects if len(indices) == len(objects) else [objects[i] for i in indices]
            reject = _Rejector(np.ones(len(rows), dtype=bool), origins, indices, rows,
                               batch.rejections, payloads)
            model_batch = self._columnar(model, rows, now, reject)
            if len(model_batch):
                batch.models[model] = model_batch
        return batch

    def _group(
        self, objects: Sequence[Any], origins: Sequence[str], batch: DecodedBatch
    ) -> dict[str, Sequence[int]]:
        path, default = self._model, self._default_model
        if set(map(type, objects)) == {dict}:  # fast path: one configured model
            names, broken = path.extract(objects)
            if default is not None and None in names:
                names = [default if name is None else name for name in names]
            if not broken and set(map(type, names)) == {str} \
                    and len(models := set(names)) == 1 and (only := models.pop()) in self._columns:
                return {only: range(len(objects))}
        groups: dict[str, list[int]] = {}
        for index, obj in enumerate(objects):
            if type(obj) is not dict:
                self._reject_object(batch, index, origins, obj, "not_an_object",
                                    f"a JSON {type(obj).__name__}, not an object")
                continue
            model = path.get(obj)
            model = default if model is None else model
            if type(model) is str and model in self._columns:
                groups.setdefault(model, []).append(index)
            elif model is None:
                self._reject_object(batch, index, origins, obj, "missing_model",
                                    f"no value at {path.text}")
            elif model is BROKEN:
                self._reject_object(batch, index, origins, obj, "wrong_type",
                                    f"{path.text}: {path.problem(obj)}")
            elif type(model) is not str:
                self._reject_object(batch, index, origins, obj, "wrong_type",
                                    f"{path.text}: expected a string, got {values.kind(model)}")
            else:
                self._reject_object(batch, index, origins, obj, "unknown_model",
                                    values.clip(model, 100))
        return dict(groups)

    @staticmethod
    def _reject_object(batch: DecodedBatch, index: int, origins: Sequence[str], obj: Any,
                       reason: str, detail: str) -> None:
        batch.rejections.append(Rejection(reason, detail, _origin(origins, index),
                                          _payload(obj)))

    def _columnar(
        self, model: str, rows: Sequence[dict[str, Any]], now: float, reject: _Rejector
    ) -> ModelBatch:
        valid = reject.valid
        levels: Cache = {}  # e.g. each row's "features" object, fetched once
        timestamps = values.timestamps(_read(self._ts, rows, reject, self._ts.text), now,
                                       reject, self._zone, self._ts.text)
        self._check_time_bounds(timestamps, now, reject)
        numeric: dict[str, npt.NDArray[np.float64]] = {}
        categorical: dict[str, list[str | None]] = {}
        for column, path in self._columns[model]:
            found = _read(path, rows, reject, column.name, levels)
            if column.kind == "numeric":
                array = values.numbers(found, column.name, reject)
                if model in self._strict:
                    values.reject_non_finite(array, column.name, reject)
                numeric[column.name] = array
            else:
                categorical[column.name] = values.categories(found, column.name, reject)
        ids = values.ids(_read(self._id, rows, reject, self._id.text), reject, self._id.text)
        versions = self._versions(rows, valid)
        if valid.all():
            return ModelBatch(model, timestamps, ids, numeric, categorical, versions)
        keep = np.flatnonzero(valid)
        return ModelBatch(
            model, timestamps[keep], [ids[i] for i in keep],
            {name: array[keep] for name, array in numeric.items()},
            {name: [items[i] for i in keep] for name, items in categorical.items()},
            versions,
        )

    def _versions(self, rows: Sequence[Any], valid: npt.NDArray[np.bool_]) -> Counter[str]:
        """Valid events by model version: a string or an integer at ``fields.model_version``
        (informative only: a missing or odd version never rejects an event)."""
        if self._version is None:
            return Counter()
        found, _ = self._version.extract(rows)
        return Counter(str(version) for version, ok in zip(found, valid, strict=True)
                       if ok and type(version) in (str, int))

    def _check_time_bounds(self, timestamps: npt.NDArray[np.float64], now: float,
                           reject: _Rejector) -> None:
        ahead, age = self._bounds.max_future_seconds, self._bounds.max_age_seconds
        if ahead is not None:
            for row in np.flatnonzero(timestamps > now + ahead):
                reject(int(row), "timestamp_in_future",
                       f"ts {timestamps[row]:.0f} is {timestamps[row] - now:.0f} s ahead of "
                       f"the clock (max_future_seconds {ahead:g})")
        if age is not None:
            for row in np.flatnonzero(timestamps < now - age):
                reject(int(row), "timestamp_too_old",
                       f"ts {timestamps[row]:.0f} is {now - timestamps[row]:.0f} s old "
                       f"(max_age_seconds {age:g})")


@dataclass(slots=True)
class _Rejector:
    valid: npt.NDArray[np.bool_]
    origins: Sequence[str]
    indices: Sequence[int]  # row -> index in the batch (and in origins)
    rows: Sequence[Any]
    rejections: list[Rejection]
    payloads: _Payloads | None = None

    def __call__(self, row: int, reason: str, detail: str) -> None:
        if self.valid[row]:  # one reason per event: the first problem found
            self.valid[row] = False
            index = self.indices[row]
            payload = self.payloads.get(index) if self.payloads is not None else None
            self.rejections.append(Rejection(
                reason, detail, _origin(self.origins, index),
                payload if payload is not None else _payload(self.rows[row])))


class _Payloads:
    """The dead letter of an event that came alone in its message: that message itself,
    byte for byte (worked out on the first rejection only)."""

    def __init__(self, messages: Sequence[bytes], sources: Sequence[int]) -> None:
        self._messages, self._sources = messages, sources
        self._events: Counter[int] | None = None  # message index -> events it held

    def get(self, index: int) -> bytes | None:
        if self._events is None:
            self._events = Counter(self._sources)
        source = self._sources[index]
        return bytes(self._messages[source]) if self._events[source] == 1 else None


def _read(path: FieldPath, rows: Sequence[dict[str, Any]], reject: _Rejector, name: str,
          levels: Cache | None = None) -> list[Any]:
    """The values at ``path``; an event where the path runs into something that is no
    object or list is rejected (``wrong_type``), naming where (its value is None)."""
    found, broken = path.extract(rows, levels)
    for row in broken:
        where = "" if name == path.text else f" at {path.text}"
        reject(row, "wrong_type", f"{name}{where}: {path.problem(rows[row])}")
    return found


def _payload(value: Any) -> bytes:
    """The event as JSON again, for the dead-letter topic (what it can be written as)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return values.clip(value, 10_000).encode()


def _origin(origins: Sequence[str], index: int) -> str:
    return origins[index] if index < len(origins) else f"#{index}"
