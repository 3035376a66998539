"""JSON lines, live: from stdin (a pipe, a file or a terminal) or a file, optionally
followed as it grows.

Reading happens on a thread (``sources.lines``), so ``poll`` waits at most its timeout
and hands out the lines that have come, however few. A line is handed out once its line
break has come, and a last line without one at the end of the input counts as well.

Positions: a file read once is resumed by its number of lines read (as a file source
is); a followed file by the byte offset after the last acknowledged line, as offset of
partition 0 of its name, and the file's inode, as offset of partition 1. A restart
whose file is still the same one (same inode, at least as long) resumes at that offset;
another file at the path (rotated while driftd was down) is read from its start. Lines
of a rotated file that were read but not yet ingested when driftd stopped are not read
again. stdin is never resumed.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import BinaryIO

from driftd.sources.base import Offsets, RawBatch, ReadOnce
from driftd.sources.lines import LineBuffer, LineReader, Lines

logger = logging.getLogger(__name__)

DEFAULT_MAX_LINE_BYTES = 1_048_576  # as ingest.max_message_bytes


class JsonlSource(ReadOnce):
    """One event (or a JSON array of events) per line; exhausted at the end of the input
    unless ``follow`` (a file only), which reads on as the file grows, like ``tail -F``.
    Lines longer than ``max_line_bytes`` are handed out cut to one byte more, so that the
    decoder rejects them (reason oversized) without the reader holding them whole."""

    def __init__(self, path: str, *, stream: str = "predictions", batch_size: int = 5000,
                 handle: BinaryIO | None = None, follow: bool = False,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        super().__init__()
        if follow and (path == "-" or handle is not None):
            raise ValueError("follow needs a file path, not stdin or a handle")
        self.name = f"jsonl:{path}"
        self.stream = stream
        self._path, self._label = path, "stdin" if path == "-" else path
        self._batch_size, self._follow = batch_size, follow
        self._max_line_bytes = max_line_bytes
        self._handle = handle if handle is not None or path != "-" else sys.stdin.buffer
        self.resumable = path != "-" and handle is None  # stdin cannot be read again
        self._buffer = LineBuffer()
        self._reader: LineReader | None = None
        self._resume: tuple[int, int] | None = None  # (inode, offset) from a checkpoint
        self._acknowledged_at: tuple[int, int] | None = None  # (inode, offset), followed

    def start_from(self, offsets: Offsets) -> None:
        super().start_from(offsets)
        inode = offsets.get((self.name, 1))
        if self._follow and inode is not None:
            self._skip = 0
            self._resume = (inode, offsets.get((self.name, 0), 0))

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        """The lines that came within ``timeout_seconds``, up to ``max_messages`` and
        ``batch_size``; None once the input has ended and every line is out."""
        if self._done:
            return None
        if self._reader is None:
            self._start()
        lines = self._buffer.take(min(max_messages, self._batch_size), timeout_seconds)
        if not lines:
            if self._buffer.exhausted:
                self._done = True
                return None
            return RawBatch(self.stream, [], key=self.name)
        messages: list[bytes] = []
        origins: list[str] = []
        for block in lines:
            for data, origin in zip(block.data, self._origins(block), strict=True):
                if data.strip():
                    messages.append(data)
                    origins.append(origin)
        last = lines[-1]
        position = None
        if self._follow:
            position = (self.name, last.file_id, last.ends[-1])
        elif self.resumable:
            position = (self.name, 0, last.first_number + len(last.data) - 1)
        return RawBatch(self.stream, messages, origins, key=self.name, position=position)

    def acknowledge(self, batch: RawBatch) -> None:
        if not self._follow:
            super().acknowledge(batch)
        elif batch.position is not None and batch.position[0] == self.name:
            self._acknowledged_at = (batch.position[1], batch.position[2])

    def positions(self) -> dict[tuple[str, int], int]:
        if not self._follow:
            return super().positions()
        at = self._acknowledged_at or self._resume
        if at is None:  # not started, or resuming a count of lines (read without follow)
            return super().positions() if self._skip else {}
        return {(self.name, 0): at[1], (self.name, 1): at[0]}

    def drained(self) -> bool:
        """At the end of the input (of what was written so far, when followed)."""
        if self._follow:
            return self._buffer.caught_up and self._buffer.empty
        return self._done

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._done = True

    def _start(self) -> None:
        """Open the input (at the checkpointed offset when it is the same file)."""
        offset = 0
        if self._handle is not None:
            reader = LineReader(self._label, self._buffer, handle=self._handle,
                                max_line_bytes=self._max_line_bytes, skip=self._skip)
        else:
            offset = self._resume_offset()
            reader = LineReader(self._label, self._buffer, path=self._path,
                                follow=self._follow, max_line_bytes=self._max_line_bytes,
                                skip=self._skip, offset=offset)
        if self._follow and not self._skip:  # from here on, a checkpoint names this file
            self._acknowledged_at = (reader.file_id, offset)
        reader.start()
        self._reader = reader

    def _resume_offset(self) -> int:
        if self._resume is None:
            return 0
        inode, offset = self._resume
        found = os.stat(self._path)
        if found.st_ino == inode and found.st_size >= offset:
            logger.info("%s: resuming at byte %d", self._label, offset)
            return offset
        logger.warning("%s is not the file of the checkpoint (rotated or truncated since): "
                       "reading it from its start", self._label)
        return 0

    def _origins(self, block: Lines) -> list[str]:
        if self._follow:  # after a resume, lines are not counted: name them by offset
            return [f"{self._label}@{start}" for start in block.starts()]
        first = block.first_number
        return [f"{self._label}:{n}" for n in range(first, first + len(block.data))]
