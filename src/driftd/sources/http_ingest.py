"""HTTP ingest: a listener whose acknowledged bodies are read back in order from a spool.

Requests are answered on the listener's thread (``http_endpoints``): a 202 means the body
is appended to the spool and fsync'd. The main thread reads the spool (``poll``) from
the position after the last acknowledged batch; the position is the spool's byte offset,
checkpointed as offset of partition 0 of the source's name, so a restart (after a kill
-9 as well) resumes after what the checkpoint holds: every acknowledged body is counted
once. Segments wholly before a checkpointed position are deleted when the checkpoint's
offsets are committed. The bytes accepted but not yet ingested are bounded by
``max_queue_bytes`` (beyond it requests are answered 429), so memory never grows with a
backlog: it waits on disk.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping

from driftd.config.http import HttpSourceConfig
from driftd.messages import MessageLimits
from driftd.sinks.http_connection import HttpLimits
from driftd.sinks.http_listener import Listener, bind
from driftd.sources.base import Offsets, PartitionListener, RawBatch, SourceSetupError
from driftd.sources.http_endpoints import Endpoints, Limits
from driftd.sources.spool import Spool, SpoolError
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)

READ_BYTES = 8 * 1_048_576  # bodies read from the spool per poll, at most (plus one)


class HttpIngestSource:
    """An ``OffsetSource`` (and one input of its stream, as a file is) fed by HTTP."""

    def __init__(self, config: HttpSourceConfig, *, messages: MessageLimits | None = None,
                 http: HttpLimits | None = None) -> None:
        self.name = config.source_name
        self.stream = config.stream
        self._config = config
        self._messages = messages or MessageLimits()
        self._http = http or HttpLimits()
        self._token = _read_token(config)
        self._spool: Spool | None = None
        self._endpoints: Endpoints | None = None
        self._socket: socket.socket | None = None
        self._listener: Listener | None = None
        self._telemetry: Telemetry | None = None
        self._resume = 0  # the checkpoint's position
        self._read_at = 0  # where the next poll reads
        self._acknowledged = 0  # after the last batch the daemon ingested
        self._closed = False
        self.serving = threading.Event()  # set once requests are answered

    @property
    def port(self) -> int:
        """The bound port (the one picked when 0 was asked for); once connected."""
        if self._socket is None:
            raise RuntimeError(f"{self.name} is not connected")
        return int(self._socket.getsockname()[1])

    def instrument(self, telemetry: Telemetry) -> None:
        """Count requests and refused bodies in the daemon's telemetry."""
        self._telemetry = telemetry
        if self._endpoints is not None:
            self._endpoints.telemetry = telemetry

    def connect(self, timeout_seconds: float) -> None:
        """Open the spool (cutting a torn last record) and bind the listening socket."""
        del timeout_seconds  # nothing remote to wait for
        if self._spool is not None:
            return
        try:
            self._spool = Spool(self._config.spool_dir,
                                segment_bytes=self._config.segment_bytes)
        except SpoolError as error:
            raise SourceSetupError(str(error)) from error
        try:
            self._socket = bind(self._config.host, self._config.port)
        except OSError as error:
            self._spool.close()
            self._spool = None
            raise SourceSetupError(f"{self.name}: cannot listen on "
                                   f"{self._config.listen}: {error}") from error

    def start_from(self, offsets: Offsets) -> None:
        self._resume = offsets.get((self.name, 0), 0)

    def subscribe(self, listener: PartitionListener) -> None:
        """Resume the spool at the checkpoint's position and start answering requests."""
        del listener  # no partitions to move
        spool, sock = self._spool, self._socket
        if spool is None or sock is None:
            raise RuntimeError(f"{self.name}: subscribe before connect")
        if self._resume > spool.end:
            logger.warning("%s: the checkpoint is at spool position %d, beyond the spool's "
                           "end (%d): was %s emptied? Continuing from there", self.name,
                           self._resume, spool.end, self._config.spool_dir)
            spool.skip_to(self._resume)
        start = max(self._resume, spool.start)
        if start > self._resume:
            logger.warning("%s: spool segments before position %d are gone; reading on "
                           "from there", self.name, start)
        self._read_at = self._acknowledged = start
        logger.info("%s: %d bytes spooled and not yet ingested; resuming at %d", self.name,
                    spool.end - start, start)
        limits = Limits(self._config.max_body_bytes, self._config.max_queue_bytes,
                        self._messages, self._config.retry_after_seconds)
        endpoints = Endpoints(spool, limits, self.queued, token=self._token)
        if self._telemetry is not None:
            endpoints.telemetry = self._telemetry
        self._endpoints = endpoints
        self._listener = Listener(sock, endpoints.answer, self._http, name="driftd-ingest")
        self.serving.set()
        logger.info("%s: accepting events on http://%s/v1/events and CloudEvents on / "
                    "(authentication %s)", self.name, self._config.listen,
                    "by bearer token" if self._token else "off")

    def queued(self) -> int:
        """Spool bytes accepted and not yet ingested."""
        return self._spool.end - self._acknowledged if self._spool is not None else 0

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        """The bodies acknowledged after the last poll, waiting at most
        ``timeout_seconds`` for the first; None once closed."""
        spool = self._spool
        if self._closed or spool is None:
            return None
        if not spool.wait(self._read_at, timeout_seconds):
            return RawBatch(self.stream, [], key=self.name)
        found = spool.read(self._read_at, max_records=min(max_messages,
                                                          self._config.batch_size),
                           max_bytes=READ_BYTES)
        if not found:
            return RawBatch(self.stream, [], key=self.name)
        starts = [self._read_at, *(end for _, end in found[:-1])]
        self._read_at = found[-1][1]
        return RawBatch(
            self.stream, [record.body for record, _ in found],
            [f"{self.name}@{start}" for start in starts], key=self.name,
            position=(self.name, 0, self._read_at),
            headers=[_headers(record.meta) for record, _ in found],
            times=[float(record.meta.get("t", 0.0)) for record, _ in found])

    def acknowledge(self, batch: RawBatch) -> None:
        if batch.position is not None and batch.position[0] == self.name:
            self._acknowledged = max(self._acknowledged, batch.position[2])

    def positions(self) -> dict[tuple[str, int], int]:
        if self._spool is None:
            return {}
        return {(self.name, 0): self._acknowledged}

    def partitions(self) -> list[tuple[str, int]]:
        return []

    def commit(self, offsets: Offsets, *, wait: bool = True) -> bool:
        """The checkpoint holds ``offsets``: delete the spool segments before them."""
        del wait
        position = offsets.get((self.name, 0))
        if self._spool is not None and position is not None:
            deleted = self._spool.release(position)
            if deleted:
                logger.debug("%s: deleted %d spool segment(s) before %d", self.name,
                             deleted, position)
        return True

    def lag(self) -> dict[tuple[str, int], int]:
        return {}

    def drained(self) -> bool:
        """Every acknowledged body has been handed out."""
        return self._spool is None or self._read_at >= self._spool.end

    def close(self) -> None:
        """Answer 503 from now on, stop the listener, then close the spool; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._endpoints is not None:
            self._endpoints.stopping = True
        if self._listener is not None:
            closed = self._listener.close()
            logger.info("%s: listener stopped (closed %d open connection(s))", self.name,
                        closed)
        elif self._socket is not None:
            self._socket.close()
        if self._endpoints is not None:
            self._endpoints.close()
        if self._spool is not None:
            self._spool.close()


def _headers(meta: Mapping[str, object]) -> dict[str, bytes]:
    found = meta.get("h")
    if not isinstance(found, dict):
        return {}
    return {str(name): str(value).encode() for name, value in found.items()}


def _read_token(config: HttpSourceConfig) -> str | None:
    if config.bearer_token_file is None:
        return None
    try:
        token = config.bearer_token_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SourceSetupError(f"{config.source_name}: cannot read bearer_token_file: "
                               f"{error}") from error
    if not token:
        raise SourceSetupError(f"{config.source_name}: bearer_token_file "
                               f"{config.bearer_token_file} is empty")
    return token
