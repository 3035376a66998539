"""Hot reload in the daemon's main loop: what a reload keeps, restarts and refuses.

Two models read one stream. The scenarios reload between batches and compare each
model's window results with runs that never reloaded: a model whose config is unchanged
must not notice the reload at all, a changed one starts as it would after a restart.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from daemon.test_daemon import scrape
from driftd.config import Config, ConfigError, parse_config
from driftd.reference.build import build_profile
from driftd.reference.profile import Profile
from driftd.service.daemon import Daemon
from driftd.sources.base import RawBatch

MODELS = ("fraud", "churn")


class Feed:
    """A stream the test writes batches into; ends when given None."""

    name = "feed"

    def __init__(self) -> None:
        self._batches: queue.Queue[list[bytes] | None] = queue.Queue()

    def put(self, lines: list[bytes] | None) -> None:
        self._batches.put(lines)

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        try:
            lines = self._batches.get(timeout=timeout_seconds)
        except queue.Empty:
            return RawBatch("predictions", [])
        return None if lines is None else RawBatch("predictions", lines)

    def close(self) -> None:
        pass


def raw_config(tmp_path: Path, *, psi_threshold: float = 0.2, size: int = 200,
               **extra: Any) -> dict[str, Any]:
    return {
        "models": [{"name": name, "reference": str(tmp_path / f"{name}.json"),
                    "columns": [{"name": "x", "kind": "numeric"}],
                    "tests": {"psi": {"threshold": psi_threshold if name == "fraud" else 0.2}},
                    "windows": [{"name": "last", "type": "count",
                                 "size": size if name == "fraud" else 200, "step": 100}],
                    "false_alarm_rate": None}
                   for name in MODELS],
        "sources": [{"type": "jsonl", "path": "-"}],
        "http": {"address": "127.0.0.1:0", **extra.pop("http", {})},
        **extra,
    }


def profiles_for(config: Config) -> dict[str, Profile]:
    rng = np.random.default_rng(5)
    return {m.name: build_profile(m.name, m.columns, {"x": rng.normal(size=500)}, {},
                                  rows=500, metadata={}) for m in config.models}


def events(count: int, seed: int) -> list[bytes]:
    """``count`` events of each model, alternating; drifted (shifted by 1.5)."""
    rng = np.random.default_rng(seed)
    return [orjson.dumps({"model": model, "ts": 1000.0 + i,
                          "features": {"x": float(rng.normal(1.5))}})
            for i in range(count) for model in MODELS]


class Running:
    """A daemon on a Feed, on its own thread, reloading with ``load``."""

    def __init__(self, config: Config, load: Callable[[], tuple[Config, Mapping[str, Profile]]]):
        self.feed = Feed()
        self.daemon = Daemon(config, profiles_for(config), [self.feed], keep_history=True,
                             exit_when_drained=True,
                             reloader=load)
        self.thread = threading.Thread(target=self.daemon.run)
        self.thread.start()

    def send(self, lines: list[bytes]) -> None:
        """Put ``lines`` on the stream and wait until the daemon has counted them."""
        def counted() -> int:
            return sum(self.daemon.telemetry.snapshot().events.values())
        goal = counted() + len(lines)
        self.feed.put(lines)
        deadline = time.monotonic() + 20
        while counted() < goal:
            assert time.monotonic() < deadline, "the daemon did not ingest the batch"
            time.sleep(0.01)

    def finish(self) -> list[dict[str, Any]]:
        """End the stream; every window result the daemon published."""
        self.feed.put(None)
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()
        return self.daemon.history.records or []

    def stop(self) -> None:
        if self.thread.is_alive():
            self.daemon.request_stop("test over")
            self.thread.join(timeout=20)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    made: list[Running] = []

    def make(config: Config, load: Callable[[], tuple[Config, Mapping[str, Profile]]]
             ) -> Running:
        made.append(Running(config, load))
        return made[-1]

    yield make
    for run in made:
        run.stop()


def loader(raw: dict[str, Any]) -> Callable[[], tuple[Config, Mapping[str, Profile]]]:
    def load() -> tuple[Config, Mapping[str, Profile]]:
        config = parse_config(raw, environ={})
        return config, profiles_for(config)
    return load


def by_model(records: list[dict[str, Any]], model: str) -> list[tuple[Any, ...]]:
    """(sequence, events, drift decisions, psi) of each window result of ``model``."""
    return [(r["sequence"], r["events"],
             tuple((c["column"], tuple(sorted(c["drift"].items()))) for c in r["columns"]),
             tuple(round(c["statistics"]["psi"], 12) for c in r["columns"]))
            for r in records if r["model"] == model]


def without_reload(tmp_path: Path, running: Callable[..., Running], raw: dict[str, Any],
                   batches: list[list[bytes]]) -> list[dict[str, Any]]:
    run = running(parse_config(raw, environ={}), loader(raw))
    for batch in batches:
        run.send(batch)
    return run.finish()


def test_a_threshold_change_keeps_both_models_windows(
    tmp_path: Path, running: Callable[..., Running],
) -> None:
    """Steps: 150 events a model, reload with fraud's PSI threshold at 50, 250 more.
    Expected: churn's windows are exactly those of a run without reload; fraud's windows
    carry on (same sequence, events and PSI as without reload) and only its decision
    follows the new threshold: no PSI drift after the reload."""
    before, after = events(150, seed=1), events(250, seed=2)
    old, new = raw_config(tmp_path), raw_config(tmp_path, psi_threshold=50.0)
    run = running(parse_config(old, environ={}), loader(new))
    run.send(before)
    assert run.daemon.reload_and_wait(20) is None
    run.send(after)
    reloaded = run.finish()

    plain = without_reload(tmp_path, running, old, [before, after])
    assert by_model(reloaded, "churn") == by_model(plain, "churn")
    fraud, fraud_plain = by_model(reloaded, "fraud"), by_model(plain, "fraud")
    assert [w[:2] + w[3:] for w in fraud] == [w[:2] + w[3:] for w in fraud_plain]
    assert all(dict(w[2][0][1])["psi"] for w in fraud_plain)  # drifted data
    assert not any(dict(w[2][0][1])["psi"] for w in fraud)  # under the new threshold
    assert run.daemon.telemetry.snapshot().reload_successful


def test_a_changed_window_starts_empty_and_the_other_model_does_not_notice(
    tmp_path: Path, running: Callable[..., Running],
) -> None:
    """Steps: 150 events a model, reload with fraud's window at 300 events, 450 more.
    Expected: churn as without reload; fraud's windows are those of a fresh run on
    the 450 events after the reload (its window started empty)."""
    before, after = events(150, seed=1), events(450, seed=2)
    old, new = raw_config(tmp_path), raw_config(tmp_path, size=300)
    run = running(parse_config(old, environ={}), loader(new))
    run.send(before)
    assert run.daemon.reload_and_wait(20) is None
    run.send(after)
    reloaded = run.finish()

    assert by_model(reloaded, "churn") == by_model(
        without_reload(tmp_path, running, old, [before, after]), "churn")
    fresh = without_reload(tmp_path, running, new, [after])
    assert [w[1:] for w in by_model(reloaded, "fraud")] == [
        w[1:] for w in by_model(fresh, "fraud")]


def test_a_broken_config_keeps_the_running_one_and_says_so_on_metrics(
    tmp_path: Path, running: Callable[..., Running],
) -> None:
    raw = raw_config(tmp_path)

    def broken() -> tuple[Config, Mapping[str, Profile]]:
        raise ConfigError("driftd.yaml", ["models.0.windows.0.size: Input should be > 0"])

    run = running(parse_config(raw, environ={}), broken)
    config = run.daemon.config
    samples = scrape(run.daemon.http.url)
    loaded_at = samples[("driftd_config_last_reload_success_timestamp_seconds", ())]
    assert samples[("driftd_config_last_reload_successful", ())] == 1.0

    error = run.daemon.reload_and_wait(20)

    assert error == "driftd.yaml: models.0.windows.0.size: Input should be > 0"
    assert run.daemon.config is config
    samples = scrape(run.daemon.http.url)
    assert samples[("driftd_config_last_reload_successful", ())] == 0.0
    assert samples[("driftd_config_last_reload_success_timestamp_seconds", ())] == loaded_at
    run.send(events(350, seed=3))  # still running the old config: windows at 200 and 300
    assert len(by_model(run.finish(), "fraud")) == 2


def test_a_change_only_a_restart_can_apply_is_refused(
    tmp_path: Path, running: Callable[..., Running],
) -> None:
    old = raw_config(tmp_path)
    new = raw_config(tmp_path, ingest={"max_message_bytes": 4096}, psi_threshold=1.0)
    run = running(parse_config(old, environ={}), loader(new))

    error = run.daemon.reload_and_wait(20)

    assert error is not None and error.startswith("ingest: changed; a reload applies models")
    assert run.daemon.config.models[0].tests.psi.threshold == 0.2
    assert not run.daemon.telemetry.snapshot().reload_successful


def test_an_unexpected_error_while_reloading_never_stops_the_daemon(
    tmp_path: Path, running: Callable[..., Running],
) -> None:
    raw = raw_config(tmp_path)

    def failing() -> tuple[Config, Mapping[str, Profile]]:
        raise PermissionError("profiles/fraud.json: permission denied")

    run = running(parse_config(raw, environ={}), failing)

    error = run.daemon.reload_and_wait(20)

    assert error == "unexpected error: profiles/fraud.json: permission denied"
    run.send(events(250, seed=3))  # still running
    assert len(by_model(run.finish(), "churn")) == 1
    assert run.daemon.exit_code == 0
