"""Field paths: where a value sits in a decoded JSON event.

A path is written once in the config and parsed once, at load, into steps: a string
is an object key, an integer a list index. Two spellings are accepted:

- dotted: ``data.model``, ``inputs[0].data[3]``, a key with a dot or a bracket quoted
  as a JSON string, ``meta["model.name"]`` (a bare ``0`` between dots is the key "0");
- JSON Pointer (RFC 6901), starting with ``/``: ``/inputs/0/data/3``, with ``~1`` for
  ``/`` and ``~0`` for ``~`` in a key; a token of digits is a list index.

``FieldPath`` reads one path out of a batch of events, level by level with ``map`` when
the events share their shape, event by event otherwise. A path that runs into a value
that is neither an object nor a list (``features: 7``) is *broken* for that event;
one that runs out (an absent key, ``null``, an index past the end) finds no value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

Step = str | int
# Levels of a batch already read, shared by the paths of one batch's columns.
Cache = dict[tuple[Any, ...], list[Any]]


class _Broken:
    def __repr__(self) -> str:
        return "<broken path>"


BROKEN = _Broken()


def parse_path(text: str) -> tuple[Step, ...]:
    """The steps of a path; ValueError saying what is wrong with it.

    >>> parse_path("inputs[0].data[3]"), parse_path("/inputs/0/a~1b")
    (('inputs', 0, 'data', 3), ('inputs', 0, 'a/b'))
    >>> parse_path('meta["model.name"].v'), parse_path("features.0")
    (('meta', 'model.name', 'v'), ('features', '0'))
    >>> parse_path("data..model")
    Traceback (most recent call last):
    ValueError: empty key at character 6 of 'data..model'
    """
    if not text:
        raise ValueError("empty path")
    steps = _pointer(text) if text.startswith("/") else _dotted(text)
    if not isinstance(steps[0], str):
        raise ValueError(f"{text!r} starts with a list index; an event is an object, so "
                         "a path starts with a key")
    return steps


def path_text(steps: Sequence[Step]) -> str:
    """The dotted spelling of ``steps`` (keys with ``.[]"`` in them quoted).

    >>> path_text(("inputs", 0, "data", 3)), path_text(("meta", "a.b"))
    ('inputs[0].data[3]', 'meta["a.b"]')
    """
    parts: list[str] = []
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif step and not any(c in step for c in '.[]"') and step.strip() == step:
            parts.append(("." if parts else "") + step)
        else:
            parts.append(f"[{json.dumps(step, ensure_ascii=False)}]")
    return "".join(parts)


def _pointer(text: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    for token in text[1:].split("/"):
        if not token:
            raise ValueError(f"empty key in JSON Pointer {text!r}")
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise ValueError(f"{token!r} in JSON Pointer {text!r}: '~' must be followed by "
                             "0 (for ~) or 1 (for /)")
        if token.isdecimal() and token.isascii() and (token == "0" or token[0] != "0"):
            steps.append(int(token))
        else:
            steps.append(token.replace("~1", "/").replace("~0", "~"))
    return tuple(steps)


def _dotted(text: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    at, end = 0, len(text)
    while at < end:
        if text[at] == "[":
            step, at = _bracket(text, at)
            steps.append(step)
            continue
        if text[at] == "." and steps:
            at += 1
        stop = at
        while stop < end and text[stop] not in ".[]":
            stop += 1
        if stop == at:
            if stop < end and text[stop] == "]":
                raise ValueError(f"']' without '[' at character {stop + 1} of {text!r}")
            raise ValueError(f"empty key at character {at + 1} of {text!r}")
        steps.append(text[at:stop])
        at = stop
    return tuple(steps)


def _bracket(text: str, start: int) -> tuple[Step, int]:
    """The step in ``[...]`` at ``start`` and where the text goes on."""
    close = text.find("]", start)
    if text.startswith('["', start):  # a quoted key may hold "]"
        try:
            key, stop = json.JSONDecoder().raw_decode(text, start + 1)
        except json.JSONDecodeError:
            key, stop = None, start
        if not isinstance(key, str) or not text.startswith("]", stop):
            raise ValueError(f"unterminated quoted key at character {start + 1} of {text!r} "
                             '(write ["a.b"])')
        return key, _after_step(text, stop + 1)
    if close < 0:
        raise ValueError(f"'[' without ']' at character {start + 1} of {text!r}")
    inner = text[start + 1:close]
    if not (inner.isdecimal() and inner.isascii()):
        raise ValueError(f"[{inner}] at character {start + 1} of {text!r}: a list index is "
                         'a whole number from 0 (a key in brackets is quoted: ["a.b"])')
    return int(inner), _after_step(text, close + 1)


def _after_step(text: str, at: int) -> int:
    if at < len(text) and text[at] not in ".[":
        raise ValueError(f"expected '.' or '[' at character {at + 1} of {text!r}")
    if text.endswith(".", at):
        raise ValueError(f"empty key at the end of {text!r}")
    return at


def _kind(value: Any) -> str:
    """What a value is, in JSON terms."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) \
        else f"a {type(value).__name__}"


class FieldPath:
    """One configured path, read out of batches of events.

    ``flat`` is where a record without the path's first key (a flat CSV or Parquet row)
    has the value at its top level; None: nowhere.

    >>> path = FieldPath(parse_path("inputs[0].data[1]"))
    >>> path.extract([{"inputs": [{"data": [5, 6]}]}, {"inputs": [{"data": [5]}]},
    ...               {"inputs": 7}])
    ([6, None, None], [2])
    >>> path.problem({"inputs": 7})
    'inputs is a number, not a list'
    """

    __slots__ = ("_first", "_flat", "_trick", "steps", "text")

    def __init__(self, steps: Sequence[Step], *, flat: str | None = None) -> None:
        first = steps[0] if steps else None
        if not isinstance(first, str):
            raise ValueError("steps must start with a key")
        self.steps, self.text, self._flat = tuple(steps), path_text(steps), flat
        self._first = first
        # Two keys read flat at the second: a record without the first is its own first
        # level (``row.get(first, row)``), which keeps ``features.<name>`` one map per level.
        self._trick = len(self.steps) == 2 and flat is not None and flat == self.steps[1]

    def __repr__(self) -> str:
        return f"FieldPath({self.text!r})"

    @property
    def flat(self) -> str | None:
        """The top-level key of a flat record (see above)."""
        return self._flat

    def get(self, row: dict[str, Any]) -> Any:
        """The value at this path in one event: None when there is none, ``BROKEN``
        when the path runs into something that is no object or list."""
        first = self._first
        if first not in row:
            return row.get(self._flat) if self._flat is not None else None
        node: Any = row[first]
        for step in self.steps[1:]:
            if node is None:
                return None
            if isinstance(node, dict):
                if isinstance(step, int):
                    return BROKEN
                node = node.get(step)
            elif isinstance(node, list):
                if isinstance(step, str):
                    return BROKEN
                node = node[step] if step < len(node) else None
            else:
                return BROKEN
        return node

    def extract(self, rows: Sequence[dict[str, Any]],
                cache: Cache | None = None) -> tuple[list[Any], list[int]]:
        """The values of a batch of events (None where there is none), and the rows
        where the path is broken (their value is None too)."""
        count, steps, first = len(rows), self.steps, self._first
        if len(steps) == 1:
            if self._flat is None or self._flat == first:
                return list(map(dict.get, rows, repeat(first, count))), []
            flat = self._flat
            return [row[first] if first in row else row.get(flat) for row in rows], []
        cache = {} if cache is None else cache
        key: tuple[Any, ...] = ("flat", first) if self._trick else (first,)
        level = cache.get(key)
        if level is None:
            level = cache[key] = ([row.get(first, row) for row in rows] if self._trick
                                  else list(map(dict.get, rows, repeat(first, count))))
        for depth in range(1, len(steps)):
            step, key = steps[depth], (*key, steps[depth])
            found = cache.get(key)
            if found is None:
                found = _level(level, step, count)
                if found is None:
                    return self._each(rows)
                cache[key] = found
            level = found
        if self._flat is not None and not self._trick:
            return self._flat_rows(rows, level, self._flat), []
        return level, []

    def _flat_rows(self, rows: Sequence[dict[str, Any]], level: list[Any],
                   flat: str) -> list[Any]:
        first = self._first
        missing = [i for i, value in enumerate(level) if value is None and first not in rows[i]]
        if not missing:
            return level
        level = list(level)
        for i in missing:
            level[i] = rows[i].get(flat)
        return level

    def _each(self, rows: Sequence[dict[str, Any]]) -> tuple[list[Any], list[int]]:
        found = list(map(self.get, rows))
        broken = [i for i, value in enumerate(found) if value is BROKEN]
        for i in broken:
            found[i] = None
        return found, broken

    def problem(self, row: dict[str, Any]) -> str:
        """Where this path breaks in ``row``, e.g. ``features is a number, not an
        object``."""
        node: Any = row
        for depth, step in enumerate(self.steps):
            want = "a list" if isinstance(step, int) else "an object"
            if node is None:
                break
            ok = isinstance(node, list) if isinstance(step, int) else isinstance(node, dict)
            if not ok:
                hint = (f" (a list index is written {path_text(self.steps[:depth])}[0])"
                        if isinstance(node, list) else "")
                return f"{path_text(self.steps[:depth])} is {_kind(node)}, not {want}{hint}"
            node = (node[step] if step < len(node) else None) if isinstance(step, int) \
                else node.get(step)
        return "no value"


def _level(values: list[Any], step: Step, count: int) -> list[Any] | None:
    """The next level of a batch when every value has the same container kind; None
    when they do not (then each event is walked on its own)."""
    if isinstance(step, str):
        try:  # dict.get refuses anything but an object (a null too)
            return list(map(dict.get, values, repeat(step, count)))
        except TypeError:
            return None
    if set(map(type, values)) == {list}:  # a string would take an index too
        try:
            return list(map(itemgetter(step), values))
        except IndexError:
            return None
    return None
