"""A broker outage within its bounds: readiness and exit 3 on time, with a real broker
(a dedicated one, killed) and driftd as a real process."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from kafka_e2e.support import (
    Driftd,
    create_topic,
    load_results,
    metric_value,
    produce,
    wait_for,
    workload,
    write_config,
)

pytestmark = pytest.mark.kafka

BROKER_TIMEOUT_SECONDS = 5
WINDOWS = [{"name": "all", "type": "count", "size": 500, "step": 500}]


def test_a_killed_broker_fails_readiness_within_5_s_and_exits_3_on_time(
    kafka_broker_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    """broker_timeout_seconds 5, checkpoints every 0.3 s (each commits offsets): driftd
    consumes 1,000 events, then its only broker is killed with SIGKILL.

    Expected: /readyz answers 503 naming the broker within 5 s of the kill, and driftd
    exits with code 3 within broker_timeout_seconds + 5 s of it (the figures are printed).
    """
    broker = kafka_broker_factory()
    create_topic(broker.bootstrap, "bounds", partitions=3)
    produce(broker.bootstrap, "bounds", [orjson.dumps(e) for e in
                                         workload.events(1000, drift_after=10**9)],
            partitions=3)
    config = write_config(tmp_path, bootstrap=broker.bootstrap, topic="bounds", group="g",
                          windows=WINDOWS, checkpoint=True,
                          extra_source={"broker_timeout_seconds": BROKER_TIMEOUT_SECONDS})
    driftd = Driftd(config, log=tmp_path / "driftd.log")
    try:
        driftd.wait_ready()
        wait_for(lambda: metric_value(driftd.metrics(), "driftd_events_total",
                                      stream="predictions") == 1000, "events consumed")
        wait_for(lambda: driftd.ready()[0] == 200, "ready")
        broker.kill()
        killed = time.monotonic()
        while (status := driftd.ready())[0] != 503:
            assert time.monotonic() - killed < 30, "readiness never failed"
            time.sleep(0.05)
        not_ready = time.monotonic() - killed
        assert "broker" in status[1]
        code = driftd.wait(timeout=60)
        exited = time.monotonic() - killed
    finally:
        if driftd.process.poll() is None:
            driftd.kill()
    print(f"\nbroker killed: /readyz 503 after {not_ready:.2f} s, exit {code} after "
          f"{exited:.2f} s (broker_timeout_seconds {BROKER_TIMEOUT_SECONDS})")
    log = (tmp_path / "driftd.log").read_text()
    assert code == 3, log[-3000:]
    assert not_ready <= 5.0
    assert exited <= BROKER_TIMEOUT_SECONDS + 5.0, log[-3000:]


def test_a_broker_down_at_start_up_is_an_outage_like_any_other(
    kafka_broker_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    """driftd starts while its only broker is stopped (broker_timeout_seconds 30); the
    broker comes back 8 s later. Then a second start whose broker never comes back
    (broker_timeout_seconds 5).

    Expected: /healthz answers at once and /readyz answers 503 naming the connection
    while no broker answers; once the broker is back, driftd reads every event and exits
    0 when drained. With no broker at all it exits 3 within broker_timeout_seconds + 5 s
    of its start, saying what to check, never 2 ("cannot start") and no traceback.
    """
    broker = kafka_broker_factory()
    create_topic(broker.bootstrap, "late", partitions=1)
    produce(broker.bootstrap, "late", [orjson.dumps(e) for e in
                                       workload.events(500, drift_after=10**9)])
    bootstrap = broker.bootstrap
    broker.stop()
    config = write_config(tmp_path, bootstrap=bootstrap, topic="late", group="late",
                          windows=WINDOWS, extra_source={"broker_timeout_seconds": 30})
    dump = tmp_path / "late.json"
    driftd = Driftd(config, drain=True, dump=dump, log=tmp_path / "late.log")
    try:
        driftd.wait_ready(timeout=10)  # /healthz, while no broker answers
        wait_for(lambda: "connecting to kafka" in driftd.ready()[1], "readiness failing",
                 timeout=10)
        assert driftd.ready()[0] == 503
        time.sleep(8)  # the outage lasts: driftd keeps trying, still alive
        assert driftd.process.poll() is None
        broker.start()
        code = driftd.wait(timeout=90)
    finally:
        if driftd.process.poll() is None:
            driftd.kill()
    log = (tmp_path / "late.log").read_text()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log
    assert load_results(dump)["events"] == {"predictions/bench": 500}

    broker.stop()
    config = write_config(tmp_path, bootstrap=bootstrap, topic="late", group="never",
                          windows=WINDOWS,
                          extra_source={"broker_timeout_seconds": BROKER_TIMEOUT_SECONDS})
    started = time.monotonic()
    driftd = Driftd(config, log=tmp_path / "never.log")
    code = driftd.wait(timeout=60)
    exited = time.monotonic() - started
    log = (tmp_path / "never.log").read_text()
    print(f"\nno broker at start-up: exit {code} after {exited:.2f} s "
          f"(broker_timeout_seconds {BROKER_TIMEOUT_SECONDS})")
    assert code == 3, log[-3000:]
    assert exited <= BROKER_TIMEOUT_SECONDS + 5.0 + 2.0, log[-3000:]  # + interpreter start
    assert "cannot start" not in log and "Traceback" not in log
    assert "no Kafka broker has answered" in log
