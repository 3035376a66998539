"""Decoding raw messages into columnar batches; bad input is counted, never fatal."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from driftd.config import ColumnConfig
from driftd.events import Decoder
from driftd.messages import parse_messages

COLUMNS = (
    ColumnConfig(name="amount", kind="numeric"),
    ColumnConfig(name="country", kind="categorical"),
    ColumnConfig(name="score", kind="numeric", role="prediction"),
)


def event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"model": "fraud", "id": "p-1", "ts": 1_700_000_000,
                               "features": {"amount": 12.5, "country": "DE"},
                               "prediction": 0.91}
    base.update(overrides)
    return base


def encode(*events: object) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


@pytest.fixture
def decoder() -> Decoder:
    return Decoder({"fraud": COLUMNS})


def test_good_events_become_columns(decoder: Decoder) -> None:
    """Two valid events -> one model batch with float and category columns, no rejects."""
    batch = decoder.decode(encode(event(), event(id="p-2", prediction=0.1,
                                                 features={"amount": 3, "country": "FR"})),
                           now=0.0)
    fraud = batch.models["fraud"]
    assert fraud.numeric["amount"].tolist() == [12.5, 3.0]
    assert fraud.numeric["score"].tolist() == [0.91, 0.1]
    assert fraud.categorical["country"] == ["DE", "FR"]
    assert fraud.ids == ["p-1", "p-2"]
    assert fraud.timestamps.tolist() == [1_700_000_000.0] * 2
    assert batch.rejections == []


def test_every_kind_of_bad_input_is_counted_by_reason(decoder: Decoder) -> None:
    """Garbage interleaved with good events: each bad one counted once, the good kept."""
    messages = [
        b'{"model": "fraud", "features": {"amount": 1',  # truncated
        b"[1, 2",  # malformed array
        b'"just a string"',
        orjson.dumps(event(model="unknown")),
        orjson.dumps({"features": {"amount": 1.0}}),
        orjson.dumps(event(features={"amount": "12", "country": "DE"})),
        orjson.dumps(event(features={"amount": 1.0, "country": {"nested": 1}})),
        orjson.dumps(event(ts="yesterday")),
        orjson.dumps(event(ts="2026-11-26T12:00:00")),  # no offset: ambiguous
        orjson.dumps(event(features=7)),
        orjson.dumps(event(id="good")),
    ]
    batch = decoder.decode(messages, now=0.0, origins=[f"f:{i}" for i in range(len(messages))])
    assert dict(batch.invalid_counts()) == {
        "malformed_json": 2, "not_an_object": 1, "unknown_model": 1, "missing_model": 1,
        "wrong_type": 3, "invalid_timestamp": 2,
    }
    assert batch.models["fraud"].ids == ["good"]
    origins = {r.origin for r in batch.rejections}
    assert "f:0" in origins and "f:5" in origins


def test_nan_and_infinity_count_as_missing_by_default(decoder: Decoder) -> None:
    """Python's json writes NaN/Infinity literals: accepted, and the value is missing."""
    messages = [b'{"model": "fraud", "ts": 1, "features": {"amount": NaN, "country": "DE"}}',
                b'{"model": "fraud", "ts": 1, "features": {"amount": Infinity}}',
                b'{"model": "fraud", "ts": 1, "features": {"amount": 1e999}}']
    batch = decoder.decode(messages, now=0.0)
    amounts = batch.models["fraud"].numeric["amount"]
    assert math.isnan(amounts[0]) and math.isinf(amounts[1]) and math.isinf(amounts[2])
    assert batch.rejections == []


def test_strict_models_reject_non_finite_values() -> None:
    strict = Decoder({"fraud": COLUMNS}, strict_non_finite=["fraud"])
    batch = strict.decode([b'{"model": "fraud", "ts": 1, "features": {"amount": Infinity}}',
                           orjson.dumps(event())], now=0.0)
    assert dict(batch.invalid_counts()) == {"non_finite": 1}
    assert len(batch.models["fraud"]) == 1


def test_missing_and_extra_columns(decoder: Decoder) -> None:
    """An absent column is a missing value; extra fields are ignored."""
    batch = decoder.decode(encode(event(features={"other": 1}, extra=True)), now=0.0)
    fraud = batch.models["fraud"]
    assert np.isnan(fraud.numeric["amount"][0]) and fraud.categorical["country"] == [None]
    assert batch.rejections == []


def test_arrays_timestamps_and_flat_records(decoder: Decoder) -> None:
    """A message may carry an array; ts may be RFC 3339; a missing ts means now."""
    array = orjson.dumps([event(ts="2026-11-26T12:00:00Z"), event(ts=None)])
    flat = orjson.dumps({"model": "fraud", "amount": 5.0, "country": 49, "prediction": 0.5})
    batch = decoder.decode([array, flat], now=42.0)
    fraud = batch.models["fraud"]
    assert fraud.timestamps.tolist() == [1_795_694_400.0, 42.0, 42.0]
    assert fraud.numeric["amount"].tolist() == [12.5, 12.5, 5.0]
    assert fraud.categorical["country"] == ["DE", "DE", "49"]


def test_default_model_accepts_records_without_model_field() -> None:
    decoder = Decoder({"fraud": COLUMNS}, default_model="fraud")
    batch = decoder.decode_objects([{"amount": 1.0, "country": "DE", "prediction": 0.2}], 0.0)
    assert len(batch.models["fraud"]) == 1


def test_each_message_is_parsed_on_its_own() -> None:
    """Objects and arrays are flattened into events; a bad message names its index."""
    parsed = parse_messages([b'{"a": 1}', b"{bad", b"[1, 2]"])
    assert parsed.objects == [{"a": 1}, 1, 2]
    assert parsed.sources == [0, 2, 2]
    assert [(e.index, e.reason) for e in parsed.errors] == [(1, "malformed_json")]
