"""The seam between event sources and the rest of driftd."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Undecoded messages of one stream, in arrival order.

    ``origins`` optionally names where each message came from (``topic[p]@offset``
    for Kafka, ``file:line`` for replay) so that a rejected event can be logged by
    its position; it is empty or as long as ``messages``.
    """

    stream: str
    messages: list[bytes]
    origins: list[str] = field(default_factory=list)


class Source(Protocol):
    """Anything that yields batches of raw messages; polled by the main thread only."""

    name: str

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        """Up to ``max_messages`` messages (possibly none); None once exhausted."""
        ...

    def close(self) -> None:
        """Release files, sockets and threads; idempotent."""
        ...
