"""The HTTP server: real requests against a real server on a free port of 127.0.0.1."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftd.monitor.results import ColumnResult, Published, ResultBoard, WindowResult
from driftd.service.health import Health
from driftd.sinks.http import HttpServer
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.telemetry import Telemetry

# No proxy from the environment may stand between the test and the local server.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    content_length: str
    body: bytes


def request(url: str, method: str = "GET") -> Response:
    try:
        with OPENER.open(urllib.request.Request(url, method=method), timeout=5) as response:
            return Response(response.status, response.headers["Content-Type"],
                            response.headers["Content-Length"], response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers["Content-Type"],
                            error.headers["Content-Length"], error.read())


def window(*columns: str) -> WindowResult:
    results = tuple(
        ColumnResult(name, "numeric", "input", {"psi": 0.1 * (i + 1)}, {"psi": False})
        for i, name in enumerate(columns)
    )
    return WindowResult("fraud", "3", "ref-abc", "1h", 500, columns=results)


@pytest.fixture
def board() -> ResultBoard:
    return ResultBoard()


@pytest.fixture
def health() -> Health:
    return Health(["references_loaded", "source_connected"])


@pytest.fixture
def serve(board: ResultBoard, health: Health) -> Iterator[Callable[..., HttpServer]]:
    """Start servers on 127.0.0.1:0 (real metrics by default); stop them all afterwards."""
    servers: list[HttpServer] = []
    collector = DriftdCollector(board, Telemetry(), references={}, build={"version": "0.1.0"})
    real_metrics = partial(render, build_registry(collector))

    def start(metrics: Callable[[], tuple[bytes, str]] = real_metrics) -> HttpServer:
        server = HttpServer("127.0.0.1", 0, exposition=lambda accept, names: metrics(),
                            health=health)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


def psi_columns(server: HttpServer) -> dict[str, float]:
    response = request(server.url + "/metrics")
    assert response.status == 200
    families = text_string_to_metric_families(response.body.decode("utf-8"))
    psi = [f for f in families if f.name == "driftd_psi"]
    return {s.labels["column"]: s.value for f in psi for s in f.samples}


def test_metrics_follow_the_published_results(
    serve: Callable[..., HttpServer], board: ResultBoard
) -> None:
    """Steps: publish amount+country; scrape; publish amount only; scrape.

    Expected: the first scrape has both columns' PSI, the second only amount's: the
    series of a column that is no longer evaluated disappear.
    """
    server = serve()
    board.publish(Published(1.0, (window("amount", "country"),)))
    assert psi_columns(server) == {"amount": 0.1, "country": 0.2}

    board.publish(Published(2.0, (window("amount"),)))

    assert psi_columns(server) == {"amount": 0.1}


def test_metrics_content_type(serve: Callable[..., HttpServer]) -> None:
    """/metrics answers with the exposition's own content type."""
    response = request(serve().url + "/metrics")

    assert response.status == 200
    assert response.content_type == render(build_registry(
        DriftdCollector(ResultBoard(), Telemetry(), references={}, build={})))[1]
    assert b'driftd_build_info{version="0.1.0"} 1.0' in response.body


def test_liveness(serve: Callable[..., HttpServer]) -> None:
    """/healthz is 200 "ok" even while the daemon is not ready."""
    response = request(serve().url + "/healthz")

    assert (response.status, response.body) == (200, b"ok\n")


def test_readiness_flips_with_its_conditions(
    serve: Callable[..., HttpServer], health: Health
) -> None:
    """Steps: nothing reported; both conditions ok; source lost; source back.

    Expected: 503 listing both pending conditions; 200 "ready"; 503 with the source's
    reason only; 200 again.
    """
    server = serve()
    pending = request(server.url + "/readyz")
    assert pending.status == 503
    assert pending.body.decode().splitlines() == [
        "references_loaded: not checked yet",
        "source_connected: not checked yet",
    ]

    health.set("references_loaded", True)
    health.set("source_connected", True)
    assert (request(server.url + "/readyz").status, request(server.url + "/readyz").body) == (
        200, b"ready\n")

    health.set("source_connected", False, "kafka broker kafka:9092 unreachable")
    lost = request(server.url + "/readyz")
    assert lost.status == 503
    assert lost.content_type == "text/plain; charset=utf-8"
    assert lost.body == b"source_connected: kafka broker kafka:9092 unreachable\n"

    health.set("source_connected", True)
    assert request(server.url + "/readyz").status == 200


def test_unknown_path_is_404(serve: Callable[..., HttpServer]) -> None:
    response = request(serve().url + "/metricz")

    assert (response.status, response.body) == (404, b"not found\n")


def test_query_string_is_ignored(serve: Callable[..., HttpServer]) -> None:
    assert request(serve().url + "/healthz?verbose=1").status == 200


def test_head_has_headers_but_no_body(serve: Callable[..., HttpServer]) -> None:
    """HEAD /metrics: the same status and Content-Length as GET, and an empty body."""
    # Fixed metrics: the process_ series of the real ones change between two requests.
    server = serve(metrics=lambda: (b"driftd_up 1\n", "text/plain; version=0.0.4"))
    get = request(server.url + "/metrics")

    head = request(server.url + "/metrics", method="HEAD")

    assert head.status == 200
    assert head.content_length == str(len(get.body))
    assert head.body == b""


def test_failing_metrics_give_500_and_the_server_keeps_serving(
    serve: Callable[..., HttpServer], caplog: pytest.LogCaptureFixture
) -> None:
    """A collector that raises: 500 with a short message, the traceback in the log."""

    def broken() -> tuple[bytes, str]:
        raise RuntimeError("board exploded")

    server = serve(metrics=broken)

    with caplog.at_level(logging.ERROR, logger="driftd.sinks.http"):
        response = request(server.url + "/metrics")

    assert (response.status, response.body) == (500, b"metrics collection failed\n")
    (record,) = [r for r in caplog.records
                 if r.name == "driftd.sinks.http" and r.levelno >= logging.ERROR]
    assert record.exc_info is not None and "board exploded" in str(record.exc_info[1])
    assert request(server.url + "/healthz").status == 200


def test_requests_are_not_logged_to_stderr(
    serve: Callable[..., HttpServer], capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The per-request access line goes to the module logger at DEBUG, never to stderr."""
    server = serve()

    with caplog.at_level(logging.DEBUG, logger="driftd.sinks.http"):
        request(server.url + "/healthz")
        request(server.url + "/nope")

    assert capfd.readouterr().err == ""
    access = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any('"GET /nope HTTP/1.1" 404' in message for message in access)


def test_stop_is_idempotent_and_frees_the_port(
    board: ResultBoard, health: Health
) -> None:
    """Steps: start on port 0; stop twice; start another server on the same port.

    Expected: the port is known once started; after stop nothing answers there and the
    port can be bound again at once.
    """
    server = HttpServer("127.0.0.1", 0, exposition=lambda accept, names: (b"", "text/plain"),
                        health=health)
    with pytest.raises(RuntimeError):
        _ = server.port
    server.start()
    port = server.port
    assert port > 0 and server.url == f"http://127.0.0.1:{port}"

    server.stop()
    server.stop()

    with pytest.raises(urllib.error.URLError):
        request(f"http://127.0.0.1:{port}/healthz")
    again = HttpServer("127.0.0.1", port, exposition=lambda accept, names: (b"", "text/plain"),
                       health=health)
    again.start()
    try:
        assert request(again.url + "/healthz").status == 200
    finally:
        again.stop()


def test_invalid_port_is_rejected(health: Health) -> None:
    with pytest.raises(ValueError, match="port"):
        HttpServer("127.0.0.1", 70000, exposition=lambda accept, names: (b"", ""), health=health)
