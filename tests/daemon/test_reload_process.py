"""`driftd run` reloads its config on SIGHUP and on POST /-/reload, as a real process.

Before, SIGHUP killed the daemon (exit 129, no shutdown, no checkpoint). Now it re-reads
the config file: a threshold change of one model keeps the other model's windows as
they were, and a broken file leaves the daemon running the config it had, with
``driftd_config_last_reload_successful 0``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from config.support import write_profile
from daemon.test_daemon import scrape
from kafka_e2e.support import free_port

MODELS = ("fraud", "churn")
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def write_config(directory: Path, port: int, *, fraud_psi: float = 0.2,
                 lifecycle: bool = False) -> Path:
    models = [{"name": name, "reference": str(write_profile(directory / f"{name}.json",
                                                             {"x": "input"}, model=name)),
               "columns": [{"name": "x", "kind": "numeric"}],
               "tests": {"psi": {"threshold": fraud_psi if name == "fraud" else 0.2}},
               "windows": [{"name": "last", "type": "count", "size": 100, "step": 50}]}
              for name in MODELS]
    config = {"models": models,
              "sources": [{"type": "jsonl", "path": str(directory / "events.jsonl"),
                           "follow": True}],
              "http": {"address": f"127.0.0.1:{port}", "enable_lifecycle": lifecycle},
              "evaluation": {"interval_seconds": 1}}
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def append_events(directory: Path, count: int, start: int) -> None:
    with (directory / "events.jsonl").open("ab") as handle:
        for i in range(start, start + count):
            for model in MODELS:
                handle.write(orjson.dumps({"model": model, "ts": 1_000.0 + i,
                                           "features": {"x": (i % 17) / 17.0}}) + b"\n")


def value(samples: Samples, name: str, **labels: str) -> float | None:
    found = [v for (n, ls), v in samples.items()
             if n == name and all(dict(ls).get(k) == want for k, want in labels.items())]
    return found[0] if found else None


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Driftd:
    def __init__(self, config: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = config.parent / "driftd.log"
        with self.log.open("wb") as stderr:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "driftd", "run", "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wait_for(self.up, "driftd to serve /metrics")

    def up(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            scrape(self.url)
            return True
        except OSError:
            return False

    def samples(self) -> Samples:
        return scrape(self.url)

    def reloaded_since(self, loaded_at: float) -> Callable[[], bool]:
        def check() -> bool:
            assert self.process.poll() is None, self.log.read_text()
            now = value(self.samples(), "driftd_config_last_reload_success_timestamp_seconds")
            return now is not None and now > loaded_at
        return check


@pytest.fixture
def driftd() -> Iterator[Callable[[Path, int], Driftd]]:
    started: list[Driftd] = []

    def start(config: Path, port: int) -> Driftd:
        started.append(Driftd(config, port))
        return started[-1]

    yield start
    for run in started:
        if run.process.poll() is None:
            run.process.terminate()
            run.process.wait(timeout=30)


def test_sighup_applies_one_models_new_threshold_and_keeps_the_other_models_windows(
    tmp_path: Path, driftd: Callable[[Path, int], Driftd],
) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    append_events(tmp_path, 130, start=0)  # windows at 100; 30 events into the next
    run = driftd(config, port)
    wait_for(lambda: value(run.samples(), "driftd_windows_evaluated_total",
                           model="churn") == 1.0, "the first churn window")
    before = run.samples()
    loaded_at = value(before, "driftd_config_last_reload_success_timestamp_seconds")
    assert loaded_at is not None

    write_config(tmp_path, port, fraud_psi=50.0)
    time.sleep(0.01)  # the reload's timestamp must be later than the start's
    run.process.send_signal(signal.SIGHUP)
    wait_for(run.reloaded_since(loaded_at), "the reload")

    after = run.samples()
    assert value(after, "driftd_config_last_reload_successful") == 1.0
    for model in MODELS:  # nothing closed or reset by the reload
        assert value(after, "driftd_window_events", model=model) == value(
            before, "driftd_window_events", model=model) == 100.0
    # The windows that were filling go on: 20 more events close them at 150 events.
    append_events(tmp_path, 20, start=130)
    wait_for(lambda: value(run.samples(), "driftd_windows_evaluated_total",
                           model="churn") == 2.0, "the second churn window")
    wait_for(lambda: value(run.samples(), "driftd_windows_evaluated_total",
                           model="fraud") == 2.0, "the second fraud window")
    assert run.process.poll() is None
    text = run.log.read_text()
    assert "config reloaded: models kept ['churn'], restarted ['fraud']" in text


def test_a_broken_config_on_reload_keeps_the_old_one_running(
    tmp_path: Path, driftd: Callable[[Path, int], Driftd],
) -> None:
    port = free_port()
    config = write_config(tmp_path, port, lifecycle=True)
    append_events(tmp_path, 60, start=0)
    run = driftd(config, port)
    loaded_at = value(run.samples(), "driftd_config_last_reload_success_timestamp_seconds")

    config.write_text("models: [\n  {name: fraud\n", encoding="utf-8")  # not YAML
    run.process.send_signal(signal.SIGHUP)
    wait_for(lambda: value(run.samples(), "driftd_config_last_reload_successful") == 0.0,
             "the failed reload")
    assert value(run.samples(),
                 "driftd_config_last_reload_success_timestamp_seconds") == loaded_at
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(f"{run.url}/-/reload", method="POST"),
                               timeout=30)
    assert refused.value.code == 500
    assert "driftd.yaml" in refused.value.read().decode()

    append_events(tmp_path, 60, start=60)  # still running the old config: a window at 100
    wait_for(lambda: value(run.samples(), "driftd_windows_evaluated_total",
                           model="fraud") == 1.0, "a window of the old config")

    write_config(tmp_path, port, lifecycle=True, fraud_psi=1.0)  # mended
    with urllib.request.urlopen(urllib.request.Request(f"{run.url}/-/reload", method="POST"),
                                timeout=30) as answer:
        assert answer.status == 200
    assert value(run.samples(), "driftd_config_last_reload_successful") == 1.0
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=30) == 0
    assert "shutdown complete" in run.log.read_text()
