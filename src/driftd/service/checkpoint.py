"""Checkpoints: window state and the Kafka offsets it reflects, in one atomic write.

The store is SQLite in WAL mode. One transaction replaces the state row and the offset
rows together, so a crash at any moment leaves either the previous checkpoint or the
new one, never a mix. This is the only module that imports sqlite3.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from driftd.monitor.state import ModelState, WindowState

logger = logging.getLogger(__name__)

FORMAT = 1
Offsets = Mapping[tuple[str, int], int]  # (topic, partition) -> next offset to read


@dataclass(frozen=True, slots=True)
class Checkpoint:
    created_at: float
    offsets: Offsets
    models: Mapping[str, ModelState] = field(default_factory=dict)


class CheckpointError(Exception):
    """A checkpoint file that cannot be read or written."""


class CheckpointStore:
    """Saves and loads the single latest checkpoint of a driftd instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY "
                             "CHECK (id = 1), created_at REAL, meta TEXT, state BLOB)")
            self._db.execute("CREATE TABLE IF NOT EXISTS offsets (topic TEXT, "
                             "partition INTEGER, next_offset INTEGER, "
                             "PRIMARY KEY (topic, partition))")
        except sqlite3.Error as error:
            raise CheckpointError(f"{path}: cannot open checkpoint database: {error}") from None

    def save(self, checkpoint: Checkpoint) -> int:
        """Write ``checkpoint`` atomically; returns the size of the state in bytes."""
        meta, blob = _encode(checkpoint)
        rows = [(t, p, o) for (t, p), o in sorted(checkpoint.offsets.items())]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO checkpoint VALUES (1, ?, ?, ?)",
                             (checkpoint.created_at, meta, blob))
            self._db.execute("DELETE FROM offsets")
            self._db.executemany("INSERT INTO offsets VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise CheckpointError(f"{self.path}: cannot write checkpoint: {error}") from None
        return len(blob)

    def load(self) -> Checkpoint | None:
        """The latest checkpoint, or None when there is none yet."""
        try:
            row = self._db.execute(
                "SELECT created_at, meta, state FROM checkpoint WHERE id = 1").fetchone()
            offsets = self._db.execute("SELECT topic, partition, next_offset FROM offsets")
            offset_map = {(str(t), int(p)): int(o) for t, p, o in offsets.fetchall()}
        except sqlite3.Error as error:
            raise CheckpointError(f"{self.path}: cannot read checkpoint: {error}") from None
        if row is None:
            return None
        try:
            models = _decode(json.loads(row[1]), row[2])
        except (ValueError, KeyError, TypeError, OSError) as error:
            raise CheckpointError(f"{self.path}: damaged checkpoint: {error}") from None
        return Checkpoint(float(row[0]), offset_map, models)

    def close(self) -> None:
        self._db.close()


def _encode(checkpoint: Checkpoint) -> tuple[str, bytes]:
    arrays: dict[str, np.ndarray] = {}
    models: dict[str, Any] = {}
    for m, (name, model) in enumerate(sorted(checkpoint.models.items())):
        windows = {}
        for w, (window_name, window) in enumerate(sorted(model.windows.items())):
            keys = {}
            for key, array in window.arrays.items():
                keys[key] = f"m{m}w{w}_{key}"
                arrays[keys[key]] = array
            windows[window_name] = {"fingerprint": window.fingerprint, "arrays": keys}
        models[name] = {"reference": model.reference, "windows": windows}
    buffer = io.BytesIO()
    savez: Any = np.savez_compressed  # its stub cannot type arbitrary array names
    savez(buffer, **arrays)
    meta = {"format": FORMAT, "models": models}
    return json.dumps(meta, sort_keys=True), buffer.getvalue()


def _decode(meta: dict[str, Any], blob: bytes) -> dict[str, ModelState]:
    if meta.get("format") != FORMAT:
        raise ValueError(f"unknown checkpoint format {meta.get('format')!r}")
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return {
            name: ModelState(model["reference"], {
                window_name: WindowState(window["fingerprint"], {
                    key: archive[stored] for key, stored in window["arrays"].items()})
                for window_name, window in model["windows"].items()})
            for name, model in meta["models"].items()
        }
