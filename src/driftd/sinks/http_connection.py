"""One HTTP/1.1 client connection: request heads parsed by h11 within deadlines, answered;
a request body is read only when the handler asks for it, within its size bound."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus

import h11

logger = logging.getLogger("driftd.sinks.http")

TEXT = "text/plain; charset=utf-8"
# A body left unread is drained this far before the connection closes (see _discard).
DISCARD_BYTES = 16 * 1_048_576
DISCARD_SECONDS = 2.0
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


class Body:
    """The body of the request being answered, read on demand (see ``read``)."""

    def __init__(self, read: Callable[[int], Awaitable[bytes | None]]) -> None:
        self._read = read

    async def read(self, max_bytes: int) -> bytes | None:
        """The whole body, or None when it is longer than ``max_bytes`` (then the rest
        is never read and the connection closes after the reply). A body that does not
        arrive within ``read_timeout_seconds`` of the head ends the connection."""
        return await self._read(max_bytes)


Handler = Callable[[h11.Request, Body], Awaitable[Reply]]


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
            body_deadline = self._loop.time() + self._limits.read_timeout_seconds
            reply = await self._handler(
                request, Body(functools.partial(self._read_body, request,
                                                deadline=body_deadline)))
            # A body the handler did not read (not expected with GET or HEAD) is left
            # unread: the connection is closed after the reply.
            complete = (self._h11.their_state is h11.DONE
                        or isinstance(self._h11.next_event(), h11.EndOfMessage))
            logger.debug('%s "%s %s HTTP/%s" %d %d', self.peer, request.method.decode(),
                         request.target.decode("ascii", "replace"),
                         request.http_version.decode(), reply.status, len(reply.body))
            await self._send(reply, close=not complete, head_only=request.method == b"HEAD")
            self.busy = False
            if not complete:
                await self._discard()
                return
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

    async def _read_body(self, request: h11.Request, max_bytes: int, *,
                         deadline: float) -> bytes | None:
        """The request's body, or None beyond ``max_bytes`` (a declared Content-Length
        beyond it is refused before a byte of the body is read)."""
        if self._h11.their_state is h11.DONE:
            return b""
        declared = _content_length(request)
        if declared is not None and declared > max_bytes:
            return None
        if self._h11.they_are_waiting_for_100_continue:
            self._writer.write(self._h11.send(h11.InformationalResponse(
                status_code=100, headers=[])) or b"")
        chunks: list[bytes] = []
        size = 0
        while True:
            event = self._h11.next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > max_bytes:
                    return None
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            elif event is h11.NEED_DATA:
                async with asyncio.timeout_at(deadline):
                    data = await self._reader.read(65_536)
                if not data:
                    raise ConnectionError("the peer closed before the end of the body")
                self._h11.receive_data(data)
            else:
                raise ConnectionError("the peer closed before the end of the body")

    async def _discard(self) -> None:
        """After a reply to a request whose body was left unread (413, or a body where
        none is expected): signal the end of our side, then read and drop what the peer
        still sends, within ``DISCARD_BYTES`` and ``DISCARD_SECONDS``. Closing with
        unread data would reset the connection, and a client still sending its body
        (most do before they read) would lose the reply."""
        if self._writer.can_write_eof():
            self._writer.write_eof()
        left = DISCARD_BYTES
        try:
            async with asyncio.timeout(min(DISCARD_SECONDS, self._limits.read_timeout_seconds)):
                while left > 0 and (data := await self._reader.read(min(left, 65_536))):
                    left -= len(data)
        except (TimeoutError, ConnectionError):
            pass

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
        # One write for head and body: written event by event, a small response left in
        # two TCP segments (TCP_NODELAY), and a client reading once saw only its head.
        buffers = [buffer for event in events
                   for buffer in self._h11.send_with_data_passthrough(event) or []]
        self._writer.writelines(buffers)
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


def _content_length(request: h11.Request) -> int | None:
    """The request's Content-Length (h11 has checked it is one valid number), if any."""
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)
    return None


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
