"""The accept loop and the open connections of one HTTP listener, on its own event loop.

One asyncio loop on one thread serves every connection of the listener (see
``http_connection``); the listener bounds the connections it holds and closes them all
within a few seconds when it stops. Both the metrics server (``sinks.http``) and the
HTTP ingest source (``sources.http_ingest``) run one, each with its own handler.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable

from driftd.sinks.http_connection import TLS_HANDSHAKE, Connection, Handler, HttpLimits
from driftd.sinks.web_tls import ServerTls

logger = logging.getLogger("driftd.sinks.http")

# The kernel's queue of connections not accepted yet costs no descriptors; at 100, a
# burst of 400 connects overflowed it and each overflow cost its client a 1 s SYN retry.
LISTEN_BACKLOG = 1024
ACCEPT_RETRY_SECONDS = 0.1
# A few accepts per wakeup drain a burst of connects sooner; the descriptors of the
# connections closed to make room are released on the loop's next pass.
ACCEPTS_PER_WAKEUP = 16
STOP_GRACE_SECONDS = 2.0  # how long stop() lets requests in progress finish
WARN_EVERY_SECONDS = 60.0
PLAIN_ON_TLS = (b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when the host has a colon)."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)


class Listener:
    """The loop thread, the listening socket and the open connections of a started server;
    every request is answered by ``handler``, on the loop.

    At ``max_connections`` a new connection closes the oldest one that has no request
    in progress, so idle or stalled clients can never lock out a request. With ``tls``,
    each new connection is wrapped in the context it returns then (None: plain HTTP).
    """

    def __init__(self, sock: socket.socket, handler: Handler, limits: HttpLimits, *,
                 name: str = "driftd-http",
                 tls: Callable[[], ServerTls | None] | None = None) -> None:
        self.port = int(sock.getsockname()[1])
        self._handler = handler
        self._tls = tls
        self._limits = limits
        self._connections: dict[Connection, asyncio.Task[None]] = {}  # oldest first
        self._evicted = 0
        self._warned_at = -WARN_EVERY_SECONDS
        self._acceptor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # strong references while they run
        self._opening = 0  # accepted, streams not set up yet: they count against the limit
        self._closing = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name,
                                        daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(sock), self._loop).result(timeout=10)
        except BaseException:
            sock.close()
            self.close()
            raise

    async def _open(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._acceptor = asyncio.create_task(self._accept_forever(sock))

    def close(self) -> int:
        """Stop listening and close every connection; how many were open."""
        closing = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        closed = 0
        try:
            closed = closing.result(timeout=STOP_GRACE_SECONDS + 2.0)
        except TimeoutError:
            logger.warning("HTTP connections still open at stop; dropping them")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
        return closed

    async def _shutdown(self) -> int:
        self._closing = True
        if self._acceptor is not None:
            self._acceptor.cancel()
            await asyncio.wait([self._acceptor])
        open_connections = len(self._connections)
        for connection in list(self._connections):
            if not connection.busy:
                connection.abort()
        if self._connections:  # requests in progress get a moment to finish
            await asyncio.wait(self._connections.values(), timeout=STOP_GRACE_SECONDS)
        for connection, task in list(self._connections.items()):
            connection.abort()
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections.values(), timeout=1.0)
        return open_connections

    async def _accept_forever(self, listener: socket.socket) -> None:
        """Accept connections, closing the oldest idle one for each beyond the limit.

        asyncio's ``start_server`` accepts up to a backlog of connections before any of
        them is seen, which ran a process limited to 256 descriptors out of them; here at
        most ``ACCEPTS_PER_WAKEUP`` are over the limit until the loop's next pass.
        """
        loop = asyncio.get_running_loop()
        try:
            while True:
                await _readable(loop, listener)
                for _ in range(ACCEPTS_PER_WAKEUP):
                    try:
                        sock, _ = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as error:  # out of descriptors or buffers: shed, retry
                        self._make_room()
                        self._warn(f"accepting a connection failed ({error})")
                        await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                        break
                    if len(self._connections) + self._opening >= self._limits.max_connections:
                        self._make_room()
                    self._opening += 1
                    self._tasks.add(task := asyncio.create_task(self._serve(sock)))
                    task.add_done_callback(self._tasks.discard)
        finally:
            listener.close()

    async def _serve(self, sock: socket.socket) -> None:
        try:
            streams = await self._open_streams(sock)
        except BaseException:
            sock.close()
            raise
        finally:
            self._opening -= 1
        if streams is None:
            return
        reader, writer = streams
        connection = Connection(reader, writer, self._handler, self._limits)
        task = asyncio.current_task()
        assert task is not None
        self._connections[connection] = task
        if self._closing:
            connection.abort()
        try:
            await connection.serve()
        finally:
            self._connections.pop(connection, None)

    async def _open_streams(
            self, sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The connection's streams, after the TLS handshake if TLS is on; None when the
        handshake fails or the client certificate has no allowed SAN (then it is closed)."""
        tls = self._tls() if self._tls is not None else None
        if tls is not None and not await self._speaks_tls(sock):
            return None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, sock, ssl=tls.context if tls else None,
                ssl_handshake_timeout=self._limits.read_timeout_seconds if tls else None)
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            logger.debug("TLS handshake with a client failed: %s", error)
            sock.close()
            return None
        if tls is not None and not tls.admits(transport.get_extra_info("peercert")):
            logger.debug("closing %s: client certificate has no allowed SAN",
                         transport.get_extra_info("peername"))
            transport.abort()
            return None
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    async def _speaks_tls(self, sock: socket.socket) -> bool:
        """Whether the client's first byte opens a TLS handshake. A plain HTTP request
        on the TLS port is answered 400 in plain text, as Go's servers do, rather than
        with a TLS alert that the client cannot read."""
        try:
            async with asyncio.timeout(self._limits.read_timeout_seconds):
                await _readable(asyncio.get_running_loop(), sock)
            first = sock.recv(1, socket.MSG_PEEK)
            if first == bytes([TLS_HANDSHAKE]):
                return True
            if first:
                sock.recv(65_536)  # read what came, so that the close sends no reset
                sock.send(PLAIN_ON_TLS)
        except (TimeoutError, OSError):
            pass
        sock.close()
        return False

    def _make_room(self) -> None:
        oldest_idle = next((c for c in self._connections if not c.busy), None)
        if oldest_idle is None:
            # Every slot has a request in progress (each bounded by the timeouts): the
            # newcomer joins anyway, and is the oldest idle one for the next newcomer,
            # so the table never holds more than one connection over the limit.
            return
        del self._connections[oldest_idle]
        oldest_idle.abort()
        self._evicted += 1
        logger.debug("at %d connections: closed the oldest idle one, %s",
                     self._limits.max_connections, oldest_idle.peer)
        self._warn(f"connection limit ({self._limits.max_connections}) reached")

    def _warn(self, problem: str) -> None:
        """Warn at most once a minute, with the idle connections closed since."""
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            logger.warning("HTTP %s: closing the oldest idle connection for each new one "
                           "(%d closed since the last warning)", problem, self._evicted)
            self._warned_at, self._evicted = now, 0


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Wait until the listener has a connection to accept."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())
