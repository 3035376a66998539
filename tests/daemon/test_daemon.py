"""The daemon end to end: a source in, /metrics out over a real HTTP server."""

from __future__ import annotations

import io
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftd.config import Config, DemoSourceConfig
from driftd.service.daemon import Daemon
from driftd.service.demo import demo_config, demo_profile
from driftd.sources.base import RawBatch
from driftd.sources.demo import DemoGenerator, DemoSource, prediction_events
from driftd.sources.jsonl import JsonlSource


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    found = [v for (n, ls), v in samples.items()
             if n == name and all(dict(ls).get(k) == want for k, want in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


@pytest.fixture
def config() -> Config:
    return demo_config(address="127.0.0.1:0", environ={})


def replay_lines(rows: int, *, drifted: bool, seed: int) -> list[bytes]:
    block = DemoGenerator(seed).rows(rows, drifted=drifted)
    events = prediction_events(block, np.arange(rows, dtype=float), 0, "demo")
    return [orjson.dumps(e) + b"\n" for e in events]


@pytest.fixture
def running(config: Config) -> Iterator[tuple[Daemon, threading.Thread]]:
    source_config = config.sources[0]
    assert isinstance(source_config, DemoSourceConfig)
    profile = demo_profile(config.models[0], source_config)
    lines = replay_lines(5000, drifted=True, seed=3)
    lines[10:10] = [b"{broken\n", b'{"model": "nope", "ts": 1}\n']
    source = JsonlSource("replay.jsonl", handle=io.BytesIO(b"".join(lines)))
    daemon = Daemon(config, {"demo": profile}, [source])
    thread = threading.Thread(target=daemon.run)
    thread.start()
    yield daemon, thread
    daemon.request_stop("test over")
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_replayed_drift_shows_on_metrics_and_bad_lines_are_counted(
    running: tuple[Daemon, threading.Thread],
) -> None:
    """A drifted replay of 5000 events + 2 bad lines: drift flagged, bad lines counted."""
    daemon, _ = running
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        samples = scrape(daemon.http.url)
        if ("driftd_window_events", (("model", "demo"), ("model_version", "1"),
                                     ("reference", daemon.monitor.models["demo"].layout.profile
                                      .version), ("window", "last-5k"))) in samples:
            break
        time.sleep(0.1)
    assert value(samples, "driftd_events_total", stream="predictions", model="demo") == 5000
    assert value(samples, "driftd_events_invalid_total", reason="malformed_json") == 1
    assert value(samples, "driftd_events_invalid_total", reason="unknown_model") == 1
    assert value(samples, "driftd_drift_detected", column="velocity", window="last-5k",
                 test="psi") == 1
    assert value(samples, "driftd_drift_detected", column="hour", window="last-5k",
                 test="psi") == 0
    assert value(samples, "driftd_psi", column="amount", window="last-5k") > 0.2
    assert value(samples, "driftd_ks_pvalue", column="velocity", window="last-5k") < 1e-12
    with urllib.request.urlopen(daemon.http.url + "/readyz", timeout=5) as response:
        assert response.status == 200


def test_demo_stream_drifts_after_the_configured_time() -> None:
    """Driven by a fake clock: PSI of velocity low before the drift, high after it."""
    clock = [1_000_000.0]
    config = demo_config(address="127.0.0.1:0", drift_after_seconds=10, environ={})
    source_config = config.sources[0]
    assert isinstance(source_config, DemoSourceConfig)
    daemon_profile = demo_profile(config.models[0], source_config)
    source = DemoSource(DemoGenerator(1), model="demo", events_per_second=1000,
                        drift_after_seconds=10, label_delay_seconds=5,
                        clock=lambda: clock[0], sleep=lambda s: None)
    daemon = Daemon(config, {"demo": daemon_profile}, [], clock=lambda: clock[0])
    psi: list[float] = []
    errors: list[object] = []
    for _second in range(20):
        clock[0] += 1.0
        batch: RawBatch | None = source.poll(100_000, 0.0)
        while batch is not None and batch.messages:
            daemon._pipeline.ingest(batch, clock[0])
            batch = source.poll(100_000, 0.0)
        daemon.evaluate()
        published = daemon.board.latest()
        assert published is not None
        count = [w for w in published.windows if w.window == "last-5k"]
        if count:
            psi.append(count[0].column("velocity").statistics["psi"])
        errors += [e for w in published.windows for e in w.errors]
    assert max(psi[:3]) < 0.05 and psi[-1] > 0.2
    assert errors == []  # every statistic of every window computed
    snapshot = daemon.telemetry.snapshot()
    assert snapshot.events[("outcomes", "demo")] > 0


def test_run_command_fails_clearly_on_a_bad_config(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from driftd.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("models: []\nsources: []\n")
    assert main(["run", "--config", str(bad)]) == 2
    assert "models" in capsys.readouterr().err


def test_health_endpoints_answer_until_an_ordered_shutdown(config: Config) -> None:
    """Probes answer while running; after request_stop the loop ends and the port closes."""
    source_config = config.sources[0]
    assert isinstance(source_config, DemoSourceConfig)
    daemon = Daemon(config, {"demo": demo_profile(config.models[0], source_config)}, [])
    thread = threading.Thread(target=daemon.run)
    thread.start()
    deadline = time.monotonic() + 10
    url = ""
    while not url and time.monotonic() < deadline:
        try:
            url = daemon.http.url
        except RuntimeError:
            time.sleep(0.05)
    with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
        assert response.status == 200 and response.read() == b"ok\n"
    # Ready once start-up has finished (the HTTP server answers before that, with 503).
    while time.monotonic() < deadline and not daemon.health.ready()[0]:
        time.sleep(0.05)
    with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
        assert response.status == 200 and response.read() == b"ready\n"
    daemon.request_stop("test")
    thread.join(timeout=10)
    assert not thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/healthz", timeout=1)
