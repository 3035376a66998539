"""JSON-lines replay from a file or stdin."""

from __future__ import annotations

import sys
from typing import BinaryIO

from driftd.sources.base import Offsets, PartitionListener, RawBatch


class JsonlSource:
    """Reads one event (or a JSON array of events) per line; exhausted at end of file."""

    def __init__(self, path: str, *, stream: str = "predictions", batch_size: int = 5000,
                 handle: BinaryIO | None = None) -> None:
        self.name = f"jsonl:{path}"
        self._batch_size = batch_size
        self._skip = 0
        self._label = "stdin" if path == "-" else path
        self.stream = stream
        if handle is not None:
            self._handle = handle
        elif path == "-":
            self._handle = sys.stdin.buffer
        else:
            self._handle = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._owns = handle is None and path != "-"
        self._line = 0  # lines read
        self._acknowledged = 0  # lines whose batch the daemon has ingested
        self._done = False

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
        position = (self.name, 0, self._line) if self._owns else None
        return RawBatch(self.stream, messages, origins, key=self.name, position=position)

    # Resumable position: the number of lines read, as offset of partition 0 of the file.

    def connect(self, timeout_seconds: float) -> None:
        del timeout_seconds  # a file is there or not: opening it is the constructor's job

    def start_from(self, offsets: Offsets) -> None:
        self._skip = offsets.get((self.name, 0), 0) if self._owns else 0

    def subscribe(self, listener: PartitionListener) -> None:
        del listener  # a file has no partitions to move

    def partitions(self) -> list[tuple[str, int]]:
        return []

    def acknowledge(self, batch: RawBatch) -> None:
        if batch.position is not None and batch.position[0] == self.name:
            self._acknowledged = max(self._acknowledged, batch.position[2])

    def positions(self) -> dict[tuple[str, int], int]:
        return {(self.name, 0): max(self._acknowledged, self._skip)} if self._owns else {}

    def commit(self, offsets: Offsets, *, wait: bool = True) -> bool:
        del offsets, wait
        return True

    def lag(self) -> dict[tuple[str, int], int]:
        return {}

    def drained(self) -> bool:
        return self._done

    def close(self) -> None:
        if self._owns and not self._handle.closed:
            self._handle.close()
