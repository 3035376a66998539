"""Checkpoints: window state and offsets written together, restored exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from driftd.config import DemoSourceConfig
from driftd.events import ModelBatch
from driftd.monitor.monitor import Monitor
from driftd.service.checkpoint import Checkpoint, CheckpointError, CheckpointStore
from driftd.service.demo import demo_config, demo_profile
from driftd.sources.demo import DemoGenerator
from driftd.telemetry import Telemetry


def demo_monitor() -> Monitor:
    config = demo_config(address="127.0.0.1:0", environ={})
    source = config.sources[0]
    assert isinstance(source, DemoSourceConfig)
    return Monitor(config.models, {"demo": demo_profile(config.models[0], source)}, Telemetry())


def batch(rows: int, start: float, seed: int) -> ModelBatch:
    block = DemoGenerator(seed).rows(rows, drifted=seed % 2 == 1)
    numeric = dict(block.numeric) | {"score": block.score}
    return ModelBatch("demo", start + np.arange(rows) * 0.01, [None] * rows, numeric,
                      {**block.categorical, "label": [None] * rows})


def results(monitor: Monitor) -> list[tuple[str, int, dict[str, dict[str, float]]]]:
    """Every window closed so far and, at the end of the data, the open ones."""
    return [(w.window, w.start, w.events, {c.column: dict(c.statistics) for c in w.columns})
            for w in monitor.results(0.0, finish=True)]


def assert_same_results(got: list, want: list) -> None:
    """Same windows and counts; statistics equal to 1e-12 relative (the KS p-value's
    interpolation tables depend on which sizes were seen before, at about 1e-14)."""
    assert [w[:3] for w in got] == [w[:3] for w in want]
    for (*_, a), (*_, b) in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for column in a:
            assert a[column] == pytest.approx(b[column], rel=1e-12, abs=0.0), column


def test_a_restored_monitor_continues_exactly_like_an_uninterrupted_one(tmp_path: Path) -> None:
    """Steps: feed 3 batches, checkpoint, feed 2 more into both the original and a fresh
    monitor restored from the checkpoint. Expected: identical windows and statistics."""
    original = demo_monitor()
    for i in range(3):
        original.ingest("predictions", {"demo": batch(2300, 100.0 * i, i)})
    original.results(0.0)  # what closed is published before a checkpoint, as the daemon does
    store = CheckpointStore(tmp_path / "state.sqlite")
    store.save(Checkpoint(1.0, {("t", 0): 42, ("t", 1): 7}, original.state()))
    store.close()

    reopened = CheckpointStore(tmp_path / "state.sqlite")
    loaded = reopened.load()
    reopened.close()
    assert loaded is not None and loaded.offsets == {("t", 0): 42, ("t", 1): 7}
    restored = demo_monitor()
    assert restored.restore(loaded.models) == {}
    for i in range(3, 5):
        for monitor in (original, restored):
            monitor.ingest("predictions", {"demo": batch(2300, 100.0 * i, i)})
    assert_same_results(results(restored), results(original))


def test_state_of_another_reference_is_not_restored(tmp_path: Path) -> None:
    monitor = demo_monitor()
    monitor.ingest("predictions", {"demo": batch(6000, 0.0, 1)})
    state = monitor.state()["demo"]
    changed = {"demo": type(state)("sha256:other", state.windows)}
    assert demo_monitor().restore(changed) == {"demo": ["1m", "last-5k"]}


def test_an_empty_store_loads_nothing_and_a_damaged_one_says_so(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = CheckpointStore(path)
    assert store.load() is None
    monitor = demo_monitor()
    monitor.ingest("predictions", {"demo": batch(1500, 0.0, 1)})
    store.save(Checkpoint(1.0, {}, monitor.state()))
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE panes SET counts = x'00'")
    damaged = CheckpointStore(path)
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        damaged.load()
    damaged.close()


def test_a_checkpoint_replaces_the_previous_one_whole(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "state.sqlite")
    store.save(Checkpoint(1.0, {("a", 0): 1, ("a", 1): 5}, {}))
    store.save(Checkpoint(2.0, {("a", 0): 9}, {}))
    loaded = store.load()
    store.close()
    assert loaded is not None and (loaded.created_at, loaded.offsets) == (2.0, {("a", 0): 9})


def test_an_unwritable_path_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises((CheckpointError, OSError)):
        CheckpointStore(blocker / "state.sqlite")


def test_only_changed_panes_are_written_again(tmp_path: Path) -> None:
    """Steps: checkpoint, add events, checkpoint again. Expected: the second write
    covers only the panes those events touched (closed panes are never rewritten)."""
    monitor = demo_monitor()
    for i in range(3):
        monitor.ingest("predictions", {"demo": batch(2300, 100.0 * i, i)})
    monitor.results(0.0)
    store = CheckpointStore(tmp_path / "state.sqlite")
    first = store.save(Checkpoint(1.0, {}, monitor.state()))
    assert store.save(Checkpoint(2.0, {}, monitor.state())) == 0
    monitor.ingest("predictions", {"demo": batch(50, 300.0, 9)})
    second = store.save(Checkpoint(3.0, {}, monitor.state()))
    assert first >= 8 and 1 <= second <= 3  # count window's open pane, a time pane
    monitor.ingest("predictions", {"demo": batch(2000, 301.0, 10)})  # closes count panes
    monitor.results(0.0)
    third = store.save(Checkpoint(4.0, {}, monitor.state()))
    store.close()
    # 2 closed count panes, sum, open; time panes of 301-321 s; the time panes that
    # closed keep only their float sums for the label horizon (rewritten once, smaller)
    assert 4 <= third <= 12
    reloaded = CheckpointStore(tmp_path / "state.sqlite")
    loaded = reloaded.load()
    reloaded.close()
    assert loaded is not None
    restored = demo_monitor()
    assert restored.restore(loaded.models) == {}
    assert_same_results(results(restored), results(monitor))
