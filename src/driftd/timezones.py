"""Time zones in which naive event times are read: IANA names or fixed UTC offsets."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def parse_timezone(name: str) -> tzinfo:
    """The zone ``name`` stands for: an IANA name, or an offset ``+HH:MM``, ``-HH:MM``
    or ``Z`` (UTC).

    A naive time in a zone with daylight saving is read as its first occurrence when the
    clocks go back, and with the offset before the change when they go forward (PEP 495,
    ``fold=0``).

    >>> parse_timezone("+02:00")
    datetime.timezone(datetime.timedelta(seconds=7200))
    >>> parse_timezone("Europe/Berlin")
    zoneinfo.ZoneInfo(key='Europe/Berlin')
    >>> parse_timezone("Europe/Berln")
    Traceback (most recent call last):
    ValueError: 'Europe/Berln' is neither an IANA time zone name (e.g. Europe/Berlin) nor a UTC offset (e.g. +02:00)
    """  # noqa: E501 - the doctest shows the whole message
    if name == "Z":
        return UTC
    offset = _OFFSET.fullmatch(name)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        if int(hours) > 23 or int(minutes) > 59:
            raise ValueError(f"{name!r}: a UTC offset is -23:59 to +23:59")
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a directory name
        raise ValueError(f"{name!r} is neither an IANA time zone name (e.g. Europe/Berlin) "
                         "nor a UTC offset (e.g. +02:00)") from None
