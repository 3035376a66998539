"""Predictions waiting for delayed outcomes: on disk, bounded, and crash-consistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from driftd.service.checkpoint import Checkpoint, CheckpointStore


def add(store: CheckpointStore, ids: list[str], *, ts: float = 0.0, ttl: float = 100.0,
        capacity: int = 1000) -> int:
    pending = store.pending(capacity=capacity)
    n = len(ids)
    times = np.full(n, ts)
    return pending.add("m", ids, times, np.arange(n, dtype=float), times + ttl)


def test_outcomes_find_their_predictions_once(tmp_path: Path) -> None:
    """Scenario: 3 predictions; outcomes for p1, p3 and an unknown id; p1 again.

    Expected: p1 and p3 matched with their values and times; the unknown id and the
    repeated p1 are not (a match removes the prediction).
    """
    store = CheckpointStore(tmp_path / "state.sqlite")
    pending = store.pending(capacity=1000)
    pending.add("m", ["p1", "p2", "p3"], np.array([1.0, 2.0, 3.0]),
                np.array([0.9, 0.1, 0.4]), np.full(3, 100.0))
    found = pending.match("m", ["p3", "nope", "p1"])
    assert sorted(found.index.tolist()) == [0, 2]
    by_position = dict(zip(found.index.tolist(), zip(found.ts.tolist(), found.value.tolist(),
                                                     strict=True), strict=True))
    assert by_position == {0: (3.0, 0.4), 2: (1.0, 0.9)}
    assert len(pending.match("m", ["p1"]).index) == 0
    assert len(pending) == 1
    store.close()


def test_models_do_not_see_each_others_ids(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "state.sqlite")
    pending = store.pending(capacity=1000)
    pending.add("a", ["x"], np.zeros(1), np.zeros(1), np.ones(1))
    assert len(pending.match("b", ["x"]).index) == 0
    assert len(pending.match("a", ["x"]).index) == 1
    store.close()


def test_expired_predictions_are_dropped_and_counted(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "state.sqlite")
    pending = store.pending(capacity=1000)
    pending.add("m", ["old", "new"], np.array([0.0, 50.0]), np.zeros(2),
                np.array([10.0, 60.0]))
    assert pending.expire("m", now=30.0) == 1
    assert len(pending) == 1 and len(pending.match("m", ["old"]).index) == 0
    store.close()


def test_the_store_is_bounded_and_evicts_the_nearest_deadlines(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "state.sqlite")
    pending = store.pending(capacity=3)
    pending.add("m", ["a", "b"], np.zeros(2), np.zeros(2), np.array([5.0, 1.0]))
    evicted = pending.add("m", ["c", "d", "a"], np.zeros(3), np.zeros(3),
                          np.array([9.0, 7.0, 8.0]))
    assert evicted == 1 and len(pending) == 3  # "a" replaced, "b" (deadline 1) evicted
    assert len(pending.match("m", ["b"]).index) == 0
    store.close()


def test_pending_writes_after_the_last_checkpoint_vanish_with_a_crash(tmp_path: Path) -> None:
    """Steps: add p1, checkpoint, add p2, then 'crash' (close without a checkpoint).

    Expected: reopened, the store holds exactly what the checkpoint reflected: p1.
    """
    store = CheckpointStore(tmp_path / "state.sqlite")
    add(store, ["p1"])
    store.save(Checkpoint(1.0, {("t", 0): 1}, {}))
    add(store, ["p2"])
    store.close()
    reopened = CheckpointStore(tmp_path / "state.sqlite")
    pending = reopened.pending(capacity=1000)
    assert len(pending) == 1
    assert len(pending.match("m", ["p2"]).index) == 0
    assert len(pending.match("m", ["p1"]).index) == 1
    loaded = reopened.load()
    assert loaded is not None and loaded.offsets == {("t", 0): 1}
    reopened.close()
