"""Raw messages to JSON values, one message at a time, within explicit bounds.

Every message is judged on its own: its size and nesting depth are checked before it is
parsed, a JSON array is flattened into its events (up to a bound), and a message that
breaks a bound or is not JSON is reported by reason with its index. Nothing a message
holds raises out of ``parse_messages``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add
from typing import Any

import numpy as np
import orjson

# Bytes that matter for nesting, once escapes are dropped: the quote and the brackets.
_QUOTE = ord('"')
_OPENERS, _CLOSERS = (ord("{"), ord("[")), (ord("}"), ord("]"))
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in (_QUOTE, *_OPENERS, *_CLOSERS))
_STEP = np.zeros(256, dtype=np.int64)  # how a byte changes the depth outside strings
_STEP[list(_OPENERS)], _STEP[list(_CLOSERS)] = 1, -1


@dataclass(frozen=True, slots=True)
class MessageLimits:
    """What one message may hold (see ``config.IngestConfig``)."""

    max_bytes: int = 1_048_576
    max_depth: int = 64
    max_events: int = 10_000

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if not 2 <= self.max_depth <= 1000:  # json's C parser recurses once per level
            raise ValueError("max_depth must be between 2 and 1000")
        if self.max_events < 1:
            raise ValueError("max_events must be at least 1")


@dataclass(frozen=True, slots=True)
class MessageError:
    """Why message ``index`` of a batch yielded no events."""

    index: int
    reason: str
    detail: str


@dataclass(slots=True)
class ParsedMessages:
    """The events of a batch, the message each came from, and the messages refused."""

    objects: list[Any] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    errors: list[MessageError] = field(default_factory=list)
    one_each: bool = False  # every message was one event (objects[i] came from message i)


def parse_messages(messages: Sequence[bytes],
                   limits: MessageLimits = MessageLimits()) -> ParsedMessages:
    """Parse each message; arrays are flattened into their events.

    NaN and Infinity literals (as Python's json writes them) are accepted; a number
    beyond the float64 range reads as infinite.

    >>> parsed = parse_messages([b'{"a": 1}', b'[{"b": 2}, {"c": 3}]', b'{"a"', b"[[[1]]]"],
    ...                         MessageLimits(max_depth=2))
    >>> parsed.objects, parsed.sources
    ([{'a': 1}, {'b': 2}, {'c': 3}], [0, 1, 1])
    >>> [(e.index, e.reason) for e in parsed.errors]
    [(2, 'malformed_json'), (3, 'too_deep')]
    """
    plain = _parse_plain(messages, limits)
    if plain is not None:
        return plain
    parsed = ParsedMessages()
    for index, message in enumerate(messages):
        value, error = _parse_one(message, limits)
        if error is not None:
            parsed.errors.append(MessageError(index, *error))
        else:
            _add(parsed, index, value, limits)
    return parsed


def _add(parsed: ParsedMessages, index: int, value: Any, limits: MessageLimits) -> None:
    """Message ``index``'s events: the value itself, or an array's items (up to a bound)."""
    if type(value) is not list:
        parsed.objects.append(value)
        parsed.sources.append(index)
    elif len(value) > limits.max_events:
        parsed.errors.append(MessageError(
            index, "too_many_events", f"{len(value)} events > {limits.max_events}"))
    else:
        parsed.objects.extend(value)
        parsed.sources.extend([index] * len(value))


def _parse_plain(messages: Sequence[bytes], limits: MessageLimits) -> ParsedMessages | None:
    """The common batch in one C-level pass: every message within the size bound, with
    fewer brackets than the depth bound, and JSON orjson reads. None when any message
    needs a closer look."""
    if not messages or set(map(type, messages)) != {bytes}:
        return None
    if max(map(len, messages)) > limits.max_bytes:
        return None
    brackets = map(add, map(bytes.count, messages, repeat(b"{")),
                   map(bytes.count, messages, repeat(b"[")))
    if max(brackets) > limits.max_depth:
        return None
    try:
        values = list(map(orjson.loads, messages))
    except orjson.JSONDecodeError:
        return None
    if list not in set(map(type, values)):
        return ParsedMessages(values, list(range(len(values))), one_each=True)
    parsed = ParsedMessages()  # arrays among them: flattened, not parsed again
    for index, value in enumerate(values):
        _add(parsed, index, value, limits)
    return parsed


def _parse_one(message: bytes, limits: MessageLimits) -> tuple[Any, tuple[str, str] | None]:
    if type(message) is not bytes:  # a source handing out something else: our bug, not fatal
        return None, ("malformed_json", f"not bytes but {type(message).__name__}")
    if len(message) > limits.max_bytes:
        return None, ("oversized", f"{len(message)} bytes > {limits.max_bytes}")
    if message.count(b"{") + message.count(b"[") > limits.max_depth:  # else cannot be deeper
        depth = nesting_depth(message)
        if depth > limits.max_depth:
            return None, ("too_deep", f"nested {depth} deep > {limits.max_depth}")
    try:
        return orjson.loads(message), None
    except orjson.JSONDecodeError as error:
        first_error = str(error)
    try:  # what orjson refuses and Python's json reads: NaN and Infinity literals, and
        # numbers beyond float64, which become infinite as in orjson's own float parsing
        return json.loads(message, parse_int=_int), None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, ("malformed_json", first_error[:200])


def _int(text: str) -> int | float:
    """An integer literal: exact within 64 bits, beyond as a float (as orjson does),
    which is infinite past float64 and never hits Python's int-to-str digit limit."""
    return int(text) if len(text) <= 19 else float(text)


def nesting_depth(message: bytes) -> int:
    """How deeply the brackets of a JSON text nest, brackets inside strings ignored.

    Escapes are dropped first (in JSON a backslash always escapes the one byte after
    it), then everything but quotes and brackets, so the numpy pass runs over those few
    bytes only; exact for valid JSON, an estimate for broken text.

    >>> nesting_depth(b'{"a": [1, {"b": "[[[["}]}')
    3
    >>> nesting_depth(b'["\\\\\\"]]]", [[]]]')
    3
    """
    if b"\\" in message:
        message = _ESCAPE.sub(b"", message)
    kinds = np.frombuffer(message.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    step = _STEP[kinds]
    quotes = kinds == _QUOTE
    if quotes.any():
        step[np.cumsum(quotes) % 2 == 1] = 0  # inside a string: after an odd number of quotes
    return int(np.cumsum(step).max(initial=0))
