"""The seam between event sources and the rest of driftd."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from driftd.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class RawBatch:
    """Undecoded messages of one stream, in arrival order.

    ``origins`` optionally names where each message came from (``topic[p]@offset``
    for Kafka, ``file:line`` for replay) so that a rejected event can be logged by
    its position; it is empty or as long as ``messages``. ``key`` selects the decoder
    (the topic, whose field paths may differ); empty means the default one.
    ``partition`` names the ordered input the batch came from (``topic[p]``), which
    event-time watermarks track separately. ``position`` is where reading resumes once
    this batch is ingested, ``(topic or file, partition, next offset)``: an offset source
    moves its position there only when the daemon acknowledges the batch.
    ``headers`` (lower-cased names) and ``times`` (the record's own time, epoch seconds)
    are per message, or empty where the source has none or the payload does not need
    them (a model-server payload carries its request id in a header, and no time).
    """

    stream: str
    messages: list[bytes]
    origins: list[str] = field(default_factory=list)
    key: str = ""
    partition: str = ""
    position: tuple[str, int, int] | None = None
    headers: list[Mapping[str, bytes]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


class Source(Protocol):
    """Anything that yields batches of raw messages; polled by the main thread only."""

    name: str

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        """Up to ``max_messages`` messages (possibly none); None once exhausted."""
        ...

    def close(self) -> None:
        """Release files, sockets and threads; idempotent."""
        ...


Offsets = Mapping[tuple[str, int], int]  # (topic or file, partition) -> next offset


class SourceSetupError(Exception):
    """A source that cannot start: settings, credentials, certificates. No retry mends it."""


class SourceUnavailable(SourceSetupError):
    """No broker answered while connecting: an outage, which a later attempt may outlast."""


class PartitionListener(Protocol):
    """Told about partition moves; ``revoked`` is the last chance to checkpoint them."""

    def revoked(self, partitions: list[tuple[str, int]]) -> None: ...

    def assigned(self, partitions: list[tuple[str, int]]) -> None: ...


@runtime_checkable
class Instrumented(Protocol):
    """A source that counts what it refuses itself (an HTTP listener's answers): the
    daemon hands it its telemetry before starting it."""

    def instrument(self, telemetry: Telemetry) -> None: ...


@runtime_checkable
class FileInput(Protocol):
    """A source that is one ordered input of one stream (a file, stdin), named like the
    input key of its batches: event-time windows wait for it as for a partition."""

    name: str
    stream: str


@runtime_checkable
class OffsetSource(Protocol):
    """A source whose read position can be checkpointed and resumed."""

    name: str

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None: ...

    def close(self) -> None: ...

    def connect(self, timeout_seconds: float) -> None:
        """Reach the source within ``timeout_seconds``; SourceUnavailable if it did not
        answer (the caller retries), SourceSetupError for what no retry mends."""
        ...

    def start_from(self, offsets: Offsets) -> None:
        """Offsets to resume from (from a checkpoint), applied when reading starts."""
        ...

    def subscribe(self, listener: PartitionListener) -> None:
        """Start reading; partition moves are reported to ``listener``."""
        ...

    def partitions(self) -> list[tuple[str, int]]:
        """Every partition this source may read (whether assigned yet or not)."""
        ...

    def acknowledge(self, batch: RawBatch) -> None:
        """``batch`` (from ``poll``) is ingested: its position may now be checkpointed."""
        ...

    def positions(self) -> dict[tuple[str, int], int]:
        """Next offset per partition, counting only acknowledged batches: a batch handed
        out but never acknowledged (its ingest raised) is read again after a restart."""
        ...

    def commit(self, offsets: Offsets, *, wait: bool = True) -> bool:
        """Make ``offsets`` visible to external lag tools; False if that failed.
        ``wait=False`` from inside a partition-listener callback."""
        ...

    def lag(self) -> dict[tuple[str, int], int]: ...

    def drained(self) -> bool:
        """Everything available has been handed out."""
        ...


class ReadOnce:
    """The ``OffsetSource`` side of a source read once, in order, to its end (a file):
    its position is the number of records read, as offset of partition 0 of ``name``,
    so a checkpoint resumes it where it stopped; it has no partitions, lag or commits.
    ``resumable`` is false for a stream that cannot be re-read (stdin)."""

    name: str
    resumable = True

    def __init__(self) -> None:
        self._skip = 0  # records read before the checkpoint this run resumed from
        self._acknowledged = 0  # records whose batch the daemon has ingested
        self._done = False

    def connect(self, timeout_seconds: float) -> None:
        del timeout_seconds  # a file is there or not: the preflight and opening tell

    def start_from(self, offsets: Offsets) -> None:
        self._skip = offsets.get((self.name, 0), 0) if self.resumable else 0

    def subscribe(self, listener: PartitionListener) -> None:
        del listener  # a file has no partitions to move

    def partitions(self) -> list[tuple[str, int]]:
        return []

    def acknowledge(self, batch: RawBatch) -> None:
        if batch.position is not None and batch.position[0] == self.name:
            self._acknowledged = max(self._acknowledged, batch.position[2])

    def positions(self) -> dict[tuple[str, int], int]:
        if not self.resumable:
            return {}
        return {(self.name, 0): max(self._acknowledged, self._skip)}

    def commit(self, offsets: Offsets, *, wait: bool = True) -> bool:
        del offsets, wait
        return True

    def lag(self) -> dict[tuple[str, int], int]:
        return {}

    def drained(self) -> bool:
        return self._done
