"""HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for the orchestrator."""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"


class HealthCheck(Protocol):
    """What the probes ask; ``driftd.service.health.Health`` provides it."""

    def live(self) -> bool: ...

    def ready(self) -> tuple[bool, list[str]]: ...


class HttpServer:
    """Serves /metrics, /healthz and /readyz from daemon threads."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        metrics: Callable[[], tuple[bytes, str]],
        health: HealthCheck,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {port}")
        self._host = host
        self._port = port
        self._metrics = metrics
        self._health = health
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the one picked when 0 was asked for); only once started."""
        with self._lock:
            if self._server is None:
                raise RuntimeError("server not started")
            return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the bound address, e.g. ``http://127.0.0.1:9108``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve on a background thread; raises OSError if the bind fails."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("server already started")
            server = _Server((self._host, self._port), self._metrics, self._health)
            # A short poll interval keeps stop() quick; the loop is idle otherwise.
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1},
                name="driftd-http", daemon=True,
            )
            self._server = server
            self._thread.start()
        logger.info("serving /metrics, /healthz and /readyz on %s", self.url)

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        logger.info("HTTP server stopped")


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer carrying the endpoints' dependencies for its handlers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        metrics: Callable[[], tuple[bytes, str]],
        health: HealthCheck,
    ) -> None:
        self.metrics = metrics
        self.health = health
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can hang for seconds
        # on a host without working reverse DNS; nothing here uses the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Usually a scraper that hung up mid-response: not worth a traceback on stderr.
        logger.debug("error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """Routes a GET or HEAD to its endpoint."""

    server: _Server
    # HTTP/1.0 closes each connection after its response, so no idle keep-alive
    # connection can hold a handler thread open across stop().
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _respond(self, *, send_body: bool) -> None:
        status, body, content_type = self._route(urlsplit(self.path).path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _route(self, path: str) -> tuple[HTTPStatus, bytes, str]:
        if path == "/metrics":
            try:
                body, content_type = self.server.metrics()
            except Exception:
                logger.exception("collecting metrics failed")
                return HTTPStatus.INTERNAL_SERVER_ERROR, b"metrics collection failed\n", TEXT
            return HTTPStatus.OK, body, content_type
        if path == "/healthz":
            if self.server.health.live():
                return HTTPStatus.OK, b"ok\n", TEXT
            return HTTPStatus.SERVICE_UNAVAILABLE, b"not live\n", TEXT
        if path == "/readyz":
            ready, reasons = self.server.health.ready()
            if ready:
                return HTTPStatus.OK, b"ready\n", TEXT
            text = "".join(f"{reason}\n" for reason in reasons)
            return HTTPStatus.SERVICE_UNAVAILABLE, text.encode("utf-8"), TEXT
        return HTTPStatus.NOT_FOUND, b"not found\n", TEXT
