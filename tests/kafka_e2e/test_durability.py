"""Crash safety and broker outages, with a real broker and driftd as a real process."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, TopicPartition

from kafka_e2e.support import (
    Driftd,
    assert_same_history,
    close_kafka_client,
    create_topic,
    load_results,
    metric_value,
    produce,
    results_history,
    wait_for,
    workload,
    write_config,
)

pytestmark = pytest.mark.kafka

WINDOWS = [
    {"name": "1m", "type": "time", "duration_seconds": 60, "slide_seconds": 10,
     "allowed_lateness_seconds": 0, "idle_timeout_seconds": 30},
    {"name": "all-time", "type": "time", "duration_seconds": 3600, "slide_seconds": 10,
     "allowed_lateness_seconds": 0, "idle_timeout_seconds": 30},
]


def comparable(results: dict[str, Any]) -> dict[str, Any]:
    return {w["window"]: (w["events"], w["start"], w["end"],
                          {c["column"]: c["statistics"] for c in w["columns"]})
            for w in results["windows"]}


def assert_same_windows(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for name, (events, start, end, stats) in want.items():
        assert got[name][:3] == (events, start, end), name
        for column, values in stats.items():
            assert got[name][3][column] == pytest.approx(values, rel=1e-9, abs=1e-12)


def test_kill_9_at_random_moments_loses_and_double_counts_nothing(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """400,000 events (400 s of event time) on 3 partitions, all produced before
    driftd starts: a catch-up of about 40 one-minute windows sliding by 10 s. Run A is
    killed with SIGKILL at three random moments and restarted each time from its
    checkpoint; run B reads uninterrupted.

    Expected: A's results history (the results file, cut back to each checkpoint on
    restart) equals B's: every window once, in order, with the same events, bounds,
    statistics and decisions; and so do the latest windows of the final runs.
    """
    topic = kafka_topic(partitions=3)
    rows = 400_000
    events = workload.events(rows, drift_after=rows // 2)
    produce(kafka_bootstrap, topic,
            (orjson.dumps(chunk) for chunk in _chunks(events, 100)), partitions=3)
    crashed_dir, clean_dir = tmp_path / "crashed", tmp_path / "clean"
    crashed_dir.mkdir()
    clean_dir.mkdir()
    crashed = write_config(crashed_dir, bootstrap=kafka_bootstrap, topic=topic,
                           group="crashed", windows=WINDOWS, checkpoint=True, results=True)
    rng = random.Random(2026)
    kills = 0
    for attempt in range(3):
        driftd = Driftd(crashed, log=crashed_dir / "driftd.log")
        driftd.wait_ready()
        wait_for(lambda d=driftd: (_events(d) or 0) > 0, "consumption to start")
        time.sleep(rng.uniform(0.1, 1.0))
        assert driftd.process.poll() is None, f"driftd ended before kill {attempt + 1}"
        driftd.kill()
        kills += 1
    dump = crashed_dir / "results.json"
    final = Driftd(crashed, drain=True, dump=dump, log=crashed_dir / "driftd.log")
    assert final.wait(timeout=180) == 0, (crashed_dir / "driftd.log").read_text()[-3000:]
    log = (crashed_dir / "driftd.log").read_text()
    assert kills == 3 and log.count("restored checkpoint") >= 3, log[-3000:]

    clean = write_config(clean_dir, bootstrap=kafka_bootstrap, topic=topic, group="clean",
                         windows=WINDOWS, checkpoint=True, results=True)
    reference_dump = clean_dir / "results.json"
    uninterrupted = Driftd(clean, drain=True, dump=reference_dump, log=clean_dir / "driftd.log")
    assert uninterrupted.wait(timeout=180) == 0
    want = comparable(load_results(reference_dump))
    assert_same_windows(comparable(load_results(dump)), want)
    history = results_history(clean_dir / "results.jsonl")
    full = [r for r in history if r["window"] == "all-time"]
    assert max(r["events"] for r in full) == rows  # one window holds every event
    assert len([r for r in history if r["window"] == "1m"]) >= 40
    assert_same_history(results_history(crashed_dir / "results.jsonl"), history)


def test_broker_outage_loses_no_event_and_shows_on_readyz(
    kafka_broker_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    """A dedicated broker is stopped mid-stream and started again on the same port.

    Expected: /metrics keeps answering, /readyz reports the outage, and after the
    broker returns every event of both halves is counted, with offsets committed.
    """
    broker = kafka_broker_factory()
    create_topic(broker.bootstrap, "outage", partitions=3)
    events = list(workload.events(20_000, drift_after=10**9))
    produce(broker.bootstrap, "outage", [orjson.dumps(e) for e in events[:10_000]],
            partitions=3)
    config = write_config(tmp_path, bootstrap=broker.bootstrap, topic="outage", group="g",
                          windows=WINDOWS, checkpoint=True)
    driftd = Driftd(config, log=tmp_path / "driftd.log")
    try:
        driftd.wait_ready()
        wait_for(lambda: _events(driftd) == 10_000, "first half consumed")
        assert driftd.ready()[0] == 200
        broker.stop()
        wait_for(lambda: driftd.ready()[0] == 503, "readyz to report the outage")
        status, body = driftd.ready()
        assert "broker" in body
        assert metric_value(driftd.metrics(), "driftd_source_up") == 0.0  # metrics answer
        broker.start()
        produce(broker.bootstrap, "outage", [orjson.dumps(e) for e in events[10_000:]],
                partitions=3)
        wait_for(lambda: _events(driftd) == 20_000, "second half consumed", timeout=90)
        wait_for(lambda: driftd.ready()[0] == 200, "readyz to recover")
    finally:
        code = driftd.terminate()
    assert code == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        committed = admin.list_group_offsets({"g": None})["g"]
    finally:
        close_kafka_client(admin)
    assert sum(o.offset for tp, o in committed.items()
               if isinstance(tp, TopicPartition)) == 20_000


def test_a_broker_gone_for_longer_than_the_timeout_stops_driftd_non_zero(
    kafka_broker_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    """broker_timeout_seconds 3: the broker is stopped and not restarted.

    Expected: driftd logs what to check and exits with code 3; restarted once the
    broker is back, it resumes from its checkpoint.
    """
    broker = kafka_broker_factory()
    create_topic(broker.bootstrap, "gone", partitions=1)
    produce(broker.bootstrap, "gone", [orjson.dumps(e) for e in
                                       workload.events(1000, drift_after=10**9)])
    config = write_config(tmp_path, bootstrap=broker.bootstrap, topic="gone", group="g",
                          windows=WINDOWS, checkpoint=True,
                          extra_source={"broker_timeout_seconds": 3})
    driftd = Driftd(config, log=tmp_path / "driftd.log")
    driftd.wait_ready()
    wait_for(lambda: _events(driftd) == 1000, "events consumed")
    broker.stop()
    assert driftd.wait(timeout=60) == 3
    log = (tmp_path / "driftd.log").read_text()
    assert "Check that the brokers are up, the bootstrap address" in log
    broker.start()
    again = Driftd(config, log=tmp_path / "driftd.log")
    try:
        again.wait_ready()
        wait_for(lambda: "restored checkpoint" in (tmp_path / "driftd.log").read_text(),
                  "restore")
    finally:
        assert again.terminate() == 0


def _events(driftd: Driftd) -> float | None:
    try:
        return metric_value(driftd.metrics(), "driftd_events_total", stream="predictions")
    except OSError:
        return None





def _chunks(events: Any, size: int) -> Any:
    chunk: list[Any] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
