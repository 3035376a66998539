"""HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for the orchestrator.

One asyncio loop on one thread serves every connection (HTTP/1.1 parsed by h11, see
``http_listener`` and ``http_connection``); the synchronous metrics render runs on a
single worker thread so the loop keeps answering probes meanwhile. TLS and basic auth
(exporter-toolkit web config) slot in at two places: an ``ssl.SSLContext`` where
``Listener._serve`` wraps the accepted socket in streams
(``loop.connect_accepted_socket(..., ssl=context)``; the plain-port TLS sniff in
``http_connection`` then goes), and a check of the request's headers at the top of
``_Endpoints.answer`` returning 401 with ``WWW-Authenticate``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Protocol
from urllib.parse import urlsplit

import h11

from driftd.sinks.http_connection import Body, HttpLimits, Reply
from driftd.sinks.http_listener import Listener, bind

logger = logging.getLogger(__name__)

__all__ = ["HealthCheck", "HttpServer", "HttpLimits"]

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
        self._running: tuple[Listener, _Endpoints] | None = None

    @property
    def port(self) -> int:
        """The bound port (the one picked when 0 was asked for); only once started."""
        with self._lock:
            if self._running is None:
                raise RuntimeError("server not started")
            return self._running[0].port

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
            endpoints = _Endpoints(self._metrics, self._health)
            try:
                listener = Listener(bind(self._host, self._port), endpoints.answer,
                                    self._limits)
            except BaseException:
                endpoints.close()
                raise
            self._running = (listener, endpoints)
        logger.info("serving /metrics, /healthz and /readyz on %s (at most %d connections)",
                    self.url, self._limits.max_connections)

    def stop(self) -> None:
        """Close the listener and every connection within a few seconds; idempotent."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            closed = running[0].close()
            running[1].close()
            logger.info("HTTP server stopped (closed %d open connection(s))", closed)


class _Endpoints:
    """Answers /metrics (rendered on a worker thread), /healthz and /readyz."""

    def __init__(self, metrics: Callable[[], tuple[bytes, str]], health: HealthCheck) -> None:
        self._metrics = metrics
        self._health = health
        self._render = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftd-metrics")

    def close(self) -> None:
        self._render.shutdown(wait=False, cancel_futures=True)

    async def answer(self, request: h11.Request, request_body: Body) -> Reply:
        del request_body  # none is expected: the connection closes after the reply if one came
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
