"""A daemon fed over HTTP: the same windows as from a file, back-pressure without loss."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from driftd.sources.jsonl import JsonlSource
from http_ingest.support import config, events, jsonl, post, running, wait_for
from kafka_e2e.support import metric_value

EVENTS = 3000  # six count windows of 500
WALL_CLOCK = ("evaluated_at",)  # when a window was computed, not what it holds


def statistics(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK} for r in records]


def replayed(tmp_path: Path, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The windows of a daemon reading ``found`` from a JSONL file."""
    path = tmp_path / "replay" / "events.jsonl"
    path.parent.mkdir()
    path.write_bytes(jsonl(found))
    cfg = config(path.parent)
    with running(cfg, [JsonlSource(str(path))]) as daemon:
        wait_for(lambda: len(daemon.windows()) == len(found) // 500,
                 lambda: f"{len(daemon.windows())} windows")
    return statistics(daemon.windows())


def test_posted_events_give_the_windows_of_the_same_events_from_a_file(
        tmp_path: Path) -> None:
    """3,000 demo events are posted to a running daemon: 200 one event a request, 800
    as arrays of 100, 2,000 as JSON lines of 500 (application/x-ndjson).

    Expected: every post is answered 202; the daemon counts 3,000 events and publishes
    six windows of 500 whose statistics equal, number for number, those of a daemon
    reading the same events from a JSONL file.
    """
    found = events(0, EVENTS)
    with running(config(tmp_path)) as daemon:
        port = daemon.source.port
        for event in found[:200]:
            assert post(port, "/v1/events", orjson.dumps(event))[0] == 202
        for start in range(200, 1000, 100):
            assert post(port, "/v1/events", orjson.dumps(found[start:start + 100]))[0] == 202
        for start in range(1000, EVENTS, 500):
            assert post(port, "/v1/events", jsonl(found[start:start + 500]),
                        {"Content-Type": "application/x-ndjson"})[0] == 202
        wait_for(lambda: len(daemon.windows()) == 6 and daemon.counted() == EVENTS,
                 lambda: f"{daemon.counted()} events, {len(daemon.windows())} windows")
        posted = statistics(daemon.windows())
    assert [w["events"] for w in posted] == [500] * 6
    assert posted == replayed(tmp_path, found)


def test_a_full_queue_refuses_with_429_and_loses_no_acknowledged_event(
        tmp_path: Path) -> None:
    """max_queue_bytes of about four requests; the daemon ingests one request a poll
    and takes 20 ms over each (a slow pipeline); 60 requests of 50 events are posted as
    fast as they are answered, each refused one retried shortly after.

    Expected: some posts are refused with 429 (the queue filled) and none with anything
    but 202 or 429, as driftd_http_ingest_requests_total{code} counts them; once every
    request is accepted the windows hold exactly the 3,000 events, in the statistics of
    the file replay.
    """
    found = events(0, EVENTS)
    chunks = [jsonl(found[s:s + 50]) for s in range(0, EVENTS, 50)]
    largest = max(map(len, chunks))
    cfg = config(tmp_path, source={"max_body_bytes": largest, "max_queue_bytes": 4 * largest,
                                   "batch_size": 1})
    refused = 0
    with running(cfg, slow=0.02) as daemon:
        for chunk in chunks:
            for _ in range(1000):
                status, headers, _ = post(daemon.source.port, "/v1/events", chunk,
                                          {"Content-Type": "application/x-ndjson"})
                if status == 202:
                    break
                assert (status, headers["retry-after"]) == (429, "1")
                refused += 1
                time.sleep(0.005)  # a client backing off (not the Retry-After: faster)
            else:
                raise AssertionError("never accepted")
        wait_for(lambda: len(daemon.windows()) == 6,
                 lambda: f"{daemon.counted()} events, {len(daemon.windows())} windows")
        assert daemon.counted() == EVENTS
        posted = statistics(daemon.windows())
        with urllib.request.urlopen(daemon.daemon.http.url + "/metrics", timeout=5) as answer:
            exposition = answer.read().decode()
    assert refused > 0
    for code, count in (("202", len(chunks)), ("429", refused)):
        assert metric_value(exposition, "driftd_http_ingest_requests_total", code=code) == count
    assert posted == replayed(tmp_path, found)
