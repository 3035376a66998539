"""Typed columns out of decoded JSON events: numbers, categories, timestamps and ids.

Each function takes the values of one field for a batch of events (read at its path by
``driftd.paths``) and a ``reject`` callback; a value of the wrong kind rejects its event
by reason, whatever it holds, and never raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

Reject = Callable[[int, str, str], None]  # (row, reason, detail)

_NUMBER_TYPES = frozenset({float, int, type(None)})
_CATEGORY_TYPES = frozenset({str, type(None)})
_ID_TYPES = frozenset({str, int, type(None)})
# Epoch seconds beyond this are no time at all (year 33658): pane arithmetic stays exact.
MAX_ABS_TIMESTAMP = 1e12


def numbers(values: list[Any], column: str, reject: Reject) -> npt.NDArray[np.float64]:
    """Floats (NaN = missing); an integer beyond float64 is infinite, like 1e999."""
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
                array[row] = math.inf if value > 0 else -math.inf
        else:
            reject(row, "wrong_type", f"{column}: expected a number, got {kind(value)}")
    return array


def reject_non_finite(array: npt.NDArray[np.float64], column: str, reject: Reject) -> None:
    for row in np.flatnonzero(np.isinf(array)):
        reject(int(row), "non_finite", f"{column}: {array[row]}")


def categories(values: list[Any], column: str, reject: Reject) -> list[str | None]:
    if set(map(type, values)) <= _CATEGORY_TYPES:
        return values
    result: list[str | None] = []
    for row, value in enumerate(values):
        category = category_key(value)
        if category is None and value is not None and not _is_nan(value):
            reject(row, "wrong_type", f"{column}: expected a category, got {kind(value)}")
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
        return str(value) if abs(value) < 10**300 else None  # str() of huge ints raises
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def ids(values: list[Any], reject: Reject, field: str = "id") -> list[Any]:
    """Event ids: strings or integers (None = no id); anything else rejects the event.
    ``field`` (the path read) names it in the rejection."""
    if set(map(type, values)) <= _ID_TYPES:
        return values
    for row, value in enumerate(values):
        if type(value) not in _ID_TYPES:
            reject(row, "wrong_type",
                   f"{field}: expected a string or an integer, got {kind(value)}")
    return values


def timestamps(
    values: list[Any], now: float, reject: Reject, zone: tzinfo | None = None,
    field: str = "ts",
) -> npt.NDArray[np.float64]:
    """Epoch seconds from numbers, RFC 3339 strings or datetimes; a missing ``ts`` means
    ``now``. A time without a UTC offset is read in ``zone``, and rejected without one;
    ``field`` (the path read) names it in the rejection."""
    if set(map(type, values)) <= {float, int}:
        try:
            array = np.array(values, dtype=np.float64)
        except OverflowError:  # an integer beyond float range: handled below
            pass
        else:
            if (np.abs(array) < MAX_ABS_TIMESTAMP).all():  # also false for NaN
                return array
    array = np.full(len(values), now)
    for row, value in enumerate(values):
        parsed = _timestamp(value, zone)
        if parsed is None and value is not None:
            reject(row, "invalid_timestamp", _timestamp_problem(value, field))
        elif parsed is not None:
            array[row] = parsed
    return array


def _timestamp(value: Any, zone: tzinfo | None) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            return None
        return seconds if abs(seconds) < MAX_ABS_TIMESTAMP else None  # also rules out NaN
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif isinstance(value, datetime):  # also pandas Timestamps
        parsed = value
    else:
        return None  # e.g. a date alone: no point in time
    if parsed.tzinfo is None:  # ambiguous (RFC 3339 requires an offset) unless configured
        if zone is None:
            return None
        parsed = parsed.replace(tzinfo=zone)
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError):  # e.g. year 1 with a positive offset; pandas NaT
        return None


def _timestamp_problem(value: Any, field: str) -> str:
    """The detail of a rejected ``ts``: how to fix a time without an offset."""
    if isinstance(value, str):
        try:
            naive = datetime.fromisoformat(value).tzinfo is None
        except ValueError:
            naive = False
    else:
        naive = isinstance(value, datetime) and value.tzinfo is None
    if naive:
        return (f"{field}: naive timestamp {clip(str(value), 40)!r} has no UTC offset; "
                "add one or set ingest.timezone")
    return f"{field}: {clip(value, 40)}{_unit_hint(value)}"


def _unit_hint(value: Any) -> str:
    if isinstance(value, int | float) and MAX_ABS_TIMESTAMP <= abs(value) < 1e15:
        return " (epoch milliseconds? ts is read as seconds)"
    return ""


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def kind(value: Any) -> str:
    return type(value).__name__


def clip(value: Any, limit: int) -> str:
    """Printable text of at most ``limit`` characters for logs and headers: no lone
    surrogates, no control characters, cheap even for a huge value.

    >>> clip("a\\ud800b\\n" + "x" * 50, 12)
    'a\\\\ud800b\\\\nxx'
    """
    text = value if isinstance(value, str) else _short_repr(value, limit)
    return text[:limit].encode("unicode_escape").decode("ascii")[:limit]


def _short_repr(value: Any, limit: int) -> str:
    if isinstance(value, int) and value.bit_length() > 4 * limit:  # repr would be long
        return f"<integer of {value.bit_length()} bits>"
    try:
        return repr(value)[:limit]
    except (RecursionError, ValueError):
        return f"<{type(value).__name__}>"
