"""One HTTP/1.1 client connection: request heads parsed by h11 within deadlines, answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus

import h11

logger = logging.getLogger("driftd.sinks.http")

TEXT = "text/plain; charset=utf-8"
TLS_HANDSHAKE = 0x16  # first byte of a TLS record carrying a ClientHello; never in a method


@dataclass(frozen=True)
class HttpLimits:
    """Bounds of every connection; each one must be positive."""

    max_connections: int = 64
    read_timeout_seconds: float = 10.0
    idle_timeout_seconds: float = 120.0
    write_timeout_seconds: float = 10.0
    max_request_head_bytes: int = 16_384

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class Reply:
    """A complete response: status, body and the headers beyond the framing ones."""

    status: HTTPStatus
    body: bytes
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[h11.Request], Awaitable[Reply]]


class Connection:
    """Serves the requests of one client until it closes, errs or stays silent too long.

    The first request head must arrive within ``read_timeout_seconds`` of the accept;
    a later one may wait ``idle_timeout_seconds`` for its first byte and then has
    ``read_timeout_seconds`` to complete, so a client trickling bytes is cut.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 handler: Handler, limits: HttpLimits) -> None:
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._limits = limits
        self._h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=limits.max_request_head_bytes)
        self._loop = asyncio.get_running_loop()
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.busy = False  # a request head was read and its response is not sent yet

    def abort(self) -> None:
        """Drop the connection at once (no flush); its serve() then returns."""
        self._writer.transport.abort()

    async def serve(self) -> None:
        """Answer requests until the connection ends; never raises but CancelledError."""
        try:
            await self._serve()
        except TimeoutError:
            logger.debug("closing %s: timed out", self.peer)
            self.abort()  # a graceful close would wait on a peer that does not read
        except (ConnectionError, h11.ProtocolError) as error:
            logger.debug("closing %s: %s", self.peer, error)
        except Exception:
            logger.exception("serving %s failed", self.peer)
        finally:
            await self._close()

    async def _serve(self) -> None:
        deadline = self._loop.time() + self._limits.read_timeout_seconds
        head_deadline: float | None = deadline
        while True:
            request = await self._read_head(deadline, head_deadline)
            if request is None:
                return
            self.busy = True
            # A request with a body (not expected with GET or HEAD) is answered, then
            # the connection closed instead of reading the body.
            complete = isinstance(self._h11.next_event(), h11.EndOfMessage)
            reply = await self._handler(request)
            logger.debug('%s "%s %s HTTP/%s" %d %d', self.peer, request.method.decode(),
                         request.target.decode("ascii", "replace"),
                         request.http_version.decode(), reply.status, len(reply.body))
            await self._send(reply, close=not complete, head_only=request.method == b"HEAD")
            self.busy = False
            if self._h11.our_state is not h11.DONE or self._h11.their_state is not h11.DONE:
                return
            self._h11.start_next_cycle()
            deadline = self._loop.time() + self._limits.idle_timeout_seconds
            head_deadline = None

    async def _read_head(self, idle_deadline: float,
                         head_deadline: float | None) -> h11.Request | None:
        """The next request head, or None once the peer closed or a bad head was answered."""
        first = self._h11.their_http_version is None
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as error:
                status = HTTPStatus(error.error_status_hint)
                await self._reject(status, f"{status.phrase.lower()}\n", str(error))
                return None
            if isinstance(event, h11.Request):
                return event
            if event is not h11.NEED_DATA:
                return None  # ConnectionClosed
            if head_deadline is None and self._h11.trailing_data[0]:
                head_deadline = self._loop.time() + self._limits.read_timeout_seconds
            # Never more than one byte past the head limit in h11's buffer: h11 checks
            # the limit only while a head is incomplete, so a complete head that came in
            # one large read would otherwise pass at any size.
            room = self._limits.max_request_head_bytes + 1 - len(self._h11.trailing_data[0])
            async with asyncio.timeout_at(
                    idle_deadline if head_deadline is None else head_deadline):
                data = await self._reader.read(max(room, 1))
            if data and head_deadline is None:
                head_deadline = self._loop.time() + self._limits.read_timeout_seconds
            self._h11.receive_data(data)
            problem = _not_http(self._h11.trailing_data[0]) if first else None
            if problem is not None:
                await self._reject(HTTPStatus.BAD_REQUEST, problem, problem.strip())
                return None

    async def _reject(self, status: HTTPStatus, text: str, why: str) -> None:
        logger.debug("answering %s with %d and closing: %s", self.peer, status, why)
        await self._send(Reply(status, text.encode()), close=True, head_only=False)

    async def _send(self, reply: Reply, *, close: bool, head_only: bool) -> None:
        headers = [("Content-Type", reply.content_type),
                   ("Content-Length", str(len(reply.body))), *reply.headers]
        if close:
            headers.append(("Connection", "close"))
        events: list[h11.Event] = [h11.Response(
            status_code=reply.status, headers=headers, reason=reply.status.phrase.encode())]
        if not head_only:
            events.append(h11.Data(data=reply.body))
        events.append(h11.EndOfMessage())
        for event in events:  # passthrough: a large body is written without a copy
            self._writer.writelines(self._h11.send_with_data_passthrough(event) or [])
        async with asyncio.timeout(self._limits.write_timeout_seconds):
            await self._writer.drain()

    async def _close(self) -> None:
        # close() flushes what is buffered first; a peer that never reads would keep the
        # socket open forever, so the flush is bounded by the write timeout.
        self._writer.close()
        try:
            async with asyncio.timeout(self._limits.write_timeout_seconds):
                await self._writer.wait_closed()
        except (TimeoutError, OSError):
            self.abort()


def _not_http(head: bytes) -> str | None:
    """What to answer when the first bytes of a connection cannot start HTTP/1.x, or None.

    h11 only looks at a head once it is complete; an HTTP/0.9 request line has no
    version and ends with one CRLF, so its client would wait for the read timeout.
    """
    if head[:1] == bytes([TLS_HANDSHAKE]):
        return "this port speaks plain HTTP, not TLS\n"
    line, newline, _ = head.lstrip(b"\r\n").partition(b"\n")
    if newline and not line.rstrip(b"\r").rpartition(b" ")[2].startswith(b"HTTP/"):
        return "bad request: no HTTP version in the request line (HTTP/0.9 is not served)\n"
    return None
