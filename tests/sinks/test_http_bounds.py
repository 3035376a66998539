"""The HTTP server's bounds, against a real server on a free port of 127.0.0.1.

Idle, stalled and hostile clients (hundreds of idle connections, a trickling slowloris,
HTTP/0.9, TLS bytes, oversized heads) are answered or cut within the configured limits,
and never keep a scrape from being answered.
"""

from __future__ import annotations

import http.client
import os
import selectors
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftd.sinks.http import HttpLimits, HttpServer

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
HALF_HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # no blank line: never complete


class Healthy:
    def live(self) -> bool:
        return True

    def ready(self) -> tuple[bool, list[str]]:
        return True, []


def metrics() -> tuple[bytes, str]:
    return b"driftd_up 1\n", "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture
def serve() -> Iterator[Callable[..., HttpServer]]:
    """Start servers with the given limits on 127.0.0.1:0; stop them all afterwards."""
    servers: list[HttpServer] = []

    def start(render: Callable[[], tuple[bytes, str]] = metrics, **limits: float) -> HttpServer:
        server = HttpServer("127.0.0.1", 0, exposition=lambda accept, names: render(),
                            health=Healthy(),
                            limits=HttpLimits(**limits))  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def clients() -> Iterator[list[socket.socket]]:
    """Client sockets a test opens; all closed afterwards."""
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def connect(port: int, clients: list[socket.socket], send: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    clients.append(sock)
    if send:
        sock.sendall(send)
    return sock


def scrape(base_url: str) -> tuple[int, float]:
    """Status of GET /metrics on a new connection, and the seconds it took."""
    started = time.monotonic()
    with OPENER.open(base_url + "/metrics", timeout=5) as response:
        response.read()
        return response.status, time.monotonic() - started


def exchange(port: int, clients: list[socket.socket], data: bytes) -> tuple[bytes, float]:
    """Send raw bytes on a new connection; everything answered until the server closes."""
    sock = connect(port, clients, data)
    started, received = time.monotonic(), b""
    while chunk := sock.recv(65_536):  # bounded by the socket's 5 s timeout
        received += chunk
    return received, time.monotonic() - started


def closed_by_server(socks: list[socket.socket], timeout: float) -> dict[socket.socket, float]:
    """When (monotonic) the server closed each socket; a socket still open is missing."""
    closed: dict[socket.socket, float] = {}
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        while len(closed) < len(socks) and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                assert data == b"", f"an idle connection was sent {data!r}"
                closed[sock] = time.monotonic()
                selector.unregister(sock)
    return closed


def still_open(socks: list[socket.socket]) -> list[socket.socket]:
    """The sockets the server has not closed (nothing readable, not even EOF)."""
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        readable = {key.fileobj for key, _ in selector.select(0)}
    return [sock for sock in socks if sock not in readable]


def open_fds(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_400_idle_connections_do_not_lock_out_a_scrape(
    serve: Callable[..., HttpServer], clients: list[socket.socket]
) -> None:
    """Steps: a server allowing 64 connections, 3 s read timeout; open 400 connections,
    alternately sending nothing and half a request head; scrape /metrics meanwhile.

    Expected: the server holds exactly 64 of them (it closed the oldest idle ones to
    make room) and at most 64 descriptors; the scrape is answered 200 within 2 s; the
    thread count grows by at most 2 (the loop and the metrics worker); every held
    connection is closed by the server at its read timeout, not before.
    """
    base_threads = threading.active_count()
    server = serve(max_connections=64, read_timeout_seconds=3.0)
    base_fds = open_fds()

    opened_at: dict[socket.socket, float] = {}
    for i in range(400):
        sock = connect(server.port, clients, HALF_HEAD if i % 2 else b"")
        opened_at[sock] = time.monotonic()
    status, seconds = scrape(server.url)  # served after all 400 were accepted (FIFO backlog)

    assert (status, seconds < 2.0) == (200, True)
    held = still_open(clients)
    assert 60 <= len(held) <= 64 and set(held) <= set(clients[-65:])
    assert open_fds() - base_fds - len(clients) <= 64
    assert threading.active_count() <= base_threads + 2
    closed = closed_by_server(held, timeout=3.0 + 3.0)
    assert len(closed) == len(held)
    assert min(closed[sock] - opened_at[sock] for sock in held) >= 3.0 - 0.1
    assert scrape(server.url)[0] == 200


SERVER_WITH_256_FDS = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
from driftd.sinks.http import HttpLimits, HttpServer
class Healthy:
    def live(self): return True
    def ready(self): return True, []
server = HttpServer("127.0.0.1", 0, health=Healthy(),
                    exposition=lambda accept, names: (b"driftd_up 1\\n",
                                                      "text/plain; version=0.0.4"),
                    limits=HttpLimits(max_connections=64, read_timeout_seconds=60))
server.start()
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""


def test_scrapes_answer_with_256_descriptors_and_400_held_connections(
    clients: list[socket.socket],
) -> None:
    """Steps: a server process limited to 256 descriptors (read timeout 60 s, so every
    connection it keeps stays held); open 400 connections that send half a head; scrape
    five times while they are held; end the process.

    Expected: every scrape is 200 within 2 s; the process holds fewer than 64 + 16
    descriptors; its only log line is one warning that the limit was reached (no
    EMFILE from accept, no warning per connection) and it exits 0 on stop.
    """
    with subprocess.Popen([sys.executable, "-c", SERVER_WITH_256_FDS], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=Path(__file__).parent) as process:
        assert process.stdout is not None and process.stdin is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "the server process printed no port"
        port = int(process.stdout.readline())

        for _ in range(400):
            connect(port, clients, HALF_HEAD)
        scrapes = [scrape(f"http://127.0.0.1:{port}") for _ in range(5)]
        fds = open_fds(process.pid)

        _, stderr = process.communicate(input="", timeout=20)
    assert [status for status, _ in scrapes] == [200] * 5
    assert max(seconds for _, seconds in scrapes) < 2.0
    assert fds < 64 + 16
    assert process.returncode == 0
    assert stderr.splitlines() == [  # the one warning a minute, no EMFILE from accept
        "HTTP connection limit (64) reached: closing the oldest idle connection for each"
        " new one (1 closed since the last warning)"]


def client_hello() -> bytes:
    """The first bytes a real TLS client sends (a ClientHello record)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize(("data", "status_line", "body"), [
    pytest.param(b"GET /metrics\r\n", b"HTTP/1.1 400 Bad Request",
                 b"bad request: no HTTP version in the request line (HTTP/0.9 is not served)\n",
                 id="http-0.9"),
    pytest.param(None, b"HTTP/1.1 400 Bad Request",
                 b"this port speaks plain HTTP, not TLS\n", id="tls-client-hello"),
    pytest.param(b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", b"HTTP/1.1 400 Bad Request",
                 b"bad request\n", id="garbage-header"),
    pytest.param(b"GET /metrics HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * 20_000 + b"\r\n\r\n",
                 b"HTTP/1.1 431 Request Header Fields Too Large",
                 b"request header fields too large\n", id="oversized-head"),
    pytest.param(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
                 b"HTTP/1.1 405 Method Not Allowed", b"method not allowed\n", id="post"),
])
def test_malformed_requests_are_answered_and_closed(
    serve: Callable[..., HttpServer], clients: list[socket.socket],
    data: bytes | None, status_line: bytes, body: bytes,
) -> None:
    """Each request gets its status, a short text and Connection: close, then EOF,
    at once (well within the 5 s read timeout)."""
    server = serve(read_timeout_seconds=5.0, max_request_head_bytes=16_384)

    answer, seconds = exchange(server.port, clients, client_hello() if data is None else data)

    head, _, received_body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == status_line
    assert b"\r\nConnection: close" in head
    assert received_body == body
    assert seconds < 1.0


def test_method_not_allowed_names_the_allowed_ones(
    serve: Callable[..., HttpServer], clients: list[socket.socket]
) -> None:
    """A DELETE gets 405 with an Allow header (Connection: close ends the exchange)."""
    request = b"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    answer, _ = exchange(serve().port, clients, request)

    assert b"\r\nAllow: GET, HEAD\r\n" in answer


def test_a_slowloris_is_cut_at_the_read_timeout(
    serve: Callable[..., HttpServer], clients: list[socket.socket]
) -> None:
    """Steps: 1 s read timeout; a client sends one byte of a request head every 0.1 s.

    Expected: the server closes the connection about 1 s after the accept although
    bytes keep arriving (a timeout per read would never fire), and answers nothing.
    """
    server = serve(read_timeout_seconds=1.0)
    sock = connect(server.port, clients)
    opened = time.monotonic()
    sock.settimeout(0.1)

    received = None
    for byte in HALF_HEAD * 10:
        try:
            sock.send(bytes([byte]))
            received = sock.recv(4096)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            received = b""
        break
    cut_after = time.monotonic() - opened

    assert received == b""
    assert 0.9 <= cut_after <= 2.0


def test_keep_alive_serves_requests_on_one_connection_until_idle(
    serve: Callable[..., HttpServer],
) -> None:
    """Steps: 1 s idle timeout; GET /metrics and GET /healthz on one HTTP/1.1
    connection; then wait without a request.

    Expected: both answered 200 on the same socket; the server closes the idle
    connection about 1 s after the last response.
    """
    server = serve(idle_timeout_seconds=1.0)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/metrics")
        first = connection.getresponse()
        assert (first.status, first.read()) == (200, b"driftd_up 1\n")
        sock = connection.sock
        connection.request("GET", "/healthz")
        second = connection.getresponse()
        assert (second.status, second.read(), connection.sock) == (200, b"ok\n", sock)
        answered = time.monotonic()

        assert sock is not None
        closed = closed_by_server([sock], timeout=3.0)
        assert 0.9 <= closed[sock] - answered <= 2.0
    finally:
        connection.close()


def test_a_client_that_does_not_read_is_cut_at_the_write_timeout(
    serve: Callable[..., HttpServer], clients: list[socket.socket]
) -> None:
    """Steps: 1 s write timeout, a 32 MB /metrics body; a client requests it and reads
    nothing for 1.5 s; meanwhile another client asks /healthz; then the first reads.

    Expected: /healthz is answered at once while the response is stuck; the stuck
    connection ends (EOF or reset) by 3 s after its request, short of the full body.
    """
    body = b"x" * 32 * 1024 * 1024
    server = serve(lambda: (body, "text/plain"), write_timeout_seconds=1.0)
    stalled = connect(server.port, clients, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    requested = time.monotonic()

    with OPENER.open(server.url + "/healthz", timeout=5) as response:
        assert (response.status, time.monotonic() - requested < 1.0) == (200, True)
    time.sleep(1.5)  # the stall itself: a client that reads nothing
    received = 0
    try:
        while chunk := stalled.recv(1024 * 1024):  # bounded by the socket's 5 s timeout
            received += len(chunk)
    except ConnectionResetError:
        pass

    assert time.monotonic() - requested < 3.0
    assert received < len(body)


def test_stop_closes_open_connections_at_once(
    serve: Callable[..., HttpServer], clients: list[socket.socket]
) -> None:
    """Steps: 30 s timeouts; 10 idle connections and one keep-alive connection after a
    scrape; stop().

    Expected: stop returns within 1 s, every connection sees EOF, the server's
    thread is gone, and the port refuses connections.
    """
    server = serve(read_timeout_seconds=30.0, idle_timeout_seconds=30.0)
    port = server.port
    idle = [connect(port, clients) for _ in range(10)]
    keep_alive = connect(port, clients, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert keep_alive.recv(4096).startswith(b"HTTP/1.1 200 OK")

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 1.0
    assert len(closed_by_server([*idle, keep_alive], timeout=1.0)) == 11
    assert "driftd-http" not in {thread.name for thread in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError):
        connect(port, clients)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="read_timeout_seconds must be positive"):
        HttpLimits(read_timeout_seconds=0)
