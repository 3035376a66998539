"""Checkpoints: window state and the Kafka offsets it reflects, in one atomic write.

The store is SQLite in WAL mode. One transaction replaces the checkpoint row, the
offset rows and the changed panes together, so a crash at any moment leaves either the
previous checkpoint or the new one, never a mix. Panes are stored one row each and
rewritten only when they changed (a closed pane never does), so a checkpoint costs the
open panes, not the whole window. This is the only module that imports sqlite3.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from driftd.monitor.state import ModelState, WindowState
from driftd.windows.panes import Pane

logger = logging.getLogger(__name__)

FORMAT = 2
Offsets = Mapping[tuple[str, int], int]  # (topic, partition) -> next offset to read
_PaneKey = tuple[str, str, str]  # (model, window, pane name)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "created_at REAL, meta TEXT)",
    "CREATE TABLE IF NOT EXISTS offsets (topic TEXT, partition INTEGER, next_offset INTEGER, "
    "PRIMARY KEY (topic, partition))",
    "CREATE TABLE IF NOT EXISTS panes (model TEXT, window TEXT, name TEXT, counts BLOB, "
    "tails BLOB, events INTEGER, PRIMARY KEY (model, window, name))",
    "CREATE TABLE IF NOT EXISTS pending (model TEXT, id INTEGER, ts REAL, value REAL, "
    "deadline REAL, PRIMARY KEY (model, id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS pending_deadline ON pending (deadline)",
    "CREATE TABLE IF NOT EXISTS orphans (model TEXT, id INTEGER, ts REAL, value REAL, "
    "deadline REAL, PRIMARY KEY (model, id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS orphans_deadline ON orphans (deadline)",
    "CREATE TABLE IF NOT EXISTS halves (grp TEXT, id TEXT, role TEXT, seq INTEGER, ts REAL, "
    "origin TEXT, encoding TEXT, body BLOB, lane TEXT, PRIMARY KEY (grp, id, role)) "
    "WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS half_clocks (grp TEXT, role TEXT, newest REAL, "
    "PRIMARY KEY (grp, role)) WITHOUT ROWID",
)
_TABLES = ("pending", "orphans")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    created_at: float
    offsets: Offsets
    models: Mapping[str, ModelState] = field(default_factory=dict)
    # Positions of outputs written with the state (e.g. the results file), by name.
    outputs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


class CheckpointError(Exception):
    """A checkpoint file that cannot be read or written."""


class CheckpointStore:
    """Saves and loads the single latest checkpoint of a driftd instance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # What the database holds: the pane object and version last written per key.
        self._written: dict[_PaneKey, tuple[Pane | None, int]] = {}
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            for statement in _SCHEMA:
                self._db.execute(statement)
            for key in self._db.execute("SELECT model, window, name FROM panes"):
                self._written[(key[0], key[1], key[2])] = (None, -1)
        except sqlite3.Error as error:
            raise CheckpointError(f"{path}: cannot open checkpoint database: {error}") from None

    def save(self, checkpoint: Checkpoint) -> int:
        """Write ``checkpoint`` atomically; returns how many panes had to be written."""
        current = {(m, w, name): pane for m, model in checkpoint.models.items()
                   for w, window in model.windows.items() for name, pane in window.panes.items()}
        changed = {key: pane for key, pane in current.items() if not self._is_stored(key, pane)}
        gone = [key for key in self._written if key not in current]
        rows = [(t, p, o) for (t, p), o in sorted(checkpoint.offsets.items())]
        try:
            if not self._db.in_transaction:  # pending predictions may have opened it
                self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM panes WHERE model = ? AND window = ? AND name = ?",
                                 gone)
            self._db.executemany("INSERT OR REPLACE INTO panes VALUES (?, ?, ?, ?, ?, ?)",
                                 [(*key, *_encode_pane(pane)) for key, pane in changed.items()])
            self._db.execute("INSERT OR REPLACE INTO checkpoint VALUES (1, ?, ?)",
                             (checkpoint.created_at, _meta(checkpoint)))
            self._db.execute("DELETE FROM offsets")
            self._db.executemany("INSERT INTO offsets VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise CheckpointError(f"{self.path}: cannot write checkpoint: {error}") from None
        for key in gone:
            del self._written[key]
        self._written.update({key: (pane, pane.version) for key, pane in changed.items()})
        return len(changed)

    def _is_stored(self, key: _PaneKey, pane: Pane) -> bool:
        written, version = self._written.get(key, (None, -1))
        return written is pane and version == pane.version

    def load(self) -> Checkpoint | None:
        """The latest checkpoint, or None when there is none yet."""
        try:
            row = self._db.execute("SELECT created_at, meta FROM checkpoint WHERE id = 1"
                                   ).fetchone()
            offsets = self._db.execute("SELECT topic, partition, next_offset FROM offsets")
            offset_map = {(str(t), int(p)): int(o) for t, p, o in offsets.fetchall()}
            pane_rows = self._db.execute("SELECT * FROM panes").fetchall() if row else []
        except sqlite3.Error as error:
            raise CheckpointError(f"{self.path}: cannot read checkpoint: {error}") from None
        if row is None:
            return None
        try:
            panes = {(m, w, n): _decode_pane(c, t, e) for m, w, n, c, t, e in pane_rows}
            meta = json.loads(row[1])
            models = _models(meta, panes)
            outputs = {str(k): {str(n): float(x) for n, x in v.items()}
                       for k, v in meta.get("outputs", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError, zlib.error) as error:
            raise CheckpointError(f"{self.path}: damaged checkpoint: {error}") from None
        self._written = {key: (pane, pane.version) for key, pane in panes.items()}
        return Checkpoint(float(row[0]), offset_map, models, outputs)

    def commit(self) -> None:
        """Commit the label-join stores' open transaction without a checkpoint (used
        when there is no checkpoint file, only an in-memory database)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")

    def pending(self, *, capacity: int, table: str = "pending") -> PendingStore:
        """Predictions waiting for their outcome (``table="orphans"``: outcomes waiting
        for their prediction), in this database."""
        return PendingStore(self._db, capacity=capacity, table=table)

    def halves(self) -> HalfStore:
        """Request and response halves waiting for their other half, in this database."""
        return HalfStore(self._db)

    def close(self) -> None:
        if self._db.in_transaction:  # work after the last checkpoint is not kept
            self._db.execute("ROLLBACK")
        self._db.close()


@dataclass(frozen=True, slots=True)
class Matched:
    """Predictions found for a batch of outcomes: ``index`` into the outcome batch."""

    index: np.ndarray
    ts: np.ndarray
    value: np.ndarray


class PendingStore:
    """Predictions waiting for their delayed outcome, on disk, bounded in count.

    Writes join the database's open transaction, which the next checkpoint commits
    together with the offsets they reflect: after a crash the store rolls back to the
    last checkpoint, exactly like the windows, so no match is lost or counted twice.
    Ids are kept as 64-bit hashes (BLAKE2b), which bounds the row size whatever their
    length; at five million pending ids a collision has a chance of about 1e-6.
    """

    def __init__(self, db: sqlite3.Connection, *, capacity: int,
                 table: str = "pending") -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if table not in _TABLES:
            raise ValueError(f"table must be one of {_TABLES}")
        self._db, self.capacity, self._table = db, capacity, table
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS lookup (position INTEGER, "
                         "model TEXT, id INTEGER, PRIMARY KEY (model, id))")
        self._size = int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def __len__(self) -> int:
        return self._size

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")

    def add(self, model: str, ids: Sequence[str], ts: np.ndarray, value: np.ndarray,
            deadline: np.ndarray) -> int:
        """Store predictions (a repeated id replaces the older one); returns how many of
        the oldest had to be evicted to stay within ``capacity``."""
        self._begin()
        known = self._load_lookup(model, ids)
        rows = zip(repeat(model), map(id_hash, ids), ts.tolist(), value.tolist(),
                   deadline.tolist(), strict=False)
        self._db.executemany(f"INSERT OR REPLACE INTO {self._table} VALUES (?, ?, ?, ?, ?)", rows)
        unique = int(self._db.execute("SELECT count(*) FROM temp.lookup").fetchone()[0])
        self._size += unique - known
        overflow = self._size - self.capacity
        if overflow <= 0:
            return 0
        self._db.execute(f"DELETE FROM {self._table} WHERE (model, id) IN (SELECT model, id "
                         f"FROM {self._table} ORDER BY deadline LIMIT ?)", (overflow,))
        self._size -= overflow
        return overflow

    def _load_lookup(self, model: str, ids: Sequence[str]) -> int:
        """Put the batch's ids in the lookup table; returns how many are pending."""
        self._db.execute("DELETE FROM temp.lookup")
        self._db.executemany("INSERT OR IGNORE INTO temp.lookup VALUES (?, ?, ?)",
                             zip(range(len(ids)), repeat(model), map(id_hash, ids),
                                 strict=False))
        return int(self._db.execute(
            f"SELECT count(*) FROM temp.lookup l JOIN {self._table} p "
            "ON p.model = l.model AND p.id = l.id").fetchone()[0])

    def match(self, model: str, ids: Sequence[str]) -> Matched:
        """Remove and return the predictions of these outcome ids (those found)."""
        self._begin()
        self._load_lookup(model, ids)
        found = self._db.execute(
            f"SELECT l.position, p.ts, p.value FROM temp.lookup l JOIN {self._table} p "
            "ON p.model = l.model AND p.id = l.id").fetchall()
        self._db.execute(f"DELETE FROM {self._table} WHERE (model, id) IN "
                         "(SELECT model, id FROM temp.lookup)")
        self._size -= len(found)
        array = np.array(found, dtype=np.float64).reshape(-1, 3)
        return Matched(array[:, 0].astype(np.int64), array[:, 1], array[:, 2])

    def expire(self, model: str, now: float) -> int:
        """Drop predictions whose outcome did not come before their deadline."""
        self._begin()
        cursor = self._db.execute(
            f"DELETE FROM {self._table} WHERE model = ? AND deadline < ?", (model, now))
        self._size -= cursor.rowcount
        return int(cursor.rowcount)


# id, role, seq, ts, origin, encoding, body, lane
StoredHalf = tuple[str, str, int, float, str, str, bytes, str]


class HalfStore:
    """Halves of model-server exchanges (a request or a response) waiting for the other
    half (``driftd.oip.pairing``), by pairing group, with the group's clocks (the newest
    time per ``role@lane``).

    Like ``PendingStore``, writes join the database's open transaction, which the next
    checkpoint commits with the offsets they reflect: after a crash the halves roll back
    with the windows, so no row is lost or counted twice.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")

    def load(self, group: str) -> list[StoredHalf]:
        """The group's halves, oldest first."""
        return [(str(i), str(r), int(q), float(t), str(o), str(e), bytes(b), str(n))
                for i, r, q, t, o, e, b, n in self._db.execute(
                    "SELECT id, role, seq, ts, origin, encoding, body, lane FROM halves "
                    "WHERE grp = ? ORDER BY ts, seq", (group,))]

    def clocks(self, group: str) -> dict[str, float]:
        """The newest time seen per ``role@lane`` of the group."""
        return {str(role): float(newest) for role, newest in self._db.execute(
            "SELECT role, newest FROM half_clocks WHERE grp = ?", (group,))}

    def write(self, group: str, added: Sequence[StoredHalf],
              removed: Sequence[tuple[str, str]], clocks: Mapping[str, float]) -> None:
        """Store halves, remove others (as (id, role)) and set the group's clocks."""
        if not (added or removed or clocks):
            return
        self._begin()
        self._db.executemany("DELETE FROM halves WHERE grp = ? AND id = ? AND role = ?",
                             [(group, i, r) for i, r in removed])
        self._db.executemany("INSERT OR REPLACE INTO halves VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [(group, *half) for half in added])
        self._db.executemany("INSERT OR REPLACE INTO half_clocks VALUES (?, ?, ?)",
                             [(group, role, t) for role, t in clocks.items()])


def id_hash(value: str) -> int:
    """A signed 64-bit hash of an event id.

    >>> id_hash("p-8f1c") == id_hash("p-8f1c") != id_hash("p-8f1d")
    True
    """
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _encode_pane(pane: Pane) -> tuple[bytes, bytes, int]:
    counts = zlib.compress(np.ascontiguousarray(pane.counts, dtype="<i8").tobytes(), 1)
    return counts, np.ascontiguousarray(pane.tails, dtype="<f8").tobytes(), pane.events


def _decode_pane(counts: bytes, tails: bytes, events: int) -> Pane:
    return Pane(np.frombuffer(zlib.decompress(counts), dtype="<i8").astype(np.int64),
                np.frombuffer(tails, dtype="<f8").astype(np.float64), int(events))


def _meta(checkpoint: Checkpoint) -> str:
    models: dict[str, Any] = {
        name: {"reference": model.reference, "clock": dict(model.clock), "windows": {
            w: {"fingerprint": window.fingerprint, "meta": dict(window.meta),
                "panes": sorted(window.panes)}
            for w, window in model.windows.items()}}
        for name, model in checkpoint.models.items()}
    return json.dumps({"format": FORMAT, "models": models,
                       "outputs": {k: dict(v) for k, v in checkpoint.outputs.items()}},
                      sort_keys=True)


def _models(meta: dict[str, Any], panes: Mapping[_PaneKey, Pane]) -> dict[str, ModelState]:
    if meta.get("format") != FORMAT:
        raise ValueError(f"unknown checkpoint format {meta.get('format')!r}")
    return {
        name: ModelState(model["reference"], {
            w: WindowState(window["fingerprint"], window["meta"],
                           {n: panes[(name, w, n)] for n in window["panes"]})
            for w, window in model["windows"].items()}, model.get("clock", {}))
        for name, model in meta["models"].items()
    }
