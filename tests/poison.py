"""A corpus of poison messages: what hostile producers and broken clients send.

Each ``Poison`` is one message, the rejection reasons it must be counted under, and how
many valid events it still yields. The decoder tests and the Kafka scenario share it,
so the daemon is tried on exactly what the decoder is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson

MODEL = "fraud"
NOW = 1_790_000_000.0  # the decoder's clock in the unit tests


@dataclass(frozen=True)
class Poison:
    name: str
    message: bytes
    reasons: Counter[str] = field(default_factory=Counter)
    valid: int = 0  # events it yields that go into the windows


def event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"model": MODEL, "id": "p-1", "ts": NOW,
                               "features": {"amount": 12.5, "country": "DE"},
                               "prediction": 0.5}
    base.update(overrides)
    return base


def good(ts: float, index: int) -> bytes:
    return orjson.dumps(event(ts=ts, id=f"good-{index}",
                              features={"amount": float(index % 97), "country": "DE"}))


def _nested(opening: bytes, closing: bytes, depth: int) -> bytes:
    return opening * depth + closing * depth


def _nested_objects(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def corpus(ts: float, *, max_events: int = 10_000) -> list[Poison]:
    """The poison messages, with event times ``ts`` where they need one."""

    def bad(name: str, message: bytes, **reasons: int) -> Poison:
        return Poison(name, message, Counter(reasons))

    def dump(**overrides: object) -> bytes:
        return orjson.dumps(event(**({"ts": ts} | overrides)))

    big_event = dump(padding="x" * 10_000_000)
    huge_array = b"[" + b",".join([dump(id=None)] * 300_000) + b"]"  # ~35 MB
    halves = dump(id="h")
    valid_literals = (b'{"model": "fraud", "ts": %d, "features": {"amount": NaN}}' % int(ts))
    return [
        bad("10 MB message", big_event, oversized=1),
        bad("35 MB array of events", huge_array, oversized=1),
        bad("arrays nested 100,000 deep", _nested(b"[", b"]", 100_000), too_deep=1),
        bad("objects nested 100,000 deep", _nested_objects(100_000), too_deep=1),
        bad("features nested 100 deep",
            b'{"model": "fraud", "features": ' + _nested_objects(100) + b"}", too_deep=1),
        Poison("400-digit feature (reads as infinite: missing)",
               b'{"model": "fraud", "ts": %d, "features": {"amount": 1%s}}'
               % (int(ts), b"0" * 400), valid=1),
        bad("400-digit ts", b'{"model": "fraud", "ts": 1%s}' % (b"0" * 400),
            invalid_timestamp=1),
        bad("5000-digit ts", b'{"model": "fraud", "ts": 1%s}' % (b"0" * 5000),
            invalid_timestamp=1),
        bad("model is an array", dump(model=[MODEL]), wrong_type=1),
        bad("model is an object", dump(model={"name": MODEL}), wrong_type=1),
        bad("model is a number", dump(model=7), wrong_type=1),
        bad("two truncated halves and two events in one message",
            halves[:30] + b"," + halves[30:] + b"," + dump() + b"," + dump(),
            malformed_json=1),
        bad("concatenated events without an array", dump() + dump(), malformed_json=1),
        bad("binary garbage", bytes(range(256)) * 4, malformed_json=1),
        bad("invalid UTF-8 in a string", dump(id="X").replace(b"X", b"\xff\xfe"),
            malformed_json=1),
        Poison("UTF-8 byte order mark (read past, as Python's json does)",
               b"\xef\xbb\xbf" + dump(), valid=1),
        bad("empty message (tombstone)", b"", malformed_json=1),
        bad("whitespace only", b"  \n\t ", malformed_json=1),
        bad("JSON null", b"null", not_an_object=1),
        bad("JSON number", b"42", not_an_object=1),
        bad("JSON string", b'"fraud"', not_an_object=1),
        bad("array of non-objects", b"[1, true, null]", not_an_object=3),
        bad("too many events in one array", b"[" + b",".join([b"{}"] * (max_events + 1)) + b"]",
            too_many_events=1),
        bad("no model", orjson.dumps({"ts": ts, "features": {"amount": 1.0}}), missing_model=1),
        bad("unknown model", dump(model="not-configured"), unknown_model=1),
        bad("a megabyte model name", dump(model="m" * 1_000_000), unknown_model=1),
        bad("number column holds a string", dump(features={"amount": "12", "country": "DE"}),
            wrong_type=1),
        bad("category column holds an object", dump(features={"amount": 1, "country": {"a": 1}}),
            wrong_type=1),
        bad("features is a number", dump(features=7), wrong_type=1),
        bad("id is an object", dump(id={"id": 1}), wrong_type=1),
        bad("id is a list", dump(id=[1, 2]), wrong_type=1),
        bad("ts is prose", dump(ts="yesterday"), invalid_timestamp=1),
        bad("ts without an offset", dump(ts="2026-11-26T12:00:00"), invalid_timestamp=1),
        bad("ts is NaN", b'{"model": "fraud", "ts": NaN}', invalid_timestamp=1),
        bad("ts is -Infinity", b'{"model": "fraud", "ts": -Infinity}', invalid_timestamp=1),
        bad("ts is a boolean", dump(ts=True), invalid_timestamp=1),
        bad("ts in milliseconds", dump(ts=ts * 1000), invalid_timestamp=1),
        bad("ts in the year 2100", dump(ts=4_102_444_800), timestamp_in_future=1),
        bad("ts a day ahead", dump(ts=ts + 86_400), timestamp_in_future=1),
        Poison("NaN literal as a feature (missing)", valid_literals, valid=1),
        Poison("lone surrogate in a category", dump().replace(b'"DE"', b'"\\ud800"'), valid=1),
        Poison("control characters and NUL in strings", dump(id="a\x00b\x1bc"), valid=1),
        Poison("50,000 extra feature keys",
               dump(features={f"k{i}": i for i in range(50_000)} | {"amount": 1.0}), valid=1),
    ]


def expected_invalid(poisons: list[Poison]) -> Counter[str]:
    total: Counter[str] = Counter()
    for poison in poisons:
        total.update(poison.reasons)
    return total
