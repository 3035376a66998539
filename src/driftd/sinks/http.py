"""HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for the orchestrator.

One asyncio loop on one thread serves every connection; the synchronous metrics render
runs on a single worker thread so the loop keeps answering probes meanwhile. TLS and
basic auth (exporter-toolkit web config) slot in at two places: an ``ssl.SSLContext``
for ``asyncio.start_server`` in ``_open`` (the plain-port TLS sniff then goes), and a
check of the request's headers at the top of ``_answer``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Protocol
from urllib.parse import urlsplit

import h11

from driftd.sinks.http_connection import Connection, HttpLimits, Reply

logger = logging.getLogger(__name__)

__all__ = ["HealthCheck", "HttpServer", "HttpLimits"]

LISTEN_BACKLOG = 100
STOP_GRACE_SECONDS = 2.0  # how long stop() lets requests in progress finish
WARN_EVERY_SECONDS = 60.0


class HealthCheck(Protocol):
    """What the probes ask; ``driftd.service.health.Health`` provides it."""

    def live(self) -> bool: ...

    def ready(self) -> tuple[bool, list[str]]: ...


class HttpServer:
    """Serves /metrics, /healthz and /readyz within ``limits`` from one event loop.

    At ``max_connections`` a new connection closes the oldest one that has no request
    in progress, so idle or stalled clients can never lock out a scrape.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        metrics: Callable[[], tuple[bytes, str]],
        health: HealthCheck,
        limits: HttpLimits | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        self._host = host
        self._port = port
        self._metrics = metrics
        self._health = health
        self._limits = limits or HttpLimits()
        self._lock = threading.Lock()
        self._running: _Running | None = None

    @property
    def port(self) -> int:
        """The bound port (the one picked when 0 was asked for); only once started."""
        with self._lock:
            if self._running is None:
                raise RuntimeError("server not started")
            return self._running.port

    @property
    def url(self) -> str:
        """Base URL of the bound address, e.g. ``http://127.0.0.1:9108``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve on a background thread; raises OSError if the bind fails."""
        with self._lock:
            if self._running is not None:
                raise RuntimeError("server already started")
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            sock = socket.create_server((self._host, self._port), family=family,
                                        backlog=LISTEN_BACKLOG)
            self._running = _Running(sock, self._metrics, self._health, self._limits)
        logger.info("serving /metrics, /healthz and /readyz on %s (at most %d connections)",
                    self.url, self._limits.max_connections)

    def stop(self) -> None:
        """Close the listener and every connection within a few seconds; idempotent."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            running.close()
            logger.info("HTTP server stopped")


class _Running:
    """The loop thread, the listener and the open connections of a started server."""

    def __init__(self, sock: socket.socket, metrics: Callable[[], tuple[bytes, str]],
                 health: HealthCheck, limits: HttpLimits) -> None:
        self.port = int(sock.getsockname()[1])
        self._metrics = metrics
        self._health = health
        self._limits = limits
        self._render = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftd-metrics")
        self._connections: dict[Connection, asyncio.Task[None]] = {}  # oldest first
        self._evicted = 0
        self._warned_at = -WARN_EVERY_SECONDS
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="driftd-http",
                                        daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(sock), self._loop).result(timeout=10)
        except BaseException:
            sock.close()
            self.close()
            raise

    async def _open(self, sock: socket.socket) -> None:
        self._server = await asyncio.start_server(
            self._accept, sock=sock, backlog=LISTEN_BACKLOG,
            limit=self._limits.max_request_head_bytes)

    def close(self) -> None:
        closing = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            closing.result(timeout=STOP_GRACE_SECONDS + self._limits.write_timeout_seconds)
        except TimeoutError:
            logger.warning("HTTP connections still open at stop; dropping them")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
        self._render.shutdown(wait=False, cancel_futures=True)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            if not connection.busy:
                connection.abort()
        if not self._connections:
            return
        await asyncio.wait(self._connections.values(), timeout=STOP_GRACE_SECONDS)
        for connection, task in list(self._connections.items()):
            connection.abort()
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections.values(), timeout=1.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(reader, writer, self._answer, self._limits)
        if len(self._connections) >= self._limits.max_connections:
            self._make_room(connection)
        task = asyncio.current_task()
        assert task is not None  # start_server runs each client in a task of its own
        self._connections[connection] = task
        try:
            await connection.serve()
        finally:
            self._connections.pop(connection, None)

    def _make_room(self, newcomer: Connection) -> None:
        oldest_idle = next((c for c in self._connections if not c.busy), None)
        if oldest_idle is None:
            # Every slot has a request in progress (each bounded by the timeouts): the
            # newcomer joins anyway, and is the oldest idle one for the next newcomer,
            # so the table never holds more than one connection over the limit.
            return
        del self._connections[oldest_idle]
        oldest_idle.abort()
        self._evicted += 1
        logger.debug("at %d connections: closed the oldest idle one, %s, for %s",
                     self._limits.max_connections, oldest_idle.peer, newcomer.peer)
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            logger.warning("HTTP connection limit (%d) reached: closed %d idle connection(s) "
                           "to make room", self._limits.max_connections, self._evicted)
            self._warned_at, self._evicted = now, 0

    async def _answer(self, request: h11.Request) -> Reply:
        if request.method not in (b"GET", b"HEAD"):
            return Reply(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n",
                         headers=(("Allow", "GET, HEAD"),))
        path = urlsplit(request.target.decode("ascii", "replace")).path
        if path == "/metrics":
            loop = asyncio.get_running_loop()
            try:
                body, content_type = await loop.run_in_executor(self._render, self._metrics)
            except Exception:
                logger.exception("collecting metrics failed")
                return Reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"metrics collection failed\n")
            return Reply(HTTPStatus.OK, body, content_type)
        if path == "/healthz":
            if self._health.live():
                return Reply(HTTPStatus.OK, b"ok\n")
            return Reply(HTTPStatus.SERVICE_UNAVAILABLE, b"not live\n")
        if path == "/readyz":
            ready, reasons = self._health.ready()
            if ready:
                return Reply(HTTPStatus.OK, b"ready\n")
            text = "".join(f"{reason}\n" for reason in reasons)
            return Reply(HTTPStatus.SERVICE_UNAVAILABLE, text.encode("utf-8"))
        return Reply(HTTPStatus.NOT_FOUND, b"not found\n")
