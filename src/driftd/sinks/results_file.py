"""The results file: every window result appended as a JSON line, size-bounded and rotated.

Exactly once with checkpoints. The daemon writes records as windows close; after a crash
it reads the events since its last checkpoint again, and they produce the same records
again. So ``checkpoint()`` returns the position to store in the checkpoint, and
``restore(position)`` cuts off everything written after it, which is then written again
identically. With checkpoints, files rotate only in ``checkpoint()``: what was written
since the last stored checkpoint is in the current file, or (when the process died
between a rotating ``checkpoint()`` and storing its result) in a file that rotation
renamed; ``restore`` then undoes those rotations.

The position is ``{"bytes": size of the current file, "inode": its inode number (low 53
bits, so that it survives as a float), "head": CRC-32 of its first min(bytes, 4096)
bytes}``, all integers. The inode and the head tell the file of the checkpoint from one
rotated or replaced meanwhile (an inode number is reused once the oldest backup is
deleted; the head tells those apart).

Bounds: ``path`` and at most ``backups`` rotated files (``path.1`` the newest). A file is
rotated once it holds ``max_bytes`` or more; with checkpoints it may pass that by what
one checkpoint interval writes. With ``rotate_on_write`` (a daemon without checkpoints)
a file never passes ``max_bytes``, except to hold a single larger record whole.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from driftd.sinks.records import record_json

logger = logging.getLogger(__name__)

HEAD_BYTES = 4096
INODE_MASK = 2**53 - 1  # a position is stored as floats: keep the inode exact in one


class ResultsSinkError(Exception):
    """A results sink that cannot write (disk full, permissions...); names the path."""


class ResultsFile:
    """Appends results records as JSON lines to ``path``, rotated and size-bounded."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int, fsync: bool = True,
                 rotate_on_write: bool = False) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if backups < 0:
            raise ValueError("backups must be 0 or more")
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._fsync, self._rotate_on_write = fsync, rotate_on_write
        self._lock = threading.Lock()
        self._fd = -1
        self._size = 0
        self._torn = False  # the file ends inside a line: the next write ends it first
        self._unsynced_entry = False  # opened since the directory was last synced
        with self._errors("open"):
            self._open()

    def write(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append ``records``, one line each, handed to the OS before returning."""
        lines = [record_json(record) + b"\n" for record in records]  # all or nothing
        with self._lock, self._errors("write to"):
            self._write(lines)

    def checkpoint(self) -> dict[str, float]:
        """Sync the file, rotate it if full, and return the position to checkpoint."""
        with self._lock, self._errors("checkpoint"):
            return self._checkpoint()

    def restore(self, position: Mapping[str, float]) -> None:
        """Cut off what was written after ``position`` (a ``checkpoint()`` result).

        A file that no longer holds the position (shorter, rotated or replaced outside
        driftd) is left as it is, with a warning: writing goes on at its end.
        """
        with self._lock, self._errors("restore"):
            self._restore(position)

    def close(self) -> None:
        """Sync and close the file; closing twice is harmless."""
        with self._lock, self._errors("close"):
            if self._fd >= 0:
                try:
                    self._sync()
                finally:
                    os.close(self._fd)
                    self._fd = -1

    # -- with the lock held ---------------------------------------------------------------

    def _write(self, lines: list[bytes]) -> None:
        if self._fd < 0:
            raise ResultsSinkError(f"the results file {self.path} is closed")
        pending = bytearray(b"\n" if self._torn and lines else b"")
        for line in lines:
            size = self._size + len(pending)
            if self._rotate_on_write and size and size + len(line) > self.max_bytes:
                self._append(pending)  # a line is never split across files
                pending.clear()
                self._rotate()
            pending += line
        self._append(pending)
        if self._rotate_on_write and self._size >= self.max_bytes:
            self._rotate()

    def _append(self, data: bytes | bytearray) -> None:
        if not data:
            return
        view, written = memoryview(data), 0
        try:
            while written < len(data):
                written += os.write(self._fd, view[written:])
        except OSError:
            try:  # no half line stays behind (a full disk may take part of a write)
                os.ftruncate(self._fd, self._size)
            except OSError:
                self._torn = True
            raise
        self._size += written
        self._torn = False

    def _checkpoint(self) -> dict[str, float]:
        self._sync()
        self._size = os.fstat(self._fd).st_size
        if self._size >= self.max_bytes:
            self._rotate()
        if self._unsynced_entry:  # the file's own name, created by _open
            self._sync_directory()
        head = os.pread(self._fd, min(self._size, HEAD_BYTES), 0)
        return {"bytes": self._size, "inode": _inode(os.fstat(self._fd)),
                "head": zlib.crc32(head)}

    def _restore(self, position: Mapping[str, float]) -> None:
        try:
            size, inode, head = (int(position[key]) for key in ("bytes", "inode", "head"))
        except (KeyError, TypeError, ValueError):
            logger.warning("results file %s: the checkpoint holds no position of it (%r); "
                           "appending at its end", self.path, position)
            return
        found = next((index for index in range(self.backups + 1)
                      if _holds(self._name(index), size, inode, head)), None)
        if found is None:
            logger.warning(
                "results file %s does not hold the checkpoint's position (%d bytes of the "
                "file then; now %d bytes): it was truncated, rotated or replaced outside "
                "driftd. Appending at its end: results since the checkpoint may be in it "
                "twice", self.path, size, self._size)
            return
        if found:
            self._undo_rotations(found)
        if self._size > size:
            logger.info("results file %s: cut %d bytes written after the checkpoint "
                        "(they are written again)", self.path, self._size - size)
            os.ftruncate(self._fd, size)
            self._size = size
        self._torn = False

    def _undo_rotations(self, count: int) -> None:
        """Make ``path.<count>`` the current file again: the newer files were all
        written after the checkpoint (its rotation was never stored)."""
        logger.info("results file %s: undoing %d rotation(s) made after the checkpoint",
                    self.path, count)
        self._reopening(lambda: self._rename_down(count))

    def _rename_down(self, count: int) -> None:
        for index in range(count):
            self._name(index).unlink(missing_ok=True)
        for index in range(count, self.backups + 1):
            if self._name(index).exists():
                os.replace(self._name(index), self._name(index - count))

    def _rotate(self) -> None:
        """``path`` -> ``path.1`` -> ... -> ``path.<backups>`` (deleted); a new file."""
        self._sync()
        self._reopening(self._rename_up)

    def _rename_up(self) -> None:
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        self._name(self.backups).unlink(missing_ok=True)
        for index in range(self.backups - 1, -1, -1):
            if self._name(index).exists():
                os.replace(self._name(index), self._name(index + 1))

    def _reopening(self, rename: Callable[[], None]) -> None:
        os.close(self._fd)
        self._fd = -1
        try:
            rename()
            self._sync_directory()
        finally:
            self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError as error:  # a file where a directory should be
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR),
                                     error.filename) from None
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                           0o644)
        self._size = os.fstat(self._fd).st_size
        self._unsynced_entry = True
        self._torn = self._size > 0 and os.pread(self._fd, 1, self._size - 1) != b"\n"
        if self._torn:
            logger.warning("results file %s ends inside a line (a crash while writing): "
                           "the next record starts on a new line", self.path)

    def _sync(self) -> None:
        if self._fsync:
            os.fsync(self._fd)

    def _sync_directory(self) -> None:
        if self._fsync:  # names survive a power loss before the checkpoint naming them
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        self._unsynced_entry = False

    def _name(self, index: int) -> Path:
        return self.path if index == 0 else self.path.with_name(f"{self.path.name}.{index}")

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except OSError as error:
            reason = error.strerror or str(error)
            if error.filename is not None and str(error.filename) != str(self.path):
                reason += f": {error.filename}"  # a parent directory, or a backup
            raise ResultsSinkError(f"cannot {doing} the results file {self.path}: "
                                   f"{reason}") from error


def _holds(path: Path, size: int, inode: int, head: int) -> bool:
    """Whether ``path`` is the file a position was taken of, at least ``size`` long."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    return _inode(stat) == inode and stat.st_size >= size and _head(path, size) == head


def _inode(stat: os.stat_result) -> int:
    return stat.st_ino & INODE_MASK


def _head(path: Path, size: int) -> int:
    with path.open("rb") as file:
        return zlib.crc32(file.read(min(size, HEAD_BYTES)))
