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
