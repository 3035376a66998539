"""Helpers of the HTTP ingest scenarios: configs, events, posting, running a daemon."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from driftd.config import Config, DemoSourceConfig, parse_config
from driftd.config.http import HttpSourceConfig
from driftd.reference.profile import Profile
from driftd.service.checkpoint import CheckpointStore
from driftd.service.daemon import Daemon, Extras
from driftd.service.demo import demo_config, demo_profile
from driftd.sources.base import RawBatch, Source
from driftd.sources.demo import DemoGenerator, prediction_events
from driftd.sources.http_ingest import HttpIngestSource

DEADLINE_SECONDS = 20.0
WINDOW = "last-500"


def events(start: int, count: int, *, seed: int = 5) -> list[dict[str, Any]]:
    """``count`` demo prediction events with ids and times from ``start`` on."""
    block = DemoGenerator(seed).rows(count, drifted=False)
    return prediction_events(block, np.arange(start, start + count, dtype=float), start,
                             "demo")


def jsonl(found: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in found)


def config(tmp_path: Path, *, source: Mapping[str, Any] | None = None,
           checkpoint: bool = True) -> Config:
    """The demo model with one count window of 500 (arrival order alone decides what
    each window holds), read from an http source listening on a free port."""
    raw = demo_config(address="127.0.0.1:0", environ={}).model_dump(mode="json",
                                                                      exclude_none=True)
    raw["models"][0]["windows"] = [{"name": WINDOW, "type": "count", "size": 500,
                                    "step": 500}]
    raw["models"][0].pop("performance")
    raw["sources"] = [{"type": "http", "listen": "127.0.0.1:0",
                       "spool_dir": str(tmp_path / "spool"), **(source or {})}]
    raw["ingest"] = {"max_future_seconds": None}
    if checkpoint:
        raw["checkpoint"] = {"path": str(tmp_path / "state.sqlite"), "interval_seconds": 0.2}
    return parse_config(raw, source="<test>", environ={})


def profile(cfg: Config) -> dict[str, Profile]:
    demo = demo_config(address="127.0.0.1:0", environ={}).sources[0]
    assert isinstance(demo, DemoSourceConfig)
    return {"demo": demo_profile(cfg.models[0], demo)}


class SlowSource(HttpIngestSource):
    """An http source whose batches take ``slow`` seconds more each (a slow pipeline)."""

    def __init__(self, spec: HttpSourceConfig, slow: float) -> None:
        super().__init__(spec)
        self._slow = slow

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        batch = super().poll(max_messages, timeout_seconds)
        if batch is not None and batch.messages:
            time.sleep(self._slow)
        return batch


def http_source(cfg: Config, slow: float = 0.0) -> HttpIngestSource:
    spec = cfg.sources[0]
    assert isinstance(spec, HttpSourceConfig)
    return SlowSource(spec, slow) if slow else HttpIngestSource(spec)


def post(port: int, path: str, body: bytes, headers: Mapping[str, str] | None = None,
         ) -> tuple[int, dict[str, str], bytes]:
    """POST ``body``; (status, headers lower-cased, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=body,
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read())
    finally:
        connection.close()


def wait_for(condition: Callable[[], bool], what: Callable[[], str],
             seconds: float = DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.02)  # a counter to watch: there is no event to wait on


class Running:
    """A daemon on its own thread, with its http source."""

    def __init__(self, daemon: Daemon, source: HttpIngestSource) -> None:
        self.daemon, self.source = daemon, source

    def counted(self) -> int:
        return sum(self.daemon.telemetry.snapshot().events.values())

    def windows(self) -> list[dict[str, Any]]:
        return [r for r in self.daemon.history.records or [] if r["window"] == WINDOW]


@contextmanager
def running(cfg: Config, sources: list[Source] | None = None, *,
            exit_when_drained: bool = False, slow: float = 0.0) -> Iterator[Running]:
    """Start a daemon on ``cfg`` (its http source, or ``sources``); stop it at the end."""
    source = http_source(cfg, slow)
    store = CheckpointStore(cfg.checkpoint.path) if cfg.checkpoint.path else None
    daemon = Daemon(cfg, profile(cfg), sources or [source], extras=Extras(store=store),
                    keep_history=True, exit_when_drained=exit_when_drained)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        if sources is None:
            wait_for(lambda: source.serving.is_set() or not thread.is_alive(),
                     lambda: "the listener did not start")
        yield Running(daemon, source)
    finally:
        daemon.request_stop("test over")
        thread.join(timeout=15)
    assert not thread.is_alive() and daemon.exit_code == 0
