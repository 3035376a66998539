"""A daemon following a growing JSONL file, stopped and started again on its checkpoint:
every line counts once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import orjson

from driftd.config import DemoSourceConfig
from driftd.service.checkpoint import CheckpointStore
from driftd.service.daemon import Daemon, Extras
from driftd.service.demo import demo_config, demo_profile
from driftd.sources.demo import DemoGenerator, prediction_events
from driftd.sources.jsonl import JsonlSource

DEADLINE_SECONDS = 15.0


def lines(start: int, count: int) -> bytes:
    block = DemoGenerator(5).rows(count, drifted=False)
    events = prediction_events(block, np.arange(start, start + count, dtype=float), start,
                               "demo")
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def run_until(path: Path, store_path: Path, events: int, append: bytes) -> int:
    """Start a daemon following ``path`` on the checkpoint at ``store_path``, append
    ``append`` once it runs, wait until it counted ``events`` this run, stop it; returns
    the events it counted."""
    config = demo_config(address="127.0.0.1:0", environ={})
    source_config = config.sources[0]
    assert isinstance(source_config, DemoSourceConfig)
    profile = demo_profile(config.models[0], source_config)
    daemon = Daemon(config, {"demo": profile}, [JsonlSource(str(path), follow=True)],
                    extras=Extras(store=CheckpointStore(store_path)))
    thread = threading.Thread(target=daemon.run)
    thread.start()

    def counted() -> int:
        return sum(daemon.telemetry.snapshot().events.values())

    try:
        with path.open("ab") as file:
            file.write(append)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while counted() < events:
            assert time.monotonic() < deadline, f"{counted()} of {events} events"
            time.sleep(0.02)  # a counter to watch: there is no event to wait on
    finally:
        daemon.request_stop("test over")
        thread.join(timeout=10)
    assert not thread.is_alive() and daemon.exit_code == 0
    return counted()


def test_a_followed_file_resumes_after_the_lines_of_the_checkpoint(tmp_path: Path) -> None:
    """A file of 300 events is followed; 200 are appended while the daemon runs; it stops
    (checkpoint). 250 more are appended while it is down and 100 once it runs again.

    Expected: the first run counts 500 events, the second 350: nothing twice, nothing
    lost; the checkpoint names the end of the file and its inode.
    """
    path = tmp_path / "events.jsonl"
    path.write_bytes(lines(0, 300))
    store = tmp_path / "state.sqlite"
    assert run_until(path, store, 500, lines(300, 200)) == 500
    with path.open("ab") as file:
        file.write(lines(500, 250))
    assert run_until(path, store, 350, lines(750, 100)) == 350
    reopened = CheckpointStore(store)
    try:
        checkpoint = reopened.load()
    finally:
        reopened.close()
    assert checkpoint is not None
    name = f"jsonl:{path}"
    assert {k: v for k, v in checkpoint.offsets.items() if k[0] == name} == {
        (name, 0): path.stat().st_size, (name, 1): path.stat().st_ino}
