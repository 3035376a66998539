"""Poison messages: each is rejected by its own reason and costs no other event.

The corpus (tests/poison.py) is what hostile producers and broken clients send; the
fuzz tests try arbitrary bytes and arbitrary JSON on top of it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftd.config import ColumnConfig
from driftd.events import REASONS, Decoder, TimeBounds
from driftd.messages import MessageLimits, nesting_depth, parse_messages
from poison import MODEL, NOW, corpus, expected_invalid, good

COLUMNS = (
    ColumnConfig(name="amount", kind="numeric"),
    ColumnConfig(name="country", kind="categorical"),
    ColumnConfig(name="score", kind="numeric", role="prediction"),
)
LIMITS = MessageLimits(max_bytes=1_048_576, max_depth=64, max_events=10_000)


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    return Decoder({MODEL: COLUMNS}, limits=LIMITS, time_bounds=TimeBounds(300.0, None))


@pytest.fixture(scope="module")
def poisons() -> list[Any]:
    return corpus(NOW - 60)


def test_the_corpus_has_every_kind_the_issue_names(poisons: list[Any]) -> None:
    """At least 30 kinds, each reason of a rejected message among the known ones."""
    assert len(poisons) >= 30
    assert {reason for p in poisons for reason in p.reasons} <= set(REASONS)


def test_each_poison_alone_is_counted_by_its_reason(decoder: Decoder,
                                                    poisons: list[Any]) -> None:
    """One poison per batch: exactly its reasons, and its valid events if any."""
    for poison in poisons:
        batch = decoder.decode([poison.message], now=NOW, origins=["t[0]@7"])
        assert batch.invalid_counts() == poison.reasons, poison.name  # never undecodable
        valid = sum(len(b) for b in batch.models.values())
        assert valid == poison.valid, poison.name
        assert all(r.origin == "t[0]@7" for r in batch.rejections), poison.name


def test_poison_interleaved_with_good_events_costs_none_of_them(
    decoder: Decoder, poisons: list[Any]
) -> None:
    """Good events around every poison: all of them decoded, in order, the bad counted."""
    messages: list[bytes] = []
    for index, poison in enumerate(poisons):
        messages += [good(NOW - 30, 2 * index), poison.message, good(NOW - 30, 2 * index + 1)]
    batch = decoder.decode(messages, now=NOW)
    fraud = batch.models[MODEL]
    expected_ids = [f"good-{i}" for i in range(2 * len(poisons))]
    assert [i for i in fraud.ids if str(i).startswith("good-")] == expected_ids
    assert len(fraud) == len(expected_ids) + sum(p.valid for p in poisons)
    assert batch.invalid_counts() == expected_invalid(poisons)


def test_a_rejected_event_carries_its_message_as_the_dead_letter(decoder: Decoder) -> None:
    """An event alone in its message is dead-lettered as the very bytes received."""
    message = b'{"model": "fraud", "ts": "soon",   "id": 1}'
    (rejection,) = decoder.decode([message], now=NOW).rejections
    assert rejection.payload == message
    in_array = b'[{"model": "fraud", "ts": "soon"}, ' + good(NOW, 1) + b"]"
    (rejection,) = decoder.decode([in_array], now=NOW).rejections
    assert orjson.loads(rejection.payload) == {"model": "fraud", "ts": "soon"}


def test_future_and_old_events_are_rejected_by_their_own_reason() -> None:
    """The bounds are against the decoder's clock; a missing ts means now."""
    bounded = Decoder({MODEL: COLUMNS}, time_bounds=TimeBounds(60.0, 3600.0))
    messages = [good(NOW + 61, 0), good(NOW + 59, 1), good(NOW - 3601, 2), good(NOW - 3599, 3),
                orjson.dumps({"model": MODEL, "id": "no-ts"})]
    batch = bounded.decode(messages, now=NOW)
    assert batch.invalid_counts() == Counter(timestamp_in_future=1, timestamp_too_old=1)
    assert batch.models[MODEL].ids == ["good-1", "good-3", "no-ts"]


def test_nesting_depth_ignores_brackets_in_strings() -> None:
    """Depth from the bytes equals the depth of the parsed value, escapes included."""
    samples = [b'{"a": "[[[[{{{{"}', b'["\\\\", [["\\"]"]]]', b'[{"a": [{"b": []}]}]',
               b'"\\\\\\"[["', b"[]", b"1"]
    assert [nesting_depth(s) for s in samples] == [1, 3, 5, 0, 1, 0]


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["model", "ts", "id", "features", "prediction",
                                       "amount", "country", "x"]) | st.text(max_size=5),
                      children, max_size=6),
    max_leaves=30,
)


@given(value=JSON)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_nesting_depth_of_any_json_equals_its_parsed_depth(value: Any) -> None:
    text = json.dumps(value).encode()
    assert nesting_depth(text) == _depth(value)


def _envelope(value: Any) -> dict[str, Any]:
    return {"model": MODEL, "ts": value, "id": value, "prediction": value,
            "features": {"amount": value, "country": value}}


@given(data=st.binary(max_size=2000))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_never_raise(decoder: Decoder, data: bytes) -> None:
    """Any bytes: decoded or rejected by a known reason, one message accounted for."""
    batch = decoder.decode([data, good(NOW, 1)], now=NOW)
    assert set(batch.invalid_counts()) <= set(REASONS) - {"undecodable"}
    assert "good-1" in batch.models[MODEL].ids


@given(value=JSON, as_envelope=st.booleans(), in_array=st.booleans())
@settings(max_examples=500, deadline=None)
def test_arbitrary_json_never_raises(decoder: Decoder, value: Any, as_envelope: bool,
                                     in_array: bool) -> None:
    """Any JSON value, alone or in every field of an event: never an exception, every
    event either valid or rejected once, and the good event beside it kept."""
    payload = _envelope(value) if as_envelope else value
    message = json.dumps([payload] if in_array else payload).encode()
    batch = decoder.decode([message, good(NOW, 1)], now=NOW)
    assert set(batch.invalid_counts()) <= set(REASONS) - {"undecodable"}  # no bug hit
    fraud = batch.models[MODEL]
    assert "good-1" in fraud.ids and not np.isnan(fraud.timestamps).any()
    whole_message = {"oversized", "too_deep", "too_many_events", "malformed_json"}
    if set(batch.invalid_counts()) & whole_message:
        assert len(batch.rejections) == 1 and len(fraud) == 1
    else:
        events = len(payload) if isinstance(payload, list) and not in_array else 1
        assert len(fraud) - 1 + len(batch.rejections) == events


def test_a_message_that_trips_a_decoder_bug_is_isolated(
    decoder: Decoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net under the reasons: an exception while decoding a batch (a bug,
    so it is injected here) rejects only the message that caused it, as undecodable."""
    from driftd import values

    numbers = values.numbers

    def buggy(found: list[Any], column: str, reject: Any) -> Any:
        if 13.0 in found:
            raise ZeroDivisionError("a bug")
        return numbers(found, column, reject)

    monkeypatch.setattr(values, "numbers", buggy)
    messages = [good(NOW, 1), good(NOW, 13), good(NOW, 2)]
    batch = decoder.decode(messages, now=NOW, origins=["t[0]@1", "t[0]@2", "t[0]@3"])
    assert batch.models[MODEL].ids == ["good-1", "good-2"]
    (rejection,) = batch.rejections
    assert (rejection.reason, rejection.origin, rejection.payload) == (
        "undecodable", "t[0]@2", messages[1])
    assert rejection.detail.startswith("ZeroDivisionError: a bug (buggy:")


def test_the_readme_explains_every_reason() -> None:
    """The table of reasons in the README lists exactly the decoder's reasons."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("| reason | the message or event |"):]
    table = table[:table.index("\n\n")]
    documented = [line.split("`")[1] for line in table.splitlines()[2:]]
    assert documented == list(REASONS)


def test_origins_follow_the_events_whatever_the_arrays_hold(decoder: Decoder) -> None:
    """An empty array beside a two-event array: as many events as messages, yet each
    rejection still names the message it came from."""
    bad = orjson.dumps({"model": MODEL, "ts": "never"})
    messages = [b"[]", b"[" + bad + b"," + good(NOW, 1) + b"]"]
    batch = decoder.decode(messages, now=NOW, origins=["t[0]@1", "t[0]@2"])
    assert [(r.reason, r.origin) for r in batch.rejections] == [("invalid_timestamp", "t[0]@2")]
    assert batch.models[MODEL].ids == ["good-1"]


def test_arrays_within_every_other_bound_are_flattened_once_and_counted() -> None:
    """Small arrays take the one-pass parse: flattened, with the events bound applied."""
    parsed = parse_messages([b"[{}, {}, {}]", b'{"a": 1}', b'[{"b": 2}]'],
                            MessageLimits(max_events=2))
    assert parsed.objects == [{"a": 1}, {"b": 2}] and parsed.sources == [1, 2]
    assert [(e.index, e.reason) for e in parsed.errors] == [(0, "too_many_events")]
