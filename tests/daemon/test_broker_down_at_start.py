"""Start-up with no broker to be had: driftd as a real process, against a loopback port
where nothing listens, and against one where a listener accepts and never answers.

The real-broker outage scenarios (a broker stopped, killed, back later) are in
tests/kafka_e2e/test_outage_bounds.py; these need no broker, so they run everywhere.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafka_e2e.support import Driftd, free_port, write_config

BROKER_TIMEOUT_SECONDS = 5
# Past broker_timeout_seconds: the probe's next check (every second, at most 2 s each),
# the main loop's turn and the shutdown; interpreter start-up is timed separately.
EXIT_MARGIN_SECONDS = 3.5
WINDOWS = [{"name": "all", "type": "count", "size": 500, "step": 500}]


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """``host:port`` of a TCP listener that accepts every connection and never sends."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()


def start_without_broker(tmp_path: Path, bootstrap: str) -> tuple[Driftd, float]:
    """driftd on ``bootstrap`` with broker_timeout_seconds 5, once it serves /healthz;
    also how long after the process started /healthz first answered."""
    config = write_config(tmp_path, bootstrap=bootstrap, topic="never", group="down",
                          windows=WINDOWS,
                          extra_source={"broker_timeout_seconds": BROKER_TIMEOUT_SECONDS})
    started = time.monotonic()
    driftd = Driftd(config, log=tmp_path / "driftd.log")
    driftd.wait_ready(timeout=30)
    return driftd, started


def check_outage(tmp_path: Path, bootstrap: str) -> None:
    driftd, started = start_without_broker(tmp_path, bootstrap)
    try:
        serving = time.monotonic() - started
        status, reason = driftd.ready()
        answered = time.monotonic()
        code = driftd.wait(timeout=60)
        exited = time.monotonic() - answered
    finally:
        if driftd.process.poll() is None:
            driftd.kill()
    log = (tmp_path / "driftd.log").read_text()
    print(f"\n{bootstrap}: /healthz after {serving:.2f} s, /readyz {status}, exit {code} "
          f"{exited:.2f} s after that answer (broker_timeout_seconds {BROKER_TIMEOUT_SECONDS}); "
          f"reason: {reason.strip()}")
    assert status == 503, reason
    assert f"kafka:{bootstrap}" in reason, reason
    assert code == 3, log[-3000:]
    assert exited <= BROKER_TIMEOUT_SECONDS + EXIT_MARGIN_SECONDS, log[-3000:]
    assert "no Kafka broker has answered" in log and "Check that the brokers are up" in log
    assert "Traceback" not in log and "cannot start" not in log, log[-3000:]


def test_no_listener_at_the_bootstrap_address_fails_readiness_then_exits_3(
    tmp_path: Path,
) -> None:
    """driftd starts on a free loopback port where nothing listens (connections refused),
    broker_timeout_seconds 5.

    Expected: /healthz answers while no broker does; /readyz answers 503 with a reason
    naming kafka:<bootstrap servers>; driftd exits 3 within broker_timeout_seconds + 3.5 s
    of that answer, logging what to check, with no traceback and never "cannot start".
    """
    check_outage(tmp_path, f"127.0.0.1:{free_port()}")


def test_a_listener_that_never_answers_is_the_same_outage(
    tmp_path: Path, silent_listener: str,
) -> None:
    """As above, but the bootstrap address accepts TCP connections and never sends a
    byte (a half-dead broker, a proxy with nothing behind it).

    Expected: the same: /readyz 503 naming it, exit 3 on time, no traceback.
    """
    check_outage(tmp_path, silent_listener)
