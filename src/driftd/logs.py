"""Log lines on stderr, as text or as one JSON object per line; the fields of an origin.

JSON lines hold ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg``, ``exception``
(the traceback text) when there is one, and every field given with ``extra=``:

>>> record = logging.makeLogRecord({"name": "driftd", "levelname": "WARNING",
...     "msg": "invalid event at %s", "args": ("t[0]@7",), "created": 1790000000.25,
...     **origin_fields("t[0]@7")})
>>> formatter("json").format(record)
'{"ts": "2026-09-21T14:13:20.250Z", "level": "WARNING", "logger": "driftd", "msg": "invalid \
event at t[0]@7", "origin": "t[0]@7", "topic": "t", "partition": 0, "offset": 7}'
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Record attribute -> JSON key; the rest of a record's own attributes are left out.
JSON_KEYS = {"asctime": "ts", "levelname": "level", "name": "logger", "message": "msg",
             "exc_info": "exception", "stack_info": "stack"}
_KAFKA_ORIGIN = re.compile(r"(?P<topic>[^\[\]]+)\[(?P<partition>\d+)\]@(?P<offset>\d+)")


class _JsonLines(JsonFormatter):
    """python-json-logger's formatter with an RFC 3339 UTC time (milliseconds, ``Z``)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter of one ``logging.format``: ``text`` or ``json``."""
    if log_format == "json":
        return _JsonLines(" ".join(f"%({name})s" for name in ("asctime", "levelname", "name",
                                                              "message")),
                          rename_fields=JSON_KEYS, json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)


def configure(level: str, log_format: LogFormat) -> None:
    """One stderr handler on the root logger, unless it has one already (as under pytest,
    whose capture handler stays in place: ``logging.basicConfig`` semantics)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler])


def origin_fields(origin: str) -> dict[str, Any]:
    """``extra=`` fields of a line about one event: ``origin`` as written in the text
    (``topic[p]@offset``, ``file.csv:LINE``, ...), and for a Kafka record its ``topic``,
    ``partition`` and ``offset`` too.

    >>> origin_fields("fraud.predictions[2]@1041")
    {'origin': 'fraud.predictions[2]@1041', 'topic': 'fraud.predictions', 'partition': 2, \
'offset': 1041}
    >>> origin_fields("events.csv:12")
    {'origin': 'events.csv:12'}
    """
    fields: dict[str, Any] = {"origin": origin}
    kafka = _KAFKA_ORIGIN.fullmatch(origin)
    if kafka is not None:
        fields |= {"topic": kafka["topic"], "partition": int(kafka["partition"]),
                   "offset": int(kafka["offset"])}
    return fields
