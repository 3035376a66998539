"""An append-only spool of records on disk: what HTTP ingest acknowledges before answering.

Records go to segment files in one directory, each named by the spool offset of its
first byte (``00000000000000000000.spool``), so a position in the spool is one integer:
the byte offset, across segments, where the next record starts. ``append`` returns once
the record is written and fsync'd (and, for a new segment, the directory too); readers
see only records that are durable. A record is framed by a header holding its lengths
and a CRC-32, so a record torn by a crash while it was being written (never
acknowledged) is found when the spool opens and cut off. Segments wholly before a
position that a checkpoint holds are deleted with ``release``.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as directory:
...     spool = Spool(Path(directory))
...     first = spool.append(Record(b'{"a": 1}', {"kind": "events"}))
...     second = spool.append(Record(b"[]", {"kind": "events"}))
...     found = spool.read(0, max_records=10, max_bytes=1 << 20)
...     spool.close()
>>> [(r.body, end) for r, end in found], first, second
([(b'{"a": 1}', 39), (b'[]', 72)], 39, 72)
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

logger = logging.getLogger(__name__)

MAGIC = b"DS"
HEADER = struct.Struct(">2sIII")  # magic, meta length, body length, CRC-32 of meta + body
SUFFIX = ".spool"
SEGMENT_BYTES = 64 * 1_048_576


@dataclass(frozen=True, slots=True)
class Record:
    """One acknowledged request: its body and what else was kept of it (JSON-able)."""

    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)


class SpoolError(Exception):
    """The spool directory cannot be used (permissions, not a directory, a full disk)."""


class Spool:
    """Segments in ``directory``; ``append`` from one thread at a time, ``read`` from any.

    A new segment starts when the current one holds ``segment_bytes`` or more.
    """

    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        if segment_bytes < 1:
            raise ValueError(f"segment_bytes must be positive, got {segment_bytes}")
        self._directory, self._segment_bytes = directory, segment_bytes
        self._lock = threading.Lock()
        self._grown = threading.Condition(self._lock)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._bases = sorted(int(p.name.removesuffix(SUFFIX))
                                 for p in directory.glob(f"*{SUFFIX}")
                                 if p.name.removesuffix(SUFFIX).isdigit())
            if not self._bases:
                self._bases = [0]
            self._end = self._recover(self._bases[-1])
            self._file: BinaryIO = self._path(self._bases[-1]).open("ab")
        except OSError as error:
            raise SpoolError(f"cannot use the spool directory {directory}: {error}") from error

    @property
    def start(self) -> int:
        """The position of the oldest record kept."""
        with self._lock:
            return self._bases[0]

    @property
    def end(self) -> int:
        """The position after the last durable record."""
        with self._lock:
            return self._end

    def append(self, *records: Record) -> int:
        """Write ``records`` and fsync them; returns the position after the last. Raises
        SpoolError (nothing of them is kept then)."""
        framed = b"".join(map(_frame, records))
        try:
            if self._end - self._bases[-1] >= self._segment_bytes:
                self._roll()
            self._file.write(framed)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as error:
            self._cut_back()
            raise SpoolError(f"cannot append to the spool in {self._directory}: "
                             f"{error}") from error
        with self._grown:
            self._end += len(framed)
            self._grown.notify_all()
            return self._end

    def skip_to(self, position: int) -> None:
        """Continue the spool at ``position`` (beyond its end: the spool directory was
        emptied since a checkpoint named it), so positions never go back."""
        with self._lock:
            if position <= self._end:
                return
            old = self._bases[-1]
            empty = self._end == old
        self._roll(position)
        if empty:
            with self._lock:
                self._bases.remove(old)
            self._delete(old)

    def wait(self, position: int, timeout_seconds: float) -> bool:
        """Wait at most ``timeout_seconds`` for a durable record at ``position``."""
        with self._grown:
            return self._grown.wait_for(lambda: self._end > position, timeout_seconds)

    def read(self, position: int, *, max_records: int,
             max_bytes: int) -> list[tuple[Record, int]]:
        """Durable records from ``position`` on, each with the position after it: up to
        ``max_records``, and no more bytes than ``max_bytes`` (but at least one record)."""
        with self._lock:
            end, bases = self._end, list(self._bases)
        found: list[tuple[Record, int]] = []
        taken = 0
        while position < end and len(found) < max_records and taken < max_bytes:
            base = max((b for b in bases if b <= position), default=None)
            if base is None:
                logger.warning("spool %s: position %d is before its oldest record (%d): "
                               "reading on from there", self._directory, position, bases[0])
                position = bases[0]
                continue
            following = next((b for b in bases if b > base), end)
            if position >= following:  # at the end of a segment
                position = following
                continue
            batch, position = self._read_segment(base, position, min(following, end),
                                                 max_records - len(found), max_bytes - taken)
            found += batch
            taken += sum(len(r.body) for r, _ in batch)
        return found

    def release(self, position: int) -> int:
        """Delete the segments wholly before ``position``; how many were deleted."""
        with self._lock:
            gone = [b for b, after in zip(self._bases, self._bases[1:], strict=False)
                    if after <= position]
            self._bases = self._bases[len(gone):]
        for base in gone:
            self._delete(base)
        return len(gone)

    def close(self) -> None:
        self._file.close()

    def _read_segment(self, base: int, position: int, stop: int, max_records: int,
                      max_bytes: int) -> tuple[list[tuple[Record, int]], int]:
        found: list[tuple[Record, int]] = []
        taken = 0
        with self._path(base).open("rb") as file:
            file.seek(position - base)
            while position < stop and len(found) < max_records and taken < max_bytes:
                record, size = _read_record(file)
                if record is None:
                    logger.error("spool %s: a damaged record at %d; skipping the rest of "
                                 "segment %d", self._directory, position, base)
                    return found, stop
                position += size
                taken += len(record.body)
                found.append((record, position))
        return found, position

    def _recover(self, base: int) -> int:
        """The end of the last segment's intact records; a torn tail is cut off."""
        path = self._path(base)
        if not path.exists():
            path.touch()
            _sync_directory(self._directory)
            return base
        size = path.stat().st_size
        good = 0
        with path.open("rb") as file:
            while good < size:
                record, length = _read_record(file)
                if record is None:
                    break
                good += length
        if good < size:
            logger.warning("spool %s: cutting %d bytes of an unfinished record at the end "
                           "of segment %d (written when driftd stopped, never acknowledged)",
                           self._directory, size - good, base)
            os.truncate(path, good)
        return base + good

    def _roll(self, base: int | None = None) -> None:
        """Start a new segment at ``base`` (default: the end)."""
        base = self._end if base is None else base
        self._file.close()
        self._file = self._path(base).open("ab")
        _sync_directory(self._directory)
        with self._lock:
            self._bases.append(base)
            self._end = base

    def _cut_back(self) -> None:
        """After a failed write: drop what part of the record reached the file."""
        try:
            self._file.flush()
        except OSError:
            pass
        try:
            os.truncate(self._path(self._bases[-1]), self._end - self._bases[-1])
        except OSError as error:
            logger.error("spool %s: cannot cut back a failed write: %s", self._directory,
                         error)

    def _delete(self, base: int) -> None:
        try:
            self._path(base).unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            logger.warning("spool %s: cannot delete segment %d: %s", self._directory, base,
                           error)

    def _path(self, base: int) -> Path:
        return self._directory / f"{base:020d}{SUFFIX}"


def _frame(record: Record) -> bytes:
    meta = orjson.dumps(record.meta)
    return HEADER.pack(MAGIC, len(meta), len(record.body),
                       zlib.crc32(record.body, zlib.crc32(meta))) + meta + record.body


def _read_record(file: BinaryIO) -> tuple[Record | None, int]:
    """The record at the file's position and its framed size; None if it is damaged or
    incomplete."""
    header = file.read(HEADER.size)
    if len(header) < HEADER.size:
        return None, 0
    magic, meta_length, body_length, crc = HEADER.unpack(header)
    if magic != MAGIC:
        return None, 0
    meta, body = file.read(meta_length), file.read(body_length)
    if len(meta) < meta_length or len(body) < body_length or zlib.crc32(
            body, zlib.crc32(meta)) != crc:
        return None, 0
    return Record(body, orjson.loads(meta)), HEADER.size + meta_length + body_length


def _sync_directory(directory: Path) -> None:
    """Make a created or renamed file's directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
