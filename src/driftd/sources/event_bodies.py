"""Bodies of driftd events posted over HTTP: one event, a JSON array, or JSON lines.

>>> split_events(b'{"a": 1}\\n\\n{"b": 2}\\n', ndjson=True)
[b'{"a": 1}', b'{"b": 2}']
>>> problem([b'{"a": 1}', b'[{"b": 2}]'], MessageLimits())
>>> problem([b'{"a": 1}', b'"text"'], MessageLimits())
('not_an_object', 'line 2: a JSON string, not an event object or an array of them')
>>> problem([b'{"a": '], MessageLimits())[0]
'malformed_json'
"""

from __future__ import annotations

from collections.abc import Sequence

from driftd.messages import MessageLimits, parse_messages

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl",
                "application/x-jsonlines", "application/jsonlines")
_KINDS = {ord('"'): "a JSON string", ord("t"): "a JSON boolean", ord("f"): "a JSON boolean",
          ord("n"): "JSON null"}


def split_events(body: bytes, *, ndjson: bool) -> list[bytes]:
    """The messages of a body: its non-blank lines for JSON lines, else the body."""
    if not ndjson:
        return [body] if body.strip() else []
    return [line for line in body.split(b"\n") if line.strip()]


def problem(messages: Sequence[bytes], limits: MessageLimits) -> tuple[str, str] | None:
    """Why the body cannot be accepted, as (reason, detail), or None: every message must
    be JSON within ``limits`` whose top level is an object or an array. What the objects
    hold is for the decoder to judge."""
    if not messages:
        return "malformed_json", "an empty body"
    parsed = parse_messages(messages, limits)

    def where(index: int) -> str:
        return f"line {index + 1}: " if len(messages) > 1 else ""

    if parsed.errors:
        error = parsed.errors[0]
        return error.reason, where(error.index) + error.detail
    for index, message in enumerate(messages):
        first = message.lstrip()[:1]
        if first not in (b"{", b"["):
            kind = _KINDS.get(first[0], "a JSON number") if first else "nothing"
            return ("not_an_object",
                    f"{where(index)}{kind}, not an event object or an array of them")
    return None
