"""Lines of a file, pipe or terminal, read on a thread into a bounded buffer.

The main thread must never wait on its input longer than a poll's timeout, and a pipe
or a terminal gives no way to ask how much is there. So a reader thread does the
waiting: it splits what it reads into lines and hands them over through a buffer
bounded in bytes; when the buffer is full the thread stops reading (a writer on a pipe
then blocks, as on any slow reader). A followed file is read like ``tail -F``: at its
end the thread checks every ``FOLLOW_INTERVAL_SECONDS`` whether it grew, was truncated
(then read again from its start) or was replaced (rotated: the new file is read from
its start once the old one is read to its end).
"""

from __future__ import annotations

import itertools
import logging
import os
import selectors
import stat
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

logger = logging.getLogger(__name__)

CHUNK_BYTES = 65_536
BUFFER_BYTES = 16 * 1_048_576  # lines read but not yet handed out, at most (plus one line)
FOLLOW_INTERVAL_SECONDS = 0.05
WAKE_SECONDS = 0.1  # how often a blocked reader looks whether it was asked to stop


@dataclass(frozen=True, slots=True)
class Lines:
    """Consecutive lines of one file, without their line breaks (each cut at
    ``max_bytes + 1`` bytes when longer, so that the decoder rejects it as oversized)."""

    data: list[bytes]
    first_number: int  # 1-based, counted from where reading began in this file
    file_id: int  # the file's inode when followed, else 0
    start: int  # byte offset of the first line
    ends: list[int]  # byte offset after each line's break

    def starts(self) -> list[int]:
        return [self.start, *self.ends[:-1]]

    def split(self, count: int) -> tuple[Lines, Lines]:
        """The first ``count`` lines, and the others."""
        rest = Lines(self.data[count:], self.first_number + count, self.file_id,
                     self.ends[count - 1], self.ends[count:])
        return Lines(self.data[:count], self.first_number, self.file_id, self.start,
                     self.ends[:count]), rest


class _Splitter:
    """Cuts a byte stream into lines, holding at most ``max_bytes + 1`` of a partial one."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._pending = bytearray()
        self._seen = 0  # bytes of the partial line, including those cut off
        self.start = 0  # byte offset of the partial line

    def reset(self, offset: int) -> None:
        self._pending.clear()
        self._seen, self.start = 0, offset

    @property
    def consumed(self) -> int:
        return self.start + self._seen

    def feed(self, chunk: bytes) -> tuple[list[bytes], list[int], int]:
        """The lines completed by ``chunk``, the byte offset after each, and the offset
        of the first."""
        parts = chunk.split(b"\n")
        start = self.start
        self._add(parts[0])
        if len(parts) == 1:
            return [], [], start
        lengths = [self._seen, *map(len, parts[1:-1])]
        lines = [bytes(self._pending), *parts[1:-1]]
        if max(lengths) > self._max:
            lines = [line[:self._max + 1] for line in lines]
        ends = list(itertools.accumulate((n + 1 for n in lengths), initial=start))[1:]
        self.reset(ends[-1])
        self._add(parts[-1])
        return lines, ends, start

    def flush(self) -> tuple[list[bytes], list[int], int]:
        """The partial line as a line (at the end of the input), if there is one."""
        start, end = self.start, self.consumed
        if not self._seen:
            return [], [], start
        line = bytes(self._pending)
        self.reset(end)
        return [line], [end], start

    def _add(self, piece: bytes) -> None:
        room = self._max + 1 - len(self._pending)
        if room > 0:
            self._pending += piece[:room]
        self._seen += len(piece)


class LineBuffer:
    """Lines handed from the reader thread to the main thread, bounded in bytes."""

    def __init__(self, max_bytes: int = BUFFER_BYTES) -> None:
        self._blocks: deque[Lines] = deque()
        self._bytes, self._max = 0, max_bytes
        self._ready = threading.Condition()
        self._finished = False  # no more lines will come
        self.caught_up = False  # the reader is at the end of what was written so far

    def put(self, lines: Lines, stop: threading.Event) -> bool:
        """Add ``lines``, waiting while the buffer is full; False if stopped meanwhile."""
        size = sum(map(len, lines.data))
        with self._ready:
            while self._bytes >= self._max and self._blocks:
                if stop.is_set():
                    return False
                self._ready.wait(WAKE_SECONDS)
            self._blocks.append(lines)
            self._bytes += size
            self._ready.notify_all()
        return True

    def finish(self) -> None:
        with self._ready:
            self._finished = True
            self._ready.notify_all()

    def take(self, max_lines: int, timeout_seconds: float) -> list[Lines]:
        """Up to ``max_lines`` lines, waiting at most ``timeout_seconds`` for the first."""
        taken: list[Lines] = []
        with self._ready:
            self._ready.wait_for(lambda: self._blocks or self._finished, timeout_seconds)
            while self._blocks and max_lines > 0:
                block = self._blocks.popleft()
                if len(block.data) > max_lines:
                    block, rest = block.split(max_lines)
                    self._blocks.appendleft(rest)
                taken.append(block)
                max_lines -= len(block.data)
                self._bytes -= sum(map(len, block.data))
            self._ready.notify_all()
        return taken

    @property
    def exhausted(self) -> bool:
        with self._ready:
            return self._finished and not self._blocks

    @property
    def empty(self) -> bool:
        with self._ready:
            return not self._blocks


class LineReader:
    """Reads ``handle`` (or, when following, the file at ``path``) on a daemon thread.

    ``skip`` lines are passed over first; a followed file may instead start at byte
    ``offset``. The reader never closes a handle it was given, only files it opened.
    """

    def __init__(self, label: str, buffer: LineBuffer, *, max_line_bytes: int,
                 handle: BinaryIO | None = None, path: str | None = None,
                 follow: bool = False, skip: int = 0, offset: int = 0) -> None:
        self._label, self._buffer, self._follow = label, buffer, follow
        self._splitter = _Splitter(max_line_bytes)
        self._skip, self._number = skip, 0
        self._stop = threading.Event()
        self._path, self._handle = path, handle
        self._owns = handle is None  # a handle given is its owner's to close
        self._selector: selectors.BaseSelector | None = None
        self._fd = -1 if handle is not None else os.open(str(path), os.O_RDONLY)
        self.file_id = os.fstat(self._fd).st_ino if follow else 0
        if offset:
            os.lseek(self._fd, offset, os.SEEK_SET)
            self._splitter.reset(offset)
        self._read = self._reader()
        self._thread = threading.Thread(target=self._run, name=f"driftd-read {label}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (within ``WAKE_SECONDS``) and close the file it opened."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * WAKE_SECONDS + 1)
        if self._thread.is_alive():
            return  # still in a read: the thread is a daemon and ends with the process
        if self._selector is not None:
            self._selector.close()
        if self._owns and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _reader(self) -> Callable[[], bytes | None]:
        """What reads the next chunk: b"" at the end, None when nothing came in time."""
        handle = self._handle
        if handle is not None:
            try:
                self._fd = handle.fileno()
            except (OSError, ValueError):  # in memory (io.BytesIO): it never waits
                self._fd = -1
                return lambda: handle.read(CHUNK_BYTES)
        fd = self._fd
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return lambda: os.read(fd, CHUNK_BYTES)
        selector = self._selector = selectors.DefaultSelector()  # a pipe, socket or tty
        selector.register(fd, selectors.EVENT_READ)

        def read() -> bytes | None:
            return os.read(fd, CHUNK_BYTES) if selector.select(WAKE_SECONDS) else None
        return read

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._read()
                if chunk:
                    self._buffer.caught_up = False
                    if not self._hand_over(self._splitter.feed(chunk)):
                        return
                elif chunk is not None and not self._at_end():
                    return
        except OSError as error:
            logger.error("reading %s failed: %s; no more lines are read from it",
                         self._label, error)
        finally:
            self._buffer.finish()

    def _at_end(self) -> bool:
        """At the end of the input: False when reading is over, True to read on."""
        if not self._follow:
            self._hand_over(self._splitter.flush())
            return False
        self._buffer.caught_up = True
        if not self._replaced():
            self._stop.wait(FOLLOW_INTERVAL_SECONDS)
        return True

    def _replaced(self) -> bool:
        """Reopen the path if another file is there now (rotation); read the file again
        from its start if it shrank (truncation). False if neither happened."""
        try:
            current = os.stat(str(self._path))
        except FileNotFoundError:
            return False  # moved away and not re-created yet: wait for it
        opened = os.fstat(self._fd)
        if (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev):
            while chunk := os.read(self._fd, CHUNK_BYTES):  # written before the rename
                if not self._hand_over(self._splitter.feed(chunk)):
                    return True  # stopped: _run ends
            self._hand_over(self._splitter.flush())  # its writer has moved on
            fd = os.open(str(self._path), os.O_RDONLY)
            os.close(self._fd)
            self._fd, self.file_id = fd, os.fstat(fd).st_ino
            self._read = self._reader()
            logger.info("%s was replaced (rotated): reading the new file from its start",
                        self._label)
        elif opened.st_size < self._splitter.consumed:
            os.lseek(self._fd, 0, os.SEEK_SET)
            logger.warning("%s was truncated: reading it again from its start", self._label)
        else:
            return False
        self._splitter.reset(0)
        self._number = 0
        return True

    def _hand_over(self, found: tuple[list[bytes], list[int], int]) -> bool:
        data, ends, start = found
        if not data:
            return True
        block = Lines(data, self._number + 1, self.file_id, start, ends)
        self._number += len(data)
        if self._skip:  # lines read before the checkpoint this run resumed from
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            if skipped == len(data):
                return True
            block = block.split(skipped)[1]
        return self._buffer.put(block, self._stop)
