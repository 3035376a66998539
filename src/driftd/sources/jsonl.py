"""JSON-lines replay from a file or stdin."""

from __future__ import annotations

import sys
from typing import BinaryIO

from driftd.sources.base import RawBatch, ReadOnce


class JsonlSource(ReadOnce):
    """Reads one event (or a JSON array of events) per line; exhausted at end of file."""

    def __init__(self, path: str, *, stream: str = "predictions", batch_size: int = 5000,
                 handle: BinaryIO | None = None) -> None:
        super().__init__()
        self.name = f"jsonl:{path}"
        self._batch_size = batch_size
        self._label = "stdin" if path == "-" else path
        self.stream = stream
        if handle is not None:
            self._handle = handle
        elif path == "-":
            self._handle = sys.stdin.buffer
        else:
            self._handle = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._owns = handle is None and path != "-"
        self.resumable = self._owns  # stdin cannot be read again
        self._line = 0  # lines read

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        """The next lines, up to ``max_messages``; blocks on stdin like any reader."""
        if self._done:
            return None
        max_messages = min(max_messages, self._batch_size)
        messages: list[bytes] = []
        origins: list[str] = []
        for line in self._handle:
            self._line += 1
            if self._line <= self._skip:
                continue  # already counted before the checkpoint this run resumed from
            if line.strip():
                messages.append(line)
                origins.append(f"{self._label}:{self._line}")
            if len(messages) >= max_messages:
                break
        else:
            self._done = True
        if not messages and self._done:
            return None
        position = (self.name, 0, self._line) if self.resumable else None
        return RawBatch(self.stream, messages, origins, key=self.name, position=position)

    def close(self) -> None:
        if self._owns and not self._handle.closed:
            self._handle.close()
