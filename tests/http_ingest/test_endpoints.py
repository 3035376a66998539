"""The HTTP ingest endpoints against a real listener on a free port of 127.0.0.1: what
each request is answered, what reaches the spool, and what is counted."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from driftd.sources.http_ingest import HttpIngestSource
from driftd.telemetry import Telemetry, counted
from http_ingest.support import config, events, http_source, jsonl, post

EVENT = orjson.dumps(events(0, 1)[0])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[HttpIngestSource, Telemetry]]]:
    """Start http sources with the given settings; close them all afterwards."""
    started: list[HttpIngestSource] = []

    def start(**settings: Any) -> tuple[HttpIngestSource, Telemetry]:
        source = http_source(config(tmp_path, source=settings))
        telemetry = Telemetry()
        source.instrument(telemetry)
        source.connect(1.0)
        source.start_from({})
        source.subscribe(None)  # type: ignore[arg-type]
        started.append(source)
        return source, telemetry

    yield start
    for source in started:
        source.close()


def bodies(source: HttpIngestSource) -> list[bytes]:
    batch = source.poll(1000, 0.5)
    assert batch is not None
    source.acknowledge(batch)
    return batch.messages


def test_one_event_an_array_and_json_lines_are_accepted_and_spooled(serve: Any) -> None:
    """Post one event, an array of two, and three JSON lines (application/x-ndjson).

    Expected: 202 each; the spool hands out the three bodies byte for byte, in order,
    with their content types; the requests are counted under 202.
    """
    source, telemetry = serve()
    array = orjson.dumps(events(1, 2))
    lines = jsonl(events(3, 3))
    assert post(source.port, "/v1/events", EVENT)[0] == 202
    assert post(source.port, "/v1/events", array)[0] == 202
    assert post(source.port, "/v1/events", lines,
                {"Content-Type": "application/x-ndjson"})[0] == 202
    batch = source.poll(1000, 1.0)
    assert batch is not None
    assert batch.messages == [EVENT, array, lines]
    assert [h["content-type"] for h in batch.headers] == [
        b"application/json", b"application/json", b"application/x-ndjson"]
    assert batch.position == (source.name, 0, source.queued())
    assert telemetry.snapshot().http_requests == {"202": 3}


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b"not json", "application/json", "malformed_json"),
    (b"", "application/json", "malformed_json"),
    (b'"just a string"', "application/json", "not_an_object"),
    (b"42", "application/json", "not_an_object"),
    (EVENT + b"\n{broken\n", "application/x-ndjson", "malformed_json"),
    (b"[" * 100 + b"]" * 100, "application/json", "too_deep"),
])
def test_garbage_is_answered_400_and_counted_by_reason(serve: Any, body: bytes,
                                                       content_type: str, reason: str) -> None:
    """Post a body that is not JSON, empty, a JSON scalar, JSON lines with a broken
    line, or nested too deep.

    Expected: 400 naming the reason; nothing reaches the spool;
    driftd_events_invalid_total counts the reason once and the requests counter 400.
    """
    source, telemetry = serve()
    status, _, text = post(source.port, "/v1/events", body, {"Content-Type": content_type})
    assert (status, text.split(b":")[0].decode()) == (400, reason)
    assert source.queued() == 0 and bodies(source) == []
    snapshot = telemetry.snapshot()
    assert (counted(snapshot.invalid), counted(snapshot.http_requests)) == ({reason: 1}, {"400": 1})


def test_a_body_over_max_body_bytes_is_413(serve: Any) -> None:
    """max_body_bytes 4096: post 4096 bytes of JSON lines, then 4097, then 100 kB with
    chunked transfer encoding (no Content-Length).

    Expected: 202, then 413 twice (counted as oversized); only the first body spooled.
    """
    source, telemetry = serve(max_body_bytes=4096, max_queue_bytes=1 << 20)
    fits = b'{"model": "demo"}\n' * 227 + b'{"a": 12}\n'
    assert len(fits) == 4096
    assert post(source.port, "/v1/events", fits,
                {"Content-Type": "application/x-ndjson"})[0] == 202
    assert post(source.port, "/v1/events", fits + b" ")[0] == 413
    connection = http.client.HTTPConnection("127.0.0.1", source.port, timeout=10)
    try:
        connection.request("POST", "/v1/events", body=iter([b"[" + b" " * 50_000] * 2),
                           encode_chunked=True)
        assert connection.getresponse().status == 413
    finally:
        connection.close()
    assert bodies(source) == [fits]
    snapshot = telemetry.snapshot()
    assert (counted(snapshot.invalid), counted(snapshot.http_requests)) == ({"oversized": 2},
                                                          {"202": 1, "413": 2})


def test_a_bearer_token_is_required_when_configured(serve: Any, tmp_path: Path) -> None:
    """bearer_token_file holds a token. Post without Authorization, with a wrong token,
    with another scheme, then with the right one.

    Expected: 401 with WWW-Authenticate: Bearer for the first three (nothing spooled),
    202 for the last.
    """
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    source, telemetry = serve(bearer_token_file=str(token))
    for headers in ({}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Basic s3cret-token"}):
        status, answer_headers, _ = post(source.port, "/v1/events", EVENT, headers)
        assert status == 401
        assert answer_headers["www-authenticate"].startswith("Bearer")
    assert source.queued() == 0
    assert post(source.port, "/v1/events", EVENT,
                {"Authorization": "Bearer s3cret-token"})[0] == 202
    assert bodies(source) == [EVENT]
    assert telemetry.snapshot().http_requests == {"401": 3, "202": 1}


def test_a_full_queue_is_429_with_retry_after_until_the_source_reads_on(serve: Any) -> None:
    """max_queue_bytes 3000, bodies of ~700 bytes: post until refused; then the source
    hands out what it has and the daemon acknowledges it; post again.

    Expected: 202 while the spool holds at most 3000 bytes not yet ingested, then 429
    with Retry-After: 2; once acknowledged, the next post is accepted. No accepted body
    is missing from what the source hands out.
    """
    source, _ = serve(max_body_bytes=1000, max_queue_bytes=3000, retry_after_seconds=2)
    accepted: list[bytes] = []
    for n in range(10):
        body = orjson.dumps(events(n, 1)[0] | {"pad": "x" * 200})
        status, headers, _ = post(source.port, "/v1/events", body)
        if status != 202:
            assert (status, headers["retry-after"]) == (429, "2")
            break
        accepted.append(body)
    assert 2 <= len(accepted) < 10
    assert bodies(source) == accepted  # read and acknowledged: the queue is empty again
    assert post(source.port, "/v1/events", EVENT)[0] == 202


def test_unknown_paths_and_methods_are_refused(serve: Any) -> None:
    """GET /v1/events, POST /metrics.

    Expected: 405 with Allow: POST, and 404.
    """
    source, _ = serve()
    connection = http.client.HTTPConnection("127.0.0.1", source.port, timeout=10)
    try:
        connection.request("GET", "/v1/events")
        response = connection.getresponse()
        response.read()
        assert (response.status, response.getheader("Allow")) == (405, "POST")
    finally:
        connection.close()
    assert post(source.port, "/metrics", EVENT)[0] == 404


def test_keep_alive_and_expect_100_continue(serve: Any) -> None:
    """Two posts on one keep-alive connection; then a raw request with Expect:
    100-continue that sends its body only after the interim answer.

    Expected: 202 twice on the same connection; 100 Continue, then 202; three bodies
    spooled.
    """
    source, _ = serve()
    connection = http.client.HTTPConnection("127.0.0.1", source.port, timeout=10)
    try:
        for _ in range(2):
            connection.request("POST", "/v1/events", body=EVENT)
            response = connection.getresponse()
            response.read()
            assert (response.status, response.will_close) == (202, False)
    finally:
        connection.close()
    with socket.create_connection(("127.0.0.1", source.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(EVENT))
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 ")
        sock.sendall(EVENT)
        assert sock.recv(4096).startswith(b"HTTP/1.1 202 ")
    assert bodies(source) == [EVENT] * 3


def test_a_closing_source_stops_listening(serve: Any) -> None:
    """A client holds a keep-alive connection; the source is closed.

    Expected: close() returns within seconds; the port no longer accepts connections.
    """
    source, _ = serve()
    port = source.port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/v1/events", body=EVENT)
    assert connection.getresponse().status == 202
    started = time.monotonic()
    source.close()
    assert time.monotonic() - started < 5.0
    connection.close()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
