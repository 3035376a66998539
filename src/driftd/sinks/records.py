"""A results-history record as the sinks write it: one strict JSON line and its key.

A record is a JSON-ready mapping (a ``WindowResult`` through ``finite_json(asdict(...))``
plus a few keys) holding at least "model", "window", "revision" and "end" (time windows)
or "sequence" (count windows). Encoding is deterministic, so a record written again
after a crash is byte for byte the one written before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from driftd.monitor.results import finite_json


def record_json(record: Mapping[str, Any]) -> bytes:
    """``record`` as compact, strict JSON (NaN and infinities become null), no newline.

    Raises TypeError for a value JSON cannot hold (a bug in the caller, not an I/O error).
    """
    text = json.dumps(finite_json(_plain(record)), allow_nan=False, ensure_ascii=False,
                      separators=(",", ":"))
    return text.encode("utf-8")


def record_key(record: Mapping[str, Any]) -> str:
    """``model/window/end-or-sequence/revision``: the same for every copy of a record.

    Count windows are named by their sequence, time windows by their end (as in JSON).
    """
    sequence = record.get("sequence")
    position = sequence if sequence is not None else record.get("end")
    return "/".join((str(record["model"]), str(record["window"]),
                     json.dumps(finite_json(position)), str(record["revision"])))


def _plain(value: Any) -> Any:
    # finite_json walks dicts, lists and tuples only: turn other mappings into dicts.
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
