"""HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for the orchestrator,
/-/reload, and a landing page on /.

One asyncio loop on one thread serves every connection (HTTP/1.1 parsed by h11, see
``http_listener`` and ``http_connection``); the synchronous metrics render runs on a
single worker thread so the loop keeps answering probes meanwhile. A web config file
(exporter-toolkit's format, ``config.web``) adds TLS (each new connection takes the
context in force, see ``web_security``) and basic auth (checked in ``http_routes``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from driftd.sinks.http_connection import HttpLimits
from driftd.sinks.http_listener import Listener, bind
from driftd.sinks.http_routes import Endpoints, Exposition, HealthCheck, Routes
from driftd.sinks.web_security import WebConfigWatch
from driftd.sinks.web_tls import ServerTls

logger = logging.getLogger(__name__)

__all__ = ["Exposition", "HealthCheck", "HttpServer", "HttpLimits"]


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
        health: HealthCheck,
        exposition: Exposition,
        limits: HttpLimits | None = None,
        web_config: Path | None = None,
        authenticate_probes: bool = False,
        reload: Callable[[], str | None] | None = None,
    ) -> None:
        """``exposition`` renders for the scraper's Accept header and ``name[]``.
        ``web_config`` is read here (ConfigError when it cannot be used) and again
        whenever it or a file it names changes. ``authenticate_probes`` False leaves
        /healthz and /readyz without basic auth (kubelet probes send no credentials).
        ``reload`` (None: /-/reload answers 403) is called on a worker thread and
        returns None once applied, else what is wrong."""
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        self._host = host
        self._port = port
        self._limits = limits or HttpLimits()
        self._web = WebConfigWatch(web_config) if web_config is not None else None
        self._routes = Routes(exposition, health, self._web,
                              authenticate_probes, reload)
        self._tls = self._web is not None and self._web.current().tls is not None
        self._lock = threading.Lock()
        self._running: tuple[Listener, Endpoints] | None = None

    @property
    def port(self) -> int:
        """The bound port (the one picked when 0 was asked for); only once started."""
        with self._lock:
            if self._running is None:
                raise RuntimeError("server not started")
            return self._running[0].port

    @property
    def url(self) -> str:
        """Base URL of the bound address, e.g. ``http://127.0.0.1:9108`` (https with TLS)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve on a background thread; raises OSError if the bind fails."""
        with self._lock:
            if self._running is not None:
                raise RuntimeError("server already started")
            endpoints = Endpoints(self._routes)
            try:
                listener = Listener(bind(self._host, self._port), endpoints.answer,
                                    self._limits, tls=self._current_tls)
            except BaseException:
                endpoints.close()
                raise
            self._running = (listener, endpoints)
        logger.info("serving /metrics, /healthz and /readyz on %s (at most %d connections%s)",
                    self.url, self._limits.max_connections,
                    f"; web config {self._web.path}" if self._web is not None else "")

    def _current_tls(self) -> ServerTls | None:
        return self._web.current().tls if self._web is not None else None

    def stop(self) -> None:
        """Close the listener and every connection within a few seconds; idempotent."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            closed = running[0].close()
            running[1].close()
            logger.info("HTTP server stopped (closed %d open connection(s))", closed)

